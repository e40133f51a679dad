"""Canteen POS figures (not tests): sale computation speed and the POS role's RAM on the VM.

``bench_pos()`` returns a dict:

- ``sale_us``: microseconds per ``price_sale`` on the MicroPython VM, for the
  stacked-promotion sale of docs/canteen.md section 8 ("Everything at once": set
  meal, age-tier discount, capped campaign, coupon, subsidy purse), rule set
  already loaded (bench/vm/pos_sale.py);
- ``load_rules_us``: microseconds to validate and load canteens/putuo-example.json;
- ``base_heap``: bytes the fixed-fare terminal's modules take (``ykt.main`` and
  ``ykt.roles.fixed_fare``), ``pos_heap``: bytes the POS role's modules take on top
  (``gc.mem_alloc`` after importing them, .mpy code in RAM as the VM loads it;
  frozen into the board's firmware that code stays in flash), ``rules_heap``:
  bytes the loaded rule set takes (bench/vm/heap_pos.py);
- ``min_heap_kb`` (``heap=True``): smallest firmware heap, in 16 KB steps, a short
  POS shift (sign-in, menu sale, torn sale, void, Z report: bench/pos-shift.json)
  runs in on the VM.

Run ``python -m bench.pos`` (``--no-heap`` skips the bisection).
"""

import json
import os
import sys

from bench import harness

ROOT = harness.ROOT
EXAMPLE = os.path.join(ROOT, "canteens", "putuo-example.json")
SHIFT = os.path.join(ROOT, "bench", "pos-shift.json")


def min_heap_kb(lo=160, hi=384, step=16):
    """Smallest firmware heap (KB) the short POS shift runs in on the VM."""
    from hw_sim.scenario import Scenario

    # loaded as a file: its rule set's path is relative to it
    return harness.smallest_heap_kb(
        lambda kb: harness.runs_in(Scenario.load(SHIFT), "%dK" % kb, name="bench-pos"),
        lo, hi, step)


def bench_pos(n=200, heap=False):
    from hw_sim.vm_bridge import vm_dir, vm_path

    vm_dir()
    load_us, sale_us = harness.run_script("pos_sale", EXAMPLE, n, 10)
    base, pos, rules = harness.run_script("heap_pos", "heap_pos_rules.py", EXAMPLE,
                                          path=vm_path())
    out = {"sale_us": sale_us, "load_rules_us": load_us, "base_heap": base, "pos_heap": pos,
           "rules_heap": rules}
    if heap:
        out["min_heap_kb"] = min_heap_kb()
    return out


def main():
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
    with harness.scratch():
        main()
