"""One firmware, two runtimes: CPython and the real MicroPython VM give the same output."""

import glob
import json
import os
import subprocess
import sys

import pytest
from simrun import records, scenario

from host_tools.lib.build import FIRMWARE, mpy_cross, sources
from hw_sim.scenario import Run

ROOT = os.path.dirname(FIRMWARE)
YKT = [sys.executable, "-m", "host_tools.cli"]


def _ykt(*args):
    return subprocess.run(YKT + list(args), cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("module", sources())
def test_firmware_module_compiles_with_mpy_cross_for_esp32(tmp_path, module):
    out = tmp_path / "m.mpy"
    r = subprocess.run([mpy_cross(), "-march=xtensawin", "-o", str(out),
                        os.path.join(FIRMWARE, module)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 0


def test_two_runs_of_a_scenario_are_byte_identical():
    first = _ykt("sim", "run", "scenarios/demo-canteen.json")
    second = _ykt("sim", "run", "scenarios/demo-canteen.json")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert '"event": "debit"' in first.stdout


SHIPPED = sorted(os.path.basename(p)[:-5]
                 for p in glob.glob(os.path.join(ROOT, "scenarios", "*.json")))


def test_the_demos_are_among_the_shipped_scenarios():
    assert {"demo-canteen", "demo-station", "demo-canteen-pos", "demo-venue"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_micropython_runtime_output_equals_cpython_output(name):
    """Every scenario shipped under scenarios/ runs byte-identically on both runtimes."""
    cp = _ykt("sim", "run", "scenarios/%s.json" % name)
    mp = _ykt("sim", "run", "scenarios/%s.json" % name, "--runtime", "micropython")
    assert cp.returncode == 0, cp.stderr
    assert mp.returncode == 0, mp.stderr
    assert mp.stdout == cp.stdout


@pytest.mark.parametrize("board", ["devkitc-turnstile", "s3-canteen-pos", "bus-validator"])
def test_torn_purchase_on_the_vm_matches_cpython_records(tmp_path, board):
    data = scenario([{"at": 1, "tap": "alice", "tear_at_apdu": 3}, {"at": 4, "tap": "bob"},
                     {"at": 8, "tap": "alice"}], board=board)
    cp = Run(data).run()
    mp = Run(data).run("micropython")
    assert mp.lines == cp.lines
    assert records(mp) == records(cp)
    assert mp.apps["alice"].balance == 650


def test_canteen_pos_demo_signs_in_sells_and_closes_the_shift():
    r = _ykt("sim", "run", "scenarios/demo-canteen-pos.json")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    sales = [x for x in lines if x["event"] == "sale"]
    [z] = [x for x in lines if x["event"] == "z-report"]
    assert z["net"] == sum(x["fen"] for x in sales) == 900
