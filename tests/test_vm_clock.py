"""The VM's ``time`` stand-in (hw_sim/vm/time.py) takes both tick counters from the
unwrapped virtual clock each answer carries: ticks_ms wraps at 2**30 ms, as on the board
and under CPython, not when ticks_us does (every 1,073.7 s)."""

import os
import subprocess

from hw_sim import runtime
from hw_sim.vm_bridge import micropython_binary, vm_path

SCRIPT = "import time\nprint(time.ticks_us(), time.ticks_ms())\n"


def _ticks_on_the_vm(now_us, tmp_path):
    script = tmp_path / "ticks.py"
    script.write_text(SCRIPT)
    answer = b"%d" % now_us  # the tick read's value, as the bridge gives it: the clock
    head = b"%012x%06x" % (now_us, len(answer))
    out = subprocess.run([micropython_binary(), str(script)], input=head + answer,
                         capture_output=True, timeout=60,
                         env=dict(os.environ, MICROPYPATH=vm_path()))
    request, _, printed = out.stdout.partition(b"\n")
    assert request == b'\x01["ticks_us"]', out
    return tuple(int(x) for x in printed.split())


def test_ticks_ms_runs_on_past_the_wrap_of_ticks_us(tmp_path):
    now_us = 2000 * 1000000 + 123456  # 2,000 s: ticks_us has wrapped once
    assert _ticks_on_the_vm(now_us, tmp_path) == (now_us & (2**30 - 1), 2000123)


def test_the_vm_ticks_equal_cpython_ticks_at_the_same_instant(tmp_path, monkeypatch):
    now_us = 13 * 24 * 3600 * 1000000 + 42  # 13 days: ticks_ms has wrapped too

    class Clock:
        def now_us(self):
            return now_us

    monkeypatch.setattr(runtime, "_clock", Clock)
    assert _ticks_on_the_vm(now_us, tmp_path) == (runtime.ticks_us(), runtime.ticks_ms())
