# The fleet sync's slices on the VM (bench/ingest.py, "tap latency"): how long one
# Sync.step() holds the tap loop, in microseconds of wall time, while a backlog of journal
# records goes up to a real broker and the office acknowledges it. MICROPYPATH holds the
# firmware and tests/vm (sync_cases: the terminal's context over a host directory).
#
#     micropython sync_slice.py HOST PORT ROOT TID RECORDS
#
# Prints: steps, then the slices' p50, p99 and max (us), then the records acknowledged.
import sys
import time

import sync_cases as sc

host, port, root, tid, n = sys.argv[1:6]
ctx, s, clk, rtc, saved = sc._setup(host, int(port), root, tid)
sc._sales(ctx.journal, int(n))
took = []
for _ in range(200000):
    t = time.ticks_us()
    s.step(5)
    took.append(time.ticks_diff(time.ticks_us(), t))
    clk.t += 5
    if ctx.journal.state().acked >= int(n):
        break
    time.sleep_ms(0) if len(took) % 4 else time.sleep_ms(1)
took.sort()
print(len(took), took[len(took) // 2], took[len(took) * 99 // 100], took[-1],
      ctx.journal.state().acked)
