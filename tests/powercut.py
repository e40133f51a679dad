"""Power-cut sweep over a run of purchases (issue #3).

A reference run of ``PURCHASES`` taps records, at every tap, the flash
operation count, the flash image and the cards. A cut run for operation k
starts from the nearest earlier snapshot (flash image and cards as they were;
the terminal boots from that flash, as after any power-up), taps the same
cards, cuts the power at the k-th program/erase of the tap that contains k
(optionally leaving a partial write), lets the terminal reboot from its flash
and serves the next taps. Every flash operation of every purchase can be a cut
point; the default test run takes a seeded sample of them.
"""

import copy
import datetime

from simrun import journal

from hw_sim.flash import NorFlash
from hw_sim.scenario import Run

PURCHASES = 200
SNAPSHOT_EVERY = 5
GAP_S = 2
NAMES = ["alice", "bob", "carol"]
START = datetime.datetime(2026, 11, 29, 7, 0, 0)


def _cards():
    return [{"name": n, "number": "3101230000000000000%d" % (i + 1), "balance_fen": 100000}
            for i, n in enumerate(NAMES)]


def _data(first, last, cut=None, start=START):
    """Taps ``first``..``last`` (inclusive); ``cut`` = (tap, ops, partial)."""
    events = []
    for i in range(first, last + 1):
        events.append({"at": float(1 + GAP_S * i), "tap": NAMES[i % 3], "hold_ms": 800})
        if cut and cut[0] == i:
            spec = {"after_ops": cut[1]}
            if cut[2] is not None:
                spec["partial"] = cut[2]
            events.append({"at": float(1 + GAP_S * i), "terminal": "T1", "power_cut": spec})
    return {"start": start.isoformat(), "cards": _cards(), "events": events,
            "terminals": [{"id": "T1", "role": "fixed_fare", "board": "devkitc-turnstile",
                           "config": {"fare_fen": 100}}]}


class Reference:
    """The uncut run: op count at each tap and snapshots every SNAPSHOT_EVERY taps."""

    def __init__(self, workdir):
        self.run = Run(_data(0, PURCHASES - 1), "reference")
        sim = self.run.sim
        self.tap_ops = {}
        self.snapshots = {}
        for i in range(PURCHASES):
            at = int((1 + GAP_S * i) * 1e6) - 1

            def mark(i=i):
                self.tap_ops[i] = sim.flash.ops
                if i % SNAPSHOT_EVERY == 0:
                    self.snapshots[i] = (sim.flash.image(), copy.deepcopy(self.run.apps))
            sim.clock.schedule(at, mark)
        self.run.run()
        self.total_ops = sim.flash.ops

    def locate(self, k):
        """The tap containing global operation k (1-based) and k's offset inside it."""
        taps = sorted(self.tap_ops)
        tap = max(i for i in taps if self.tap_ops[i] < k)
        return tap, k - self.tap_ops[tap]


def cut_run(ref, k, workdir, partial=None, runtime="cpython"):
    """Run with the power cut at global operation k; returns the Run."""
    tap, offset = ref.locate(k)
    first = tap - tap % SNAPSHOT_EVERY
    last = min(tap + 3, PURCHASES - 1)
    image, apps = ref.snapshots[first]
    r = Run(_data(first, last, (tap, offset, partial)), "cut")
    r.sim.flash = NorFlash.from_image(image)
    apps = copy.deepcopy(apps)
    for name, app in apps.items():
        r.apps[name] = app
        r.cards[name].app = app
    r.cut = (k, tap, offset, partial)
    r.run(runtime)
    return r


def check(ref, r):
    """The invariants after a cut and reboot; returns a list of violations (empty = fine)."""
    from host_tools.lib.journal import verify
    from hw_sim.lfs import LfsVfs

    bad = []
    fs = LfsVfs(r.sim.flash)
    files = {}
    for name in sorted(fs.listdir("/journal")):
        with fs.open("/journal/" + name, "rb") as f:
            files[name] = f.read()
    key = bytes.fromhex(r.scenario.terminal_config(r.scenario.terminal)["keys"]["device"])
    verdict = verify(files, key)
    if not verdict.ok:
        bad.append("journal does not verify: %s" % (verdict.problem,))
    recs = journal(r)
    seqs = [x["seq"] for x in recs]
    if seqs != list(range(1, len(seqs) + 1)):
        bad.append("sequence numbers not 1..n: %s" % seqs[:5])
    committed = [x for x in journal(_Snap(ref, r))]
    if recs[:len(committed)] != committed:
        bad.append("a record committed before the cut was lost or changed")
    tseqs = [x["tseq"] for x in recs if x["kind"] == "purchase-intent"]
    if len(tseqs) != len(set(tseqs)):
        bad.append("a terminal sequence number was used twice: %s" % tseqs)
    resolved = [x["link"] for x in recs if x["link"]]
    if len(resolved) != len(set(resolved)):
        bad.append("an intent was resolved twice")
    for name, c in r.scenario.cards.items():
        app = r.apps[name]
        paid = [x for x in recs if x["card"] == c["number"] and x["kind"] == "purchase"]
        if 100000 - app.balance != sum(x["amount"] for x in paid):
            bad.append("%s: card paid %d, journal says %d" % (
                name, 100000 - app.balance, sum(x["amount"] for x in paid)))
        if app.offline_atc != len(paid):
            bad.append("%s: card counter %d, journal purchases %d" % (
                name, app.offline_atc, len(paid)))
    return bad


class _Snap:
    """The snapshot's flash as a run-like object for ``journal()``."""

    def __init__(self, ref, r):
        tap = r.cut[1]
        image, _ = ref.snapshots[tap - tap % SNAPSHOT_EVERY]
        self.sim = type("S", (), {"flash": NorFlash.from_image(image)})()
        self.terms = {}
