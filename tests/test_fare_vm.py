"""The fare engine on the real MicroPython VM (unix port, 96 KB heap, .mpy files) gives the
same fen as under CPython, reading the same compiled tariff file by seek."""

import json
import subprocess
from pathlib import Path

import pytest

import farekit

_ROOT = Path(__file__).resolve().parents[1]
MICROPYTHON = _ROOT / ".venv" / "bin" / "micropython"

pytestmark = pytest.mark.skipif(not MICROPYTHON.exists(), reason="no MicroPython unix port")

# Runs unchanged on both runtimes.
CASES = r'''
import binascii
from ykt import caltime
from ykt.fare import engine
from ykt.fare.tariff import Tariff, BUS
from ykt.fare.transit_record import TransitState, encode


def run(path):
    t = Tariff(open(path, "rb"))
    out = []
    at = caltime.secs(2026, 11, 30, 8, 0)
    ids = [t.station_id(i) for i in range(0, t.n, 23)]
    for a in ids:
        for b in ids[::3]:
            q = engine.quote_trip(t, a, b, at)
            out.append([a, b, q.distance_dam, q.fen])
    s = TransitState()
    s.month = (2026, 11)
    s.month_spend = 7500
    q1 = engine.flat_ride(t, s, BUS, "926", at, 2)
    q2 = engine.metro_entry(t, q1.state, 2035, at + 1200, b"\x01\x02\x03\x04\x05\x06", 2)
    q3 = engine.metro_exit(t, q2.state, 2011, at + 3600, 2)
    out.append([q1.fen, q2.fen, q3.fen, [list(x) for x in q3.steps]])
    out.append(binascii.hexlify(encode(q3.state)).decode())
    out.append(engine.metro_exit(t, TransitState(), 2011, at).fen)
    out.append(engine.quote_trip(t, 2011, 508, at, 1, 0x1000).fen)
    t.close()
    return out
'''


def _cpython(path):
    ns = {}
    exec(CASES, ns)
    return json.loads(json.dumps(ns["run"](path)))


def _vm(tmp_path, path):
    from host_tools.build import vm_dir

    script = tmp_path / "fare_vm.py"
    script.write_text("import sys, json\nsys.path.insert(0, %r)\n%s\nprint(json.dumps(run(%r)))\n"
                      % (vm_dir(), CASES, str(path)))
    proc = subprocess.run([str(MICROPYTHON), "-X", "heapsize=96K", str(script)],
                          capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_micropython_quotes_equal_cpython_quotes(tmp_path):
    path = tmp_path / "tariff.bin"
    path.write_bytes(farekit.payload())
    vm = _vm(tmp_path, path)
    cp = _cpython(str(path))
    assert vm == cp
    assert len(cp) == 14 * 5 + 4
    assert cp[-4][:3] == [100, 0, 135]  # student: bus 200 -> 100; metro 500 -> 250 -> 150 -> 135
