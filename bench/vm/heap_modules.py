# The heap a role's firmware modules take once imported: gc.mem_alloc() after gc.collect(),
# before and after the imports. Runs unchanged on the 64-bit unix port and on a 32-bit
# MicroPython (bench/heapfactor.py): the ratio is the 64-bit factor docs/boards.md states.
# argv (or the global MODULES, where there is no sys.argv): the modules, comma-separated.
# Prints the word size (32/64) and the bytes.
import binascii  # noqa: F401  (built in on the board: loaded before the baseline)
import gc
import hashlib  # noqa: F401
import json  # noqa: F401
import struct  # noqa: F401
import sys
import time  # noqa: F401

import cryptolib  # noqa: F401
import micropython  # noqa: F401

gc.collect()
base = gc.mem_alloc()
for name in (globals().get("MODULES") or sys.argv[-1]).split(","):
    __import__(name)
gc.collect()
print(64 if sys.maxsize > 2**32 else 32, gc.mem_alloc() - base)
