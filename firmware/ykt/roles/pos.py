"""Canteen POS: staff sign-in, sales in three modes, voids, refunds and the shift Z report.

Config (besides the Context's keys and ids):

- ``canteen``: the rule set (docs/canteen.md), as a dict or a path on the flash;
- ``mode``: ``fixed`` (a tap pays the meal period's price), ``menu`` (the cashier
  keys item codes and quantities) or ``amount`` (the cashier keys an amount);
  key D then 5 switches between them;
- ``staff``: the staff cards (``ykt.pos.staff``), used until a staff update
  (/staff.bin, read at boot) is installed; ``pin_tries`` (3) wrong PINs lock a
  staff card for ``lockout_s`` (1800) seconds;
- ``receipts`` (true): print a receipt for every sale when a printer is fitted.

Keys (4x4 keypad): digits; ``#`` enter; ``*`` quantity (menu: code ``*`` qty ``#``);
``C`` clear the entry, or the last item / the amount / the coupon; ``B`` coupon
code; ``A`` page through the last sale's price steps; ``D`` functions: 1 sign
out, 2 void the last sale, 3 refund (the sale number printed on the receipt, or
just ``#`` for the last sale, then the amount), 4 close the shift (Z report),
5 mode, 6 set the clock (the local time as YYYYMMDDHHMM then ``#``; journaled
``clock-set``; staff can sign in while the clock is wrong, sales wait for it).

No sale is made until a cashier has signed in with two factors: her staff
card, which must answer the SAM's challenge (INTERNAL AUTHENTICATE: a card of
another issuer carrying her number fails), and her PIN; the first sign-in
opens a shift. Void, refund and the shift close need a supervisor's
card and PIN. A sale reads the card's balance and canteen record (record 2),
prices it (``ykt.pos.pricing``), asks for the card PIN above the card
category's threshold (VERIFY, checked by the card), then writes the new canteen
record and debits the cash part in one composite purchase: both purses move
together or not at all. Money goes back (a void or a refund, once per sale) as
a transaction like a sale (``ykt.roles.pos_office.GiveBack``): a ``give-back``
record claims the sale, then CREDIT FOR LOAD (cash) and a 0-fen composite
purchase (subsidy purse, day counters) each go through ``ykt.payment`` with an
intent and a ``void`` / ``refund`` completion; nothing is edited. Record
layouts: ``ykt.pos.zreport``.

A sale or give-back part whose outcome is unknown (the card left, the line
failed) stays pending: when that card is tapped again the tap loop settles it
from the card's history (``ykt.payment``) and what is left is finished then,
so the card is charged, or given back, exactly once.
"""

import json

from micropython import const

from ykt import caltime, clock, pos_board, report
from ykt.card.purse import TX_CAPP
from ykt.errors import CardRefused, YktError
from ykt.money import yuan
from ykt.pos import RuleError
from ykt.pos import rules as canteen_rules
from ykt.pos import staff as staffs
from ykt.pos import zreport as zr
from ykt.pos.canteen_record import RECORD_NO, CanteenRecord, RecordError
from ykt.pos.periods import period_at
from ykt.pos.pricing import CardState, price_sale
from ykt.roles.tap import TapRole
from ykt.store import replace
from ykt.store.journal import JournalFull

S_SIGNIN = const(0)
S_STAFF_PIN = const(1)
S_SALE = const(2)
S_MENU = const(3)
S_AUTH = const(4)
S_VOID_CONFIRM = const(5)
S_GIVE_CARD = const(6)
S_REFUND_NO = const(7)
S_REFUND_AMOUNT = const(8)
S_CLOCK = const(9)

_F_MAIN = const(0)
_F_QTY = const(1)
_F_COUPON = const(2)

_SCAN_MS = const(10)
_TIMEOUT_MS = const(30000)
_ENTRY_MAX = const(8)
_DENIED_BALANCE = const(4)
_DENIED_FORGED = const(5)
_DENIED_LIMIT = const(6)
_STATE = "/pos/state"

_LIMITS = ("count limit", "single sale limit", "daily amount limit")
_BALANCE = ("insufficient balance", "below minimum balance")


def _fit(text, width=20):
    return text[:width]


