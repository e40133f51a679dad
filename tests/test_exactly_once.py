"""Exactly once, whatever happens to the tap that pays: fault x re-tap x transaction kind.

Every case is one scenario: the card's transaction under test (the *tap*) meets one
fault, then the card is tapped again at the same terminal a few seconds later
(``same``), at another terminal of the same kind (``other``), there and then back at
the first one (``back``: the card's counters have moved on meanwhile), or never
(``never``). After each case the ledger (``tests/ledger.py``) must be clean, and the money must
add up (``judge``): one sale per tap, the right price, and -- when the card came
back to the same terminal -- nothing left pending there.

Transaction kinds (``KINDS``): a fixed-fare purchase; a metro entry, then the
journey's exit; a metro exit after an entry; a bus ride with its metro transfer
after an entry and exit; a canteen POS sale (amount mode); a POS void (the
subsidy purse and the day's counters back with a 0-fen composite purchase, the
cash with CREDIT FOR LOAD); a POS refund (CREDIT FOR LOAD); and the fixed-fare
purchase and the metro exit again on a reader waited for by its IRQ (``fixed-irq``,
``exit-irq``: board devkitc-gate-irq, the card held and presence-checked after the sale);
and a walk-in ticket at a culture-venue gate (``walk-in``, docs/venue.md section 3: the
holder data read, then the purse debited; the other terminal is a second gate of the
venue). A re-tap after a paid walk-in is a second ticket, or the recovery of the
interrupted one; and whatever the case, a venue admits the visitor once for each payment
(``Kind.delivered``: no payment left without its admission once the card came back to
that gate, no admission unpaid).

Faults on the tap (``faults``): for every APDU n of the undisturbed tap (counted by
a probe run, and checked against the flows below) ``tear``, ``remove`` (after its
answer), ``garble``, ``drop``, ``delay`` (200 ms: the reader times out though the
card ran it), ``slow`` (90 ms: heard after the reader's R(NAK)s) and ``noise`` (3 ms
of noise on the reader's line as its answer comes back); a power cut at every flash
operation k of the tap (``cutK``; ``cutKpB`` leaves B bytes of the interrupted
write); and attackers' cards (``forge-mac2``, ``forge-replay``: docs/scenarios.md).
And a fault on the settling tap too (``again_cases``, re-tap ``again-<fault>``): the
answer to a committing APDU lost, the card's return torn, pulled, garbled, dropped or
late at any of its APDUs, then the card back once more.

The default run takes a seeded sample (``random.Random(9)``) on CPython and a
smaller one on the MicroPython VM; ``make test-full`` (YKT_FULL=1) runs every
case (``tests/test_exactly_once_full.py``). A failing case is named
``kind-fault-retap`` (e.g. ``pos-void-cut12-same``, ``exit-drop5-again-tear3``);
``YKT_CASE=kind-fault-retap[@micropython] pytest tests/test_exactly_once.py -k
one_case -s`` runs it alone and prints its ledger and console.
"""

import datetime
import os
import random
import re
import time
from collections import namedtuple

import ledger
import pytest
from simrun import events

from hw_sim.scenario import Run

# -- the terminals, cards and timelines --------------------------------------------------

TARIFF = "tariffs/shanghai-2017.json"
XJH, PSQ = 2025, 2035  # Xujiahui, People's Square
FARE = 350  # the fixed-fare terminals
DELAY_MS = 200  # a late answer the PN532 no longer waits for (docs/scenarios.md)
SLOW_MS = 90  # a late answer heard after the PN532's R(NAK)s
NOISE_MS = 3
RETAP_S = 5  # "a few seconds later"
RETAPS = ("same", "other", "back", "never")  # back: at the other terminal, then here again
APDU_FAULTS = ("tear", "remove", "garble", "drop", "delay", "slow", "noise")
AGAIN_FIRST = ("tear", "drop", "delay")  # the card ran it, the terminal cannot know
AGAIN_SECOND = ("tear", "remove", "garble", "drop", "delay")
FORGES = ("mac2", "replay")

TRANSIT_START = "2026-11-29T07:00:00"
POS_START = "2025-03-05T11:30:00"  # lunch, docs/canteen.md section 8
STAFF = {"wang": ("31012300000000009001", "cashier", "1357"),
         "li": ("31012300000000009002", "cashier", "2468"),
         "zhao": ("31012300000000009003", "supervisor", "8080")}
# what a terminal reports when a sale is paid ("recovered": the POS proved a sale whose
# details a restart lost)
SUCCESS = ("debit", "entry", "exit", "ride", "sale", "recovered", "void", "refund", "ticket")

Probe = namedtuple("Probe", ("apdus", "apdu_us", "ops"))


class Plan:
    """One case's scenario and what the judge needs to know about it."""

    def __init__(self, kind, fault, retap):
        self.kind, self.fault, self.retap = kind, fault, retap
        # same, other, back, never; or again: "again-<second fault>" (``AGAIN``)
        self.mode = "again" if retap.startswith("again-") else retap
        self.second = None  # the re-tap event
        self.terminals = []
        self.cards = []
        self.events = []
        self.a = self.b = None  # the tap's terminal; the other one of its kind
        self.card = None
        self.tap_at = None  # seconds after the start
        self.w2 = None  # when the re-tap phase begins (None: never)
        self.w3 = None  # "back": when the card is back at the tap's terminal
        self.setup = 0  # commits the card makes before the tap
        self.start = None
        self.main = None  # the tap event

    @property
    def id(self):
        return case_id(self.kind.name, self.fault, self.retap)

    def tap(self, at, term, card, **kw):
        e = dict({"at": round(at, 3), "terminal": term, "tap": card}, **kw)
        self.events.append(e)
        return e

    def retaps(self, at):
        """The re-taps of a card tap kind: here, or there (and back) ``RETAP_S`` apart;
        "again": here, and here once more ``2 * RETAP_S`` later."""
        if self.mode == "never":
            return
        self.w2 = at
        self.second = self.tap(at, self.a if self.mode in ("same", "again") else self.b,
                               self.card)
        if self.mode in ("back", "again"):
            self.w3 = at + RETAP_S * (2 if self.mode == "again" else 1)
            self.tap(self.w3, self.a, self.card)

    def window(self, offset):
        """1: the tap under test, 2: the re-tap (at the other terminal for "back"),
        3: back at the tap's terminal (once more, for "again")."""
        if self.w3 is not None and offset >= int(self.w3):
            return 3
        return 2 if self.w2 is not None and offset >= int(self.w2) else 1

    def keys(self, at, term, text):
        self.events.append({"at": round(at, 3), "terminal": term, "keys": text})
        return at + len(text) * 0.25 + 0.5

    def data(self):
        return {"start": self.start, "terminals": self.terminals, "cards": self.cards,
                "events": self.events}


