"""The MicroPython scripts of tests/vm/: run one on the VM (the unix port), or import one
under CPython (the scripts that run unchanged on both runtimes define functions a test calls
there too).

A script gets its inputs as command-line arguments (``sys.argv[1:]``, strings) and prints
its results; on the VM its own directory comes first on ``sys.path`` (so it can import its
neighbours, e.g. ``dirfs``), then ``path`` (MICROPYPATH: the firmware's sources by default).
"""

import importlib.util
import json
import os
import subprocess
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "tests", "vm")
FIRMWARE = os.path.join(ROOT, "firmware")


def micropython():
    """The MicroPython unix port (a required dependency: missing, it raises, so the test
    that needs it fails rather than skips)."""
    from hw_sim.vm_bridge import micropython_binary

    return micropython_binary()


def script(name):
    """The path of tests/vm/``name``.py."""
    return os.path.join(SCRIPTS, name + ".py")


def command(name, *args, heap="96K"):
    """The command line that runs tests/vm/``name``.py with ``args`` on the VM."""
    return [micropython(), "-X", "heapsize=" + heap, script(name)] + [str(a) for a in args]


def env(path=FIRMWARE):
    """The environment with ``path`` (a directory, or a list of them) as MICROPYPATH."""
    if isinstance(path, (str, os.PathLike)):
        path = [path]
    return dict(os.environ, MICROPYPATH=os.pathsep.join(str(p) for p in path))


def run(name, *args, path=FIRMWARE, heap="96K", timeout=60, cwd=None):
    """Run tests/vm/``name``.py on the VM; the CompletedProcess (text output)."""
    return subprocess.run(command(name, *args, heap=heap), capture_output=True, text=True,
                          timeout=timeout, cwd=None if cwd is None else str(cwd),
                          env=env(path))


def load(name):
    """tests/vm/``name``.py imported under CPython (the firmware through hw_sim's stand-ins,
    as conftest.py sets them up)."""
    key = "tests_vm_" + name
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, script(name))
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def dialogue(cmd, path, ready, watchdog_s):
    """Run a VM case script that prints ``READY what`` (answered, once ``ready(what)`` has
    played the other side, by a newline on its stdin) and ends with ``RESULT json``: the
    result. A hang is broken after ``watchdog_s``; a failed run fails the test."""
    result = None
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env(path)) as proc:
        watchdog = threading.Timer(watchdog_s, proc.kill)
        watchdog.start()
        try:
            for line in proc.stdout:
                if line.startswith("READY "):
                    ready(line.split()[1])
                    proc.stdin.write("\n")
                    proc.stdin.flush()
                elif line.startswith("RESULT "):
                    result = json.loads(line[len("RESULT "):])
            err = proc.stderr.read()
            proc.wait()
        finally:
            watchdog.cancel()
    assert proc.returncode == 0 and result is not None, err
    return result
