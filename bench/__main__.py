"""`make bench` (``python -m bench``): every figure, one section each."""

from bench import denylist, deploy, fare, harness, ingest, pos, qr, scale, tap, venue


def main():
    from hw_sim.vm_bridge import DEFAULT_HEAP, SHIM_HEAP_KB

    print("yikatong bench (figures, not tests)")
    print("\n[CPython, virtual time] 300 taps per board (devkitc-gate-irq: nfc.wait irq)")
    for board, rate, mean, worst in tap.bench_cpython():
        print("  %-18s %7.0f taps/s wall   tap->debit %.1f ms mean, %.1f ms worst (virtual)"
              % (board, rate, mean, worst))
    scale.main()
    per_tap, cpu_tap, stats = tap.bench_vm_bridge()
    print("\n[MicroPython VM, firmware heap %s]"
          % (DEFAULT_HEAP or "by the board file (docs/boards.md, Memory)"))
    print("  per tap through the bridge:        %.1f ms wall, %.1f ms CPU (polling the reader)"
          % (per_tap * 1000, cpu_tap * 1000))
    irq_wall, irq_cpu, _ = tap.bench_vm_bridge(board="devkitc-gate-irq")
    print("  ... with nfc.wait irq:             %.1f ms wall, %.1f ms CPU (devkitc-gate-irq)"
          % (irq_wall * 1000, irq_cpu * 1000))
    print("  firmware compute per purchase:     %.2f ms (purse client + SAM, no bridge)"
          % (tap.bench_vm_compute() / 1000))
    print("  live heap after GC at end:         %.1f KB of %.1f KB"
          % (stats.get("heap_live", 0) / 1024, stats.get("heap_total", 0) / 1024))
    print("  smallest heap the tap loop runs in: %d KB (+%d KB for the bridge's machine/time"
          " stand-ins)" % (tap.min_heap_kb(), SHIM_HEAP_KB))
    per_buy, erases, free, records = tap.bench_flash()
    print("\n[flash, LittleFS on simulated NOR, 200 purchases]")
    print("  bytes programmed per purchase:     %.0f (2 journal records of 64 bytes + LittleFS)"
          % per_buy)
    print("  erases per purchase:               %.2f (4 KB blocks)" % erases)
    print("  journal records per 2 MB partition: ~%d (64-byte records; capacity is configured)"
          % records)
    size, us, read = denylist.bench_denylist()
    print("\n[denylist, 250,000 cards]")
    print("  file size:                         %d bytes" % size)
    print("  lookup on the MicroPython VM:      %.0f us mean, %d bytes read" % (us, read))
    fare.main()
    pos.main()
    qr.main([])
    venue.main([])
    deploy.main()
    ingest.main([])


if __name__ == "__main__":
    with harness.scratch():
        main()
