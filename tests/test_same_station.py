"""Same-station rules: a torn entry or exit at one gate is honoured at the station's next gate."""

from simrun import events, journal

from hw_sim.scenario import Run

XJH, PSQ = 2025, 2035  # Xujiahui, People's Square
TARIFF = "tariffs/shanghai-2017.json"
# Entry: SELECT, READ RECORD, GET BALANCE, INITIALIZE, UPDATE CAPP, DEBIT (6)
# Exit: SELECT, READ RECORD, INITIALIZE, UPDATE CAPP, DEBIT (5)
ENTRY_DEBIT, EXIT_DEBIT = 6, 5


def _station(evts):
    gate = {"board": "devkitc-turnstile", "vm_heap": "176K"}
    return {
        "start": "2026-11-29T07:00:00",
        "terminals": [
            dict(gate, id="IN-A", role="entry_gate", config={"station": XJH, "tariff": TARIFF}),
            dict(gate, id="IN-B", role="entry_gate", config={"station": XJH, "tariff": TARIFF}),
            dict(gate, id="OUT-A", role="exit_gate", config={"station": PSQ, "tariff": TARIFF}),
            dict(gate, id="OUT-B", role="exit_gate", config={"station": PSQ, "tariff": TARIFF}),
        ],
        "cards": [{"name": "ann", "number": "31012300000000000011", "balance_fen": 2000}],
        "events": evts,
    }


def _tap(t, term, **kw):
    return dict({"at": t, "terminal": term, "tap": "ann"}, **kw)


def _paid(r):
    return [(x["kind"], x["amount"]) for t in r.terms for x in journal(r, t)
            if x["kind"] in ("entry", "exit")]


def test_entry_torn_at_one_gate_passes_the_next_gate_without_a_penalty(tmp_path):
    r = Run(_station([_tap(1, "IN-A", tear_at_apdu=ENTRY_DEBIT), _tap(90, "IN-B"),
                      _tap(1800, "OUT-A")])).run()
    [again] = [e for e in events(r, "entry") if e["terminal"] == "IN-B"]
    assert (again["fen"], again["steps"]) == (0, [["torn-entry-again", 0, 0]])
    [exit_] = events(r, "exit")
    assert exit_["fen"] == 2000 - r.apps["ann"].balance  # the trip's fare, nothing more
    assert [e["passage"] for e in events(r, "gate")] == []  # every barrier opened and passed


def test_entry_torn_then_retapped_at_the_same_gate_is_settled_there(tmp_path):
    r = Run(_station([_tap(1, "IN-A", tear_at_apdu=ENTRY_DEBIT), _tap(5, "IN-A")])).run()
    [entry] = events(r, "entry")
    assert entry["recovered"] is True
    assert r.apps["ann"].offline_atc == 1


def test_a_second_re_entry_in_one_journey_is_refused(tmp_path):
    r = Run(_station([_tap(1, "IN-A"), _tap(90, "IN-B"), _tap(180, "IN-A")])).run()
    assert [e["reason"] for e in events(r, "refused")] == ["already entered"]
    assert r.apps["ann"].balance == 2000


def test_re_entry_at_the_same_gate_within_the_passback_time_is_refused(tmp_path):
    r = Run(_station([_tap(1, "IN-A"), _tap(20, "IN-A")])).run()
    assert [e["reason"] for e in events(r, "refused")] == ["already entered"]


def test_exit_torn_at_one_gate_passes_the_next_exit_gate_without_a_penalty(tmp_path):
    r = Run(_station([_tap(1, "IN-A"), _tap(1800, "OUT-A", tear_at_apdu=EXIT_DEBIT),
                      _tap(1890, "OUT-B")])).run()
    [again] = [e for e in events(r, "exit") if e["terminal"] == "OUT-B"]
    assert (again["fen"], again["steps"]) == (0, [["torn-exit-again", 0, 0]])
    debits = [c.amount for c in r.apps["ann"].commits]
    assert debits[0] == 0 and debits[2] == 0 and sum(debits) == 2000 - r.apps["ann"].balance


def test_entry_long_after_a_torn_entry_is_an_unclosed_journey(tmp_path):
    r = Run(_station([_tap(1, "IN-A", tear_at_apdu=ENTRY_DEBIT), _tap(1300, "IN-B")])).run()
    [again] = [e for e in events(r, "entry") if e["terminal"] == "IN-B"]
    assert again["fen"] > 0 and again["steps"][0][0] == "unclosed"
