"""The MicroPython scripts tests and benches run on the VM (tests/vm/, bench/vm/) are real
files, compiled by mpy-cross as the firmware is (``host_tools.lib.build``), so a syntax error or
a construct MicroPython lacks shows here rather than as a failing VM run."""

import os

import pytest

from host_tools.lib.build import FIRMWARE, build_mpy, sources

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIRS = ["tests/vm", "bench/vm"]
# a script's own directory comes first on the VM's path: none may hide a module it imports
SHADOWED = {name[:-3] for name in os.listdir(os.path.join(ROOT, "hw_sim", "vm"))
            if name.endswith(".py")} | {name.split(".")[0] for name in os.listdir(FIRMWARE)}
SHADOWED |= {"gc", "json", "os", "sys", "time", "struct", "binascii", "hashlib", "cryptolib",
             "micropython", "machine", "esp32", "io", "random", "math", "select", "errno"}


@pytest.mark.parametrize("where", DIRS)
def test_every_script_compiles_with_mpy_cross(where, tmp_path):
    top = os.path.join(ROOT, where)
    scripts = sources(top)
    assert scripts, "no scripts under %s" % where
    built = build_mpy(str(tmp_path), top=top)  # BuildError names the file mpy-cross refused
    assert sorted(os.path.relpath(p, str(tmp_path)) for p in built) == sorted(
        s[:-3] + ".mpy" for s in scripts)


@pytest.mark.parametrize("where", DIRS)
def test_no_script_hides_a_module(where):
    names = {s[:-3] for s in sources(os.path.join(ROOT, where))}
    assert not names & SHADOWED
