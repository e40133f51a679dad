"""Venue gate figures (not tests; docs/venue.md §7): the smallest VM heap the demo morning at
the museum (scenarios/demo-venue.json: card and QR admissions, walk-in tickets, refusals)
runs in with the same output as at the board's heap, the 32-bit need that makes
(``host_tools.lib.boardcheck.VM_FACTOR``) and whether the venue gate's board holds it, and
the CPU the morning takes on each runtime. The verify time per algorithm is ``bench.qr``.

Run ``python -m bench.venue`` (``--no-heap`` skips the bisection).
"""

import argparse
import json
import os

from bench import harness

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "scenarios", "demo-venue.json")
BOARD = "devkitc-venue-gate"


def demo():
    with open(DEMO, encoding="utf-8") as f:
        return json.load(f)


def min_heap_kb(lo=96, hi=512):
    """Smallest VM heap (KB, 8 KB steps) the morning runs in, printing what it prints at the
    board's heap."""
    data = demo()
    _, want, _ = harness.run_scenario(data, "micropython")
    return harness.smallest_heap_kb(lambda kb: harness.runs_in(data, "%dK" % kb, want),
                                    lo, hi, 8)


def run_times():
    """Wall seconds of the morning on CPython and on the VM."""
    data = demo()
    return [harness.run_scenario(data, rt)[2] for rt in ("cpython", "micropython")]


def main(argv=None):
    from host_tools.lib import boardcheck, boards

    p = argparse.ArgumentParser(prog="python -m bench.venue")
    p.add_argument("--no-heap", action="store_true", help="skip the heap bisection")
    args = p.parse_args(argv)
    cp, vm = run_times()
    data = demo()
    print("\n[venue gate: scenarios/demo-venue.json, %d events from %s to %s]"
          % (len(data["events"]), data["start"][11:16], data["events"][-1]["at"][:5]))
    print("  wall per run:                      %.1f s CPython, %.1f s MicroPython VM" % (cp, vm))
    if args.no_heap:
        return
    kb = min_heap_kb()
    board = boards.load(BOARD)
    have = boardcheck.heap_kb(board) or 0
    need = kb / boardcheck.VM_FACTOR
    print("  smallest VM heap the morning runs in: %d KB (8 KB steps; same output)" % kb)
    print("  32-bit need (/ %.2f):               %.0f KB; %s has %d KB: %s"
          % (boardcheck.VM_FACTOR, need, BOARD, have, "fits" if need <= have else "DOES NOT FIT"))


if __name__ == "__main__":
    main()
