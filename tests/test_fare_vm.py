"""The fare engine on the real MicroPython VM (unix port, 96 KB heap, .mpy files) gives the
same fen as under CPython, reading the same compiled tariff file by seek."""

import json

import farekit
import vmscripts


def _cpython(path):
    # the cases run unchanged on both runtimes: tests/vm/fare_cases.py
    return json.loads(json.dumps(vmscripts.load("fare_cases").run(path)))


def _vm(tmp_path, path):
    from hw_sim.vm_bridge import vm_dir

    proc = vmscripts.run("fare_cases", path, path=vm_dir(), timeout=120, cwd=tmp_path)
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
