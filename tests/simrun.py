"""Helpers for tests that run whole scenarios (``hw_sim.scenario.Run``): scenario dicts, events
and journal records read back from a run."""

import json

NUMBERS = {
    "alice": "31012300000000000001",
    "bob": "31012300000000000002",
    "carol": "31012300000000000003",
}


def scenario(events, *, board="devkitc-turnstile", fare=350, cards=None, config=None, **extra):
    cfg = {"fare_fen": fare}
    cfg.update(config or {})
    data = {
        "start": "2026-11-29T07:00:00",
        "terminals": [{"id": "T1", "role": "fixed_fare", "board": board, "config": cfg}],
        "cards": cards if cards is not None else [
            {"name": n, "number": num, "balance_fen": 1000} for n, num in NUMBERS.items()
        ],
        "events": events,
    }
    data.update(extra)
    return data


def bus_and_canteen(evts):
    """Two fixed-fare terminals on different boards: BUS-A (200 fen, bus validator board) and
    CANTEEN (600 fen, S3 POS board), with the three cards of ``scenario``."""
    data = scenario(evts, fare=200)
    data["terminals"] = [
        {"id": "BUS-A", "role": "fixed_fare", "board": "bus-validator",
         "config": {"fare_fen": 200}},
        {"id": "CANTEEN", "role": "fixed_fare", "board": "s3-canteen-pos",
         "config": {"fare_fen": 600}},
    ]
    return data


def events(r, kind=None):
    out = [json.loads(line) for line in r.lines]
    return [e for e in out if kind is None or e["event"] == kind]


def journal(r, terminal=None):
    """Every journal record of a terminal, read from its flash with littlefs-python."""
    from host_tools.lib.journal import dump
    from hw_sim.lfs import LfsVfs

    sim = r.terms[terminal] if terminal else r.sim
    fs = LfsVfs(sim.flash)
    try:
        names = sorted(fs.listdir("/journal"))
    except OSError:
        return []
    files = {}
    for name in names:
        with fs.open("/journal/" + name, "rb") as f:
            files[name] = f.read()
    return list(dump(files))


SALES = ("purchase-intent", "purchase", "unpaid", "abandoned", "entry", "exit")


def records(r, terminal=None):
    """The sale records of the journal (boot, update and denial records left out)."""
    return [dict(x, fen=x["amount"]) for x in journal(r, terminal) if x["kind"] in SALES]
