"""The canteen POS terminal: the tap loop's role, its screens and the operator's keys.

Config (besides the Context's keys and ids):

- ``canteen``: the rule set (docs/canteen.md), as a dict or a path on the flash, used
  until a canteen update (/canteen.bin, read at boot) is installed;
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
2, 3, 4 and 6 need a supervisor's card and PIN.

The terminal is in one screen at a time (``state``, ``_S_*``) and hands the work
to its parts: ``OrderEntry`` (what is keyed for the next sale), ``StaffSession``
(sign-in, the shift, the Z report), ``Sales`` (a customer's tap), ``GiveBacks`` (voids
and refunds) and ``Screen`` (LCD, customer display) with ``Receipts``.
"""

import json

from micropython import const

from ykt import caltime, clock, pos_board, report
from ykt.errors import YktError
from ykt.payment import default_completion
from ykt.pos import RuleError
from ykt.pos import rules as canteen_rules
from ykt.pos import staff as staffs
from ykt.pos import zreport as zr
from ykt.roles.pos.codes import FINISH_KEYING, NO_CASHIER, PIN_FIRST, refused
from ykt.roles.pos.giveback import GiveBacks
from ykt.roles.pos.order import Digits, OrderEntry
from ykt.roles.pos.sale import Sales
from ykt.roles.pos.screen import Receipts, Screen
from ykt.roles.pos.session import PinPad, StaffSession
from ykt.roles.tap import TapRole

_CANTEEN_BIN = "/canteen.bin"  # a canteen update installs the rule set here (ykt.store.updates)
_SCAN_MS = const(10)
_TIMEOUT_MS = const(30000)

# The screens (PosTerminal.state).
_S_SIGNIN = const(0)  # no cashier: a staff card signs in
_S_STAFF_PIN = const(1)  # a staff PIN is keyed
_S_SALE = const(2)  # orders are keyed, customers' cards tapped
_S_MENU = const(3)  # key D: the functions
_S_AUTH = const(4)  # a supervisor's card is asked for
_S_GIVE_BACK = const(5)  # a void or refund (GiveBacks.stage says which screen)
_S_CLOCK = const(6)  # the time is keyed


