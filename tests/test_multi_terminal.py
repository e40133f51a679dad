"""Several terminals in one scenario share virtual time, deterministically, on both runtimes."""

import pytest
from simrun import bus_and_canteen, events

from hw_sim.scenario import Run, Scenario, ScenarioError

EVENTS = [
    {"at": 1, "terminal": "BUS-A", "tap": "alice"},
    {"at": 1, "terminal": "CANTEEN", "tap": "bob"},
    {"at": 3, "terminal": "CANTEEN", "tap": "alice"},
    {"at": 5, "terminal": "BUS-A", "tap": "bob", "tear_at_apdu": 3},
    {"at": 9, "terminal": "BUS-A", "tap": "bob"},
]


def test_a_card_pays_at_two_terminals_in_time_order(tmp_path):
    r = Run(bus_and_canteen(EVENTS)).run()
    paid = [(e["terminal"], e["fen"], e["balance"]) for e in events(r, "debit")
            if e["card"].endswith("0001")]
    assert paid == [("BUS-A", 200, 800), ("CANTEEN", 600, 200)]
    assert r.apps["bob"].balance == 1000 - 600 - 200


def test_output_lines_are_in_virtual_time_order(tmp_path):
    """Outcomes in time order across terminals; display lines (stamped when a 9600-baud
    screen update has finished arriving) at least in order per terminal."""
    r = Run(bus_and_canteen(EVENTS)).run()
    stamps = [e["t"] for e in events(r) if "t" in e and e["event"] != "display"]
    assert stamps == sorted(stamps)
    for term in ("BUS-A", "CANTEEN"):
        shown = [e["t"] for e in events(r, "display") if e["terminal"] == term]
        assert shown and shown == sorted(shown)


def test_multi_terminal_run_is_identical_on_the_vm(tmp_path):
    cp = Run(bus_and_canteen(EVENTS)).run()
    mp = Run(bus_and_canteen(EVENTS)).run("micropython")
    assert mp.lines == cp.lines


def test_tap_without_terminal_is_refused_when_there_are_several():
    with pytest.raises(ScenarioError, match=r"events\[0\]: say which 'terminal'"):
        Scenario(bus_and_canteen([{"at": 1, "tap": "alice"}]), "s")
