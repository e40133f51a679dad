"""Metro gates and a bus validator end to end: fares from the installed tariff, offline."""

import pytest
from simrun import events, journal

from hw_sim.scenario import Run

XJH, PSQ = 2025, 2035  # Xujiahui, People's Square
TARIFF = "tariffs/shanghai-2017.json"
CARDS = {"ann": "31012300000000000011", "ben": "31012300000000000012",
         "old": "31012300000000000013"}


def _station(evts, cards=None, poll_ms=500, **extra):
    """The station's terminals that the events use (idle ones only cost time)."""
    used = {e.get("terminal") for e in evts}
    data = {
        "start": "2026-11-29T07:00:00",
        "terminals": [
            {"id": "IN-XJH", "role": "entry_gate", "board": "devkitc-turnstile",
             "config": {"station": XJH, "tariff": TARIFF}},
            {"id": "OUT-XJH", "role": "exit_gate", "board": "devkitc-turnstile",
             "config": {"station": XJH, "tariff": TARIFF}},
            {"id": "OUT-PSQ", "role": "exit_gate", "board": "devkitc-turnstile",
             "config": {"station": PSQ, "tariff": TARIFF}},
            {"id": "BUS-926", "role": "validator", "board": "bus-validator",
             "config": {"mode": "bus", "route": "926", "tariff": TARIFF}},
        ],
        "cards": cards or [{"name": n, "number": no, "balance_fen": 2000}
                           for n, no in CARDS.items()],
        "events": evts,
    }
    data["terminals"] = [dict(t, config=dict(t["config"], poll_ms=poll_ms), vm_heap="176K")
                         for t in data["terminals"] if t["id"] in used]
    data.update(extra)
    return data


@pytest.fixture(scope="module")
def fare_xjh_psq():
    """What the installed tariff charges Xujiahui -> People's Square (ykt fare quote's engine)."""
    import hw_sim

    hw_sim.install()
    import io

    from host_tools.lib import tariff
    from ykt.fare import engine
    from ykt.fare.tariff import Tariff

    t = Tariff(io.BytesIO(tariff.build(TARIFF, 1)))
    return engine.quote_trip(t, XJH, PSQ, 0).fen


def _tap(t, term, card, **kw):
    return dict({"at": t, "terminal": term, "tap": card}, **kw)


def test_entry_then_exit_charges_the_distance_fare_once(tmp_path, fare_xjh_psq):
    r = Run(_station([_tap(1, "IN-XJH", "ann"), _tap(1800, "OUT-PSQ", "ann")])).run()
    [entry] = events(r, "entry")
    [exit_] = events(r, "exit")
    assert entry["fen"] == 0 and exit_["fen"] == fare_xjh_psq >= 300
    assert r.apps["ann"].balance == 2000 - fare_xjh_psq


def test_gate_opens_for_a_paid_passenger_and_closes_after_passage(tmp_path):
    r = Run(_station([_tap(1, "IN-XJH", "ann")])).run()
    gate = r.terms["IN-XJH"].gate
    assert gate.passages == 1
    assert [what for _, what in gate.log][-3:] == ["open", "passed", "closed"]


def test_same_station_exit_within_grace_is_free(tmp_path):
    r = Run(_station([_tap(1, "IN-XJH", "ann"), _tap(300, "OUT-XJH", "ann")])).run()
    assert events(r, "exit")[0]["fen"] == 0
    assert r.apps["ann"].balance == 2000


def test_overstay_pays_the_surcharge(tmp_path, fare_xjh_psq):
    r = Run(_station([_tap(1, "IN-XJH", "ann", hold_ms=5000),
                      _tap(5 * 3600, "OUT-PSQ", "ann", hold_ms=5000)], poll_ms=3000)).run()
    [exit_] = events(r, "exit")
    assert "overtime" in [s[0] for s in exit_["steps"]]
    assert exit_["fen"] > fare_xjh_psq


def test_exit_without_entry_pays_the_missing_entry_fare(tmp_path, fare_xjh_psq):
    r = Run(_station([_tap(1, "OUT-PSQ", "ben")])).run()
    [exit_] = events(r, "exit")
    assert [s[0] for s in exit_["steps"]] == ["missing-entry"]
    assert exit_["fen"] >= fare_xjh_psq


def test_unclosed_previous_journey_is_settled_at_the_next_entry(tmp_path):
    r = Run(_station([_tap(1, "IN-XJH", "ann"), _tap(7200, "IN-XJH", "ann")])).run()
    first, second = events(r, "entry")
    assert first["fen"] == 0 and second["fen"] > 0
    assert [s[0] for s in second["steps"]] == ["unclosed"]