def case_id(kind, fault, retap):
    return "%s-%s-%s" % (kind, fault_name(fault), retap)


def fault_name(fault):
    what = fault[0]
    if what == "cut":
        return "cut%d" % fault[1] + ("" if fault[2] is None else "p%d" % fault[2])
    if what == "forge":
        return "forge-" + fault[1]
    return "%s%d" % fault


def parse_case(text):
    """'exit-garble5-same' -> (kind name, fault, retap)."""
    kind, rest = None, None
    for k in sorted(KINDS, key=len, reverse=True):
        if text.startswith(k + "-"):
            kind, rest = k, text[len(k) + 1:]
            break
    if kind is None:
        raise ValueError("no kind in %r (one of %s)" % (text, ", ".join(KINDS)))
    if "-again-" in rest:
        fault_text, second = rest.split("-again-")
        return kind, parse_fault(fault_text), "again-" + second
    fault_text, _, retap = rest.rpartition("-")
    return kind, parse_fault(fault_text), retap


def parse_fault(text):
    """'cut7p2048' -> ("cut", 7, 2048); 'forge-mac2' -> ("forge", "mac2"); 'tear3' ->
    ("tear", 3)."""
    m = re.fullmatch(r"cut(\d+)(?:p(\d+))?", text)
    if m:
        return ("cut", int(m.group(1)), None if m.group(2) is None else int(m.group(2)))
    if text.startswith("forge-"):
        return ("forge", text[6:])
    m = re.fullmatch(r"([a-z]+)(\d+)", text)
    return (m.group(1), int(m.group(2)))


def _transit_terminal(tid, role, board=None, **config):
    board = board or ("bus-validator" if role == "validator" else "devkitc-turnstile")
    return {"id": tid, "role": role, "board": board, "vm_heap": "176K",
            "config": dict(config, tariff=TARIFF, poll_ms=500)}


def _staff_entry(name):
    from poskit import staff_entry

    return staff_entry(name, *STAFF[name])


def _pos_terminal(tid):
    from poskit import canteen

    return {"id": tid, "role": "pos", "board": "s3-canteen-pos", "vm_heap": "256K",
            "config": {"canteen": canteen(), "mode": "amount", "lockout_s": 600,
                       "staff": [_staff_entry(n) for n in ("wang", "li", "zhao")]}}


def _sign_in(plan, at, term, staff):
    """A staff card and its PIN; returns when the terminal is ready for the next step."""
    plan.tap(at, term, staff)
    return plan.keys(at + 2.0, term, STAFF[staff][2] + "#") + 0.5


class Kind:
    """A transaction kind: how to stage it (``plan``) and what it must cost (``judge``)."""

    name = None
    board = None  # the terminals' board, when not the kind's usual one
    apdus = None  # APDUs of the undisturbed tap (docs/purse.md section 6 flows)
    parts = 1  # card transactions the tap makes
    commits_at = ()  # its APDUs that commit on the card (DEBIT, CREDIT)

    def plan(self, fault, retap):
        raise NotImplementedError

    def judge(self, plan, r, led, tut, told):
        raise NotImplementedError

    def delivered(self, plan, r, led):
        """What the sales bought, whatever the case (a venue's admissions): violations."""
        return []


class FixedFare(Kind):
    name, apdus = "fixed", 3  # SELECT, INITIALIZE FOR PURCHASE, DEBIT
    commits_at = (3,)

    def plan(self, fault, retap):
        p = Plan(self, fault, retap)
        p.start = TRANSIT_START
        p.terminals = [{"id": t, "role": "fixed_fare", "board": self.board or "bus-validator",
                        "config": {"fare_fen": FARE}} for t in ("FF-A", "FF-B")]
        if p.mode not in ("other", "back"):
            p.terminals = p.terminals[:1]
        p.cards = [{"name": "alice", "number": "31012300000000000001", "balance_fen": 1000}]
        p.a, p.b, p.card = "FF-A", "FF-B", "alice"
        p.tap_at = 1.0
        p.main = p.tap(p.tap_at, p.a, p.card)
        p.retaps(p.tap_at + RETAP_S)
        return p

    def judge(self, plan, r, led, tut, told):
        return _one_sale_each(plan, tut, told, lambda w, first: FARE, resells=True)


