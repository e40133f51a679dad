"""Culture-venue gate: timed-entry bookings by card or e-card QR code, walk-in tickets.

A visitor taps the social security card (the purse and, beside it, the social security
application with the holder's data: ``ykt.card.ssc``) or shows an e-card QR code to the
serial scanner (``ykt.qr.credential``). Either gives the holder's match key (a keyed hash of
the ID number: the SAM's for a card, the issuer-signed one in a code), age and region of
residence; the ID number and the name are never kept, journaled or shown.

- A **booking** (``/bookings.bin``, update kind 10) of this holder for today admits inside
  its slot's window (``early_min`` before its start to ``late_min`` after its end), once
  (anti-passback for the day: the booking ids admitted are rebuilt from the journal at
  boot); a price still due is debited from the card's purse first.
- Without a booking a card holder may buy a **walk-in** ticket for the slot open now while
  it has capacity left (capacity less the people booked and the walk-ins sold): priced by
  the venue rules (``ykt.venue.prices``: full, resident, senior by age) and debited with
  the exactly-once payment (``TapRole.charge``, journal kind ``purchase``).

Every admission is journaled ``admitted`` (tseq the booking id or 0, amount the people,
tx_type the slot index, link the ``purchase`` that paid it) and every refusal ``refused``
(tx_type its code, tseq the booking id if any); both show on the display and as a console
line with the code. A payment whose admission never happened (the power went between the
two, or the card's payment was proven on its return) is *owed*: the card's next admission
here today takes it instead of a new debit (rebuilt from the journal at boot).

Config: ``venue`` (rules, ``host_tools.lib.venue.rules``), ``early_min`` (15),
``late_min`` (15), ``passage_ms`` (8000), ``qr_test_keys`` (false: accept the test trust
anchors too). docs/venue.md.
"""

from micropython import const

from ykt import board as boards
from ykt import caltime, clock, report
from ykt.card.purse import TX_PURCHASE
from ykt.card.ssc import SscCard, age
from ykt.drivers.gm65 import CODE, NO_CODE, OK, TRIGGER
from ykt.errors import CardRefused
from ykt.money import yuan
from ykt.qr import credential as qc
from ykt.roles.tap import TapRole
from ykt.venue import prices
from ykt.venue.bookings import Bookings

NO_BOOKING = const(1)
WRONG_SLOT = const(2)
SLOT_FULL = const(3)
ALREADY_ENTERED = const(4)
CARD_EXPIRED = const(5)
DENYLISTED = const(6)
QR_EXPIRED = const(7)
QR_FORGED = const(8)
QR_REPLAYED = const(9)
QR_INVALID = const(10)
HOLDER_UNREADABLE = const(11)
PAY_AT_DESK = const(12)

# code: (reason on the console, second line of the display)
REFUSALS = {
    NO_BOOKING: ("no booking", "NO BOOKING"),
    WRONG_SLOT: ("wrong slot", "WRONG TIME SLOT"),
    SLOT_FULL: ("slot full", "SLOT FULL"),
    ALREADY_ENTERED: ("already entered", "ALREADY ENTERED"),
    CARD_EXPIRED: ("card expired", "CARD EXPIRED"),
    DENYLISTED: ("card blocked", "CARD BLOCKED"),
    QR_EXPIRED: ("code expired", "CODE EXPIRED"),
    QR_FORGED: ("code forged", "CODE NOT GENUINE"),
    QR_REPLAYED: ("code replayed", "CODE USED"),
    QR_INVALID: ("code not valid", "CODE NOT VALID"),
    HOLDER_UNREADABLE: ("holder data unreadable", "CARD ERROR"),
    PAY_AT_DESK: ("payment due", "PAY AT DESK"),
}
_QR_CODES = {qc.EXPIRED: QR_EXPIRED, qc.FORGED: QR_FORGED, qc.REPLAYED: QR_REPLAYED}
_SCAN_SHOW_MS = const(1500)  # a QR outcome stays on the screen this long
_CARD_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ "


