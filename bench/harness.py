"""What every benchmark shares: the one scratch directory a run writes its temporary files in,
running a MicroPython script of bench/vm/ on the VM, running a scenario on either runtime and
timing it, and the one bisection (the smallest VM heap something runs in; the largest tariff
that can be updated)."""

import contextlib
import os
import subprocess
import tempfile
import time

from hw_sim.scenario import ScenarioError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "bench", "vm")


def run_script(name, *args, heap="512K", path=None):
    """Run bench/vm/``name``.py with ``args`` on the VM, the firmware's .mpy (or ``path``,
    a MICROPYPATH) on its path behind the script's own directory; the integers it prints.
    RuntimeError with the last line of its output if it fails.

    The script runs in bench/vm/ under its bare name: the VM interns the script's file name,
    so a checkout's path would otherwise move the heap figures by a few bytes."""
    from hw_sim.vm_bridge import micropython_binary, vm_dir

    env = dict(os.environ, MICROPYPATH=path or vm_dir())
    cmd = [micropython_binary(), "-X", "heapsize=" + heap, name + ".py"]
    out = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True,
                         timeout=600, env=env, cwd=SCRIPTS)
    if out.returncode != 0:
        raise RuntimeError((out.stdout + out.stderr).strip().splitlines()[-1])
    return [int(x) for x in out.stdout.split()]


def run_scenario(data, runtime="cpython", heap=None, name="bench"):
    """Run a scenario dict on ``runtime`` ("cpython" or "micropython", whose firmware heap is
    ``heap`` unless a terminal declares its ``vm_heap``) in a fresh directory; (the Run, its
    output lines, wall seconds). ScenarioError if a terminal stopped (e.g. out of heap)."""
    from hw_sim.scenario import Run

    r = Run(data, name)
    t0 = time.perf_counter()
    lines = r.run(runtime, heap).lines
    return r, lines, time.perf_counter() - t0


def runs_in(data, heap, same_as=None, name="bench"):
    """Whether the scenario runs to its end on the VM with ``heap`` (and, given
    ``same_as``, prints those very lines)."""
    try:
        _, lines, _ = run_scenario(data, "micropython", heap=heap, name=name)
    except (RuntimeError, ScenarioError):  # a terminal stopped (out of heap) or the VM did
        return False
    return same_as is None or lines == same_as


def bisect(holds, lo, hi, step):
    """Narrow ``lo`` (``holds`` false there) and ``hi`` (true there) to ``step`` apart,
    probing multiples of ``step``; returns ``(lo, hi)``. ``holds`` must be monotone."""
    while hi - lo > step:
        mid = (lo + hi) // 2 // step * step
        if holds(mid):
            hi = mid
        else:
            lo = mid
    return lo, hi


def smallest_heap_kb(runs, lo, hi, step=4):
    """The smallest heap, in ``step`` KB, ``runs(kb)`` holds for, bisected between ``lo``
    (assumed too small) and ``hi`` (assumed enough; returned if nothing smaller is)."""
    return bisect(runs, lo, hi, step)[1]


@contextlib.contextmanager
def scratch():
    """Every temporary file or directory made meanwhile (``tempfile``) goes under one
    directory, removed at the end: a benchmark leaves nothing behind in /tmp."""
    old = tempfile.tempdir
    with tempfile.TemporaryDirectory(prefix="ykt-bench-") as d:
        tempfile.tempdir = d
        try:
            yield d
        finally:
            tempfile.tempdir = old
