"""`make bench`: speed and memory of the tap loop (figures, not pass/fail).

- CPython: taps per second of wall time on virtual time, and the virtual
  tap-to-debit latency (DB31/T 239 asks for <= 400 ms per purchase).
- MicroPython VM: wall time per tap through the bridge, firmware-only compute
  per purchase (purse client + SAM replaying a recorded card transcript, no
  bridge), and the smallest GC heap the tap loop runs in.
"""

import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

from host_tools import benchvm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _scenario(taps, board="devkitc-turnstile", tear=False):
    names = ["c%d" % i for i in range(3)]
    cards = [{"name": n, "number": "310123000000000000%02d" % i, "balance_fen": 99000}
             for i, n in enumerate(names)]
    events = []
    for i in range(taps):
        e = {"at": 1 + 2 * i, "tap": names[i % 3], "hold_ms": 600}
        if tear and i == 1:
            e["tear_at_apdu"] = 3
        events.append(e)
    return {"start": "2026-11-29T07:00:00", "cards": cards, "events": events,
            "terminals": [{"id": "B", "role": "fixed_fare", "board": board,
                           "config": {"fare_fen": 200}}]}


def _run(data, runtime="cpython", heap=None):
    from hw_sim.scenario import Run, Scenario

    work = tempfile.mkdtemp(prefix="ykt-bench-")
    r = Run(Scenario(data, "bench"), work)
    t0 = time.perf_counter()
    if runtime == "micropython":
        from host_tools.build import vm_path

        r.run_micropython(vm_path(), heap=heap)
    else:
        r.run_cpython()
    return r, time.perf_counter() - t0


def _latencies_ms(r, data):
    start = datetime.datetime.fromisoformat(data["start"])
    taps = [start + datetime.timedelta(seconds=e["at"]) for e in data["events"]]
    debits = [datetime.datetime.fromisoformat(json.loads(x)["t"]) for x in r.lines
              if json.loads(x)["event"] == "debit"]
    out = []
    for d in debits:
        placed = max(t for t in taps if t <= d)
        out.append((d - placed).total_seconds() * 1000)
    return out


def bench_cpython(taps=300):
    rows = []
    for board in ("devkitc-turnstile", "s3-canteen-pos", "bus-validator"):
        data = _scenario(taps, board)
        r, wall = _run(data)
        lat = _latencies_ms(r, data)
        rows.append((board, taps / wall, sum(lat) / len(lat), max(lat)))
    return rows


def bench_vm_bridge(taps=30):
    data = _scenario(taps)
    r, wall = _run(data, "micropython")
    return wall / taps, r.vm_stats


def bench_flash(taps=200):
    """Flash bytes programmed and erases per purchase (LittleFS included), and how many
    journal records a 2 MB vfs partition holds."""
    data = _scenario(taps)
    r, _ = _run(data)
    flash = r.sim.flash
    from hw_sim.lfs import LfsVfs

    fs = LfsVfs(flash)
    free = fs.statvfs("/")
    record_bytes = 64
    records_2mb = (2 * 1024 * 1024 - 16 * 4096) // record_bytes  # less LittleFS metadata
    return (flash.programmed / taps, flash.erases / taps, free[3] * free[0], records_2mb)


def min_heap_kb(lo=64, hi=192):
    """Smallest heap (KB, 4 KB steps) the tap loop with a torn purchase runs in."""
    data = _scenario(3, tear=True)
    while hi - lo > 4:
        mid = (lo + hi) // 2 // 4 * 4
        try:
            _run(data, "micropython", heap="%dK" % mid)
            hi = mid
        except RuntimeError:
            lo = mid
    return hi


_VM_PURCHASE = r"""
import sys, time
sys.path.insert(0, %(fw)r)
from binascii import unhexlify
from ykt.iso7816 import Iso7816
from ykt.card.purse import PurseCard, TX_PURCHASE
from ykt.sam import SoftSam
answers = [unhexlify(x) for x in %(answers)r]
class Link:
    def __init__(self): self.i = 0
    def transceive(self, capdu):
        self.i += 1
        return answers[self.i - 1]
keys = {"purchase": unhexlify(%(key)r)}
dt = unhexlify("20261129070001")
n = %(n)d
t0 = time.ticks_us()
for _ in range(n):
    card = PurseCard(Iso7816(Link()))
    card.select()
    sam = SoftSam(keys, unhexlify("290000000001"))
    card.purchase(sam, 200, TX_PURCHASE, dt)
print(time.ticks_diff(time.ticks_us(), t0) // n)
"""


