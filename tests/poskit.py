"""Drive the canteen POS role (ykt.roles.pos) through the simulated hardware.

A ``Day`` is a script on one timeline: card taps (scenario events), keys typed on
the keypad (scheduled on the terminal's virtual clock with ``sim.keypad.type``)
and RTC jumps between meal periods (``set_clock``); a staff list and a canteen rule
set can arrive as signed updates (``staff_update``, ``canteen_update``).
``Day.run(tmp_path)`` builds the scenario (cards with their PIN), gives the cards
their canteen record (record 2), schedules the keys and runs it under CPython; the
result has the console events, the journal, the card applications, the LCD and the
printer.

Times in a ``Day`` are seconds since the scenario start; each step moves a cursor
forward by what it takes (a key every 250 ms, a tap held 1.5 s, the receipt
printing at 9600 baud), so a test lists steps in order without timing them.
"""

import datetime
import hashlib
import json
import os

from simrun import events, journal

from host_tools.lib import updates
from hw_sim.scenario import Run
from ykt.pos.canteen_record import CanteenRecord, flag_bits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "canteens", "putuo-example.json")

# The POS loads ~80 KB more firmware than a fixed-fare terminal; on the VM every .mpy is
# in RAM (on the board they are frozen in flash). bench/pos.py measures it.
VM_HEAP = "256K"
KEY_GAP_S = 0.25
TAP_S = 1.5
AFTER_TAP_S = 3.5  # settle, print the receipt, and stay clear of the 3 s repeat guard

# Journal kinds the POS writes that docs/stores.md does not name yet (ykt.pos.zreport).
POS_KINDS = {0x14: "sale", 0x60: "shift-open", 0x61: "shift-close", 0x62: "sign-in",
             0x63: "sign-out", 0x64: "staff-locked"}

STAFF = {
    "wang": ("31012300000000009001", "cashier", "1357"),
    "li": ("31012300000000009002", "cashier", "2468"),
    "zhao": ("31012300000000009003", "supervisor", "8080"),
}


def canteen():
    with open(EXAMPLE, encoding="utf-8") as f:
        return json.load(f)


def staff_entry(name, card, role, pin):
    salt = hashlib.sha256(b"salt|" + card.encode()).digest()[:16]
    return {"card": card, "name": name.upper(), "role": role, "salt": salt.hex(),
            "pin_sha256": hashlib.sha256(salt + pin.encode()).hexdigest()}


def kind(row):
    """A journal row's kind name, the POS's own kinds included."""
    k = row["kind"]
    if k.startswith("kind-"):
        return POS_KINDS.get(int(k[5:], 16), k)
    return k


