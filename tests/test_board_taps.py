"""A real tap on the virtual ESP32: provision (fixed fare 350 fen) -> image -> flash ->
re-provision at 400 fen -> `ykt deploy` sends only the changed /config.json and resets ->
the board boots the deployed firmware (/main.py -> ykt.main.start()), whose tap loop
drives a CPython PN532 model through the hw_sim/vm machine/time proxies
(hw_sim/board/taps.py) -> one card taps and is charged the deployed fare -> `ykt collect
--no-reset` pulls and verifies the journal from the board's flash -> a second collect
finds nothing new."""

import types

import pytest
from boardtaps import BOARD, CARD, TID, TapRig, collected_rows
from hostkit import ykt

FLASHED_FARE, FARE, OPENING = 350, 400, 5000


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    w = tmp_path_factory.mktemp("taps")
    rig = TapRig(w, [{"at": 2, "tap": "commuter", "hold_ms": 1500}], opening=OPENING,
                 armed=False)
    r = types.SimpleNamespace(hooks=rig.hooks, out=w / "collected")
    try:
        config = rig.provision("config.json", "--role", "fixed_fare", "--fare-fen", FLASHED_FARE)
        config2 = rig.provision("config2.json", "--role", "fixed_fare", "--fare-fen", FARE)
        r.flash_run = rig.flash(config)
        # the flashed firmware boots (journals "boot") and serves before the deploy stops it
        r.served = rig.wait(lambda: any(e["event"] == "ready" for e in rig.events()))
        rig.hooks.arm()  # the card comes once the deployed configuration runs
        r.deploy_run = ykt("deploy", "--port", rig.url, "--board", BOARD, "--config", config2)
        rig.wait(lambda: rig.balance() != OPENING)
        r.balance = rig.balance()
        r.boots = list(rig.board.boots)
        # --no-reset: the board stays in its REPL, so no new boot record is journaled
        # before the second collect (a reset would run main.py, which journals "boot")
        r.collect1 = rig.collect(r.out, "--no-reset")
        r.collect2 = rig.collect(r.out)
    finally:
        rig.stop()
    r.rows = collected_rows(r.out)
    return r


def test_flash_boots_the_firmware(run):
    assert run.flash_run.returncode == 0, run.flash_run.stdout + run.flash_run.stderr
    assert "hard" in run.boots
    assert run.served  # it reported "ready" on its console
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
    rows = run.rows
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
