"""The rest of heap_gate.py, exec'd in its globals (gc, sys, a, b, c) after the module
figures: prints b - a, c - b, the open SMALL tariff, one exit pricing's allocations (gc off:
garbage after the tap) from ENTRY to EXIT, and the open BIG tariff (bytes)."""
# ruff: noqa: F821

from ykt import caltime
from ykt.fare import engine
from ykt.fare import transit_record as tr
from ykt.fare.tariff import Tariff

small, big, entry, exit_ = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
gc.collect()
c1 = gc.mem_alloc()
t = Tariff(open(small, "rb"))
gc.collect()
d = gc.mem_alloc()
at = caltime.secs(2026, 11, 30, 8, 0)
s = tr.TransitState()
s.flags = tr.FLAG_ENTRY_OPEN
s.entry_station = entry
s.entry_time = at
s.last_mode = 2
s.last_time = at - 1200
s.month = (2026, 11)
s.month_spend = 7500
rec = tr.encode(s)
gc.collect()
gc.disable()
e0 = gc.mem_alloc()
q = engine.metro_exit(t, tr.decode(rec), exit_, at + 1800, 0, 0x2900)
new = tr.encode(q.state)
e1 = gc.mem_alloc()
gc.enable()
t.close()
del t, q, new
gc.collect()
f0 = gc.mem_alloc()
t = Tariff(open(big, "rb"))
gc.collect()
print(b - a, c - b, d - c1, e1 - e0, gc.mem_alloc() - f0)
