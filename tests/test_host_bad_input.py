"""Bad input to the host commands: one `ykt: error:` line (or one FAILED line per device
in `ykt flash`'s report), a non-zero exit, and no output file left half-written."""

import json
import os

import pytest
from hostkit import FLASH_SIZE, PART_SIZE, ROOT, free_port, leftovers, read_files, start_board, ykt

from hw_sim.board.board import VFS_OFFSET
from hw_sim.flash import NorFlash

BOARD = "devkitc-turnstile"
TID = "290031000301"


def one_error(r, *needles):
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("ykt: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def board_variant(tmp_path, name, **changes):
    with open(os.path.join(ROOT, "boards", BOARD + ".json")) as f:
        spec = json.load(f)
    spec.update(changes)
    path = tmp_path / (name + ".json")
    path.write_text(json.dumps(spec))
    return path


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    w = tmp_path_factory.mktemp("bad")
    master, config, image = w / "master.json", w / "config.json", w / "vfs.img"
    assert ykt("provision", "--new-master-key-file", master).returncode == 0
    assert ykt("provision", "--board", BOARD, "--terminal-id", TID, "--role", "gate",
               "--station", 7, "--master-key-file", master, "--out", config).returncode == 0
    assert ykt("image", "--board", BOARD, "--config", config, "--out", image).returncode == 0
    return dict(master=master, config=config, image=image)


def test_image_refuses_an_unknown_board(kit, tmp_path):
    r = ykt("image", "--board", "no-such-board", "--config", kit["config"], "--out",
            tmp_path / "vfs.img")
    assert r.returncode == 2
    one_error(r, "unknown board 'no-such-board'")
    assert os.listdir(tmp_path) == []


def test_image_refuses_a_board_that_fails_board_check(kit, tmp_path):
    bad = board_variant(tmp_path, "bad-pins", buzzer=25)  # GPIO 25 is the green LED
    r = ykt("image", "--board", bad, "--config", kit["config"], "--out", tmp_path / "vfs.img")
    assert r.returncode == 2
    one_error(r, "fails `ykt board check`", "GPIO 25 is used by both")
    assert not (tmp_path / "vfs.img").exists()


def test_flash_refuses_a_board_that_fails_board_check(kit, tmp_path):
    bad = board_variant(tmp_path, "bad-pins", buzzer=25)
    r = ykt("flash", "--board", bad, "--port", "socket://127.0.0.1:%d" % free_port(),
            "--image", kit["image"], "--report", tmp_path / "report.json")
    assert r.returncode == 2
    one_error(r, "fails `ykt board check`")
    assert not (tmp_path / "report.json").exists()


def test_image_refuses_content_larger_than_the_partition(kit, tmp_path):
    small = board_variant(tmp_path, "small-vfs", partitions={
        "firmware": {"offset": 4096, "size": 2031616},
        "vfs": {"offset": 2097152, "size": 65536}})
    r = ykt("image", "--board", small, "--config", kit["config"], "--out", tmp_path / "vfs.img")
    assert r.returncode == 2
    one_error(r, "do not fit the 65536-byte vfs partition")
    assert not (tmp_path / "vfs.img").exists()
    assert leftovers(tmp_path) == []


def test_flash_refuses_an_image_larger_than_the_partition(kit, tmp_path):
    big = tmp_path / "big.img"
    big.write_bytes(kit["image"].read_bytes() * 2)
    r = ykt("flash", "--board", BOARD, "--port", "socket://127.0.0.1:%d" % free_port(),
            "--image", big)
    assert r.returncode == 2
    one_error(r, "larger than the %d-byte vfs partition" % PART_SIZE)


def test_flash_reports_a_missing_port_as_failed(kit, tmp_path):
    r = ykt("flash", "--board", BOARD, "--port", "/dev/ttyYKT-missing", "--image", kit["image"],
            "--report", tmp_path / "report.json")
    assert r.returncode == 1
    dev = json.loads((tmp_path / "report.json").read_text())["devices"][0]
    assert (dev["result"], dev["reason"]) == ("FAILED", "no such port /dev/ttyYKT-missing")


def test_flash_reports_a_silent_device_as_failed(kit, tmp_path):
    url = "socket://127.0.0.1:%d" % free_port()
    r = ykt("flash", "--board", BOARD, "--port", url, "--image", kit["image"],
            "--connect-attempts", 1, "--report", tmp_path / "report.json")
    assert r.returncode == 1
    dev = json.loads((tmp_path / "report.json").read_text())["devices"][0]
    assert dev["result"] == "FAILED"
    assert dev["reason"].startswith("read-mac: Could not open %s" % url)


def test_deploy_refuses_a_missing_port(kit):
    r = ykt("deploy", "--port", "/dev/ttyYKT-missing", "--config", kit["config"])
    assert r.returncode == 1  # the operation failed: no device answered
    assert one_error(r) == "ykt: error: no such port /dev/ttyYKT-missing"


def test_collect_reports_a_silent_device_and_writes_nothing(kit, tmp_path):
    url = "socket://127.0.0.1:%d" % free_port()
    r = ykt("collect", "--port", url, "--key-file", kit["master"], "--out", tmp_path / "out")
    assert r.returncode == 1
    one_error(r, "cannot open %s" % url)
    assert not (tmp_path / "out").exists()


def test_monitor_reports_a_silent_device(kit):
    r = ykt("monitor", "--port", "socket://127.0.0.1:%d" % free_port(), "--seconds", 1)
    assert r.returncode == 1
    one_error(r, "cannot open socket://127.0.0.1:")


def test_provision_refuses_a_damaged_master_key_file(kit, tmp_path):
    doc = json.loads(kit["master"].read_text())
    doc["device"] = ("0" if doc["device"][0] != "0" else "1") + doc["device"][1:]
    damaged = tmp_path / "master.json"
    damaged.write_text(json.dumps(doc))
    r = ykt("provision", "--board", BOARD, "--terminal-id", TID, "--role", "gate", "--station",
            7, "--master-key-file", damaged, "--out", tmp_path / "config.json")
    assert r.returncode == 2
    one_error(r, "key 'device' fails its check value")
    assert not (tmp_path / "config.json").exists()


def test_provision_refuses_a_file_that_is_not_a_master_key_file(kit, tmp_path):
    r = ykt("provision", "--board", BOARD, "--terminal-id", TID, "--role", "gate", "--station",
            7, "--master-key-file", kit["config"], "--out", tmp_path / "config.json")
    assert r.returncode == 2
    one_error(r, "not a master key file")
    assert not (tmp_path / "config.json").exists()


def test_collect_refuses_a_damaged_key_file_before_touching_the_board(kit, tmp_path):
    doc = json.loads(kit["master"].read_text())
    doc["kcv"]["device"] = "000000"
    damaged = tmp_path / "master.json"
    damaged.write_text(json.dumps(doc))
    url = "socket://127.0.0.1:%d" % free_port()  # never contacted: the key file is checked first
    r = ykt("collect", "--port", url, "--key-file", damaged, "--out", tmp_path / "out")
    assert r.returncode == 2
    one_error(r, "key 'device' fails its check value")
    assert not (tmp_path / "out").exists()


def _board_with_journal(kit, records=3):
    """A flash holding the image plus a journal the firmware's Journal wrote (under CPython).

    main.py is left out: the board idles in its REPL instead of booting the firmware."""
    from host_tools.lib.provision import journal_key, read_master_file
    from hw_sim.lfs import LfsVfs
    from ykt.store.journal import Journal

    part = NorFlash.from_image(kit["image"].read_bytes())
    fs = LfsVfs(part)
    fs.remove("/main.py")
    tid = bytes.fromhex(TID)
    j = Journal(fs, journal_key(read_master_file(kit["master"])["device"], tid), tid)
    j.open()
    for i in range(records):
        j.append("purchase", time=900000000 + i, card="31012300000000004417", amount=300,
                 balance=5000 - 300 * i, tac=b"\x01\x02\x03\x04", tseq=i + 1)
    fs.unmount()
    flash = NorFlash(FLASH_SIZE)
    flash.program(VFS_OFFSET, part.image())
    return flash


def test_collect_with_a_wrong_master_key_stores_and_acknowledges_nothing(kit, tmp_path):
    other = tmp_path / "other-master.json"
    assert ykt("provision", "--new-master-key-file", other).returncode == 0
    board, server = start_board(_board_with_journal(kit), mode="app", name="wrong-key")
    try:
        before = read_files(board.flash, "/journal")
        r = ykt("collect", "--port", server.url, "--key-file", other, "--out", tmp_path / "out")
        after = read_files(board.flash, "/journal")
    finally:
        server.stop()
    assert r.returncode == 1
    one_error(r, "nothing stored or acknowledged",
              "BAD seq 1 in 00000001.seg (offset 0): chain broken")
    assert after == before and "/journal/ack" not in after
    assert not os.path.exists(tmp_path / "out" / "journal.sqlite")
    assert not os.path.exists(tmp_path / "out" / "journal.csv")