class Entry(Kind):
    """A metro entry (0 fen, the card's transit record written), then the journey's exit."""

    name, apdus = "entry", 6  # SELECT, READ RECORD, GET BALANCE, INITIALIZE, UPDATE CAPP, DEBIT
    commits_at = (6,)

    def plan(self, fault, retap):
        p = Plan(self, fault, retap)
        p.start = TRANSIT_START
        p.terminals = [_transit_terminal("IN-A", "entry_gate", station=XJH)]
        if p.mode in ("other", "back"):
            p.terminals.append(_transit_terminal("IN-B", "entry_gate", station=XJH))
        if p.mode != "never":
            p.terminals.append(_transit_terminal("OUT", "exit_gate", station=PSQ))
        p.cards = [{"name": "ann", "number": "31012300000000000011", "balance_fen": 2000}]
        p.a, p.b, p.card = "IN-A", "IN-B", "ann"
        p.tap_at = 1.0
        p.main = p.tap(p.tap_at, p.a, p.card)
        p.retaps(p.tap_at + RETAP_S)
        if p.mode != "never":
            p.tap(120, "OUT", p.card)
        return p

    def judge(self, plan, r, led, tut, told):
        out = []
        gates = [c for c in tut if c.where != "OUT"]
        for c in gates:
            if c.amount != 0:
                out.append("entry charged %d fen" % c.amount)
        out += _per_tap(plan, gates)
        if plan.mode in ("same", "again") and len(gates) != 1:
            out.append("%d entries at %s for one passenger (1 expected)" % (len(gates), plan.a))
        if plan.mode in ("other", "back") and len([c for c in gates if c.where == plan.b]) != 1:
            out.append("the other entry gate did not let the passenger in once")
        if plan.mode != "never":
            exits = [c.amount for c in tut if c.where == "OUT"]
            if exits != [journey_fare()]:
                out.append("the journey's exit charged %s, the fare is %d"
                           % (exits, journey_fare()))
        return out


class Exit(Kind):
    name, apdus = "exit", 5  # SELECT, READ RECORD, INITIALIZE, UPDATE CAPP, DEBIT
    commits_at = (5,)

    def plan(self, fault, retap):
        p = Plan(self, fault, retap)
        p.start = TRANSIT_START
        p.terminals = [_transit_terminal("IN", "entry_gate", station=XJH),
                       _transit_terminal("OUT-A", "exit_gate", self.board, station=PSQ)]
        if p.mode in ("other", "back"):
            p.terminals.append(_transit_terminal("OUT-B", "exit_gate", self.board, station=PSQ))
        p.cards = [{"name": "ann", "number": "31012300000000000011", "balance_fen": 2000}]
        p.a, p.b, p.card = "OUT-A", "OUT-B", "ann"
        p.tap(1, "IN", p.card)
        p.setup = 1
        p.tap_at = 120.0
        p.main = p.tap(p.tap_at, p.a, p.card)
        p.retaps(p.tap_at + RETAP_S)
        return p

    def judge(self, plan, r, led, tut, told):
        fare = journey_fare()
        out = _per_tap(plan, tut)
        first = [c for c in tut if c.window == 1]
        for c in first:
            if c.amount != fare:
                out.append("exit charged %d fen, the fare is %d" % (c.amount, fare))
        for c in tut:
            if c.window > 1:  # paid at a gate already: passes again for 0
                want = 0 if [x for x in tut if x.window < c.window] else fare
                if c.amount != want:
                    out.append("the re-tap's exit charged %d fen, %d expected" % (c.amount, want))
        if plan.mode != "never" and sum(c.amount for c in tut) != fare:
            out.append("the journey cost %d fen, the fare is %d"
                       % (sum(c.amount for c in tut), fare))
        return out


class BusRide(Kind):
    """A bus ride 40 s after a metro exit: the metro -> bus transfer discount."""

    name, apdus = "bus", 5  # SELECT, READ RECORD, INITIALIZE, UPDATE CAPP, DEBIT
    commits_at = (5,)

    def plan(self, fault, retap):
        p = Plan(self, fault, retap)
        p.start = TRANSIT_START
        p.terminals = [_transit_terminal("IN", "entry_gate", station=XJH),
                       _transit_terminal("OUT", "exit_gate", station=PSQ),
                       _transit_terminal("BUS-A", "validator", mode="bus", route="926")]
        if p.mode in ("other", "back"):
            p.terminals.append(_transit_terminal("BUS-B", "validator", mode="bus", route="926"))
        p.cards = [{"name": "ann", "number": "31012300000000000011", "balance_fen": 2000}]
        p.a, p.b, p.card = "BUS-A", "BUS-B", "ann"
        p.tap(1, "IN", p.card)
        p.tap(60, "OUT", p.card)
        p.setup = 2
        p.tap_at = 100.0
        p.main = p.tap(p.tap_at, p.a, p.card)
        p.retaps(p.tap_at + RETAP_S)
        return p

    def judge(self, plan, r, led, tut, told):
        transfer, full = bus_fares()

        def price(window, first):  # a ride after a ride pays in full (no bus -> bus transfer)
            return full if window == 3 or (window == 2 and first) else transfer
        return _one_sale_each(plan, tut, told, price, resells=True)


class PosKind(Kind):
    """The canteen POS (amount mode, docs/canteen.md): cashier WANG signs in at POS-A;
    for the other POS, LI at POS-B."""

    def base(self, fault, retap, card):
        p = Plan(self, fault, retap)
        p.start = POS_START
        p.terminals = [_pos_terminal("POS-A")]
        if p.mode in ("other", "back"):
            p.terminals.append(_pos_terminal("POS-B"))
        p.cards = [dict(card)] + [{"name": n, "number": STAFF[n][0], "balance_fen": 5000,
                             "category": 4} for n in STAFF]
        p.a, p.b, p.card = "POS-A", "POS-B", card["name"]
        if p.mode in ("other", "back"):
            _sign_in(p, 1.0, p.b, "li")
        return p

    def retap(self, p, t, amount, other=0):
        """The re-tap phase from ``t``: at the other POS its cashier keys ``other`` first;
        at the tap's POS after a power cut the cashier signs in again (and keys ``amount``
        again for a sale); "again": the card once more ``2 * RETAP_S`` later."""
        if p.mode in ("other", "back"):
            p.w2 = t
            t = p.keys(t, p.b, "%d#" % other)
            p.second = p.tap(t, p.b, p.card)
            if p.mode == "other":
                return
            t += RETAP_S
            p.w3 = t
        elif p.mode in ("same", "again"):
            p.w2 = t
        else:
            return
        if p.fault[0] == "cut":
            t = _sign_in(p, t, p.a, "wang")
            if amount:
                t = p.keys(t, p.a, "%d#" % amount)
        tap = p.tap(t, p.a, p.card)
        if p.mode == "again":
            p.second = tap
            p.w3 = t + 2 * RETAP_S
            p.tap(p.w3, p.a, p.card)


