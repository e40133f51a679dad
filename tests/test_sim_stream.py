"""`ykt sim run` streams: each line goes out as the terminal outputs it (``Run.run(on_line=)``),
on both runtimes; a reader that stops reading ends ykt quietly; progress shows on a terminal."""

import io
import os
import subprocess
import sys

import pytest
from simrun import scenario

from hw_sim.scenario import Run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
YKT = [sys.executable, "-m", "host_tools.cli"]


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_lines_are_handed_on_while_the_run_goes_on(runtime):
    data = scenario([{"at": 1, "tap": "alice"}, {"at": 30, "tap": "bob"}])
    r = Run(data)
    seen = []

    def on_line(line):
        seen.append((line, r.progress()))

    r.run(runtime, on_line=on_line)
    assert [line for line, _ in seen] == r.lines
    debits = [p for line, p in seen if '"debit"' in line]
    assert len(debits) == 2 and debits[0] < 0.5 < debits[1] < 1.0  # not all at the end


def test_a_reader_that_stops_reading_ends_ykt_quietly():
    p = subprocess.Popen(YKT + ["sim", "run", "scenarios/demo-station.json"], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stdout.readline()
    p.stdout.close()  # as `| head -1` does
    err = p.stderr.read()
    code = p.wait(timeout=120)
    assert first.startswith(b"{")
    assert err == b"" and code == 141


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_shows_on_a_terminal_only_for_a_long_run(monkeypatch):
    from host_tools.cli import sim

    data = scenario([{"at": 1, "tap": "alice"}, {"at": 600, "tap": "bob"}])
    out, tty = io.StringIO(), _Tty()
    monkeypatch.setattr(sim, "PROGRESS_AFTER_S", 0.0)
    r = Run(data)
    with sim._Progress(r, tty) as progress:
        def slow(line):
            import time

            time.sleep(0.3)
            progress.line(out, line)

        r.run(on_line=slow)
    assert "% virtual 07:" in tty.getvalue() and tty.getvalue().endswith("\r\x1b[K")
    assert out.getvalue().splitlines() == r.lines
    quiet = io.StringIO()  # not a terminal: nothing at all
    with sim._Progress(Run(data), quiet) as progress:
        pass
    assert quiet.getvalue() == ""
