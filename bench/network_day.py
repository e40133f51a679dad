"""A network day (issue 12): every station of the 2017 Shanghai metro with its gates, a day of
commuter journeys from a seeded demand model, the firmware on every gate, spread over the cores.

    python -m bench.network_day                    # 1,000,000 journeys (make bench-network)
    python -m bench.network_day --journeys 20000   # a sample of the same day, same model

Demand model (seeded; the same seed draws the same day):

* Commuters, two journeys each: morning home -> work and evening work -> home.
* Home and work are drawn from the 302 stations, weighted by the lines that call there
  (1 + 2 x (lines - 1): interchanges are busier); work is never home.
* The morning entry is wanted at a time drawn from a triangular distribution 05:30-10:30
  peaking 08:00; the evening entry 16:00-22:30 peaking 18:00. A ride takes 10-70 minutes
  (uniform).
* Each gate serves one card at a time: a passenger queues (the tap is at the wanted time or
  2 s after the gate's previous tap, whichever is later; the card is held 600 ms).

Gates and cores: each station has as many entry and as many exit gates per process as its
weight (board devkitc-gate-irq, nfc.wait irq); commuter ``c`` uses gate ``c % weight`` there.
Commuter ``c`` is simulated by process ``c % P``, which runs its own gates at every station,
so no card ever meets a gate of another process: the cards' state is exactly what one
process would give them. A gate's day lives in one process.

Checked after the run: every journey has its entry and its exit, each exit charged what the
fare engine quotes for that trip (the card's balance is its opening balance less both
quotes), and every gate's journal verifies (CRC, sequence, MAC chain). Printed: journeys,
taps, wall time, taps per second, and each check.
"""

import argparse
import concurrent.futures
import gc
import hashlib
import json
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARIFF = "tariffs/shanghai-2017.json"
BOARD = "devkitc-gate-irq"
START = "2026-11-30T05:00:00"  # a Monday
DAY0 = 5 * 3600  # seconds of the day at the scenario's start
BALANCE = 10000
GAP_S, HOLD_MS = 2, 600


def stations():
    with open(os.path.join(ROOT, TARIFF), encoding="utf-8") as f:
        src = json.load(f)
    return [(s["id"], 1 + 2 * (len(s["lines"]) - 1)) for s in src["stations"]]


def demand(commuters, seed):
    """``[(home, work, morning_s, ride1_s, evening_s, ride2_s)]``, wanted times in seconds of
    the day."""
    rng = random.Random(seed)
    ids, weights = zip(*stations())
    out = []
    for _ in range(commuters):
        home = rng.choices(ids, weights)[0]
        work = home
        while work == home:
            work = rng.choices(ids, weights)[0]
        morning = int(rng.triangular(5.5 * 3600, 10.5 * 3600, 8 * 3600))
        evening = int(rng.triangular(16 * 3600, 22.5 * 3600, 18 * 3600))
        out.append((home, work, morning, rng.randint(600, 4200), evening,
                    rng.randint(600, 4200)))
    return out


def _gate(kind, station, part, c, weights):
    """The gate commuter ``c`` uses: a station has as many gates each way, per process, as its
    weight (1 to 7)."""
    return "%s%d-%d-%d" % (kind, station, part, c % weights[station])


def scenario(trips, part, parts):
    """The scenario of process ``part``: its commuters' taps at its own gates."""
    free = {}  # gate -> earliest next tap (s of the day)
    taps = []  # (at s of the day, gate, card)

    def tap(gate, want, card):
        at = max(want, free.get(gate, 0))
        free[gate] = at + GAP_S
        taps.append((at, gate, card))
        return at

    weights = dict(stations())
    mine = range(part, len(trips), parts)
    cards = [{"name": "c%d" % c, "number": "31012%015d" % c, "balance_fen": BALANCE}
             for c in mine]
    # the day in time order, so that each gate's queue is first come, first served
    entry1 = {c: tap(_gate("IN", trips[c][0], part, c, weights), trips[c][2], "c%d" % c)
              for c in sorted(mine, key=lambda c: trips[c][2])}
    for c in sorted(mine, key=lambda c: entry1[c] + trips[c][3]):
        tap(_gate("OUT", trips[c][1], part, c, weights), entry1[c] + trips[c][3], "c%d" % c)
    entry2 = {c: tap(_gate("IN", trips[c][1], part, c, weights), trips[c][4], "c%d" % c)
              for c in sorted(mine, key=lambda c: trips[c][4])}
    for c in sorted(mine, key=lambda c: entry2[c] + trips[c][5]):
        tap(_gate("OUT", trips[c][0], part, c, weights), entry2[c] + trips[c][5], "c%d" % c)
    taps.sort()
    terms = []
    for sid, w in stations():
        for kind, role in (("IN", "entry_gate"), ("OUT", "exit_gate")):
            for k in range(w):
                terms.append({"id": _gate(kind, sid, part, k, weights), "role": role,
                              "board": BOARD, "config": {"station": sid, "tariff": TARIFF,
                                                         "idle_ms": 600000}})
    events = [{"at": at - DAY0, "terminal": g, "tap": card, "hold_ms": HOLD_MS}
              for at, g, card in taps]
    return {"start": START, "name": "network day", "terminals": terms, "cards": cards,
            "events": events}