BOB = {"name": "bob", "number": "31012300000000000002", "balance_fen": 5000}
SALE = 1500  # an ordinary card pays the amount keyed


class PosSale(PosKind):
    name, apdus = "pos-sale", 6  # SELECT, GET BALANCE, READ RECORD, INITIALIZE, UPDATE, DEBIT
    commits_at = (6,)

    def plan(self, fault, retap):
        p = self.base(fault, retap, BOB)
        t = _sign_in(p, 1.0, p.a, "wang")
        t = p.keys(t, p.a, "%d#" % SALE)
        p.tap_at = t
        p.main = p.tap(t, p.a, p.card)
        self.retap(p, t + RETAP_S, SALE, SALE)
        return p

    def judge(self, plan, r, led, tut, told):
        # after a power cut the cashier keys the order again: a sale the terminal said
        # was paid is then sold again, by her choice
        resells = plan.fault[0] == "cut"
        return _one_sale_each(plan, tut, told, lambda w, first: SALE, resells)


def _elder():
    from ykt.pos.canteen_record import CanteenRecord, flag_bits

    rec = CanteenRecord(birth=19550101, flags=flag_bits(["resident", "hukou"]),
                        subsidy_balance=500, subsidy_expiry=20250331)
    return {"name": "elder", "number": "31012300000000000001", "balance_fen": 5000,
            "records": {"2": rec.encode().hex()}}


class GiveBack(PosKind):
    """A sale, a supervisor's authorisation, then the give-back's tap."""

    parts = 2
    cash_back = 0
    OTHER_SALE = 300  # what the card buys at the other POS

    def plan(self, fault, retap):
        p = self.base(fault, retap, self.card())
        t = _sign_in(p, 1.0, p.a, "wang")
        t = p.keys(t, p.a, "%d#" % self.sale)
        p.tap(t, p.a, p.card)
        p.setup = 1
        t = p.keys(t + 3.5, p.a, self.function)
        t = _sign_in(p, t, p.a, "zhao")
        t = p.keys(t, p.a, self.confirm)
        p.tap_at = t
        p.main = p.tap(t, p.a, p.card)
        self.retap(p, t + RETAP_S, 0, self.OTHER_SALE)
        return p

    def judge(self, plan, r, led, tut, told):
        out = []
        at_a = [c for c in tut if c.where == plan.a]
        debits = [c for c in at_a if c.kind == "debit"]
        loads = [c for c in at_a if c.kind == "load"]
        if any(c.amount for c in debits):
            out.append("the give-back debited %s" % [c.amount for c in debits])
        if any(c.amount != self.cash_back for c in loads):
            out.append("the give-back loaded %s, %d expected" % (
                [c.amount for c in loads], self.cash_back))
        if len(debits) > self.record_parts or len(loads) > 1:
            out.append("the give-back made %d record parts and %d loads"
                       % (len(debits), len(loads)))
        given = [x for x in led.journals[plan.a] if x["kind"] == "give-back"]
        if plan.mode in ("same", "back", "again") and given:
            if (len(debits), len(loads)) != (self.record_parts, 1):
                out.append("the re-tapped give-back made %d record parts and %d loads, %d and 1 "
                           "expected" % (len(debits), len(loads), self.record_parts))
            if plan.mode in ("same", "again"):
                out += self.end_state(plan, r)
        if not given and at_a:
            out.append("no give-back record, yet the card made %d transactions" % len(at_a))
        if plan.mode in ("other", "back"):
            sold = [c for c in tut if c.where == plan.b]
            if len(sold) != 1:
                out.append("the other POS made %d sales, 1 expected" % len(sold))
        return out

    def end_state(self, plan, r):
        return []


class PosVoid(GiveBack):
    """An elder's lunch (1150: 500 from the subsidy purse, 650 cash), voided."""

    name, apdus = "pos-void", 7  # SELECT, READ RECORD, INITIALIZE, UPDATE CAPP, DEBIT 0,
    #                              INITIALIZE FOR LOAD, CREDIT FOR LOAD
    sale, function, confirm = 1500, "D2", "#"
    cash_back, record_parts = 650, 1
    commits_at = (5, 7)

    def card(self):
        return _elder()

    def end_state(self, plan, r):
        from hw_sim.scenario import subsidy_fen

        app = r.apps[plan.card]
        got = (app.balance, subsidy_fen(app.records[2]))
        return [] if got == (5000, 500) else [
            "after the void the card holds %d cash and %d subsidy, 5000 and 500 expected" % got]


class PosRefund(GiveBack):
    """300 of a 1200 sale given back in cash."""

    name, apdus = "pos-refund", 3  # SELECT, INITIALIZE FOR LOAD, CREDIT FOR LOAD
    sale, function, confirm = 1200, "D3", "#300#"
    cash_back, record_parts = 300, 0
    commits_at = (3,)

    def card(self):
        return dict(BOB)

    def end_state(self, plan, r):
        bal = r.apps[plan.card].balance
        return [] if bal == 5000 - 1200 + 300 else [
            "after the refund the card holds %d, %d expected" % (bal, 5000 - 1200 + 300)]


class FixedFareIrq(FixedFare):
    """The fixed-fare purchase on a reader waited for by its IRQ (``nfc.wait`` irq): the card
    stays selected after the sale and is watched with the PN532's presence check."""

    name, board = "fixed-irq", "devkitc-gate-irq"


class ExitIrq(Exit):
    """The metro exit on IRQ-waiting gates (the entry on the usual turnstile)."""

    name, board = "exit-irq", "devkitc-gate-irq"


