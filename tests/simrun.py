"""Helpers for tests that run whole scenarios through the simulated hardware."""

import json
import os

from hw_sim.scenario import Run, Scenario

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


def run(data, workdir, runtime="cpython"):
    """Run a scenario dict; return the Run (apps, lines, records path)."""
    os.makedirs(str(workdir), exist_ok=True)
    r = Run(Scenario(data, "test"), str(workdir))
    if runtime == "micropython":
        from host_tools.build import vm_dir

        r.run_micropython(vm_dir())
    else:
        r.run_cpython()
    return r


def events(r, kind=None):
    out = [json.loads(line) for line in r.lines]
    return [e for e in out if kind is None or e["event"] == kind]


def records(r, terminal=None):
    """The terminal's record file, read from its flash with littlefs-python."""
    from hw_sim.lfs import LfsVfs

    sim = r.terms[terminal] if terminal else r.sim
    try:
        with LfsVfs(sim.flash).open("/records.csv", "rb") as f:
            text = f.read().decode()
    except OSError:
        return []
    rows = []
    for line in text.splitlines():
        seq, time, term, card, atc, fen, bal, kind, tseq, tac = line.strip().split(",")
        rows.append({"time": time, "terminal": term, "card": card, "atc": int(atc),
                     "fen": int(fen), "balance": int(bal), "kind": kind, "tseq": int(tseq),
                     "tac": tac})
    return rows