def expected_fares(trips):
    """The fare engine's quote of every journey: ``{commuter: (morning fen, evening fen)}``."""
    import io

    import hw_sim
    from host_tools.lib import tariff

    hw_sim.install()
    from ykt import caltime
    from ykt.fare import engine
    from ykt.fare.tariff import Tariff

    t = Tariff(io.BytesIO(tariff.build(os.path.join(ROOT, TARIFF), 1)))
    day = caltime.secs(2026, 11, 30, 0, 0, 0)
    cache = {}

    def quote(a, b, at):
        key = (a, b)
        if key not in cache:
            cache[key] = engine.quote_trip(t, a, b, day + at).fen
        return cache[key]

    return {c: (quote(h, w, m), quote(w, h, e)) for c, (h, w, m, _, e, _) in enumerate(trips)}


def run_part(trips, part, parts):
    """Run one process's share; the figures and the checks' findings as a dict."""
    from host_tools.lib import journal
    from hw_sim.lfs import LfsVfs
    from hw_sim.scenario import Run

    data = scenario(trips, part, parts)
    t0 = time.perf_counter()
    r = Run(data, "network-day-%d" % part)
    # the scenario's million objects never die: keep CPython's collector (which each gate's
    # firmware calls at boot, gc.collect after installing its tariff) from walking them
    gc.freeze()
    built = time.perf_counter() - t0
    r.run("cpython")
    wall = time.perf_counter() - t0 - built
    entries = exits = 0
    charged = {}
    for line in r.lines:
        if '"event": "entry"' in line:
            entries += 1
        elif '"event": "exit"' in line:
            exits += 1
    for name, app in r.apps.items():
        charged[int(name[1:])] = BALANCE - app.balance
    bad_journals = []
    for tid, sim in r.terms.items():
        fs = LfsVfs(sim.flash)
        files = {}
        for n in sorted(fs.listdir("/journal")):
            with fs.open("/journal/" + n, "rb") as f:
                files[n] = f.read()
        cfg = r.scenario.terminal_config(r.scenario.terminals[list(r.terms).index(tid)])
        v = journal.verify(files, bytes.fromhex(cfg["keys"]["device"]))
        if not v.ok:
            bad_journals.append((tid, str(v.problem)))
    return {"part": part, "taps": len(data["events"]), "entries": entries, "exits": exits,
            "charged": charged, "bad_journals": bad_journals, "wall": wall, "build": built,
            "terminals": len(r.terms)}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.network_day", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--journeys", type=int, default=1000000, help="journeys (two per commuter)")
    p.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="processes")
    p.add_argument("--seed", default="shanghai-2017", help="the demand model's seed")
    a = p.parse_args(argv)
    trips = demand(a.journeys // 2, a.seed)
    print("[network day] %d journeys of %d commuters, %d stations, %d processes (seed %r)"
          % (2 * len(trips), len(trips), len(stations()), a.cores, a.seed), flush=True)
    want = expected_fares(trips)
    t0 = time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(a.cores) as ex:
        parts = list(ex.map(run_part, [trips] * a.cores, range(a.cores), [a.cores] * a.cores))
    wall = time.perf_counter() - t0
    taps = sum(x["taps"] for x in parts)
    entries = sum(x["entries"] for x in parts)
    exits = sum(x["exits"] for x in parts)
    charged = {}
    for x in parts:
        charged.update(x["charged"])
    wrong = [c for c, fares in want.items() if charged.get(c) != sum(fares)]
    bad = [j for x in parts for j in x["bad_journals"]]
    print("  gates:        %d (%d per process)" % (sum(x["terminals"] for x in parts),
                                                   parts[0]["terminals"]))
    print("  taps:         %d (entries %d, exits %d)" % (taps, entries, exits))
    print("  wall:         %.0f s in all; per process: %s s to set up, %s s to run"
          % (wall, "/".join("%.0f" % x["build"] for x in parts),
             "/".join("%.0f" % x["wall"] for x in parts)))
    print("  throughput:   %.0f taps/s wall over %d processes" % (taps / wall, a.cores))
    print("  fares:        %s" % ("every card charged its two quotes"
                                  if not wrong else "%d cards charged wrongly, e.g. c%d: %s != %s"
                                  % (len(wrong), wrong[0], charged.get(wrong[0]),
                                     want[wrong[0]])))
    print("  journals:     %s" % ("all %d verify" % sum(x["terminals"] for x in parts)
                                  if not bad else "%d do not verify, e.g. %s" % (len(bad), bad[0])))
    digest = hashlib.sha256(json.dumps(sorted(charged.items())).encode()).hexdigest()[:16]
    print("  charges hash: %s" % digest)
    ok = entries == exits == len(trips) * 2 and not wrong and not bad
    return 0 if ok else 1


if __name__ == "__main__":
    from bench import harness

    with harness.scratch():
        sys.exit(main())