# The venue gate (docs/venue.md; the values of scenarios/demo-venue.json): its rules, a
# day of one slot with room and no booking of the walk-in's holder, whose ID number's
# region (Suzhou) is in the Yangtze River Delta: 80 % of 5000.
VENUE_START = "2026-12-05T09:05:00"
VENUE_RULES = {"price_fen": 5000, "walk_in": True, "resident_pct": 80, "residents": "yrd",
               "ages": [[70, 0], [60, 50]]}
VENUE_DAY = {"date": "2026-12-05", "slots": [{"start": "09:00", "end": "09:30", "capacity": 6}],
             "bookings": []}
WALK_IN_FEN = 4000


class WalkIn(Kind):
    """A walk-in ticket at a culture-venue gate (docs/venue.md section 3), paid from the
    purse; the other terminal is a second gate of the same venue. A re-tap after a paid
    walk-in is a second ticket (a second visitor), or the recovery of the interrupted one."""

    name, board = "walk-in", "devkitc-venue-gate"
    # SELECT, the social security application (SELECT, EF05, three records, EF06, two
    # records), SELECT of the purse again, INITIALIZE FOR PURCHASE, DEBIT FOR PURCHASE
    apdus = 12
    commits_at = (12,)

    def plan(self, fault, retap):
        p = Plan(self, fault, retap)
        p.start = VENUE_START
        p.terminals = [{"id": t, "role": "venue", "board": self.board,
                        "config": {"venue": dict(VENUE_RULES), "bookings": dict(VENUE_DAY)}}
                       for t in ("GATE-A", "GATE-B")]
        if p.mode not in ("other", "back"):
            p.terminals = p.terminals[:1]
        p.cards = [{"name": "bob", "number": "31012300000000000103", "balance_fen": 10000,
                    "holder": {"id_number": "320505199211112227", "card_id": "B32050501",
                               "issued": 20230601, "expires": 20330601}}]
        p.a, p.b, p.card = "GATE-A", "GATE-B", "bob"
        p.tap_at = 1.0
        p.main = p.tap(p.tap_at, p.a, p.card)
        p.retaps(p.tap_at + RETAP_S)
        return p

    def judge(self, plan, r, led, tut, told):
        return _one_sale_each(plan, tut, told, lambda w, first: WALK_IN_FEN, resells=True)

    def delivered(self, plan, r, led):
        return _admitted_once_each(plan, led)


KINDS = {k.name: k for k in (FixedFare(), Entry(), Exit(), BusRide(), PosSale(), PosVoid(),
                              PosRefund(), FixedFareIrq(), ExitIrq(), WalkIn())}


# -- prices, from the tariff (not from the firmware under test) ----------------------------

_FARES = {}


def journey_fare():
    """Xujiahui -> People's Square, from the fare engine on the compiled tariff (as
    ``ykt fare quote`` answers it)."""
    if "journey" not in _FARES:
        import io

        from host_tools.lib import tariff
        from ykt.fare import engine
        from ykt.fare.tariff import Tariff

        t = Tariff(io.BytesIO(tariff.build(TARIFF, 1)))
        _FARES["journey"] = engine.quote_trip(t, XJH, PSQ, 0).fen
    return _FARES["journey"]


def bus_fares():
    """(route 926 after a metro exit: the transfer discount, route 926 in full), from
    the tariff source."""
    import json

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, TARIFF), encoding="utf-8") as f:
        src = json.load(f)
    [full] = [r["fen"] for r in src["routes"] if r["route"] == "926"]
    [off] = [t["off_fen"] for t in src["transfers"] if (t["from"], t["to"]) == ("metro", "bus")]
    return max(0, full - off), full


# -- what a case must cost --------------------------------------------------------------------

# One of the card's transactions after the set-up: where (terminal name), in which
# window (``Plan.window``), "debit"/"load", fen.
Tut = namedtuple("Tut", ("where", "window", "kind", "amount", "commit"))


def _per_tap(plan, tut):
    """No tap makes more card transactions than its kind has parts."""
    out = []
    for where in sorted({c.where for c in tut}):
        for w in (1, 2, 3):
            n = len([c for c in tut if c.where == where and c.window == w])
            if n > plan.kind.parts:
                out.append("%d card transactions at %s in one tap (%s)" % (
                    n, where, ("the tap under test", "the re-tap", "back again")[w - 1]))
    return out


def _one_sale_each(plan, tut, told, price, resells):
    """A sale per tap at most, each at its price (``price(window, the tap paid)``); the
    card's return completes an unfinished sale; a sale the terminal did not report as
    paid is never sold again (nor any, unless ``resells``: a re-tap after a sale is a new
    sale)."""
    out = _per_tap(plan, tut)
    first = [c for c in tut if c.window == 1]
    for c in tut:
        want = price(c.window, bool(first))
        if c.amount != want:
            out.append("%s charged %d fen, the price is %d" % (c.where, c.amount, want))
    if plan.mode in ("same", "back"):
        w = 2 if plan.mode == "same" else 3  # the card back at the tap's terminal
        again = [c for c in tut if c.window == w and c.where == plan.a]
        if not tut:
            out.append("the card came back, yet the sale was never made")
        if first and again:
            if not resells:
                out.append("charged twice for one sale: the card's return to %s sold again"
                           % plan.a)
            elif not told[1]:
                out.append("charged twice for one sale: paid at the tap (the terminal did not "
                           "say so) and again when the card came back")
            elif any(_recovery(e) for e in told[w]):
                out.append("charged twice for one sale: the card's return proved the tap's "
                           "sale and sold again")
    if plan.mode in ("other", "back"):
        sold = [c for c in tut if c.window == 2 and c.where == plan.b]
        if len(sold) != 1:
            out.append("the other terminal made %d sales, 1 expected" % len(sold))
    return out


