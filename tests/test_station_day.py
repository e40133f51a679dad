"""A busy stretch at two stations and a bus stop with a seeded passenger stream.

Passengers ride bus 926 to Xujiahui, enter there, leave at People's Square (and some come
back). Every terminal is offline; the journals of all terminals must add up to exactly what
the cards lost, and each card's counter to the debits journaled for it. The default run covers
the morning peak; ``make test-full`` runs the whole day.
"""

import random

from conftest import FULL
from simrun import events, journal

from hw_sim.scenario import Run

XJH, PSQ = 2025, 2035
TARIFF = "tariffs/shanghai-2017.json"
HOURS = 13 if FULL else 2
PASSENGERS = 60 if FULL else 16
GAP_S = 12  # at least this between two taps at one terminal
HOLD_MS = 2500
TERMINALS = [
    ("BUS-926", "validator", "bus-validator", {"mode": "bus", "route": "926"}),
    ("XJH-IN", "entry_gate", "devkitc-turnstile", {"station": XJH}),
    ("PSQ-OUT", "exit_gate", "devkitc-turnstile", {"station": PSQ}),
    ("PSQ-IN", "entry_gate", "devkitc-turnstile", {"station": PSQ}),
    ("XJH-OUT", "exit_gate", "devkitc-turnstile", {"station": XJH}),
]


def _stream(seed=926):
    rng = random.Random(seed)
    busy = {}
    events = []

    def tap(term, t, name):
        t = max(t, busy.get(term, 0) + GAP_S)
        busy[term] = t
        events.append({"at": t, "terminal": term, "tap": name, "hold_ms": HOLD_MS})
        return t

    span = HOURS * 3600
    for i in range(PASSENGERS):
        name = "p%02d" % i
        t = rng.randrange(60, span // 2)
        if rng.random() < 0.5:
            t = tap("BUS-926", t, name) + rng.randrange(300, 1500)
        t = tap("XJH-IN", t, name) + rng.randrange(900, 2400)
        t = tap("PSQ-OUT", t, name)
        if rng.random() < 0.5 and t + 4000 < span:
            t = tap("PSQ-IN", t + rng.randrange(600, 3000), name) + rng.randrange(900, 2400)
            tap("XJH-OUT", t, name)
    events.sort(key=lambda e: e["at"])
    cards = [{"name": "p%02d" % i, "number": "3101230000001%07d" % i,
              "balance_fen": rng.choice([300, 800, 2000, 5000]),
              "category": rng.choice([0, 0, 0, 1, 2])} for i in range(PASSENGERS)]
    terminals = [{"id": tid, "role": role, "board": board, "vm_heap": "176K",
                  "config": dict(cfg, tariff=TARIFF, poll_ms=1000,
                                 terminal_id="29001%07d" % n)}
                 for n, (tid, role, board, cfg) in enumerate(TERMINALS)]
    return {"start": "2026-11-30T07:00:00", "terminals": terminals, "cards": cards,
            "events": events}


def test_busy_day_journals_add_up_to_what_the_cards_paid(tmp_path):
    data = _stream()
    r = Run(data).run()
    records = [x for tid in r.terms for x in journal(r, tid)]
    debits = [x for x in records if x["kind"] in ("purchase", "entry", "exit")]
    start = {c["name"]: c["balance_fen"] for c in data["cards"]}
    for c in data["cards"]:
        app = r.apps[c["name"]]
        mine = [x for x in debits if x["card"] == c["number"]]
        assert start[c["name"]] - app.balance == sum(x["amount"] for x in mine), c["name"]
        assert app.offline_atc == len(mine), c["name"]
    assert sum(start.values()) - sum(a.balance for a in r.apps.values()) == sum(
        x["amount"] for x in debits)
    assert len(events(r, "exit")) >= PASSENGERS // 2  # the stream really rode
