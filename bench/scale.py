"""Cost against the number of terminals (issue 12): one scenario of ``n`` fixed-fare terminals,
each with its own cards (495 taps of 2 yuan each at most) and a tap every 2 s, on CPython and
virtual time. Per-terminal cost must not grow with ``n``: the table prints taps per second of
wall time, and CPU microseconds per tap (this process, all its threads: steadier than wall
time on a shared machine), for 1, 10 and 100 terminals (figures, not pass/fail; `make bench`).
"""

import time

from bench import harness

BOARD = "devkitc-gate-irq"


def scenario(terminals, taps_each, board=BOARD):
    cards, events, terms = [], [], []
    for t in range(terminals):
        tid = "T%03d" % t
        terms.append({"id": tid, "role": "fixed_fare", "board": board,
                      "config": {"fare_fen": 200}})
        names = ["%s-c%d" % (tid, i) for i in range(max(3, taps_each // 400))]  # 495 taps each
        cards += [{"name": n, "number": "3101%06d%010d" % (t, i), "balance_fen": 99000}
                  for i, n in enumerate(names)]
        events += [{"at": 1 + 2 * i, "terminal": tid, "tap": names[i % len(names)],
                    "hold_ms": 600}
                   for i in range(taps_each)]
    return {"start": "2026-11-29T07:00:00", "cards": cards, "events": events,
            "terminals": terms}


def table(sizes=(1, 10, 100), taps_each=100, board=BOARD):
    """Rows ``(terminals, taps, taps/s wall, CPU us per tap)``: ``taps_each`` per terminal in
    every row, so each row carries the same share of boot time per tap."""
    rows = []
    for n in sizes:
        data = scenario(n, taps_each, board)
        cpu = time.process_time()
        _, lines, wall = harness.run_scenario(data)
        cpu = time.process_time() - cpu
        done = sum(1 for x in lines if '"event": "debit"' in x)
        rows.append((n, done, done / wall, cpu * 1e6 / done))
    return rows


def main():
    print("\n[scale, CPython on virtual time, %s: one scenario of n terminals, 100 taps each]"
          % BOARD)
    print("  terminals   taps   taps/s wall   CPU us per tap")
    for n, done, rate, us in table():
        print("  %9d %6d %13.0f %17.0f" % (n, done, rate, us))


if __name__ == "__main__":
    with harness.scratch():
        main()
