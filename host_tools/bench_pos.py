"""Canteen POS figures (not tests): sale computation speed and the POS role's RAM on the VM.

``bench_pos()`` returns a dict:

- ``sale_us``: microseconds per ``price_sale`` on the MicroPython VM, for the
  stacked-promotion sale of docs/canteen.md section 8 ("Everything at once": set
  meal, age-tier discount, capped campaign, coupon, subsidy purse), rule set
  already loaded;
- ``load_rules_us``: microseconds to validate and load canteens/putuo-example.json;
- ``base_heap``: bytes the fixed-fare terminal's modules take (``ykt.main`` and
  ``ykt.roles.fixed_fare``), ``pos_heap``: bytes the POS role's modules take on top
  (``gc.mem_alloc`` after importing them, .mpy code in RAM as the VM loads it;
  frozen into the board's firmware that code stays in flash), ``rules_heap``:
  bytes the loaded rule set takes;
- ``min_heap_kb`` (``heap=True``): smallest firmware heap, in 16 KB steps, a short
  POS shift (sign-in, menu sale, torn sale, void, Z report) runs in on the VM.

Run ``python -m host_tools.bench_pos``.
"""

import json
import os
import sys
import tempfile

from host_tools import benchvm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "canteens", "putuo-example.json")

_VM_SALE = r"""
import gc, json, time
from ykt.pos import rules
from ykt.pos.pricing import CardState, price_sale
with open(%(path)r) as f:
    d = json.load(f)
n = %(n)d
t0 = time.ticks_us()
for _ in range(%(loads)d):
    r = rules.load(d)
t1 = time.ticks_us()
card = CardState(category=0, cash=10000, birth=19550101, flags=3, subsidy_balance=300,
                 subsidy_expiry=20250731)
basket = [(101, 1), (102, 1), (103, 1), (202, 1), (301, 1)]
now = (2025, 7, 15, 12, 5, 0)
for _ in range(n):
    s = price_sale(r, basket, "menu", None, card, now, "8866")
t2 = time.ticks_us()
assert (s.net, s.subsidy, s.cash) == (812, 300, 512), s
print(time.ticks_diff(t1, t0) // %(loads)d, time.ticks_diff(t2, t1) // n)
"""

_POS_IMPORTS = """\
import ykt.roles.pos
import ykt.roles.pos_office
import ykt.pos.receipt
import ykt.drivers.keypad, ykt.drivers.lcd, ykt.drivers.escpos"""

_RULES = r"""
import json
with open(%(path)r) as f:
    r = ykt.pos.rules.load(json.load(f))
gc.collect()
print(b - a, c - b, gc.mem_alloc() - c)
"""


def _shift():
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from poskit import Day

    d = Day(start="2025-03-05T11:40:00", mode="menu")
    d.card("elder", "31012300000000000002", balance=8000, birth=19550101,
           flags=["resident", "hukou"], subsidy_balance=1000, subsidy_expiry=20250331)
    d.staff_card("li").staff_card("zhao")
    d.sign_in("li").type("101#103#104#201#").tap("elder", tear_at_apdu=6).tap("elder")
    d.authorise("2").type("#").tap("elder").authorise("4")
    return d


def min_heap_kb(lo=160, hi=384, step=16):
    """Smallest firmware heap (KB) the short POS shift runs in on the VM."""
    d = _shift()
    work = tempfile.mkdtemp(prefix="ykt-bench-pos-")
    while hi - lo > step:
        mid = (lo + hi) // 2 // step * step
        try:
            d.run(os.path.join(work, str(mid)), runtime="micropython", heap="%dK" % mid)
            hi = mid
        except RuntimeError:
            lo = mid
    return hi


def bench_pos(n=200, heap=False):
    from host_tools.build import vm_dir, vm_path

    vm_dir()
    load_us, sale_us = benchvm.run(_VM_SALE % {"path": EXAMPLE, "n": n, "loads": 10})
    base, pos, rules = benchvm.module_heap(_POS_IMPORTS, _RULES % {"path": EXAMPLE},
                                           path=vm_path())
    out = {"sale_us": sale_us, "load_rules_us": load_us, "base_heap": base, "pos_heap": pos,
           "rules_heap": rules}
    if heap:
        out["min_heap_kb"] = min_heap_kb()
    return out


def main():
    sys.path.insert(0, ROOT)
    import hw_sim

    hw_sim.install()
    f = bench_pos(heap="--no-heap" not in sys.argv)
    print("[canteen POS, MicroPython VM]")
    print("  price_sale, stacked promotion:       %d us" % f["sale_us"])
    print("  rule set load (putuo-example.json):  %d us" % f["load_rules_us"])
    print("  fixed-fare terminal modules:         %.1f KB" % (f["base_heap"] / 1024))
    print("  POS role modules on top:             %.1f KB" % (f["pos_heap"] / 1024))
    print("  loaded rule set:                     %.1f KB" % (f["rules_heap"] / 1024))
    if "min_heap_kb" in f:
        print("  smallest heap a POS shift runs in:   %d KB (.mpy code in RAM; frozen "
              "modules stay in flash)" % f["min_heap_kb"])
    print(json.dumps(f))


if __name__ == "__main__":
    with benchvm.scratch():
        main()