def _admitted_once_each(plan, led):
    """A venue's walk-ins: no admission unpaid (each ``admitted`` record of the card at a
    gate has a sale the gate completed), and none paid twice -- once the card came back to
    a gate after its sales there (the other gate's undisturbed tap; the tap's gate in
    "same", "back" and "again"), every sale it made there admitted the visitor. A gate the
    card never came back to may hold the tap's one sale unused (the card paid at the last
    moment and left; the back office sees a purchase without its admission). An attacker's
    card is only held to the first rule: a forged proof is never a reason to admit."""
    number = [c["number"] for c in plan.cards if c["name"] == plan.card][0]
    out = []
    for term in (plan.a, plan.b):
        if term not in led.journals:
            continue
        admitted = len([x for x in led.journals[term]
                        if x["kind"] == "admitted" and x["card"] == number and not x["tseq"]])
        mine = [v for v in led.verdicts if v.card == plan.card and v.terminal == term]
        paid = len([v for v in mine if v.state == ledger.COMPLETED])
        if admitted > paid:
            out.append("%s admitted the card %d times for %d completed sales" % (
                term, admitted, paid))
        if plan.fault[0] == "forge":
            continue
        back = term == plan.b or plan.mode in ("same", "back", "again")
        if len(mine) - admitted > (0 if back else 1):
            out.append("charged twice for one admission: %s took %d payments from the card "
                       "and admitted it %d times" % (term, len(mine), admitted))
    return out


def _recovery(e):
    """A terminal's report that it proved an earlier sale on the card's return."""
    return e.get("recovered") is True or e["event"] == "recovered"


def _proved_in(plan, led, w):
    """The ATCs of the sales the tap's terminal completed in its journal during window ``w``
    (a completion record: linked to its intent)."""
    start = datetime.datetime.fromisoformat(plan.start)
    done = [x for x in led.journals.get(plan.a, ())
            if x["kind"] in ledger.COMPLETIONS and x["link"]]  # (a venue's admitted links too)
    return {x["atc"] for x in done if plan.window(
        (datetime.datetime.fromisoformat(x["time"]) - start).total_seconds()) == w}


def _sold_once(plan, tut, told, led):
    """"again": the card back twice at the tap's terminal (the first time with a fault
    of its own). A new sale there after one the card paid is only right once the
    terminal said that one was paid (and not in the tap that proved it: the journal's
    completion of an earlier window's sale written in this one). A recovery that proves the
    tap's own sale (the card still in the field when the sale failed, read again at once, as
    the IRQ-waiting reader does) is that tap's one sale, not a second."""
    out = _per_tap(plan, tut)
    here = [c for c in tut if c.where == plan.a]
    if not here:
        out.append("the card came back, yet the sale was never made")
    for w in (2, 3):
        new = [c for c in here if c.window == w]
        before = [c.window for c in here if c.window < w]
        if new and before:
            if not any(told[x] for x in range(min(before), w)):
                out.append("charged twice for one sale: sold again in tap %d, the earlier sale "
                           "never reported paid" % w)
            if _proved_in(plan, led, w) & {c.commit.atc for c in here if c.window < w}:
                out.append("charged twice for one sale: tap %d proved an earlier sale and sold "
                           "again" % w)
    return out


def _tut(plan, r):
    """The card's transactions from the tap under test on (Tut list)."""
    by_id = {bytes.fromhex(r.scenario.terminal_config(t)["terminal_id"]): t["id"]
             for t in r.scenario.terminals}
    start = datetime.datetime.fromisoformat(plan.start)
    out = []
    for c in r.apps[plan.card].commits[plan.setup:]:
        off = (ledger._time7(c.datetime7) - start).total_seconds()
        out.append(Tut(by_id.get(bytes(c.terminal_id)), plan.window(off), c.kind, c.amount, c))
    return out


def _told(plan, r):
    """The sales the tap's terminal reported (or refused as "already paid"), by window
    (``Plan.window``): {1: [event], 2: [event], 3: [event]}."""
    start = datetime.datetime.fromisoformat(plan.start)
    out = {1: [], 2: [], 3: []}
    for e in events(r):
        if e.get("terminal") != plan.a:
            continue
        if e["event"] not in SUCCESS and e.get("reason") != "already paid":
            continue
        off = (datetime.datetime.fromisoformat(e["t"]) - start).total_seconds()
        if off >= plan.tap_at:
            out[plan.window(off)].append(e)
    return out


def judge(plan, r, led):
    """The ledger's violations and what this case's money must do."""
    out = list(led.violations)
    number = [c["number"] for c in plan.cards if c["name"] == plan.card][0]
    forged = plan.fault[0] == "forge"
    if plan.mode in ("same", "back", "again") and not forged:
        for v in led.pending(card=plan.card, terminal=plan.a):
            out.append("%s: %s still pending though the card came back" % (
                plan.a, ledger._describe(v.commit)))
        for o in led.open_intents(number=number, terminal=plan.a):
            out.append("%s: intent seq %d (ATC %d, %d fen) still open though the card came back"
                       % (plan.a, o.intent["seq"], o.intent["atc"], o.intent["amount"]))
    tut = _tut(plan, r)
    if forged:
        out += _per_tap(plan, tut)
        if plan.fault[1] == "mac2":
            for v in led.verdicts:
                if v.card == plan.card and v.state == ledger.COMPLETED:
                    out.append("%s: %s completed on a forged MAC2" % (v.terminal,
                                                                      ledger._describe(v.commit)))
    elif plan.mode == "again" and not isinstance(plan.kind, GiveBack):
        out += _sold_once(plan, tut, _told(plan, r), led)
    else:
        out += plan.kind.judge(plan, r, led, tut, _told(plan, r))
    return out + plan.kind.delivered(plan, r, led)


# -- staging a case -----------------------------------------------------------------------------

def faults(probe, full=False):
    """Every fault for a tap of ``probe.apdus`` APDUs and ``probe.ops`` flash operations."""
    out = [(f, n) for f in APDU_FAULTS for n in range(1, probe.apdus + 1)]
    out += [("cut", k, None) for k in range(1, probe.ops + 1)]
    if full:  # and mid-write, a seeded number of bytes of the interrupted operation
        out += [("cut", k, random.Random(k).randrange(1, 4096)) for k in range(1, probe.ops + 1)]
    else:
        out += [("cut", k, 2048) for k in range(1, probe.ops + 1, 3)]
    out += [("forge", f) for f in FORGES]
    return out