def test_anti_passback_refuses_a_second_entry_without_charging(tmp_path):
    r = Run(_station([_tap(1, "IN-XJH", "ann"), _tap(10, "IN-XJH", "ann")])).run()
    assert [e["reason"] for e in events(r, "refused")] == ["already entered"]
    assert r.apps["ann"].balance == 2000
    assert r.terms["IN-XJH"].gate.passages == 1


def test_insufficient_balance_at_exit_keeps_the_gate_closed(tmp_path):
    cards = [{"name": "ann", "number": CARDS["ann"], "balance_fen": 300}]
    r = Run(_station([_tap(1, "IN-XJH", "ann", hold_ms=5000),
                      _tap(3 * 3600 + 1800, "OUT-PSQ", "ann", hold_ms=5000)],
                     cards=cards, poll_ms=3000)).run()
    assert [e["reason"] for e in events(r, "refused")] == ["insufficient balance"]
    assert r.apps["ann"].balance == 300
    assert r.terms["OUT-PSQ"].gate.passages == 0


def test_entry_below_the_minimum_balance_is_refused(tmp_path):
    cards = [{"name": "ann", "number": CARDS["ann"], "balance_fen": 100}]
    r = Run(_station([_tap(1, "IN-XJH", "ann")], cards=cards)).run()
    assert events(r, "refused")[0]["reason"].startswith("balance below")
    assert r.terms["IN-XJH"].gate.passages == 0


def test_card_torn_at_exit_is_charged_exactly_once_after_retap(tmp_path, fare_xjh_psq):
    # SELECT, READ RECORD, INITIALIZE, UPDATE CAPP DATA CACHE, DEBIT: tear the DEBIT
    r = Run(_station([_tap(1, "IN-XJH", "ann"), _tap(1800, "OUT-PSQ", "ann", tear_at_apdu=5),
                      _tap(1805, "OUT-PSQ", "ann")])).run()
    assert r.apps["ann"].balance == 2000 - fare_xjh_psq
    exits = [x for x in journal(r, "OUT-PSQ") if x["kind"] == "exit"]
    assert len(exits) == 1 and exits[0]["amount"] == fare_xjh_psq
    assert events(r, "exit")[0]["recovered"] is True


def test_emergency_opens_every_gate_and_exits_are_free(tmp_path):
    r = Run(_station([_tap(1, "IN-XJH", "ann"),
                      {"at": 600, "terminal": "OUT-PSQ", "emergency": True},
                      _tap(610, "OUT-PSQ", "ann"),
                      {"at": 900, "terminal": "OUT-PSQ", "emergency": False}])).run()
    [exit_] = events(r, "exit")
    assert exit_["fen"] == 0 and exit_["emergency"] is True
    assert [e["state"] for e in events(r, "emergency")] == ["on", "off"]
    assert r.apps["ann"].balance == 2000


def test_journey_left_open_by_an_emergency_is_not_penalised(tmp_path):
    r = Run(_station([_tap(1, "IN-XJH", "ann"),
                      {"at": 600, "terminal": "IN-XJH", "emergency": True},
                      {"at": 900, "terminal": "IN-XJH", "emergency": False},
                      _tap(7200, "IN-XJH", "ann")])).run()
    second = events(r, "entry")[-1]
    assert second["fen"] == 0
    assert r.apps["ann"].balance == 2000


def test_bus_then_metro_within_120_minutes_gets_the_transfer_discount(tmp_path, fare_xjh_psq):
    r = Run(_station([_tap(1, "BUS-926", "ben"), _tap(1800, "IN-XJH", "ben"),
                      _tap(3600, "OUT-PSQ", "ben")])).run()
    [ride] = events(r, "ride")
    [exit_] = events(r, "exit")
    assert ride["fen"] == 200
    assert "transfer" in [s[0] for s in exit_["steps"]]
    assert exit_["fen"] == fare_xjh_psq - 100
    assert r.apps["ben"].balance == 2000 - 200 - (fare_xjh_psq - 100)


def test_gates_run_identically_on_the_micropython_vm(tmp_path):
    data = _station([_tap(1, "BUS-926", "ben"), _tap(20, "IN-XJH", "ben"),
                     _tap(240, "OUT-PSQ", "ben")], poll_ms=1000)
    cp = Run(data).run()
    mp = Run(data).run("micropython")
    assert mp.lines == cp.lines