def bench_vm_compute(n=200):
    """Firmware-only microseconds per purchase on the VM (recorded card answers)."""
    import hw_sim
    from hw_sim.issuer import IssuerKeys, issue_card
    from host_tools.build import vm_dir

    hw_sim.install()
    from ykt.card.purse import TX_PURCHASE, PurseCard
    from ykt.iso7816 import Iso7816
    from ykt.sam import SoftSam

    keys = IssuerKeys.from_seed(b"bench")
    app = issue_card("31012300000000000001", balance_fen=99000, issuer_keys=keys)
    answers = []

    class Link:
        def transceive(self, capdu):
            rapdu = app.process(capdu)
            answers.append(rapdu.hex())
            return rapdu

    card = PurseCard(Iso7816(Link()))
    card.select()
    card.purchase(SoftSam(keys.sam_keys(load=False), bytes.fromhex("290000000001")), 200,
                  TX_PURCHASE, bytes.fromhex("20261129070001"))
    from hw_sim.vm_bridge import micropython_binary

    script = _VM_PURCHASE % {"fw": vm_dir(), "answers": answers,
                             "key": keys.purchase_master.hex(), "n": n}
    out = subprocess.run([micropython_binary(), "-X", "heapsize=96K", "-c", script],
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(out.stdout + out.stderr)
    return int(out.stdout.strip().splitlines()[-1])


def main():
    sys.path.insert(0, ROOT)
    global SHIM_HEAP_KB, DEFAULT_HEAP
    from hw_sim.vm_bridge import DEFAULT_HEAP, SHIM_HEAP_KB
    print("yikatong bench (figures, not tests)")
    print("\n[CPython, virtual time] 300 taps per board")
    for board, rate, mean, worst in bench_cpython():
        print("  %-18s %7.0f taps/s wall   tap->debit %.1f ms mean, %.1f ms worst (virtual)"
              % (board, rate, mean, worst))
    per_tap, stats = bench_vm_bridge()
    print("\n[MicroPython VM, firmware heap %s]" % DEFAULT_HEAP)
    print("  per tap through the bridge:        %.1f ms wall" % (per_tap * 1000))
    print("  firmware compute per purchase:     %.2f ms (purse client + SAM, no bridge)"
          % (bench_vm_compute() / 1000))
    print("  live heap after GC at end:         %.1f KB of %.1f KB"
          % (stats.get("heap_live", 0) / 1024, stats.get("heap_total", 0) / 1024))
    print("  smallest heap the tap loop runs in: %d KB (+%d KB for the bridge's machine/time"
          " stand-ins)" % (min_heap_kb(), SHIM_HEAP_KB))
    per_buy, erases, free, records = bench_flash()
    print("\n[flash, LittleFS on simulated NOR, 200 purchases]")
    print("  bytes programmed per purchase:     %.0f (2 journal records of 64 bytes + LittleFS)"
          % per_buy)
    print("  erases per purchase:               %.2f (4 KB blocks)" % erases)
    print("  journal records per 2 MB partition: ~%d (64-byte records; capacity is configured)"
          % records)
    from host_tools.denylist import bench_denylist

    size, us, read = bench_denylist()
    print("\n[denylist, 250,000 cards]")
    print("  file size:                         %d bytes" % size)
    print("  lookup on the MicroPython VM:      %.0f us mean, %d bytes read" % (us, read))
    from host_tools.bench_fare import main as bench_fare
    from host_tools.bench_pos import main as bench_pos
    from host_tools.deploy import bench_deploy

    bench_fare()
    bench_pos()
    seconds, one_file, full = bench_deploy()
    print("\n[flash and deploy the virtual board]")
    print("  flash + deploy:                    %.1f s wall" % seconds)
    print("  deploy after a one-file change:    %d bytes (full deploy %d bytes)" % (one_file, full))


if __name__ == "__main__":
    with benchvm.scratch():
        main()
