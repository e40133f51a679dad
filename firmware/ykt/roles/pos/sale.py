"""Sales to customers' cards.

A sale reads the card's balance and canteen record (record 2), prices the order keyed
(``ykt.pos.pricing``), asks for the card PIN above the card category's threshold
(VERIFY, checked by the card), then writes the new canteen record and debits the cash
part in one composite purchase: both purses move together or not at all. A debit whose
outcome is unknown (the card left, the line failed) is held: when that card is tapped
again the tap loop settles it from the card's history (``ykt.payment``), so it is
charged exactly once; if it was not, the unchanged card tapped with nothing keyed pays
the held sale.
"""

from micropython import const

from ykt import caltime, clock, report
from ykt.card.purse import TX_CAPP
from ykt.errors import CardRefused
from ykt.money import yuan
from ykt.pos import staff as staffs
from ykt.pos import zreport as zr
from ykt.pos.canteen_record import RECORD_NO, CanteenRecord, RecordError
from ykt.pos.pricing import CardState, price_sale
from ykt.roles.pos.codes import (
    DENIED,
    NO_AMOUNT,
    NO_ITEMS,
    PIN_CANCELLED,
    PIN_TRIES,
    RECORD_UNREADABLE,
    refused,
)
from ykt.roles.pos.screen import pair
from ykt.store.journal import JournalFull

_SCAN_MS = const(10)
_PIN_TIMEOUT_MS = const(30000)


def need_room(journal, n):
    """JournalFull unless the journal has room for ``n`` more records."""
    if journal.state().free < n:
        raise JournalFull("journal full: upload records")


def read_record(card, raw=None):
    """The card's canteen record (``raw``: its 48 bytes, already read)."""
    try:
        return CanteenRecord.decode(raw or card.read_record(RECORD_NO))
    except RecordError:
        raise refused(RECORD_UNREADABLE)


class _Priced:
    """A sale priced for one card, kept until it is paid (or the card comes back)."""

    def __init__(self, sale, before, balance, new_record, category, cashier, order):
        self.sale = sale
        self.before = before  # the canteen record it was priced on
        self.balance = balance  # the cash purse it was priced on
        self.new_record = new_record  # the 48 bytes written with the debit
        self.order = order  # which keyed order it was (OrderEntry.number)
        self.category = category
        self.cashier = cashier