def cases(kind, probe, full=False):
    return [(f, rt) for f in faults(probe, full) for rt in RETAPS]


def again_cases(kind, probe):
    """Faults on the settling tap too: the tap's answer to a committing APDU is lost
    (``AGAIN_FIRST``), the card's return meets ``AGAIN_SECOND`` at any of its APDUs
    (settling takes SELECT, INTERNAL AUTHENTICATE, GET TRANSACTION PROVE and maybe READ
    RECORD before any new sale), then the card comes back once more."""
    firsts = [(f, n) for f in AGAIN_FIRST for n in kind.commits_at]
    seconds = [(g, m) for g in AGAIN_SECOND for m in range(1, probe.apdus + 4)]
    return [(f, "again-" + fault_name(g)) for f in firsts for g in seconds]


def stage(kind, fault, retap, probe):
    """The Plan of one case: the kind's scenario with the fault applied to its tap (and,
    for "again-<fault>", the second fault to the re-tap)."""
    plan = kind.plan(fault, retap)
    _apply(plan, plan.main, plan.tap_at, fault, probe)
    if plan.mode == "again":
        _apply(plan, plan.second, plan.second["at"], parse_fault(retap[len("again-"):]), None)
    return plan


def _apply(plan, tap, at, fault, probe):
    what, n = fault[0], fault[1]
    if what in ("tear", "remove", "garble", "drop"):
        tap["remove_after_apdu" if what == "remove" else what + "_at_apdu"] = n
    elif what in ("delay", "slow"):
        tap["delay_at_apdu"] = n
        tap["delay_ms"] = DELAY_MS if what == "delay" else SLOW_MS
    elif what == "noise":
        at = at + probe.apdu_us[n - 1] / 1e6 - 0.001
        plan.events.append({"at": round(at, 6), "terminal": plan.a,
                            "noise": {"ms": NOISE_MS}})
    elif what == "cut":
        spec = {"after_ops": n}
        if fault[2] is not None:
            spec["partial"] = fault[2]
        plan.events.append({"at": at, "terminal": plan.a, "power_cut": spec})
    elif what == "forge":
        for c in plan.cards:
            if c["name"] == plan.card:
                c["forge"] = n
    elif what != "none":
        raise ValueError("unknown fault %r" % (fault,))


def execute(plan, runtime="cpython", prepare=None):
    """The plan's scenario run on ``runtime``; ``prepare(run)`` first wires a fault into a model."""
    r = Run(plan.data(), plan.id)
    if prepare is not None:
        prepare(r)
    return r.run(runtime)


def probe(kind, workdir, runtime="cpython"):
    """Run the tap undisturbed: its APDUs (count and virtual time of each, from the tap)
    and the flash operations the terminal does during it."""
    plan = kind.plan(("none", 0), "never")
    at_us = int(round(plan.tap_at * 1e6))
    hold_us = plan.main.get("hold_ms", 1500) * 1000
    seen = {}

    class Recorder:
        def __init__(self, app, sim):
            self.app, self.sim = app, sim

        def power_on(self):
            self.app.power_on()

        def process(self, apdu):
            now = self.sim.clock.now_us()
            if self.sim.field.cards and at_us <= now < at_us + hold_us:
                seen.setdefault("apdus", []).append(now - at_us)
            return self.app.process(apdu)

        def __getattr__(self, name):
            return getattr(self.app, name)

    def prepare(r):
        sim = r.terms[plan.a]
        card = r.cards[plan.card]
        card.app = Recorder(card.app, sim)
        sim.clock.schedule(at_us - 1, lambda: seen.__setitem__("ops0", sim.flash.ops))
        sim.clock.schedule(at_us + hold_us - 1, lambda: seen.update(
            ops1=sim.flash.ops, count=card.apdu_count))

    r = execute(plan, runtime, prepare)
    times = seen.get("apdus", [])
    assert seen.get("count") == len(times), "APDUs counted %s, recorded %d" % (
        seen.get("count"), len(times))
    problems = ledger.check(r)
    assert problems == [], "the undisturbed %s tap: %s" % (kind.name, problems)
    return Probe(len(times), times, seen["ops1"] - seen["ops0"])


Outcome = namedtuple("Outcome", ("id", "violations", "ledger", "run"))


def run_case(kind, fault, retap, probe_, workdir, runtime="cpython"):
    """Stage, run and judge one case (Outcome: its id, violations, Ledger and Run)."""
    plan = stage(kind, fault, retap, probe_)
    r = execute(plan, runtime)
    led = ledger.audit(r)
    out = judge(plan, r, led)
    if fault[0] == "cut" and not r.power_cuts:
        out.append("the power cut did not happen (the tap has fewer flash operations now?)")
    if fault[0] == "noise" and not any(x.corrupted for x in r.noise_lines[plan.a]):
        out.append("the noise corrupted nothing (the tap's timing has changed?)")
    return Outcome(plan.id + ("" if runtime == "cpython" else "@" + runtime), out, led, r)


def sweep(kind, picked, probe_, workdir, runtime="cpython", label="sample"):
    """Run ``picked`` cases ((fault, retap)); print one summary line; the failures (a run
    that stopped, e.g. a terminal's firmware raised, is one)."""
    t0 = time.time()
    failures = []
    for i, (fault, retap) in enumerate(picked):
        try:
            out = run_case(kind, fault, retap, probe_, workdir / ("c%d" % i), runtime)
        except Exception as e:
            failures.append("%s: the run stopped: %s" % (
                case_id(kind.name, fault, retap) + ("" if runtime == "cpython" else "@" + runtime),
                str(e).splitlines()[0] if str(e) else type(e).__name__))
            continue
        failures += ["%s: %s" % (out.id, v) for v in out.violations]
    bad = len({f.split(": ", 1)[0] for f in failures})
    print("\nexactly-once %s %s on %s: %d cases (tap: %d APDUs, %d flash ops), %d failed, "
          "%.1f s" % (label, kind.name, runtime, len(picked), probe_.apdus, probe_.ops, bad,
                      time.time() - t0))
    return failures


