"""A real tap on the virtual ESP32: provision (fixed fare 350 fen) -> image -> flash ->
re-provision at 400 fen -> `ykt deploy` sends only the changed /config.json and resets ->
the board boots the deployed firmware (/main.py -> ykt.main.start()), whose tap loop
drives a CPython PN532 model through the hw_sim/vm machine/time proxies
(hw_sim/board/taps.py) -> one card taps and is charged the deployed fare -> `ykt collect
--no-reset` pulls and verifies the journal from the board's flash -> a second collect
finds nothing new."""

import json
import os
import sqlite3
import time
import types

import pytest

from host_tools.provision import read_master_file
from hostkit import FLASH_SIZE, ROOT, ykt
from hw_sim.board.board import Board
from hw_sim.board.server import BoardServer
from hw_sim.board.taps import TapHooks, issuer_keys
from hw_sim.flash import NorFlash
from hw_sim.issuer import issue_card

BOARD = "devkitc-turnstile"
TID = "290031000102"
CARD = "31012300000000000042"
FLASHED_FARE, FARE, OPENING = 350, 400, 5000


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    w = tmp_path_factory.mktemp("taps")
    r = types.SimpleNamespace(master=w / "master.json", config=w / "config.json",
                              config2=w / "config2.json", image=w / "vfs.img",
                              firmware=w / "micropython.bin", out=w / "collected")
    r.new_master = ykt("provision", "--new-master-key-file", r.master)
    assert r.new_master.returncode == 0, r.new_master.stderr
    for fare, out in ((FLASHED_FARE, r.config), (FARE, r.config2)):
        p = ykt("provision", "--board", BOARD, "--terminal-id", TID, "--role", "fixed_fare",
                "--fare-fen", fare, "--master-key-file", r.master, "--out", out)
        assert p.returncode == 0, p.stderr
    r.image_run = ykt("image", "--board", BOARD, "--config", r.config, "--out", r.image)
    assert r.image_run.returncode == 0, r.image_run.stderr
    r.firmware.write_bytes(b"\xe9" + bytes(4095))

    with open(os.path.join(ROOT, "boards", BOARD + ".json")) as f:
        board_dict = json.load(f)
    app = issue_card(CARD, balance_fen=OPENING, issuer_keys=issuer_keys(r.master))
    r.hooks = TapHooks(board_dict, {"commuter": app},
                       [{"at": 2, "tap": "commuter", "hold_ms": 1500}], armed=False)
    board = Board(NorFlash(FLASH_SIZE), name="tap-board", hooks=r.hooks,
                  heap=r.hooks.heap)
    server = BoardServer(board)
    board.power_on("rom")
    server.start(max_seconds=240)
    try:
        r.flash_run = ykt("flash", "--board", BOARD, "--port", server.url, "--firmware",
                          r.firmware, "--image", r.image)
        r.hooks.arm()  # the card comes once the deployed configuration runs
        r.deploy_run = ykt("deploy", "--port", server.url, "--board", BOARD, "--config",
                           r.config2)
        end = time.monotonic() + 30
        while time.monotonic() < end and r.hooks.balance("commuter") == OPENING:
            time.sleep(0.1)
        r.balance = r.hooks.balance("commuter")
        r.boots = list(board.boots)
        # --no-reset: the board stays in its REPL, so no new boot record is journaled
        # before the second collect (a reset would run main.py, which journals "boot")
        r.collect1 = ykt("collect", "--port", server.url, "--key-file", r.master,
                         "--out", r.out, "--no-reset")
        r.collect2 = ykt("collect", "--port", server.url, "--key-file", r.master,
                         "--out", r.out)
    finally:
        server.stop()
    db = sqlite3.connect(r.out / "journal.sqlite") if (r.out / "journal.sqlite").exists() else None
    r.rows = db.execute("SELECT * FROM records ORDER BY seq").fetchall() if db else []
    r.cols = [d[0] for d in db.execute("SELECT * FROM records").description] if db else []
    return r


def test_flash_boots_the_firmware(run):
    assert run.flash_run.returncode == 0, run.flash_run.stdout + run.flash_run.stderr
    assert "hard" in run.boots
    assert run.hooks.requests > 0  # the firmware talked to the PN532 model


def test_deploy_sends_only_the_changed_config_and_resets(run):
    assert run.deploy_run.returncode == 0, run.deploy_run.stdout + run.deploy_run.stderr
    copied = [ln.split()[1] for ln in run.deploy_run.stdout.splitlines()
              if ln.startswith("copied ")]
    assert copied == ["/config.json"]
    assert run.boots.count("hard") >= 2  # flashed boot, then the deploy's reset


def test_the_tap_is_charged_on_the_card(run):
    assert run.hooks.placed, "the card was never placed (firmware clock did not reach it)"
    assert run.balance == OPENING - FARE


def test_collect_pulls_the_purchase_record(run):
    assert run.collect1.returncode == 0, run.collect1.stdout + run.collect1.stderr
    rows = [dict(zip(run.cols, row)) for row in run.rows]
    buys = [x for x in rows if x["kind"] == "purchase"]
    assert len(buys) == 1, rows
    assert buys[0]["amount"] == FARE
    assert buys[0]["terminal"] == TID
    assert buys[0]["card"] == CARD
    # the flashed boot, the boot after the deploy's reset, then the tap
    assert [x["kind"] for x in rows] == ["boot", "boot", "purchase-intent", "purchase"]


def test_second_collect_is_a_no_op(run):
    assert run.collect2.returncode == 0, run.collect2.stdout + run.collect2.stderr
    assert "0 new records" in run.collect2.stdout