def deny_number(card):
    """The 20-digit number under which a code's card id (the social security card number,
    9 characters) is on the denylist: ``99`` then two digits per character (0-9 -> 00-09,
    A-Z -> 10-35, space 36), as ``ykt qr deny-number`` gives it; None for another
    character (docs/venue.md §5)."""
    out = "99"
    for b in bytes(card):
        i = _CARD_CHARS.find(chr(b))
        if i < 0:
            return None
        out += "%02d" % i
    return out if len(out) == 20 else None


class _Refused(Exception):
    def __init__(self, code, booking=0, detail=None):
        super().__init__(code)
        self.code = code
        self.booking = booking
        self.detail = detail


def _hhmm(minutes):
    return "%02d:%02d" % (minutes // 60, minutes % 60)


class VenueGate(TapRole):
    def __init__(self, ctx, config):
        super().__init__(ctx, config)
        rules = config.get("venue", {})
        if not isinstance(rules, dict) or not isinstance(rules.get("price_fen", 0), int):
            raise ValueError("config: 'venue' must be the venue's rules (price_fen, ...)")
        self.rules = rules
        self.early = int(config.get("early_min", 15))
        self.late = int(config.get("late_min", 15))
        self.passage_ms = int(config.get("passage_ms", 8000))
        self.gate = ctx.gate
        self.bookings = Bookings(ctx.fs)
        paths = ("/trust.bin", "/trust-test.bin") if config.get("qr_test_keys") else None
        self.verifier = qc.Verifier(qc.load_anchors(ctx.fs, paths) if paths
                                    else qc.load_anchors(ctx.fs))
        self.scanner = boards.qr(ctx.board)
        self._bad = None  # (code, detail) of a card _check_card refused
        self._day = 0
        self.used = set()  # booking ids admitted today
        self.walk_ins = []  # walk-in visitors per slot today
        self.owed = {}  # card number -> [(purchase seq, fen, balance)] paid, not admitted
        self._emergency = False
        self._reading = False  # trigger mode: a reading was started and has not ended
        self._said = False  # a scanner failure was reported
        self._new_day(caltime.date_of(clock.now()), True)

    # -- the day --------------------------------------------------------------
    def _new_day(self, today, from_journal=False):
        self._day = today
        self.used = set()
        self.walk_ins = [0] * len(self.bookings.slots)
        self.owed = {}
        if not from_journal:
            return
        j = self.ctx.journal
        midnight = clock.seconds() - clock.seconds() % 86400
        if not j.last_seq:
            return
        paid = {}  # purchase seq -> (card, fen, balance): today's, until an admission links it
        for r in j.records(1):
            if r.time < midnight:
                continue
            if r.kind == 0x11 and r.card:  # purchase
                paid[r.seq] = (r.card, r.amount, r.balance)
            if r.kind != 0x22:  # admitted
                continue
            paid.pop(r.link, None)
            if r.tseq:
                self.used.add(r.tseq)
            elif r.tx_type < len(self.walk_ins):
                self.walk_ins[r.tx_type] += r.amount
        for seq in sorted(paid):
            card, fen, balance = paid[seq]
            self.owed.setdefault(card, []).append((seq, fen, balance))

    def _today(self):
        today = caltime.date_of(clock.now())
        if today != self._day:
            self._new_day(today)
        return today

    # -- screens --------------------------------------------------------------
    def idle_screen(self):
        if self._emergency:
            return ("EMERGENCY", "GATES OPEN")
        return ("WELCOME", "TAP CARD OR SCAN")

    def ready_fields(self):
        return (("bookings", self.bookings.version), ("slots", len(self.bookings.slots)),
                ("anchors", len(self.verifier.anchors)),
                ("scanner", self.scanner is not None))

    def _recent_sale(self):
        """A card whose payment here is owed an admission is admitted when it is still on
        the reader after a reboot, not refused as already paid."""
        super()._recent_sale()
        if self._last and self._last[0] in self.owed:
            self._last = None

    def run(self):
        if self.scanner is not None and self.scanner.configure() < 0:
            report.emit("warning", ("reason", "QR scanner: %s" % self.scanner.reason()))
            self.scanner = None
        self._trigger()
        super().run()

    # -- between taps: the emergency input, the QR scanner ---------------------
    def _trigger(self):
        """Trigger mode: start a reading (again, until one is acknowledged)."""
        q = self.scanner
        if q is not None and q.mode == TRIGGER:
            r = q.trigger()
            self._reading = r == OK
            if r != OK and not self._said:
                self._said = True
                report.emit("warning", ("reason", "QR scanner: %s" % q.reason(r)))

    def idle(self):
        if self.gate is not None:
            on = self.gate.emergency()
            if on != self._emergency:
                self._emergency = on
                (self.gate.open if on else self.gate.close)()
                report.emit("emergency", ("on", on))
                self._idle_screen()
        q = self.scanner
        if q is None or self._emergency:
            return
        r = q.poll()
        if r == CODE:
            self._scan(q.payload())
            self._trigger()
        elif r == NO_CODE:  # the reading ended without a code: start the next
            self._trigger()
        elif r < 0:  # a misread, discarded
            report.emit("scan-error", ("reason", q.reason(r)))
            self._trigger()
        elif q.mode == TRIGGER and not self._reading:  # the last trigger was not taken
            self._trigger()

    def _scan(self, text):
        self.shown = None
        outcome, code = self.verifier.check(text, clock.seconds())
        if code is not None:
            self.shown = report.mask(bytes(code.card).decode().strip())
        try:
            if outcome != qc.OK:
                code_ = _QR_CODES.get(outcome, QR_INVALID)
                raise _Refused(code_, 0, qc.NAMES[outcome] if code_ == QR_INVALID else None)
            number = deny_number(code.card)
            if number is not None:  # the card the code stands for, on the denylist
                try:
                    self.ctx.check_denylist(number)
                except CardRefused as e:
                    raise _Refused(DENYLISTED, 0, str(e))
            self._admit(code.match_key, age(code.birth, self._today()), code.region, "qr")
        except _Refused as e:
            self._refuse(e, None, "qr")
            clock.sleep_ms(_SCAN_SHOW_MS)
        self._idle_screen()

    # -- a card ---------------------------------------------------------------
    def _check_card(self, info):
        self._bad = None
        if self.ctx.clock_ok() and caltime.date_of(clock.now()) > info.end:
            self._bad = (CARD_EXPIRED, "purse")
            return
        try:
            self.ctx.check_denylist(info.card_no)
        except CardRefused as e:
            self._bad = (DENYLISTED, str(e))

    def serve(self, card, info):
        try:
            if self._bad:
                raise _Refused(self._bad[0], 0, self._bad[1])
            try:
                holder = SscCard(card._iso).read(self.ctx.sam.match_key)
            except CardRefused as e:
                raise _Refused(HOLDER_UNREADABLE, 0, str(e))
            today = self._today()
            if holder.expires < today:
                raise _Refused(CARD_EXPIRED, 0, "social security card")
            card.select()  # the purse again, for a payment
            self._admit(holder.match, age(holder.birth, today), holder.region, "card",
                        card, info)
        except _Refused as e:
            self._refuse(e, info.card_no, "card")

    def recovered(self, held, result, seq):
        """A payment proven on the card's return (its completion is record ``seq``): owed,
        and the card served now, so the admission it paid for (a walk-in ticket, or a
        booking's due price) takes it; nothing more is charged."""
        self.owed.setdefault(held.pending.card_no, []).append(
            (seq, result.amount, result.balance))
        self.serve(self.card, self.card.info)

    # -- deciding ---------------------------------------------------------------
    def _inside(self, slot, now):
        start, end, _ = self.bookings.slots[slot]
        return start - self.early <= now <= end + self.late

    def _slot_now(self):
        t = clock.now()
        now = t[3] * 60 + t[4]
        for i in range(len(self.bookings.slots)):
            start, end, _ = self.bookings.slots[i]
            if start <= now < end:
                return i
        return None

    def _admit(self, match, years, region, via, card=None, info=None):
        today = self._today()
        t = clock.now()
        now = t[3] * 60 + t[4]
        books = self.bookings.find(match) if self.bookings.date == today else []
        if books:
            fresh = [b for b in books if b.id not in self.used]
            if not fresh:
                raise _Refused(ALREADY_ENTERED, books[0].id)
            inside = [b for b in fresh if b.slot < len(self.bookings.slots)
                      and self._inside(b.slot, now)]
            if not inside:
                b = fresh[0]
                slot = self.bookings.slots[b.slot][0] if b.slot < len(self.bookings.slots) else 0
                raise _Refused(WRONG_SLOT, b.id, "booked " + _hhmm(slot))
            b = inside[0]
            fields = []
            link = 0
            if b.due:
                if card is None:
                    raise _Refused(PAY_AT_DESK, b.id)
                paid = self._pay(card, info, b.due)
                if paid is None:
                    return
                fen, balance, link, _ = paid
                fields = [("fen", fen), ("balance", balance)]
            self.used.add(b.id)
            self._admitted(info.card_no if info else None, b.id, b.people, b.slot, link)
            report.emit("admit", (via, self.shown), ("booking", b.id),
                        ("slot", _hhmm(self.bookings.slots[b.slot][0])),
                        ("people", b.people), *fields)
            self.ui.ok("WELCOME", "BOOKING %d x%d" % (b.id, b.people))
            self._let_through()
            return
        slot = self._slot_now()
        if card is None or info.card_no not in self.owed:
            if card is None or not self.rules.get("walk_in", True) or slot is None:
                raise _Refused(NO_BOOKING)
            left = (self.bookings.slots[slot][2] - self.bookings.booked[slot]
                    - self.walk_ins[slot])
            if left < 1:
                raise _Refused(SLOT_FULL)
            fen, steps = prices.price(self.rules, years, region)
        else:  # sold already (its place taken then): admitted, whatever the slot holds now
            fen, steps = self.owed[info.card_no][0][1], []
        paid = self._pay(card, info, fen)
        if paid is None:
            return
        fen, balance, link, owed = paid
        if slot is not None:
            self.walk_ins[slot] += 1
        self._admitted(info.card_no, 0, 1, slot, link)
        report.emit("ticket", ("card", self.shown), ("fen", fen), ("balance", balance),
                    ("slot", None if slot is None else _hhmm(self.bookings.slots[slot][0])),
                    ("steps", [list(s) for s in steps]), ("recovered", owed))
        self.ui.ok("TICKET " + yuan(fen), "BAL " + yuan(balance))
        self._let_through()

    def _pay(self, card, info, fen):
        """Pay ``fen`` for an admission: with the card's oldest payment owed an admission
        here, else (when ``fen``) a debit of the purse. (fen, balance after, seq of the
        ``purchase`` that paid it or 0, whether it was owed); None while the debit is
        pending."""
        owed = self.owed.get(info.card_no)
        if owed:
            seq, fen, balance = owed.pop(0)
            if not owed:
                del self.owed[info.card_no]
            self._last = (info.card_no, clock.ticks_ms())
            return fen, balance, seq, True
        if not fen:
            return 0, card.balance(), 0, False
        result = self.charge(card, info, fen, TX_PURCHASE)
        if result is None:
            return None
        # the completion is the journal's last record (Payments.charge wrote it last)
        return result.amount, result.balance, self.ctx.journal.last_seq, False

    def _admitted(self, card_no, booking, people, slot, link=0):
        self.ctx.log("admitted", card=card_no, tseq=booking, amount=people,
                     tx_type=slot if slot is not None else 255, link=link)

    def _refuse(self, e, card_no, via):
        reason, screen = REFUSALS[e.code]
        self.ctx.log("refused", card=card_no, tx_type=e.code, tseq=e.booking)
        fields = [(via, self.shown), ("code", e.code), ("reason", reason)]
        if e.booking:
            fields.append(("booking", e.booking))
        if e.detail:
            fields.append(("detail", e.detail))
        report.emit("refused", *fields)
        self.ui.fail("REFUSED", screen)

    def _let_through(self):
        if self.gate is None or self._emergency:
            return
        self.gate.open()
        passed = self.gate.wait_passage(self.passage_ms)
        self.gate.close()
        if not passed:
            report.emit("gate", ("passage", False))