def pair(left, right, width=20):
    gap = width - len(left) - len(right)
    if gap < 1:
        return (left + " " + right)[:width]
    return left + " " * gap + right


class _Priced:
    """A sale priced for one card, kept until it is paid (or the card comes back)."""

    def __init__(self, sale, before, balance, new_record, category, cashier, order):
        self.sale = sale
        self.before = before  # the canteen record it was priced on
        self.balance = balance  # the cash purse it was priced on
        self.new_record = new_record  # the 48 bytes written with the debit
        self.order = order  # which keyed order it was (PosTerminal._order_no)
        self.category = category
        self.cashier = cashier


class _Ui:
    """The customer display, LEDs and buzzer (``ctx.ui``) plus the operator's LCD:
    outcomes also go to the LCD's two message rows."""

    def __init__(self, ui, role):
        self._ui = ui
        self._role = role
        self.display = ui.display

    def show(self, line1, line2=""):
        self._ui.show(line1, line2)

    def ok(self, line1, line2=""):
        self._role._message(line1, line2)
        self._ui.ok(line1, line2)

    def fail(self, line1, line2=""):
        self._role._message(line1, line2)
        self._ui.fail(line1, line2)

    def idle(self, line1, line2=""):
        self._ui.idle(line1, line2)
        self._role._pole = (line1, line2)
        self._role._render()


