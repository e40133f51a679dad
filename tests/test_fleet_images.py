"""Distinct terminals in one run (issue 11): `ykt flash` gives each port its own image
(``--port P=IMAGE`` or a fleet file), refuses two ports that would become the same terminal
before anything is written, and names each device by MAC and terminal id; virtual boards
have distinct MACs."""

import json
import re
import subprocess
import sys

import pytest
from hostkit import ROOT, start_board, ykt

from host_tools.device import flash
from host_tools.lib import provision
from host_tools.lib.image import build_image, make_image

BOARD = "devkitc-turnstile"
VFS = 0x200000
TIDS = ("290031000301", "290031000302")


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """Images: gate-1 and gate-2 (two terminals), twin (gate-1's terminal id again)."""
    w = tmp_path_factory.mktemp("fleet-images")
    master = str(w / "master.json")
    provision.write_new_master_file(master)
    masters = provision.read_master_file(master)
    images = {}
    for name, tid, station in (("gate-1", TIDS[0], 1), ("gate-2", TIDS[1], 2),
                               ("twin", TIDS[0], 9)):
        cfg = str(w / (name + ".json"))
        provision.write_config(cfg, provision.provision(BOARD, tid, "gate", masters,
                                                        station=station))
        images[name] = w / (name + ".img")
        build_image(BOARD, cfg, str(images[name]))
    return dict(w=w, images=images)


def mac_text(board):
    return ":".join("%02x" % b for b in board.mac)


def flash_boards(n, *args, names=None):
    """Run `ykt flash ARGS` against ``n`` fresh virtual boards; ARGS may use {0}, {1}... for
    their URLs. (run, [board])."""
    boards = [start_board(mode="rom", name=(names or ["fi-%d" % i for i in range(n)])[i])
              for i in range(n)]
    try:
        urls = [server.url for _, server in boards]
        run = ykt("flash", *[str(a).format(*urls) for a in args])
    finally:
        for _, server in boards:
            server.stop()
    return run, urls, [b for b, _ in boards]


def one_line(run):
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ykt: error: "), run.stderr
    return lines[0]


@pytest.fixture(scope="module")
def two(kit):
    report = kit["w"] / "two.json"
    run, urls, boards = flash_boards(
        2, "--board", BOARD, "--port", "{0}=%s" % kit["images"]["gate-1"],
        "--port", "{1}=%s" % kit["images"]["gate-2"], "--report", report)
    return dict(run=run, urls=urls, boards=boards,
                report=json.loads(report.read_text())["devices"])


def test_each_port_gets_its_own_image(kit, two):
    assert two["run"].returncode == 0, two["run"].stdout + two["run"].stderr
    for board, name in zip(two["boards"], ("gate-1", "gate-2")):
        image = kit["images"][name].read_bytes()
        assert board.flash.read(VFS, len(image)) == image


def test_the_report_names_each_device_by_mac_and_terminal_id(two):
    for url, board, tid in zip(two["urls"], two["boards"], TIDS):
        assert re.search(r"^%s\s+mac %s\s+OK\s+terminal %s$"
                         % (re.escape(url), mac_text(board), tid), two["run"].stdout, re.M)


def test_the_json_report_gives_each_device_its_terminal_id(two):
    assert [(d["mac"], d["terminal"]) for d in two["report"]] == [
        (mac_text(b), tid) for b, tid in zip(two["boards"], TIDS)]


def test_two_ports_with_the_same_image_are_refused_before_anything_is_written(kit):
    run, urls, boards = flash_boards(2, "--board", BOARD, "--port", "{0}", "--port", "{1}",
                                     "--image", kit["images"]["gate-1"])
    assert run.returncode == 2
    line = one_line(run)
    assert urls[0] in line and urls[1] in line and TIDS[0] in line
    assert all(b.flash.read(VFS, 4096) == b"\xff" * 4096 for b in boards)


def test_two_images_of_the_same_terminal_id_are_refused(kit, tmp_path):
    run = ykt("flash", "--board", BOARD,
              "--port", "socket://127.0.0.1:9=%s" % kit["images"]["gate-1"],
              "--port", "socket://127.0.0.1:10=%s" % kit["images"]["twin"])
    assert run.returncode == 2
    assert "would both become terminal %s" % TIDS[0] in one_line(run)


def test_a_fleet_file_maps_ports_to_boards_and_images_next_to_it(kit):
    fleet = kit["w"] / "fleet.json"

    def run_with(urls):
        fleet.write_text(json.dumps({"board": BOARD, "devices": [
            {"port": urls[0], "image": "gate-1.img"},
            {"port": urls[1], "image": "gate-2.img", "board": BOARD}]}))
        return ykt("flash", "--fleet", fleet)

    boards = [start_board(mode="rom", name="fleet-file-%d" % i) for i in range(2)]
    try:
        run = run_with([server.url for _, server in boards])
    finally:
        for _, server in boards:
            server.stop()
    assert run.returncode == 0, run.stdout + run.stderr
    for (board, _), name in zip(boards, ("gate-1", "gate-2")):
        image = kit["images"][name].read_bytes()
        assert board.flash.read(VFS, len(image)) == image


def test_a_fleet_file_with_an_unknown_key_names_it(kit, tmp_path):
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps({"board": BOARD, "devices": [
        {"port": "socket://127.0.0.1:9", "imgae": "gate-1.img"}]}))
    run = ykt("flash", "--fleet", fleet)
    assert run.returncode == 2
    assert "devices[0].imgae: unknown key" in one_line(run)


def test_a_port_without_an_image_is_refused(kit):
    run = ykt("flash", "--board", BOARD, "--port", "socket://127.0.0.1:9")
    assert run.returncode == 2
    assert "socket://127.0.0.1:9: no image" in one_line(run)


def test_an_image_without_a_terminal_config_may_go_to_several_ports(tmp_path):
    bare = tmp_path / "bare.img"
    bare.write_bytes(make_image({"/main.py": b"print(1)\n"}, 0x200000))
    targets = flash.plan_fleet(BOARD, ["socket://127.0.0.1:9", "socket://127.0.0.1:10"],
                               str(bare))
    assert [t.terminal for t in targets] == [None, None]


def test_a_url_holding_an_equals_sign_keeps_it(kit):
    image = str(kit["images"]["gate-1"])
    assert flash.split_port("rfc2217://h:7000?timeout=5=" + image) == (
        "rfc2217://h:7000?timeout=5", image)


def sim_board(*args):
    proc = subprocess.Popen([sys.executable, "-m", "host_tools.cli", "sim", "board",
                             "--listen", "127.0.0.1:0", "--max-seconds", "2", *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, text=True)
    banner = proc.stdout.readline()
    proc.communicate(timeout=30)
    return banner


def test_virtual_boards_of_one_board_file_on_two_ports_have_distinct_macs():
    macs = [re.search(r"mac (\S+)", sim_board()).group(1) for _ in range(2)]
    assert macs[0] != macs[1]


def test_sim_board_mac_sets_the_mac_esptool_reads():
    proc = subprocess.Popen([sys.executable, "-m", "host_tools.cli", "sim", "board",
                             "--listen", "127.0.0.1:0", "--max-seconds", "60",
                             "--mac", "24:0a:c4:01:02:03"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, text=True)
    try:
        url = re.search(r"socket://\S+", proc.stdout.readline()).group(0)
        out = subprocess.run(flash.esptool_cmd(url, "read-mac"), capture_output=True,
                             text=True, timeout=60).stdout
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert re.search(r"MAC:\s+24:0a:c4:01:02:03", out)