class Day:
    def __init__(self, start="2025-03-05T07:00:00", mode="fixed", rules=None, config=None,
                 staff=("wang", "li", "zhao")):
        self.start = datetime.datetime.fromisoformat(start)
        self.rules = rules if rules is not None else canteen()
        self.config = {"canteen": self.rules, "mode": mode, "lockout_s": 600}
        self.config["staff"] = [staff_entry(n, *STAFF[n]) for n in staff]
        self.config.update(config or {})
        self.cards = []
        self.records = {}  # card name -> CanteenRecord
        self.events = []
        self.keys = []  # (seconds, text)
        self.staff_file = None  # (version, payload, master) of a staff update in /inbox
        self.inbox = []  # (file name, kind, version, payload, master): more signed updates
        self.t = 1.0

    # -- cards ------------------------------------------------------------------------------
    def card(self, name, number, balance=10000, category=0, pin=None, **record):
        """A customer card (``pin``: the PIN its VERIFY checks); ``record`` are
        CanteenRecord fields (``flags`` may be names)."""
        if isinstance(record.get("flags"), (list, tuple)):
            record["flags"] = flag_bits(record["flags"])
        c = {"name": name, "number": number, "balance_fen": balance, "category": category}
        if pin is not None:
            c["pin"] = pin
        self.cards.append(c)
        if record:
            self.records[name] = CanteenRecord(**record)
        return self

    def staff_card(self, name, issuer_seed=None):
        """The staff card of ``name``; ``issuer_seed``: made by another issuer (a copy
        carrying the same number but not the issuer's keys)."""
        card = {"name": name, "number": STAFF[name][0], "balance_fen": 5000, "category": 4}
        if issuer_seed is not None:
            card["issuer_seed"] = issuer_seed
        self.cards.append(card)
        return self

    def staff_update(self, staff, version=1, master=None, payload=None):
        """The staff list ``staff`` (names) as a signed update in the inbox, installed at
        boot; ``master``: sign with another update master key (a forgery); ``payload``:
        sign these bytes instead."""
        if payload is None:
            payload = json.dumps([staff_entry(n, *STAFF[n]) for n in staff]).encode()
        self.staff_file = (version, payload, master)
        return self

    def canteen_update(self, rules, version=None, master=None, payload=None,
                       name="canteen.upd"):
        """The rule set ``rules`` as a signed canteen update in the inbox (``version``: the
        envelope's, by default the rule set's own), installed at boot; ``master``: sign
        with another update master key (a forgery); ``payload``: sign these bytes instead.
        Files are installed in name order."""
        if payload is None:
            payload = json.dumps(rules).encode()
        if version is None:
            version = rules["version"]
        self.inbox.append((name, "canteen", version, payload, master))
        return self

    # -- the timeline -------------------------------------------------------------------------
    def wait(self, seconds):
        self.t += seconds
        return self

    def tap(self, name, hold_ms=1500, after=AFTER_TAP_S, **kw):
        e = {"at": round(self.t, 3), "tap": name, "hold_ms": hold_ms}
        e.update(kw)
        self.events.append(e)
        self.t += max(after, hold_ms / 1000.0 + 1.0)
        return self

    def type(self, text, after=0.5):
        self.keys.append((self.t, text))
        self.t += len(text) * KEY_GAP_S + after
        return self

    def set_clock(self, hhmmss):
        when = "%sT%s" % (self.start.date().isoformat(), hhmmss)
        self.events.append({"at": round(self.t, 3), "set_clock": when})
        self.t += 1.0
        return self

    def power_cut(self, after_ops=1, boot_s=2.0):
        """Cut the power at the terminal's next flash operation(s); it boots again from flash."""
        self.events.append({"at": round(self.t, 3), "power_cut": {"after_ops": after_ops}})
        self.t += boot_s
        return self

    def sign_in(self, staff, pin=None):
        self.tap(staff, after=2.0)
        return self.type((pin or STAFF[staff][2]) + "#", after=1.0)

    def sign_out(self):
        return self.type("D1", after=1.0)

    def authorise(self, what, supervisor="zhao", pin=None):
        """D and the function key, then the supervisor's card and PIN."""
        self.type("D" + what, after=1.0)
        return self.sign_in(supervisor, pin)

    def pay_with_pin(self, name, pin, hold_ms=6000):
        """A tap held while the customer keys the card PIN."""
        start = self.t
        self.tap(name, hold_ms=hold_ms, after=0)
        self.keys.append((start + 1.5, pin + "#"))
        self.t = start + hold_ms / 1000.0 + 2.5
        return self

    # -- running --------------------------------------------------------------------------------
    def scenario(self):
        return {"start": self.start.isoformat(), "cards": self.cards, "events": self.events,
                "terminals": [{"id": "CANTEEN-01", "role": "pos", "board": "s3-canteen-pos",
                               "config": self.config}]}

    def run(self, workdir, runtime="cpython", heap=VM_HEAP):
        r = Run(self.scenario(), "poskit")
        for name, rec in self.records.items():
            r.apps[name].records[2] = rec.encode()
        if self.staff_file is not None:
            version, payload, master = self.staff_file
            sc = r.scenario
            tid = bytes.fromhex(sc.terminal_config()["terminal_id"])
            data = updates.sign("staff", version, tid, payload, master or sc.update_master())
            with r.sim.filesystem().open("/inbox/staff.upd", "wb") as f:
                f.write(data)
        for name, kind_, version, payload, master in self.inbox:
            sc = r.scenario
            tid = bytes.fromhex(sc.terminal_config()["terminal_id"])
            data = updates.sign(kind_, version, tid, payload, master or sc.update_master(),
                                check=False)
            with r.sim.filesystem().open("/inbox/" + name, "wb") as f:
                f.write(data)
        sim = r.sim
        last = 0
        for at, text in self.keys:
            last = max(last, sim.keypad.type(text, at_us=int(at * 1000000)))
        r.end_us = max(r.end_us, last + 5000000)
        r.run(runtime, heap)
        return Result(r)


class Result:
    def __init__(self, r):
        self.run = r
        self.apps = r.apps
        self.sim = r.sim
        self.lcd = r.sim.lcd
        self.printer = r.sim.printer

    def events(self, kind=None):
        return events(self.run, kind)

    def journal(self):
        rows = journal(self.run)
        for x in rows:
            x["kind"] = kind(x)
        return rows

    def kinds(self, *names):
        return [x for x in self.journal() if x["kind"] in names]

    def balance(self, name):
        return self.apps[name].balance

    def record(self, name):
        return CanteenRecord.decode(self.apps[name].records[2])

    def receipts(self):
        return list(self.printer.receipts)
