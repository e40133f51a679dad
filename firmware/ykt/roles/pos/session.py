"""The staff session: who works the terminal, the shift, and the staff PINs.

No sale is made until a cashier has signed in with two factors: her staff card, which
must answer the SAM's challenge (INTERNAL AUTHENTICATE: a card of another issuer
carrying her number fails), and her PIN (``ykt.pos.staff``: ``pin_tries`` wrong ones
lock the card for ``lockout_s``). The first sign-in opens a shift; a supervisor (card
and PIN) closes it with the Z report. The shift and the lock-outs are kept on flash
(/pos/state).
"""

import json

from ykt import clock, report
from ykt.errors import CardRefused, YktError
from ykt.money import yuan
from ykt.pos import staff as staffs
from ykt.pos import zreport as zr
from ykt.roles.pos.codes import (
    DENIED_FORGED,
    NO_CASHIER,
    STAFF_FORGED,
    STAFF_LOCKED,
    SUPERVISOR_NEEDED,
    refused,
)
from ykt.roles.pos.screen import pair
from ykt.store import replace

_STATE = "/pos/state"


class PinPad:
    """The PIN being keyed (a staff PIN or a card PIN), in a buffer allocated once and
    zeroed after use; the digits are never logged, shown or reported."""

    def __init__(self):
        self._pin = bytearray(staffs.PIN_MAX)
        self.n = 0  # digits keyed

    def add(self, k):
        """A digit key (one too many is ignored)."""
        if self.n < len(self._pin):
            self._pin[self.n] = ord(k)
            self.n += 1

    def clear(self):
        """Zero the digits."""
        for i in range(len(self._pin)):
            self._pin[i] = 0
        self.n = 0

    def read(self):
        """The digits keyed (a view of the buffer: check them, then ``clear``)."""
        return memoryview(self._pin)[:self.n]

    def bcd(self):
        """The digits in BCD, padded with F (``PurseCard.verify_pin``); the pad is zeroed."""
        n = self.n
        pin = self._pin
        bcd = bytearray((n + 1) // 2)
        for i in range(len(bcd)):
            hi = pin[2 * i] - 0x30
            lo = pin[2 * i + 1] - 0x30 if 2 * i + 1 < n else 0x0F
            bcd[i] = (hi << 4) | lo
        self.clear()
        return bcd


class StaffSession:
    def __init__(self, ctx, rules, staff, pin, ui, receipt):
        self.ctx = ctx
        self.rules = rules
        self.staff = staff  # ykt.pos.staff.StaffList
        self.pin = pin  # the PinPad
        self.ui = ui  # the Screen
        self.receipt = receipt  # the Receipts
        self.cashier = None  # who is signed in
        self.shift = 0  # the shift-open record (0: no shift open)
        self.supervisor = None  # who authorised the operation in progress
        self.who = None  # whose staff PIN is being keyed

    # -- on flash ------------------------------------------------------------------------
    def load(self):
        """The shift and lock-outs saved on flash; False if there are none."""
        try:
            with self.ctx.fs.open(_STATE, "rb") as f:
                st = json.loads(f.read())
        except (OSError, ValueError):
            return False
        self.shift = st.get("shift", 0)
        for s in self.staff.members:
            s.locked_until = st.get("locks", {}).get(s.card, 0)
        return True

    def store(self):
        """Save the shift and lock-outs on flash."""
        now = clock.seconds()
        locks = {}
        for s in self.staff.members:
            if s.locked_until > now:
                locks[s.card] = s.locked_until
        fs = self.ctx.fs
        try:
            try:
                fs.mkdir("/pos")
            except OSError:
                pass
            replace(fs, _STATE, json.dumps({"shift": self.shift, "locks": locks}).encode(),
                    _STATE + ".tmp")
        except OSError as e:
            report.emit("error", ("reason", "pos state not saved (errno %d)" % e.args[0]))

    # -- two factors ---------------------------------------------------------------------
    def tap(self, card, info, signin, shown):
        """First factor: the staff card (``signin``: to sign in, else a supervisor's to
        authorise), authenticated; its PIN is keyed next (``key``)."""
        s = self.staff.find(info.card_no)
        if signin and s is None:
            raise refused(NO_CASHIER)
        if s is None or (not signin and not s.is_supervisor()):
            raise refused(SUPERVISOR_NEEDED)
        left = self.staff.locked_for(s, clock.seconds())
        if left:
            raise refused(STAFF_LOCKED, left)
        try:
            card.authenticate(self.ctx.sam)
        except CardRefused:
            self.ctx.log("denied", card=info.card_no, tx_type=DENIED_FORGED)
            raise refused(STAFF_FORGED)
        report.emit("staff", ("card", shown), ("name", s.name), ("role", s.role))
        self.who = s
        self.pin.clear()

    def key(self, k):
        """A digit, ``C`` or ``#`` of the staff PIN of ``who``; at ``#`` the verdict
        (``ykt.pos.staff`` OK, WRONG or LOCKED: reported, and a lock-out journaled and
        saved), else None."""
        if "0" <= k <= "9":
            self.pin.add(k)
        elif k == "C":
            self.pin.clear()
        elif k == "#":
            s = self.who
            verdict = self.staff.check(s, self.pin.read(), clock.seconds())
            self.pin.clear()
            if verdict == staffs.WRONG:
                report.emit("refused", ("card", report.mask(s.card)),
                            ("reason", "wrong staff PIN"), ("tries_left", self.staff.tries_left(s)))
            elif verdict == staffs.LOCKED:
                report.emit("locked", ("card", report.mask(s.card)), ("name", s.name),
                            ("seconds", self.staff.lockout_s))
                self.ctx.log(zr.K_STAFF_LOCKED, card=s.card, amount=self.staff.lockout_s)
                self.store()
            return verdict
        return None

    # -- signing in and out --------------------------------------------------------------
    def signin(self, s):
        """``s`` (PIN checked) sells from now on; the first sign-in opens a shift."""
        if not self.shift:
            self.shift = self.ctx.journal.append(zr.K_SHIFT_OPEN, time=clock.seconds(),
                                                 card=s.card, tseq=s.number)
            self.store()
            report.emit("shift-open", ("shift", self.shift), ("by", s.name))
        self.ctx.log(zr.K_SIGN_IN, card=s.card, tx_type=2 if s.is_supervisor() else 1,
                     tseq=s.number)
        self.cashier = s
        report.emit("signin", ("name", s.name), ("role", s.role), ("shift", self.shift))

    def signout(self):
        """Whoever was signed in is signed out; who that was (or None)."""
        s = self.cashier
        if s is not None:
            self.ctx.log(zr.K_SIGN_OUT, card=s.card, tx_type=2 if s.is_supervisor() else 1,
                         tseq=s.number)
            report.emit("signout", ("name", s.name))
        self.cashier = None
        return s

    # -- the shift close -----------------------------------------------------------------
    def close_shift(self, sup):
        """Close the shift (supervisor ``sup``): journal ``shift-close``, report and print
        the Z report; the LCD page that shows it, or None when there is no shift or its
        close could not be journaled (said on the LCD). Signing out is the caller's."""
        if not self.shift:
            self.ui.message("NO SHIFT OPEN", "")
            return None
        journal = self.ctx.journal
        z = zr.scan(journal, self.shift)
        amount, balance, tac, rnd, last = z.close_fields()
        now = clock.seconds()
        try:
            journal.append(zr.K_SHIFT_CLOSE, time=now, card=sup.card, amount=amount,
                           balance=balance, tac=tac, random=rnd, link=self.shift, tseq=last)
        except YktError as e:
            self.ui.message("CLOSE FAILED", str(e)[:20])
            return None
        z.closed = now
        report.emit("z-report", ("shift", z.shift), ("sales", z.sales), ("gross", z.gross),
                    ("sets", z.sets), ("discounts", z.discounts), ("subsidies", z.subsidies),
                    ("net", z.net), ("cash", z.cash), ("subsidy_purse", z.subsidy_purse),
                    ("by_period", _named(z.by_period, self.period_name)),
                    ("by_mode", _named(z.by_mode, str)),
                    ("by_category", _named(z.by_category, self.category_name)),
                    ("by_cashier", _named(z.by_cashier, self.staff_name)),
                    ("voids", z.voids), ("refunds", z.refunds),
                    ("unclassified", z.unclassified), ("takings", z.takings()),
                    ("by", sup.name))
        self.receipt.z_report(z, sup.name, self.period_name, self.category_name,
                              self.staff_name)
        self.shift = 0
        self.store()
        return ("Z REPORT SHIFT %d" % z.shift, pair("SALES %d" % z.sales, yuan(z.net)),
                pair("VOID/REFUND", yuan(-z.voids[1] - z.refunds[1])),
                pair("TAKINGS", yuan(z.takings())))

    def period_name(self, slot):
        periods = self.rules.periods
        if 0 <= slot < len(periods):
            return periods[slot].name
        return "none"

    def category_name(self, code):
        return self.rules.category(code).name

    def staff_name(self, number):
        s = self.staff.by_number(number)
        return s.name if s is not None else "#%d" % number


def _named(table, name):
    out = report.Pairs()
    for k in sorted(table):
        out.append((name(k), table[k]))
    return out
