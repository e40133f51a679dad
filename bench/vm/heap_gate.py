"""Heap the gate role takes on the MicroPython VM (bench/fare.py): ``gc.mem_alloc`` before and
after the fixed-fare terminal's modules (a, b), after the gate role's and the fare modules on
top (c); then REST (heap_gate_tariff.py), read first but compiled only now, measures an open
tariff and one exit pricing.

``micropython heap_gate.py heap_gate_tariff.py SMALL.bin BIG.bin ENTRY EXIT`` prints
``b - a``, ``c - b`` and heap_gate_tariff.py's figures.

Keep this file short and its names few: the VM interns names in pools that grow as they fill,
so a long script parsed before the imports would shift the module figures.
"""

import gc
import sys

rest = open(sys.argv[1]).read()
gc.collect()
a = gc.mem_alloc()
import ykt.main  # noqa: E402, F401  (imported for the heap it takes)
import ykt.roles.fixed_fare  # noqa: E402, F401

gc.collect()
b = gc.mem_alloc()
import ykt.fare.engine  # noqa: E402, F401
import ykt.fare.tariff  # noqa: E402, F401
import ykt.fare.transit_record  # noqa: E402, F401
import ykt.roles.gate  # noqa: E402, F401

gc.collect()
c = gc.mem_alloc()
exec(rest)
