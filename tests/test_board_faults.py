"""The deployed firmware on the virtual ESP32 when something goes wrong that the tap loop
does not handle (ykt.main.start()): a fault while serving is reported and the board
resets and serves again; a configuration that cannot boot is reported in one line and
the board stays in its REPL, where `ykt collect` and `ykt deploy` still reach it."""

import json

import pytest
from boardtaps import TapRig, collected_rows

FARE, OPENING = 300, 5000


@pytest.fixture(scope="module")
def faulted(tmp_path_factory):
    w = tmp_path_factory.mktemp("fault")
    rig = TapRig(w, [{"at": 1, "fault": "bus glitch (injected)"},
                     {"at": 5, "tap": "commuter", "hold_ms": 1500}], opening=OPENING)
    try:
        rig.flash(rig.provision("config.json", "--role", "fixed_fare", "--fare-fen", FARE))
        rig.wait(lambda: rig.balance() != OPENING)
        rig.boots = list(rig.board.boots)
        rig.collect_run = rig.collect(w / "out", "--no-reset")
    finally:
        rig.stop()
    rig.rows = collected_rows(w / "out")
    return rig


def test_a_fault_while_serving_is_reported_on_the_console(faulted):
    faults = [e for e in faulted.events() if e["event"] == "fault"]
    assert faults == [{"event": "fault", "reason": "ValueError: bus glitch (injected)"}]


def test_a_fault_while_serving_resets_the_board(faulted):
    assert faulted.boots[:3] == ["rom", "hard", "hard"]  # flashed boot, then the fault's reset


def test_the_terminal_serves_again_after_the_fault(faulted):
    assert faulted.balance() == OPENING - FARE
    assert faulted.collect_run.returncode == 0, faulted.collect_run.stderr
    assert [r["kind"] for r in faulted.rows] == ["boot", "boot", "purchase-intent", "purchase"]


@pytest.fixture(scope="module")
def unbootable(tmp_path_factory):
    """A configuration hand-edited to a negative fare: the terminal cannot boot."""
    w = tmp_path_factory.mktemp("noboot")
    rig = TapRig(w, [])
    try:
        config = rig.provision("config.json", "--role", "fixed_fare", "--fare-fen", FARE)
        edited = json.loads(config.read_text())
        edited["fare_fen"] = -5
        config.write_text(json.dumps(edited))
        rig.flash_run = rig.flash(config)
        rig.wait(lambda: any(e["event"] == "boot-failed" for e in rig.events()))
        rig.boots = list(rig.board.boots)
        rig.collect_run = rig.collect(w / "out", "--no-reset")
    finally:
        rig.stop()
    return rig


def test_a_configuration_that_cannot_boot_is_reported_in_one_line(unbootable):
    failed = [e for e in unbootable.events() if e["event"] == "boot-failed"]
    assert len(failed) == 1
    assert failed[0]["reason"] == ("ValueError: config: 'fare_fen' must be a whole number "
                                   "of fen >= 0")
    assert "Traceback" not in unbootable.console()


def test_a_board_that_cannot_boot_stays_in_its_repl_for_a_fix(unbootable):
    assert unbootable.boots == ["rom", "hard"]  # no reset loop
    assert unbootable.collect_run.returncode == 0, unbootable.collect_run.stderr
