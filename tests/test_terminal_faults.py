"""Nothing a card or the reader line does ends the terminal loop or double-charges."""

from simrun import events, records, scenario

from hw_sim.faults import NoisyLine
from hw_sim.scenario import Run

S = 1000000


def _run(tmp_path, data, prepare):
    r = Run(data, "test")
    prepare(r)
    r.run()
    return r


def _noisy(start_s, end_s):
    def prepare(r):
        w = r.sim.wiring
        w.uart[1] = NoisyLine(w.uart[1], r.sim.clock, int(start_s * S), int(end_s * S))
    return prepare


def _consistent(r, name="alice"):
    app = r.apps[name]
    paid = [x for x in records(r) if x["kind"] == "purchase"]
    assert 1000 - app.balance == sum(x["fen"] for x in paid)
    assert app.offline_atc == len(paid)


def test_garbage_from_the_reader_during_a_tap_is_reported_and_the_next_tap_works(tmp_path):
    data = scenario([{"at": 1, "tap": "alice"}, {"at": 5, "tap": "alice"}], board="bus-validator")
    r = _run(tmp_path, data, _noisy(1.0, 1.5))
    assert events(r, "error")
    assert events(r, "debit")[-1]["t"].startswith("2026-11-29T07:00:05")
    _consistent(r)


def test_garbage_from_the_reader_while_idle_does_not_stop_the_terminal(tmp_path):
    data = scenario([{"at": 3, "tap": "alice"}], board="bus-validator")
    r = _run(tmp_path, data, _noisy(0.5, 2.5))
    assert len(events(r, "debit")) == 1
    _consistent(r)


class _Sw:
    """A card application that answers one instruction with a fixed status word."""

    def __init__(self, app, ins, sw):
        self._app, self._ins, self._sw = app, ins, sw

    def power_on(self):
        self._app.power_on()

    def process(self, apdu):
        if apdu[1] == self._ins:
            return self._sw
        return self._app.process(apdu)


def test_unexpected_status_word_is_refused_with_the_code_and_the_loop_goes_on(tmp_path):
    def prepare(r):
        r.cards["alice"].app = _Sw(r.apps["alice"], 0x50, b"\x6f\x00")
    data = scenario([{"at": 1, "tap": "alice"}, {"at": 4, "tap": "bob"}])
    r = _run(tmp_path, data, prepare)
    assert events(r, "refused")[0]["reason"] == "card error 6F00"
    assert r.apps["alice"].balance == 1000
    assert r.apps["bob"].balance == 650


def test_reader_that_never_answers_is_reported_and_retried(tmp_path):
    def prepare(r):
        r.sim.wiring.uart.pop(1)  # PN532 unplugged
    data = scenario([{"at": 1, "tap": "alice"}], board="bus-validator")
    r = _run(tmp_path, data, prepare)
    errors = events(r, "error")
    assert len(errors) >= 2 and "reader not answering" in errors[0]["reason"]
    assert r.apps["alice"].balance == 1000
