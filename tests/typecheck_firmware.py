"""Type-check the firmware against MicroPython's own stubs (``make lint``).

The firmware runs on MicroPython, so it is checked against ``micropython-esp32-stubs`` (the
ESP32 port's ``machine``, ``time``, ``micropython``, ``cryptolib``, ``esp32``, ``network`` …)
and ``micropython-stdlib-stubs`` (MicroPython's builtins and standard library, used as mypy's
typeshed) — never against CPython's. Every call into those modules is checked against the
real API. The firmware has no annotations; mypy checks the bodies anyway
(``check_untyped_defs``). Optional values are not tracked (``strict_optional = False``): the
firmware's ``None`` checks are its own business; the calls are what this guards.

    python tests/typecheck_firmware.py        # exit status is mypy's

The ESP32 stubs install as top-level ``.pyi`` files in site-packages, next to CPython
packages mypy must not see, so they are copied (by their RECORD) into ``build/mpy-stubs``.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUBS = os.path.join(ROOT, "build", "mpy-stubs")
SITE = sysconfig.get_paths()["purelib"]


def stub_files(dist):
    files = metadata.distribution(dist).files
    if files is None:
        raise SystemExit("typecheck: %s has no RECORD" % dist)
    return [str(f) for f in files if str(f).endswith(".pyi")]


def assemble():
    """build/mpy-stubs: the ESP32 stubs and the ``_mpy_shed`` helpers they import."""
    shutil.rmtree(STUBS, ignore_errors=True)
    shed = [f for f in stub_files("micropython-stdlib-stubs") if f.startswith("_mpy_shed/")]
    for rel in stub_files("micropython-esp32-stubs") + shed:
        dst = os.path.join(STUBS, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(os.path.join(SITE, rel), dst)
    return STUBS


def main():
    try:
        assemble()
    except metadata.PackageNotFoundError as e:
        print("typecheck: %s is not installed (pip install -e '.[dev]')" % e, file=sys.stderr)
        return 2
    cmd = [sys.executable, "-m", "mypy", "--config-file",
           os.path.join(ROOT, "firmware", "mypy.ini"), "--custom-typeshed-dir", SITE,
           "-p", "ykt"]
    env = dict(os.environ, MYPYPATH=STUBS)
    return subprocess.call(cmd, cwd=os.path.join(ROOT, "firmware"), env=env)


if __name__ == "__main__":
    sys.exit(main())
