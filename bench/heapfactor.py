"""The 64-bit factor (docs/boards.md, "Memory"): how much more heap the simulator's 64-bit
MicroPython VM needs than a 32-bit ESP32 for the same firmware. Each role's modules are
imported from the same .mpy files on the unix port and on the 32-bit webassembly port
(``node``, npm ``@micropython/micropython-webassembly-pyscript``; its directory in
``YKT_MP_WASM``, default ``node_modules/...`` here), whose objects and GC blocks are the
ESP32's size. ``python -m bench.heapfactor``; without node or the package it says so.
host_tools.lib.boardcheck.VM_FACTOR is the smallest factor printed, rounded down."""

import os
import shutil
import subprocess
import sys
import tempfile

from bench import harness

ROLES = {"fixed_fare": "ykt.main,ykt.roles.fixed_fare",
         "gate": "ykt.main,ykt.roles.gate,ykt.fare.tariff,ykt.fare.engine",
         "validator": "ykt.main,ykt.roles.validator,ykt.fare.tariff,ykt.fare.engine",
         "pos": "ykt.main,ykt.roles.pos.terminal"}
STUBS = {  # what is C on the board and missing from the webassembly port
    "machine.py": "class Pin:\n    IN = 0\n    OUT = 1\n    PULL_UP = 2\n    OPEN_DRAIN = 3\n"
                  "class SPI:\n    pass\nclass I2C:\n    pass\nclass UART:\n    pass\n",
    "cryptolib.py": "class aes:\n    def __init__(self, *a):\n        pass\n",
}
PACKAGE = "@micropython/micropython-webassembly-pyscript"


def _lib(tmp):
    """The firmware as .mpy (ykt build's tree) plus the stand-ins, in ``tmp``."""
    from hw_sim.vm_bridge import vm_dir

    lib = os.path.join(tmp, "lib")
    shutil.copytree(vm_dir(), lib)
    for name, text in STUBS.items():
        with open(os.path.join(lib, name), "w") as f:
            f.write(text)
    return lib


def measure():
    """{role: (bytes on 32-bit, bytes on 64-bit)}; 32-bit None when node is missing."""
    wasm = os.environ.get("YKT_MP_WASM", os.path.join(harness.ROOT, "node_modules", PACKAGE))
    mjs = os.path.join(wasm, "micropython.mjs")
    node = shutil.which("node") if os.path.exists(mjs) else None
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        lib = _lib(tmp)
        for role, mods in ROLES.items():
            b64 = harness.run_script("heap_modules", mods, heap="4M", path=lib)[1]
            b32 = None
            if node:
                run = subprocess.run([node, os.path.join(harness.SCRIPTS, "heapfactor.mjs"), mjs,
                                      lib, mods], capture_output=True, text=True, timeout=300)
                b32 = int(run.stdout.split()[-1]) if run.returncode == 0 else None
            out[role] = (b32, b64)
    return out


def main():
    figures = measure()
    for role, (b32, b64) in figures.items():
        if b32 is None:
            print("%-10s 64-bit %7d bytes (no 32-bit port: npm install %s)" % (role, b64,
                                                                                PACKAGE))
        else:
            print("%-10s 32-bit %7d  64-bit %7d  factor %.3f" % (role, b32, b64, b64 / b32))
    return 0


if __name__ == "__main__":
    sys.exit(main())