class PosTerminal(TapRole):
    def __init__(self, ctx, config):
        super().__init__(ctx, config)
        rules = self.rules = self._load_rules(config.get("canteen"))
        config["canteen"] = None  # the parsed rule set is all that is needed from here (RAM)
        for s in rules.subsidies:
            if s.amount > 0xFFFF:
                raise ValueError("canteen: subsidy '%s' above 655.35 (sale records hold "
                                 "16 bits)" % s.name)
        mode = config.get("mode", "fixed")
        if mode not in zr.MODES:
            raise ValueError("config: 'mode' must be fixed, menu or amount")
        staff = self._load_staff(config)
        self.name = config.get("name", "")
        board = ctx.board
        self.keypad = pos_board.keypad(board)
        if self.keypad is None:
            raise ValueError("pos: the board has no keypad")
        self.journal = ctx.journal
        self.state = _S_SIGNIN
        ui = self.ui = Screen(ctx.ui, pos_board.lcd(board), self)
        receipt = Receipts(pos_board.printer(board) if config.get("receipts", True) else None,
                           rules.name, self.name, rules.menu)
        self.entry = Digits()
        self.order = OrderEntry(rules, mode, self.entry, ui)
        self.session = StaffSession(ctx, rules, staff, PinPad(), ui, receipt)
        self.sales = Sales(self, rules, self.order, self.session, self.keypad)
        self.give_backs = GiveBacks(self, self.session, self.entry)
        self._touched = clock.ticks_ms()
        self._pin_back = _S_SIGNIN  # the screen a staff PIN was asked from
        self._auth_for = None  # the function key a supervisor is authorising
        self._load_state()

    # -- configuration and state on flash ------------------------------------------------
    def _load_rules(self, spec):
        """The installed canteen update (/canteen.bin) if there is one, else config
        "canteen" (a rule set, or a path on the flash)."""
        where = "canteen"
        try:
            self.ctx.fs.stat(_CANTEEN_BIN)
            spec = where = _CANTEEN_BIN
        except OSError:
            pass
        if isinstance(spec, str):
            with self.ctx.fs.open(spec, "rb") as f:
                try:
                    spec = json.loads(f.read())
                except ValueError:
                    raise ValueError("%s: not JSON" % where)
        if not isinstance(spec, dict):
            raise ValueError("config: 'canteen' must be a rule set or a path on the flash")
        try:
            return canteen_rules.load(spec)
        except RuleError as e:
            raise ValueError("%s: %s" % (where, e))

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
        """After boot: the shift saved on flash, and what its records left unfinished."""
        session = self.session
        if not session.load():
            return
        shift = session.shift
        give_backs = []
        if shift:
            for r in self.journal.records(shift):
                if r.kind == zr.K_GIVE_BACK:
                    give_backs.append(r)
                else:
                    self.sales.restore(r)
                if r.kind == zr.K_SHIFT_CLOSE and r.link == shift:
                    session.shift = 0  # closed; the power went before the state was saved
        self.give_backs.restore(give_backs)

    # -- TapRole hooks ---------------------------------------------------------------------
    def clock_needed(self):
        return self.state not in (_S_SIGNIN, _S_AUTH)  # staff can sign in to set the clock

    def ready_fields(self):
        return (("mode", self.order.mode), ("canteen", self.rules.name),
                ("shift", self.session.shift))

    def idle_screen(self):
        """The customer display between taps."""
        if self.state == _S_SIGNIN or self.session.cashier is None:
            return ("CLOSED", "")
        return self.order.pole()

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
        if self.state not in (_S_SIGNIN, _S_SALE) and clock.elapsed_ms(self._touched) > _TIMEOUT_MS:
            self.session.pin.clear()
            self.ui.message("TIMED OUT", "")
            self.give_backs.cancel()
            self.back_to_sale()
            self.ui.render()

    def serve(self, card, info):
        st = self.state
        if st == _S_SIGNIN or st == _S_AUTH:
            self.session.tap(card, info, st == _S_SIGNIN, self.shown)
            self._pin_back = st
            self.state = _S_STAFF_PIN
            self._touched = clock.ticks_ms()
            self.ui.msg = ("", "")
        elif st == _S_SALE:
            if self.session.cashier is None:
                raise refused(NO_CASHIER)
            op = self.give_backs.get(info.card_no)
            if op is not None:  # a void or refund begun earlier: finish it first
                self.give_backs.tap(card, info, op)
            else:
                self.sales.tap(card, info)
        elif st == _S_GIVE_BACK and self.give_backs.waiting():
            self.give_backs.tap(card, info, self.give_backs.op)
        elif st == _S_STAFF_PIN:
            raise refused(PIN_FIRST)
        else:
            raise refused(FINISH_KEYING)

    def completion(self, held):
        if held.link:
            return self.give_backs.completion(held)
        return default_completion(held)

    def recovered(self, held, result, seq):
        """A pending transaction of the card on the reader was proven (its completion is
        record ``seq``): finish what it belonged to."""
        card_no = held.pending.card_no
        if held.link:  # a part of a void or refund
            gb = self.give_backs
            gb.recovered(self.card, card_no, (self.state == _S_GIVE_BACK and gb.waiting())
                         or self.session.cashier is not None)
        else:
            self.sales.recovered(card_no, result, seq)

    def back_to_sale(self):
        """Leave the screen the terminal is in for the sale screen (the sign-in screen
        when no cashier is signed in)."""
        self.state = _S_SALE if self.session.cashier is not None else _S_SIGNIN

    # -- what the displays show (for the Screen) -------------------------------------------
    def pole(self):
        """The customer display now (None: leave it)."""
        return self.idle_screen() if self.state == _S_SALE else None

    def rows(self):
        """The LCD's two rows of the screen the terminal is in."""
        st = self.state
        if st == _S_SIGNIN:
            return ((self.name or self.rules.name)[:20], "SIGN IN: STAFF CARD")
        if st == _S_STAFF_PIN:
            who = "SUPERVISOR" if self._pin_back != _S_SIGNIN else self.session.who.name
            return (("PIN " + who)[:20], "*" * self.session.pin.n)
        if st == _S_MENU:
            return ("1 OUT 2 VOID 3 REFND", "4 CLOSE 5 MODE 6CLK")
        if st == _S_CLOCK:
            return ("CLOCK YYYYMMDDHHMM #", self.entry.text)
        if st == _S_AUTH:
            return ("SUPERVISOR NEEDED", "TAP SUPERVISOR CARD")
        if st == _S_SALE:
            cashier = self.session.cashier
            return self.order.rows(cashier.name if cashier else "")
        return self.give_backs.rows()

    # -- keys --------------------------------------------------------------------------------
    def _on_key(self, k):
        self._touched = clock.ticks_ms()
        st = self.state
        if k != "A":
            self.ui.page = None
        if st == _S_STAFF_PIN:
            self._key_pin(k)
        elif st == _S_SALE:
            if k == "D":
                self.state = _S_MENU
            elif k == "A":
                self.ui.next()
            else:
                self.order.key(k)
        elif st == _S_MENU:
            self._key_menu(k)
        elif st == _S_AUTH:
            if k in "CD":
                self.give_backs.cancel()
                self.state = _S_SALE
        elif st == _S_GIVE_BACK:
            self.give_backs.key(k)
        elif st == _S_CLOCK:
            self._key_clock(k)
        self.ui.render()

    def _key_pin(self, k):
        session = self.session
        if k == "D":
            session.pin.clear()
            self.state = self._pin_back
            return
        verdict = session.key(k)
        if verdict == staffs.OK:
            self.ui.msg = ("", "")
            if self._pin_back == _S_SIGNIN:
                self._sign_in(session.who)
            else:
                self._authorized(session.who)
        elif verdict == staffs.WRONG:
            self.ui.message("WRONG PIN", "%d TRIES LEFT" % session.staff.tries_left(session.who))
        elif verdict == staffs.LOCKED:
            self.state = self._pin_back
            self.ui.message("CARD LOCKED", "%d MIN" % (session.staff.lockout_s // 60))

    def _key_menu(self, k):
        if k == "1":
            self._sign_out()
        elif k in "2346":
            self._auth_for = k
            self.state = _S_AUTH
        elif k == "5":
            mode = self.order.next_mode()
            self.state = _S_SALE
            report.emit("mode", ("mode", mode))
        elif k in "CD":
            self.state = _S_SALE

    def _key_clock(self, k):
        """The supervisor keys the local time as YYYYMMDDHHMM, then # (key D cancels)."""
        if "0" <= k <= "9":
            self.entry.add(k, 12)
        elif k == "C":
            self.entry.clear()
        elif k == "D":
            self.entry.clear()
            self.back_to_sale()
        elif k == "#":
            e = self.entry.pop()
            secs = None
            if len(e) == 12:
                y, mo, d, h, mi = (int(e[0:4]), int(e[4:6]), int(e[6:8]), int(e[8:10]),
                                   int(e[10:12]))
                if 2000 <= y and 1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60:
                    secs = caltime.secs(y, mo, d, h, mi, 0)
                    if caltime.civil(secs)[:3] != (y, mo, d):  # 30 February
                        secs = None
            if secs is None:
                self.ui.message("BAD TIME", e)
                return
            try:
                self.ctx.set_clock(secs, "staff", self.session.supervisor.card)
            except ValueError as ex:
                self.ui.message("BAD TIME", str(ex)[:20])
                return
            self.ui.message("CLOCK SET", clock.iso()[:16])
            self.back_to_sale()

    # -- staff -----------------------------------------------------------------------------
    def _sign_in(self, s):
        self.session.signin(s)
        self.state = _S_SALE
        self.order.clear()
        self.ui.message("SIGNED IN", s.name)

    def _sign_out(self):
        s = self.session.signout()
        self.state = _S_SIGNIN
        self.order.clear()
        self.ui.message("SIGNED OUT", s.name if s else "")

    def _authorized(self, sup):
        what = self._auth_for
        self.session.supervisor = sup
        self.state = _S_SALE
        if what == "2":
            if self.give_backs.void(sup):
                self.state = _S_GIVE_BACK
        elif what == "3":
            self.give_backs.refund()
            self.state = _S_GIVE_BACK
        elif what == "6":
            self.entry.clear()
            self.state = _S_CLOCK
        elif what == "4":
            page = self.session.close_shift(sup)
            if page is not None:
                self._sign_out()
                self.ui.page = page
                self.ui.render()
