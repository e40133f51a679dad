"""A reader that light-sleeps until the PN532's IRQ falls (board option ``nfc.wait`` "irq",
boards/devkitc-gate-irq.json): the same sales as polling, far fewer frames on the bus, an idle
hour in a handful of sleeps, the fire alarm seen the instant it changes, and a board check
that refuses wiring a light sleep cannot wake from."""

import copy
import json

import pytest
from simrun import NUMBERS, events, journal, scenario

from host_tools.lib.boardcheck import check
from host_tools.lib.boards import BoardError, load, validate
from hw_sim.scenario import Run

IRQ, POLL = "devkitc-gate-irq", "devkitc-turnstile"
TARIFF = "tariffs/shanghai-2017.json"


def _taps(gap_s=2, n=6):
    names = list(NUMBERS)
    return [{"at": 1 + gap_s * i, "tap": names[i % 3], "hold_ms": 600} for i in range(n)]


def _run(data, runtime="cpython"):
    return Run(data).run(runtime)


def test_an_irq_reader_charges_each_tap_once():
    r = _run(scenario(_taps(), board=IRQ))
    debits = events(r, "debit")
    assert [d["fen"] for d in debits] == [350] * 6
    assert sorted(app.balance for app in r.apps.values()) == [300, 300, 300]
    assert [x["kind"] for x in journal(r) if x["kind"] == "purchase"] == ["purchase"] * 6


def test_an_irq_reader_runs_byte_identically_on_both_runtimes():
    data = scenario(_taps(n=3), board=IRQ)
    assert _run(data, "micropython").lines == _run(data).lines


def test_an_irq_reader_sends_less_than_half_the_frames_of_polling():
    irq = _run(scenario(_taps(), board=IRQ))
    poll = _run(scenario(_taps(), board=POLL))
    assert [d["fen"] for d in events(irq, "debit")] == [d["fen"] for d in events(poll, "debit")]
    assert 2 * len(irq.sim.chip.commands) < len(poll.sim.chip.commands)


def test_an_idle_hour_between_taps_costs_no_frames_and_a_few_sleeps():
    taps = [{"at": 1, "tap": "alice"}, {"at": 3601, "tap": "bob"}]
    r = _run(scenario(taps, board=IRQ))
    short = _run(scenario([{"at": 1, "tap": "alice"}, {"at": 3, "tap": "bob"}], board=IRQ))
    assert len(events(r, "debit")) == 2
    assert len(r.sim.chip.commands) == len(short.sim.chip.commands)
    # one wake-up per idle_ms (1 s) to run the role's idle(), and nothing else
    assert r.sim.wiring.light_legs - short.sim.wiring.light_legs <= 3600 + 10


def test_a_card_is_read_as_soon_as_it_arrives():
    r = _run(scenario([{"at": 1.25, "tap": "alice"}], board=IRQ))
    [read] = events(r, "read")
    assert read["t"] < "2026-11-29T07:00:01.300"  # no poll interval to wait out


def _gate(evts):
    return {"start": "2026-11-29T07:00:00",
            "terminals": [{"id": "IN", "role": "entry_gate", "board": IRQ,
                           "config": {"station": 2025, "tariff": TARIFF, "idle_ms": 60000}}],
            "cards": [{"name": "ann", "number": NUMBERS["alice"], "balance_fen": 2000}],
            "events": evts}


def test_the_fire_alarm_wakes_a_sleeping_gate_at_once():
    r = _run(_gate([{"at": 10.5, "emergency": True}, {"at": 20.25, "emergency": False},
                    {"at": 30, "tap": "ann"}]))
    on, off = events(r, "emergency")
    assert (on["state"], on["t"]) == ("on", "2026-11-29T07:00:10.500")
    assert (off["state"], off["t"]) == ("off", "2026-11-29T07:00:20.250")
    assert [e["fen"] for e in events(r, "entry")] == [0]


def _board(**nfc):
    b = copy.deepcopy(load(IRQ))
    b["nfc"].update(nfc)
    return b


def _errors(board):
    return [m for level, m in check(board) if level == "error"]


def test_the_board_check_accepts_the_irq_board():
    assert _errors(load(IRQ)) == []


def test_an_irq_wait_without_the_irq_pin_is_refused():
    assert any("needs nfc.irq wired" in m for m in _errors(_board(irq=None)))


def test_an_irq_wait_on_a_pin_that_cannot_wake_a_light_sleep_is_refused():
    assert any("GPIO 21, which cannot wake a light sleep" in m for m in _errors(_board(irq=21)))


def test_an_irq_wait_on_the_uart_is_refused():
    b = _board(bus="uart", uart={"id": 1, "tx": 17, "rx": 16})
    del b["nfc"]["spi"], b["nfc"]["cs"]
    assert any("SPI or I2C" in m for m in _errors(b))


def test_an_unknown_wait_is_refused_by_the_board_file_check():
    with pytest.raises(BoardError, match='nfc.wait.*one of poll, irq'):
        validate(json.loads(json.dumps(_board(wait="sleep"))))


def test_a_card_held_after_its_sale_is_watched_by_presence_checks_not_new_activations():
    r = _run(scenario([{"at": 1, "tap": "alice", "hold_ms": 2000}], board=IRQ))
    bodies = [bytes(b[:2]) for b in r.sim.chip.commands]
    assert len(events(r, "debit")) == 1
    assert bodies.count(b"\xd4\x4a") == 2  # the one that found it, the one waiting for the next
    assert bodies.count(b"\xd4\x00") >= 2000 // 100 - 2  # Diagnose 6, every poll_ms while held
    assert bodies.index(b"\xd4\x52") > len(bodies) - 3  # released once it had gone
