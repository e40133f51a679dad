"""Running measurement scripts on the MicroPython VM for the benchmarks, and the one
scratch directory a benchmark run writes its temporary files in."""

import contextlib
import os
import subprocess
import tempfile

# The imports are measured first, by a script that creates almost no names of its own: the
# VM interns names in pools that grow by doubling, so a long script parsed beforehand would
# shift the module figures (the rest is compiled afterwards, by exec and sees a, b, c).
_MODULE_HEAP = r"""
import gc
gc.collect()
a = gc.mem_alloc()
import ykt.main
import ykt.roles.fixed_fare
gc.collect()
b = gc.mem_alloc()
%(imports)s
gc.collect()
c = gc.mem_alloc()
exec(%(rest)r)
"""


def run(script, heap="512K", path=None):
    """Run ``script`` on the VM with the firmware's .mpy (or ``path``) on its path; the
    integers it prints. RuntimeError with the last line of its output if it fails."""
    from host_tools.build import vm_dir
    from hw_sim.vm_bridge import micropython_binary

    env = dict(os.environ, MICROPYPATH=path or vm_dir())
    out = subprocess.run([micropython_binary(), "-X", "heapsize=" + heap, "-c", script],
                         capture_output=True, text=True, timeout=600, env=env)
    if out.returncode != 0:
        raise RuntimeError((out.stdout + out.stderr).strip().splitlines()[-1])
    return [int(x) for x in out.stdout.split()]


def module_heap(imports, rest, path=None):
    """What ``rest`` prints, run after the fixed-fare terminal's modules (heap grown from
    ``a`` to ``b``) and the ``imports`` on top (``b`` to ``c``) were loaded."""
    return run(_MODULE_HEAP % {"imports": imports, "rest": rest}, path=path)


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
