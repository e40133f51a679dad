"""Heap the POS role takes on the MicroPython VM (bench/pos.py): ``gc.mem_alloc`` before and
after the fixed-fare terminal's modules (a, b), after the POS role's on top (c); then REST
(heap_pos_rules.py), read first but compiled only now, measures the loaded rule set.

``micropython heap_pos.py heap_pos_rules.py RULES.json`` prints ``b - a``, ``c - b`` and the
rule set's bytes.

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
import ykt.drivers.escpos  # noqa: E402, F401
import ykt.drivers.keypad  # noqa: E402, F401
import ykt.drivers.lcd  # noqa: E402, F401
import ykt.pos.receipt  # noqa: E402, F401
import ykt.roles.pos.terminal  # noqa: E402, F401

gc.collect()
c = gc.mem_alloc()
exec(rest)
