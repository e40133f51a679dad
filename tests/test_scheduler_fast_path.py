"""A sleep that skips the scheduler thread (hw_sim.scheduler.FAST_PATH: the sleeper is still
the earliest to wake and runs on, or hands control to the terminal that is, directly) changes
nothing: the same lines, byte for byte, in the same order and at the same points of the stream,
as when every sleep goes to the scheduler and back."""

import pytest
from simrun import bus_and_canteen

from hw_sim import scheduler
from hw_sim.scenario import Run

EVENTS = [
    {"at": 1, "terminal": "BUS-A", "tap": "alice"},
    {"at": 1, "terminal": "CANTEEN", "tap": "bob"},
    {"at": 2.5, "terminal": "BUS-A", "noise": {"ms": 40, "xor": 90}},
    {"at": 3, "terminal": "CANTEEN", "tap": "alice", "hold_ms": 800},
    {"at": 3.8, "terminal": "BUS-A", "tap": "alice", "hold_ms": 400},
    {"at": 5, "terminal": "BUS-A", "tap": "bob", "tear_at_apdu": 3},
    {"at": 6, "terminal": "CANTEEN", "power_cut": {"after_ops": 2}},
    {"at": 6, "terminal": "CANTEEN", "tap": "carol"},
    {"at": 9, "terminal": "BUS-A", "tap": "bob"},
    {"at": 9, "terminal": "CANTEEN", "tap": "carol"},
    {"at": 12, "terminal": "CANTEEN", "set_clock": "2026-11-29T08:00:00"},
    {"at": 13, "terminal": "CANTEEN", "tap": "alice"},
]


def _run(fast, monkeypatch, runtime="cpython"):
    monkeypatch.setattr(scheduler, "FAST_PATH", fast)
    streamed = []  # (line, how many lines the run held when it was handed on)
    r = Run(bus_and_canteen(EVENTS))
    r.run(runtime, on_line=lambda line: streamed.append((line, len(r.lines))))
    return r, streamed


def _assert_same_run(fast, fast_stream, slow, slow_stream):
    assert fast.lines == slow.lines
    assert fast_stream == slow_stream
    assert fast.power_cuts == slow.power_cuts and fast.power_cuts
    for tid in fast.terms:
        assert fast.terms[tid].clock.now_us() == slow.terms[tid].clock.now_us()
        assert fast.terms[tid].flash.ops == slow.terms[tid].flash.ops


def test_two_terminals_are_identical_with_and_without_the_fast_path(monkeypatch):
    slow, slow_stream = _run(False, monkeypatch)
    fast, fast_stream = _run(True, monkeypatch)
    assert slow._sched.kept == slow._sched.switched == 0
    assert fast._sched.kept > 0 and fast._sched.switched > 0  # both were taken
    _assert_same_run(fast, fast_stream, slow, slow_stream)


def test_micropython_runs_on_in_place_identically(monkeypatch):
    """The VM bridge answers a sleep at once when its VM is still the one to resume
    (hw_sim.vm_bridge.VmProcess._run_on); it never hands control to another VM directly."""
    slow, slow_stream = _run(False, monkeypatch, "micropython")
    fast, fast_stream = _run(True, monkeypatch, "micropython")
    assert slow._sched.kept == slow._sched.switched == 0
    assert fast._sched.kept > 0 and fast._sched.switched == 0
    _assert_same_run(fast, fast_stream, slow, slow_stream)
    assert all(sim.clock.now_us() <= fast.end_us for sim in fast.terms.values())
    cpython, _ = _run(True, monkeypatch)
    assert fast.lines == cpython.lines  # and as on CPython


@pytest.mark.parametrize("fast", [False, True])
def test_no_sleep_runs_past_the_end(fast, monkeypatch):
    r, _ = _run(fast, monkeypatch)
    assert all(sim.clock.now_us() <= r.end_us for sim in r.terms.values())
