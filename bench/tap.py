"""Speed and memory of the fixed-fare tap loop (figures, not pass/fail; `make bench`).

- CPython: taps per second of wall time on virtual time, and the virtual
  tap-to-debit latency (DB31/T 239 asks for <= 400 ms per purchase).
- MicroPython VM: wall time per tap through the bridge, firmware-only compute
  per purchase (purse client + SAM replaying a recorded card transcript, no
  bridge: bench/vm/purchase.py), and the smallest GC heap the tap loop runs in.
- Flash: bytes programmed and erases per purchase on LittleFS.
"""

import datetime
import json

from bench import harness


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


def _latencies_ms(lines, data):
    start = datetime.datetime.fromisoformat(data["start"])
    taps = [start + datetime.timedelta(seconds=e["at"]) for e in data["events"]]
    debits = [datetime.datetime.fromisoformat(json.loads(x)["t"]) for x in lines
              if json.loads(x)["event"] == "debit"]
    out = []
    for d in debits:
        placed = max(t for t in taps if t <= d)
        out.append((d - placed).total_seconds() * 1000)
    return out


def bench_cpython(taps=300):
    rows = []
    for board in ("devkitc-turnstile", "s3-canteen-pos", "bus-validator", "devkitc-gate-irq"):
        data = _scenario(taps, board)
        _, lines, wall = harness.run_scenario(data)
        lat = _latencies_ms(lines, data)
        rows.append((board, taps / wall, sum(lat) / len(lat), max(lat)))
    return rows


def bench_vm_bridge(taps=30, board="devkitc-turnstile"):
    """(wall s per tap, CPU s per tap of the simulator and the VM together, the VM's stats)."""
    import resource
    import time

    def cpu():
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + kids.ru_utime + kids.ru_stime

    data = _scenario(taps, board)
    c0 = cpu()
    r, _, wall = harness.run_scenario(data, "micropython")
    return wall / taps, (cpu() - c0) / taps, r.vm_stats


def bench_flash(taps=200):
    """Flash bytes programmed and erases per purchase (LittleFS included), and how many
    journal records a 2 MB vfs partition holds."""
    data = _scenario(taps)
    r, _, _ = harness.run_scenario(data)
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
    return harness.smallest_heap_kb(lambda kb: harness.runs_in(data, "%dK" % kb), lo, hi)


def bench_vm_compute(n=200):
    """Firmware-only microseconds per purchase on the VM (recorded card answers)."""
    import hw_sim
    from hw_sim.issuer import IssuerKeys, issue_card
    from hw_sim.vm_bridge import vm_dir

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
    return harness.run_script("purchase", keys.purchase_master.hex(), n, *answers,
                              heap="96K", path=vm_dir())[-1]