class PosTerminal(TapRole):
    def __init__(self, ctx, config):
        super().__init__(ctx, config)
        self.rules = self._load_rules(config.get("canteen"))
        config["canteen"] = None  # the parsed rule set is all that is needed from here (RAM)
        for s in self.rules.subsidies:
            if s.amount > 0xFFFF:
                raise ValueError("canteen: subsidy '%s' above 655.35 (sale records hold "
                                 "16 bits)" % s.name)
        self.mode = config.get("mode", "fixed")
        if self.mode not in zr.MODES:
            raise ValueError("config: 'mode' must be fixed, menu or amount")
        self.staff = self._load_staff(config)
        self.name = config.get("name", "")
        board = ctx.board
        self.keypad = pos_board.keypad(board)
        if self.keypad is None:
            raise ValueError("pos: the board has no keypad")
        self.lcd = pos_board.lcd(board)
        if self.lcd is not None:
            try:
                self.lcd.init()
            except OSError as e:
                report.emit("error", ("reason", "LCD not answering (errno %d)" % e.args[0]))
                self.lcd = None
        self.printer = pos_board.printer(board) if config.get("receipts", True) else None
        if self.printer is not None:
            from ykt.drivers.escpos import encodable
            from ykt.pos import receipt

            self._receipt = receipt
            self._encodable = encodable
        # imported now, not when first needed: a long-running heap gets too fragmented
        # to load a module's code later
        from ykt.roles import pos_office

        self._off = pos_office
        self.journal = ctx.journal
        self.ui = _Ui(ctx.ui, self)
        self.state = S_SIGNIN
        self.cashier = None
        self.shift = 0
        self._msg = ("", "")
        self._page = None  # four rows shown instead of the state's screen (review)
        self._review = []
        self._review_at = 0
        self._pole = None
        self._touched = clock.ticks_ms()
        self._pin = bytearray(staffs.PIN_MAX)  # digits being keyed; zeroed after use
        self._pin_n = 0
        self._pin_staff = None
        self._pin_back = S_SIGNIN
        self._auth_for = None
        self._pin_fails = {}  # card number -> wrong card PINs in a row on this terminal
        self._held = {}  # card number -> _Priced whose DEBIT outcome is unknown
        self._op = None  # pos_office.GiveBack being keyed or waiting for its card
        self._open_gb = {}  # card number -> pos_office.GiveBack begun and not finished
        self._unsold = {}  # card -> a purchase the power cut before its sale record
        self._found = None  # pos_office.Found: the sale a refund is keyed for
        self._sup = None  # the supervisor who authorised the operation in progress
        self._order_no = 0
        self._clear_order()
        self._load_state()

    # -- configuration and state on flash ------------------------------------------------
    def _load_rules(self, spec):
        if isinstance(spec, str):
            with self.ctx.fs.open(spec, "rb") as f:
                spec = json.loads(f.read())
        if not isinstance(spec, dict):
            raise ValueError("config: 'canteen' must be a rule set or a path on the flash")
        try:
            return canteen_rules.load(spec)
        except RuleError as e:
            raise ValueError("canteen: %s" % e)

    def _load_staff(self, config):
        """The installed staff update (/staff.bin) if there is one, else config "staff"."""
        tries = int(config.get("pin_tries", 3))
        lockout = int(config.get("lockout_s", 1800))
        entries = self.ctx.installed_staff()
        if entries is None:
            return staffs.StaffList.load(config.get("staff", []), tries, lockout)
        try:
            return staffs.StaffList.load(entries, tries, lockout)
        except ValueError as e:
            raise ValueError("/staff.bin: %s" % e)

    def _load_state(self):
        try:
            with self.ctx.fs.open(_STATE, "rb") as f:
                st = json.loads(f.read())
        except (OSError, ValueError):
            return
        self.shift = st.get("shift", 0)
        for s in self.staff.members:
            s.locked_until = st.get("locks", {}).get(s.card, 0)
        shift_records = []
        if self.shift:
            for r in self.journal.records(self.shift):
                if r.kind == zr.K_GIVE_BACK:
                    shift_records.append(r)
                elif r.kind == zr.K_PURCHASE and r.amount > 0 and r.card:
                    self._unsold[r.card] = r.seq
                elif r.kind == zr.K_SALE and self._unsold.get(r.card) == r.link:
                    del self._unsold[r.card]
                if r.kind == zr.K_SHIFT_CLOSE and r.link == self.shift:
                    self.shift = 0  # closed; the power went before the state was saved
        self._open_gb = self._off.open_give_backs(self, shift_records)

    def _save_state(self):
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

    # -- TapRole hooks ---------------------------------------------------------------------
    def clock_needed(self):
        return self.state not in (S_SIGNIN, S_AUTH)  # staff can sign in to set the clock

    def ready_fields(self):
        return (("mode", self.mode), ("canteen", self.rules.name), ("shift", self.shift))

    def idle_screen(self):
        """The customer display between taps."""
        if self.state == S_SIGNIN or self.cashier is None:
            return ("CLOSED", "")
        if self.mode == "fixed":
            p = self._period()
            if p is None or p.price is None:
                return ("CLOSED", "")
            return (p.name.upper(), yuan(p.price))
        if self.mode == "menu":
            return ("TOTAL", yuan(self._gross()))
        return ("PAY", yuan(self.amount))

    def _wait_for_cards(self):
        """Poll the reader; between polls, scan the keypad (``idle``)."""
        while True:
            targets = self.reader.poll()
            if targets:
                return targets
            self.idle()

    def idle(self):
        """Scan the keypad every 10 ms for one poll interval; handle keys and time-outs."""
        start = clock.ticks_ms()
        while True:
            k = self.keypad.poll()
            if k is not None:
                try:
                    self._on_key(k)
                except YktError as e:  # e.g. the journal is full: say so, keep going
                    report.emit("error", ("reason", str(e)))
                    self.ui.fail("ERROR", str(e)[:20])
            if clock.elapsed_ms(start) >= self.reader.poll_ms:
                break
            clock.sleep_ms(_SCAN_MS)
        if self.state not in (S_SIGNIN, S_SALE) and clock.elapsed_ms(self._touched) > _TIMEOUT_MS:
            self._zero_pin()
            self._message("TIMED OUT", "")
            self._op = None
            self.state = S_SALE if self.cashier is not None else S_SIGNIN
            self._render()

    def serve(self, card, info):
        st = self.state
        if st == S_SIGNIN or st == S_AUTH:
            self._staff_tap(card, info)
        elif st == S_SALE:
            self._sale_tap(card, info)
        elif st == S_GIVE_CARD:
            self._off.give_back_tap(self, card, info, self._op)
        elif st == S_STAFF_PIN:
            raise CardRefused("enter the PIN first")
        else:
            raise CardRefused("finish keying first")

    # -- the operator's LCD ------------------------------------------------------------------
    def _show(self, rows):
        """Rows on the LCD; an LCD that stops answering is reported and given up on
        (sales go on with the customer display)."""
        try:
            self.lcd.show(rows)
        except OSError as e:
            report.emit("error", ("reason", "LCD not answering (errno %d)" % e.args[0]))
            self.lcd = None

    def _message(self, line1, line2=""):
        self._msg = (line1, line2)
        self._render()

    def _period(self):
        t = clock.now()
        return period_at(self.rules.periods, t[3], t[4])

    def _gross(self):
        g = 0
        for code, qty in self.basket:
            g += self.rules.menu.item(code).price * qty
        return g

    def _screen(self):
        st = self.state
        if st == S_SIGNIN:
            return (_fit(self.name or self.rules.name), "SIGN IN: STAFF CARD")
        if st == S_STAFF_PIN:
            who = "SUPERVISOR" if self._pin_back != S_SIGNIN else self._pin_staff.name
            return (_fit("PIN " + who), "*" * self._pin_n)
        if st == S_MENU:
            return ("1 OUT 2 VOID 3 REFND", "4 CLOSE 5 MODE 6CLK")
        if st == S_CLOCK:
            return ("CLOCK YYYYMMDDHHMM #", self.entry)
        if st == S_AUTH:
            return ("SUPERVISOR NEEDED", "TAP SUPERVISOR CARD")
        if st == S_VOID_CONFIRM:
            op = self._op
            return (pair("VOID %d" % op.sale_no, "****" + op.card[-4:]),
                    pair("BACK " + yuan(op.cash + op.subsidy), "#=OK"))
        if st == S_GIVE_CARD:
            op = self._op
            return (pair(op.kind.upper(), yuan(op.cash + op.subsidy)), "TAP CUSTOMER CARD")
        if st == S_REFUND_NO:
            return ("REFUND: SALE NO.", self.entry)
        if st == S_REFUND_AMOUNT:
            s = self._found.sale
            return (pair("REFUND %d" % s.purchase, "MAX " + yuan(s.net)),
                    "AMOUNT " + yuan(int(self.entry or "0")))
        # S_SALE
        who = self.cashier.name if self.cashier else ""
        if self.field == _F_COUPON:
            return ("COUPON CODE:", self.entry)
        if self.mode == "fixed":
            p = self._period()
            top = "CLOSED" if p is None or p.price is None else pair(p.name.upper(),
                                                                      yuan(p.price))
            return (_fit(top), pair("TAP CARD", who))
        if self.mode == "menu":
            units = 0
            for _, q in self.basket:
                units += q
            top = pair("ITEMS %d" % units, yuan(self._gross()))
            if self.field == _F_QTY:
                return (top, "%d QTY: %s" % (self._code, self.entry))
            return (top, "CODE: " + self.entry)
        if self.entry:
            return ("AMOUNT:", yuan(int(self.entry)))
        return (pair("AMOUNT", yuan(self.amount)), pair("TAP CARD", who))

    def _render(self):
        if self.lcd is not None:
            rows = self._page
            if rows is None:
                top = self._screen()
                rows = (top[0], top[1], self._msg[0], self._msg[1])
            self._show(rows)
        pole = self.idle_screen() if self.state == S_SALE else None
        if pole is not None and pole != self._pole:
            self._pole = pole
            self.ctx.ui.show(pole[0], pole[1])

    # -- keys --------------------------------------------------------------------------------
    def _on_key(self, k):
        self._touched = clock.ticks_ms()
        st = self.state
        if self._page is not None and k != "A":
            self._page = None
        if st == S_STAFF_PIN:
            self._key_pin(k)
        elif st == S_SALE:
            self._key_sale(k)
        elif st == S_MENU:
            self._key_menu(k)
        elif st in (S_AUTH, S_GIVE_CARD, S_VOID_CONFIRM):
            if k == "#" and st == S_VOID_CONFIRM:
                self.state = S_GIVE_CARD
            elif k in "CD":
                self._op = None
                self.state = S_SALE
        elif st == S_CLOCK:
            self._key_clock(k)
        elif st in (S_REFUND_NO, S_REFUND_AMOUNT):
            self._off.key_refund(self, k)
        self._render()

    def _key_pin(self, k):
        if "0" <= k <= "9":
            if self._pin_n < len(self._pin):
                self._pin[self._pin_n] = ord(k)
                self._pin_n += 1
        elif k == "C":
            self._zero_pin()
        elif k == "D":
            self._zero_pin()
            self.state = self._pin_back
        elif k == "#":
            s = self._pin_staff
            verdict = self.staff.check(s, memoryview(self._pin)[:self._pin_n], clock.seconds())
            self._zero_pin()
            if verdict == staffs.OK:
                self._msg = ("", "")
                if self._pin_back == S_SIGNIN:
                    self._sign_in(s)
                else:
                    self._authorized(s)
            elif verdict == staffs.WRONG:
                left = self.staff.tries_left(s)
                report.emit("refused", ("card", report.mask(s.card)),
                            ("reason", "wrong staff PIN"), ("tries_left", left))
                self._message("WRONG PIN", "%d TRIES LEFT" % left)
            else:
                report.emit("locked", ("card", report.mask(s.card)), ("name", s.name),
                            ("seconds", self.staff.lockout_s))
                self.ctx.log(zr.K_STAFF_LOCKED, card=s.card, amount=self.staff.lockout_s)
                self._save_state()
                self.state = self._pin_back
                self._message("CARD LOCKED", "%d MIN" % (self.staff.lockout_s // 60))

    def _zero_pin(self):
        for i in range(len(self._pin)):
            self._pin[i] = 0
        self._pin_n = 0

    def _key_sale(self, k):
        if k == "D":
            self.state = S_MENU
            return
        if k == "A":
            self._show_review()
            return
        if k == "B":
            self.field = _F_COUPON
            self.entry = ""
            return
        if "0" <= k <= "9":
            if len(self.entry) < _ENTRY_MAX and (self.mode != "fixed" or self.field == _F_COUPON):
                self.entry += k
            return
        if k == "C":
            if self.entry:
                self.entry = ""
            elif self.field != _F_MAIN:
                self.field = _F_MAIN
            elif self.mode == "menu" and self.basket:
                self.basket.pop()
            else:
                self.amount = 0
                self.coupon = None
            return
        if k == "*":
            if self.mode == "menu" and self.field == _F_MAIN and self.entry:
                self._code = int(self.entry)
                self.entry = ""
                self.field = _F_QTY
            return
        if k != "#":
            return
        entry = self.entry
        self.entry = ""
        field = self.field
        self.field = _F_MAIN
        if field == _F_COUPON:
            self.coupon = entry or None
            self._message("COUPON " + entry if entry else "NO COUPON", "")
        elif self.mode == "menu":
            if field == _F_QTY:
                self._add_item(self._code, int(entry) if entry else 1)
            elif entry:
                self._add_item(int(entry), 1)
        elif self.mode == "amount" and entry:
            self.amount = int(entry)
            self._message("PAY " + yuan(self.amount), "TAP CARD")

    def _add_item(self, code, qty):
        item = self.rules.menu.item(code)
        if item is None:
            self._message("NO ITEM %d" % code, "")
            return
        if not 1 <= qty <= 99:
            self._message("BAD QUANTITY %d" % qty, "")
            return
        for i in range(len(self.basket)):
            if self.basket[i][0] == code:
                self.basket[i] = (code, self.basket[i][1] + qty)
                break
        else:
            self.basket.append((code, qty))
        self._message(_fit("%s x%d" % (item.name, qty)), yuan(item.price * qty))

    def _key_menu(self, k):
        if k == "1":
            self._sign_out()
        elif k in "2346":
            self._auth_for = k
            self.state = S_AUTH
        elif k == "5":
            self.mode = zr.MODES[(zr.MODES.index(self.mode) + 1) % len(zr.MODES)]
            self._clear_order()
            self.state = S_SALE
            report.emit("mode", ("mode", self.mode))
        elif k in "CD":
            self.state = S_SALE

    def _key_clock(self, k):
        """The supervisor keys the local time as YYYYMMDDHHMM, then # (key D cancels)."""
        if "0" <= k <= "9":
            if len(self.entry) < 12:
                self.entry += k
        elif k == "C":
            self.entry = ""
        elif k == "D":
            self.entry = ""
            self.state = S_SALE if self.cashier is not None else S_SIGNIN
        elif k == "#":
            e = self.entry
            self.entry = ""
            secs = None
            if len(e) == 12:
                y, mo, d, h, mi = (int(e[0:4]), int(e[4:6]), int(e[6:8]), int(e[8:10]),
                                   int(e[10:12]))
                if 2000 <= y and 1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60:
                    secs = caltime.secs(y, mo, d, h, mi, 0)
                    if caltime.civil(secs)[:3] != (y, mo, d):  # 30 February
                        secs = None
            if secs is None:
                self._message("BAD TIME", e)
                return
            try:
                self.ctx.set_clock(secs, "staff", self._sup.card)
            except ValueError as ex:
                self._message("BAD TIME", str(ex)[:20])
                return
            self._message("CLOCK SET", clock.iso()[:16])
            self.state = S_SALE if self.cashier is not None else S_SIGNIN

    def _show_review(self):
        lines = self._review
        if not lines:
            return
        if self._page is None:
            self._review_at = 0
        at = self._review_at
        self._page = tuple(lines[at:at + 4]) + ("",) * (4 - len(lines[at:at + 4]))
        self._review_at = at + 4 if at + 4 < len(lines) else 0

    def _clear_order(self):
        self._order_no += 1
        self.basket = []
        self.amount = 0
        self.coupon = None
        self.entry = ""
        self.field = _F_MAIN
        self._code = 0

    # -- staff ---------------------------------------------------------------------------------
    def _staff_tap(self, card, info):
        """First factor: the staff card, authenticated (INTERNAL AUTHENTICATE: only a
        card of this issuer with that number answers the challenge); the PIN follows."""
        s = self.staff.find(info.card_no)
        if self.state == S_SIGNIN and s is None:
            raise CardRefused("no cashier signed in")
        if s is None or (self.state == S_AUTH and not s.is_supervisor()):
            raise CardRefused("supervisor card needed")
        left = self.staff.locked_for(s, clock.seconds())
        if left:
            raise CardRefused("staff card locked: %d s" % left)
        try:
            card.authenticate(self.ctx.sam)
        except CardRefused:
            self.ctx.log("denied", card=info.card_no, tx_type=_DENIED_FORGED)
            raise CardRefused("staff card failed authentication")
        report.emit("staff", ("card", self.shown), ("name", s.name), ("role", s.role))
        self._pin_staff = s
        self._pin_back = self.state
        self._zero_pin()
        self.state = S_STAFF_PIN
        self._touched = clock.ticks_ms()
        self._msg = ("", "")

    def _sign_in(self, s):
        if not self.shift:
            self.shift = self.journal.append(zr.K_SHIFT_OPEN, time=clock.seconds(), card=s.card,
                                             tseq=s.number)
            self._save_state()
            report.emit("shift-open", ("shift", self.shift), ("by", s.name))
        self.ctx.log(zr.K_SIGN_IN, card=s.card, tx_type=2 if s.is_supervisor() else 1,
                     tseq=s.number)
        self.cashier = s
        self.state = S_SALE
        self._clear_order()
        report.emit("signin", ("name", s.name), ("role", s.role), ("shift", self.shift))
        self._message("SIGNED IN", s.name)

    def _sign_out(self):
        s = self.cashier
        if s is not None:
            self.ctx.log(zr.K_SIGN_OUT, card=s.card, tx_type=2 if s.is_supervisor() else 1,
                         tseq=s.number)
            report.emit("signout", ("name", s.name))
        self.cashier = None
        self.state = S_SIGNIN
        self._clear_order()
        self._message("SIGNED OUT", s.name if s else "")

    def _authorized(self, sup):
        what = self._auth_for
        self._sup = sup
        self.state = S_SALE
        if what == "2":
            self._off.void_prepare(self, sup)
        elif what == "3":
            self.entry = ""
            self.state = S_REFUND_NO
        elif what == "6":
            self.entry = ""
            self.state = S_CLOCK
        elif what == "4":
            self._off.close_shift(self, sup)

    # -- sales ---------------------------------------------------------------------------------
    def _order(self):
        """(mode, basket or amount) ready to charge, or None when nothing is keyed."""
        if self.mode == "fixed":
            return ("fixed", None)
        if self.mode == "menu":
            return ("menu", list(self.basket)) if self.basket else None
        return ("amount", self.amount) if self.amount else None

    def _need_room(self, n):
        if self.journal.state().free < n:
            raise JournalFull("journal full: upload records")

    def _read_record(self, card, raw=None):
        try:
            return CanteenRecord.decode(raw or card.read_record(RECORD_NO))
        except RecordError:
            raise CardRefused("canteen record unreadable")

    def _sale_tap(self, card, info):
        if self.cashier is None:
            raise CardRefused("no cashier signed in")
        card_no = info.card_no
        op = self._open_gb.get(card_no)
        if op is not None:  # a void or refund begun earlier: finish it first
            self._off.give_back_tap(self, card, info, op)
            return
        if card_no in self._unsold:  # paid just before a power cut: not sold twice
            del self._unsold[card_no]
            report.emit("recovered", ("card", self.shown), ("reason", "paid before a restart"))
            self.ui.ok("EARLIER SALE PAID", "")
            return
        held = self._held.get(card_no)  # its debit did not happen (it was settled unpaid)
        order = self._order()
        self._need_room(3)
        balance = card.balance()
        raw = bytes(card.read_record(RECORD_NO))
        if order is not None:
            p = self._price(card, info, balance, raw, order)
        elif held is not None and raw == held.before and balance == held.balance:
            p = held  # the same sale again on the unchanged card
        else:
            raise CardRefused("no items keyed" if self.mode == "menu" else "no amount keyed")
        result = self.charge(card, info, p.sale.cash, TX_CAPP, (RECORD_NO, p.new_record))
        if result is None:
            self._held[card_no] = p
            return
        self._held.pop(card_no, None)
        self._sold(p, card_no, result, False, self.journal.last_seq)

    def completion(self, held):
        if held.link:
            return self._off.completion(self, held)
        return "purchase", held.pending.amount

    def recovered(self, held, result, seq):
        """A pending transaction of the card on the reader was proven (its completion is
        record ``seq``): finish what it belonged to."""
        card_no = held.pending.card_no
        if held.link:  # a part of a void or refund
            op = self._open_gb.get(card_no)
            if op is not None:
                rec, cash, pending = op.parts(self)
                if rec and cash and not pending:
                    self._off.finish(self, self.card, op)
                elif not pending and (self.state == S_GIVE_CARD or self.cashier is not None):
                    self._off.give_back_tap(self, self.card, self.card.info, op)
            return
        p = self._held.pop(card_no, None)
        if p is not None:
            self._sold(p, card_no, result, True, seq)
        else:
            # torn before a restart: the card paid it, the sale's details are gone (the
            # Z report counts it as unclassified); the order keyed now is still unpaid
            report.emit("recovered", ("card", self.shown), ("fen", result.amount),
                        ("balance", result.balance))
            self.ui.ok("EARLIER SALE PAID", pair("BAL", yuan(result.balance)))

    def _sold(self, p, card_no, result, recovered, seq):
        """Journal the sale's record (after its ``purchase`` record ``seq``), show it,
        print its receipt."""
        s = p.sale
        tx, net, sub, tac, rnd, gross = zr.sale_fields(s, p.category, p.cashier.number)
        self.journal.append(zr.K_SALE, time=clock.seconds(), card=card_no, atc=result.atc,
                            amount=net, balance=sub, tx_type=tx, tac=tac, random=rnd, link=seq,
                            tseq=gross)
        if p.order == self._order_no:
            self._clear_order()  # (a torn sale keyed before the order was cleared: keep this one)
        sub_left = CanteenRecord.decode(p.new_record).subsidy_balance
        report.emit("sale", ("card", self.shown), ("fen", s.net), ("cash", s.cash),
                    ("subsidy", s.subsidy), ("balance", result.balance),
                    ("subsidy_balance", sub_left), ("period", s.period), ("mode", s.mode),
                    ("cashier", p.cashier.name), ("seq", seq), ("recovered", recovered))
        self._review = [pair(_fit(label, 12), yuan(fen)) for label, fen in s.display()]
        self._review.append(pair("BALANCE", yuan(result.balance)))
        self.ui.ok(pair("PAID", yuan(s.net)), pair("BAL", yuan(result.balance)))
        if self.printer is not None and self._paper():
            self._receipt.sale(self.printer, self._encodable, self.rules.name, self.name, seq,
                               clock.seconds(), p.cashier.name, card_no, s, result.balance,
                               sub_left, self.rules.menu)

    def _price(self, card, info, balance, raw, order):
        rec = self._read_record(card, raw)
        now = clock.now()
        today = caltime.date_of(now)
        state = CardState.from_record(info.category, balance, rec, today)
        s = price_sale(self.rules, order[1], order[0], None, state, now, self.coupon)
        if s.refused is not None:
            code = 0
            for r in _LIMITS:
                if s.refused.startswith(r):
                    code = _DENIED_LIMIT
            if s.refused in _BALANCE:
                code = _DENIED_BALANCE
            if code:
                self.ctx.log("denied", card=info.card_no, tx_type=code, amount=s.net)
            raise CardRefused(s.refused)
        if self.lcd is not None:
            self._show((pair("GROSS", yuan(s.gross)), pair("OFF", yuan(s.net - s.gross)),
                        pair("NET", yuan(s.net)), "CARD ****" + info.card_no[-4:]))
        if s.pin_required:
            self._card_pin(card, info, s.net)
        new = rec.after_sale(s, today).encode()
        return _Priced(s, raw, balance, new, info.category, self.cashier, self._order_no)

    # -- card PIN ------------------------------------------------------------------------------
    def _card_pin(self, card, info, net):
        """Have the customer key the card PIN and the card VERIFY it
        (``PurseCard.verify_pin``: digits in BCD, padded with F). Wrong PINs are
        counted (by the card, and here per card); the digits never leave this method."""
        card_no = info.card_no
        while True:
            if self._pin_fails.get(card_no, 0) >= self.staff.max_tries:
                raise CardRefused("too many wrong PINs")
            n = self._key_card_pin(net)
            if not n:
                raise CardRefused("PIN entry cancelled")
            bcd = bytearray((n + 1) // 2)
            for i in range(len(bcd)):
                hi = self._pin[2 * i] - 0x30
                lo = self._pin[2 * i + 1] - 0x30 if 2 * i + 1 < n else 0x0F
                bcd[i] = (hi << 4) | lo
            self._zero_pin()
            try:
                left = card.verify_pin(bcd)  # CardRefused: PIN blocked, or the card has none
            finally:
                for i in range(len(bcd)):
                    bcd[i] = 0
            if left is None:
                self._pin_fails.pop(card_no, None)
                return
            self._pin_fails[card_no] = self._pin_fails.get(card_no, 0) + 1
            report.emit("refused", ("card", self.shown), ("reason", "wrong card PIN"),
                        ("tries_left", left))
            self._message("WRONG PIN", "%d TRIES LEFT" % left)

    def _key_card_pin(self, net):
        """Collect the PIN digits with the card on the reader; their count (0: cancelled)."""
        self._zero_pin()
        start = clock.ticks_ms()
        shown = -1
        while clock.elapsed_ms(start) < _TIMEOUT_MS:
            if shown != self._pin_n and self.lcd is not None:
                shown = self._pin_n
                self._show((pair("PAY", yuan(net)), "ENTER CARD PIN #",
                            "*" * self._pin_n, self._msg[0]))
            k = self.keypad.poll()
            if k is None:
                clock.sleep_ms(_SCAN_MS)
            elif "0" <= k <= "9" and self._pin_n < len(self._pin):
                self._pin[self._pin_n] = ord(k)
                self._pin_n += 1
            elif k == "C":
                self._zero_pin()
            elif k == "D":
                break
            elif k == "#" and self._pin_n >= staffs.PIN_MIN:
                return self._pin_n
        self._zero_pin()
        return 0

    # -- printer -------------------------------------------------------------------------------
    def _paper(self):
        """True when the printer answers and has paper (else say so and print nothing)."""
        st = self.printer.paper()
        if st == "ok" or st == "near-end":
            return True
        report.emit("warning", ("reason", "printer out of paper" if st else
                                "printer not answering"))
        return False