def family(fault):
    """What kind of fault: tear, remove, garble, drop, delay, slow, noise, cut, cut-partial,
    forge."""
    if fault[0] == "cut" and fault[2] is not None:
        return "cut-partial"
    return fault[0]


def sample(kind, probe_, n, seed=9):
    """A seeded sample of ``n`` of the kind's cases, in case order: one of every fault
    family first (the re-taps taken in turn), then any others."""
    rng = random.Random(seed)
    every = cases(kind, probe_)
    fams = sorted({family(f) for f, _ in every})
    picked = []
    for i, fam in enumerate(fams[:n]):
        retap = RETAPS[i % len(RETAPS)]
        picked.append(rng.choice([c for c in every if family(c[0]) == fam and c[1] == retap]))
    rest = [c for c in every if c not in picked]
    picked += rng.sample(rest, max(0, min(n, len(every)) - len(picked)))
    return sorted(picked, key=every.index)


def vm_sample(kind, probe_, n, seed=9):
    """``n`` seeded cases of different fault families."""
    rng = random.Random(seed)
    every = cases(kind, probe_)
    fams = rng.sample(sorted({family(f) for f, _ in every}), n)
    return [rng.choice([c for c in every if family(c[0]) == fam]) for fam in fams]


# -- the default run: a seeded sample on CPython, a smaller one on the VM -----------------------

# Cases per kind in the default run, of the 140..472 each has (YKT_FULL=1 runs them all,
# and more mid-write cuts: tests/test_exactly_once_full.py); the VM takes two of each kind.
SAMPLE = {"fixed": 30, "entry": 16, "exit": 16, "bus": 16, "pos-sale": 20, "pos-void": 20,
          "pos-refund": 16, "fixed-irq": 14, "exit-irq": 12, "walk-in": 12}
VM_SAMPLE = 2
AGAIN_SAMPLE = 3  # cases per kind with a second fault on the settling tap (of 90..300)
FAMILIES = {"tear", "remove", "garble", "drop", "delay", "slow", "noise", "cut", "cut-partial",
            "forge"}


@pytest.fixture(scope="module")
def probes(tmp_path_factory):
    """Each kind's undisturbed tap, probed once (CPython; the VM's virtual time is the same)."""
    root = tmp_path_factory.mktemp("probes")
    return {name: probe(k, root / name) for name, k in KINDS.items()}


def test_every_kind_taps_the_apdus_its_flow_has(probes):
    assert {n: p.apdus for n, p in probes.items()} == {n: k.apdus for n, k in KINDS.items()}
    for name, p in probes.items():
        assert p.ops >= 4, "%s: a sale writes its intent and its completion" % name
        every = cases(KINDS[name], p)
        assert len(every) == (len(APDU_FAULTS) * p.apdus + p.ops + len(range(1, p.ops + 1, 3))
                              + len(FORGES)) * len(RETAPS)
        assert {family(f) for f, _ in every} == FAMILIES


@pytest.mark.parametrize("name", list(KINDS))
def test_sampled_faults_and_retaps_charge_exactly_once(name, probes, tmp_path):
    kind, p = KINDS[name], probes[name]
    picked = sample(kind, p, SAMPLE[name])
    failures = sweep(kind, picked, p, tmp_path)
    assert len(picked) == SAMPLE[name]
    assert {family(f) for f, _ in picked} == FAMILIES
    assert {rt for _, rt in picked} == set(RETAPS)
    assert failures == []


@pytest.mark.parametrize("name", list(KINDS))
def test_a_fault_on_the_settling_tap_too_still_charges_exactly_once(name, probes, tmp_path):
    kind, p = KINDS[name], probes[name]
    every = again_cases(kind, p)
    picked = sorted(random.Random(9).sample(range(len(every)), AGAIN_SAMPLE))
    failures = sweep(kind, [every[i] for i in picked], p, tmp_path, label="again sample")
    assert len(every) == len(AGAIN_FIRST) * len(kind.commits_at) * len(AGAIN_SECOND) * (
        p.apdus + 3)
    assert len(picked) == AGAIN_SAMPLE
    assert failures == []


@pytest.mark.parametrize("name", list(KINDS))
def test_sampled_cases_on_the_micropython_vm_charge_exactly_once(name, probes, tmp_path):
    kind, p = KINDS[name], probes[name]
    picked = vm_sample(kind, p, VM_SAMPLE)
    failures = sweep(kind, picked, p, tmp_path, "micropython")
    assert len(picked) == VM_SAMPLE
    assert failures == []


@pytest.mark.skipif(not os.environ.get("YKT_CASE"), reason="YKT_CASE=kind-fault-retap names it")
def test_one_case(probes, tmp_path):
    """Reproduce one case: its ledger, verdicts and console (with -s)."""
    text, _, runtime = os.environ["YKT_CASE"].partition("@")
    name, fault, retap = parse_case(text)
    out = run_case(KINDS[name], fault, retap, probes[name], tmp_path, runtime or "cpython")
    print("\n%s\n%s" % (out.id, out.ledger.summary()))
    for v in out.ledger.verdicts:
        print("  %s %s at %s: %s" % (v.card, ledger._describe(v.commit), v.terminal, v.state))
    for t, recs in out.ledger.journals.items():
        for x in recs:
            if x["kind"] not in ("boot", "update-installed"):
                print("  %s #%d %s card ..%s atc %d %d fen link %d" % (
                    t, x["seq"], x["kind"], x["card"][-4:], x["atc"], x["amount"], x["link"]))
    for line in out.run.lines:
        if '"display"' not in line:
            print("  " + line)
    assert out.violations == []