class Sales:
    """``role`` is the terminal (``charge``, ``shown``: ``TapRole``)."""

    def __init__(self, role, rules, order, session, keypad):
        self._role = role
        self.rules = rules
        self.order = order  # the OrderEntry
        self.session = session
        self.ui = role.ui  # the Screen
        self.receipt = session.receipt
        self.keypad = keypad
        self.journal = role.ctx.journal
        self._held = {}  # card number -> _Priced whose DEBIT outcome is unknown
        self._unsold = {}  # card -> a purchase the power cut before its sale record
        self._pin_fails = {}  # card number -> wrong card PINs in a row on this terminal

    def restore(self, r):
        """A journal record of the open shift, read at boot: a purchase whose sale record
        the power cut off is not sold again."""
        if r.kind == zr.K_PURCHASE and r.amount > 0 and r.card:
            self._unsold[r.card] = r.seq
        elif r.kind == zr.K_SALE and self._unsold.get(r.card) == r.link:
            del self._unsold[r.card]

    def tap(self, card, info):
        """Sell the order keyed to the card on the reader (a cashier is signed in)."""
        card_no = info.card_no
        if card_no in self._unsold:  # paid just before a power cut: not sold twice
            del self._unsold[card_no]
            report.emit("recovered", ("card", self._role.shown),
                        ("reason", "paid before a restart"))
            self.ui.ok("EARLIER SALE PAID", "")
            return
        held = self._held.get(card_no)  # its debit did not happen (it was settled unpaid)
        order = self.order.order()
        need_room(self.journal, 3)
        balance = card.balance()
        raw = bytes(card.read_record(RECORD_NO))
        if order is not None:
            p = self._price(card, info, balance, raw, order)
        elif held is not None and raw == held.before and balance == held.balance:
            p = held  # the same sale again on the unchanged card
        else:
            raise refused(NO_ITEMS if self.order.mode == "menu" else NO_AMOUNT)
        result = self._role.charge(card, info, p.sale.cash, TX_CAPP, (RECORD_NO, p.new_record))
        if result is None:
            self._held[card_no] = p
            return
        self._held.pop(card_no, None)
        self._sold(p, card_no, result, False, self.journal.last_seq)

    def recovered(self, card_no, result, seq):
        """A held sale's debit was proven on the card's return (its ``purchase`` record is
        ``seq``): nothing more was charged."""
        p = self._held.pop(card_no, None)
        if p is not None:
            self._sold(p, card_no, result, True, seq)
        else:
            # torn before a restart: the card paid it, the sale's details are gone (the
            # Z report counts it as unclassified); the order keyed now is still unpaid
            report.emit("recovered", ("card", self._role.shown), ("fen", result.amount),
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
        if p.order == self.order.number:
            self.order.clear()  # (a torn sale keyed before the order was cleared: keep this one)
        sub_left = CanteenRecord.decode(p.new_record).subsidy_balance
        report.emit("sale", ("card", self._role.shown), ("fen", s.net), ("cash", s.cash),
                    ("subsidy", s.subsidy), ("balance", result.balance),
                    ("subsidy_balance", sub_left), ("period", s.period), ("mode", s.mode),
                    ("cashier", p.cashier.name), ("seq", seq), ("recovered", recovered))
        lines = [pair(label[:12], yuan(fen)) for label, fen in s.display()]
        lines.append(pair("BALANCE", yuan(result.balance)))
        self.ui.lines = lines
        self.ui.ok(pair("PAID", yuan(s.net)), pair("BAL", yuan(result.balance)))
        self.receipt.sale(seq, p.cashier.name, card_no, s, result.balance, sub_left)

    def _price(self, card, info, balance, raw, order):
        rec = read_record(card, raw)
        now = clock.now()
        today = caltime.date_of(now)
        state = CardState.from_record(info.category, balance, rec, today)
        s = price_sale(self.rules, order.basket_or_amount, order.mode, None, state, now,
                       self.order.coupon)
        if s.refused is not None:
            why = DENIED.get(s.refusal)
            if why:
                self._role.ctx.log("denied", card=info.card_no, tx_type=why, amount=s.net)
            raise CardRefused(s.refused)
        if self.ui.lcd is not None:
            self.ui.rows((pair("GROSS", yuan(s.gross)), pair("OFF", yuan(s.net - s.gross)),
                          pair("NET", yuan(s.net)), "CARD ****" + info.card_no[-4:]))
        if s.pin_required:
            self._card_pin(card, info, s.net)
        new = rec.after_sale(s, today).encode()
        return _Priced(s, raw, balance, new, info.category, self.session.cashier,
                       self.order.number)

    # -- card PIN ----------------------------------------------------------------------
    def _card_pin(self, card, info, net):
        """Have the customer key the card PIN and the card VERIFY it
        (``PurseCard.verify_pin``: digits in BCD, padded with F). Wrong PINs are
        counted (by the card, and here per card); the digits leave the PinPad only as
        the VERIFY's BCD, zeroed after it."""
        card_no = info.card_no
        while True:
            if self._pin_fails.get(card_no, 0) >= self.session.staff.max_tries:
                raise refused(PIN_TRIES)
            if not self._key_card_pin(net):
                raise refused(PIN_CANCELLED)
            bcd = self.session.pin.bcd()
            try:
                left = card.verify_pin(bcd)  # CardRefused: PIN blocked, or the card has none
            finally:
                for i in range(len(bcd)):
                    bcd[i] = 0
            if left is None:
                self._pin_fails.pop(card_no, None)
                return
            self._pin_fails[card_no] = self._pin_fails.get(card_no, 0) + 1
            report.emit("refused", ("card", self._role.shown), ("reason", "wrong card PIN"),
                        ("tries_left", left))
            self.ui.message("WRONG PIN", "%d TRIES LEFT" % left)

    def _key_card_pin(self, net):
        """Collect the PIN digits with the card on the reader; their count (0: cancelled)."""
        pin = self.session.pin
        ui = self.ui
        pin.clear()
        start = clock.ticks_ms()
        shown = -1
        while clock.elapsed_ms(start) < _PIN_TIMEOUT_MS:
            if shown != pin.n and ui.lcd is not None:
                shown = pin.n
                ui.rows((pair("PAY", yuan(net)), "ENTER CARD PIN #", "*" * pin.n, ui.msg[0]))
            k = self.keypad.poll()
            if k is None:
                clock.sleep_ms(_SCAN_MS)
            elif "0" <= k <= "9":
                pin.add(k)
            elif k == "C":
                pin.clear()
            elif k == "D":
                break
            elif k == "#" and pin.n >= staffs.PIN_MIN:
                return pin.n
        pin.clear()
        return 0
