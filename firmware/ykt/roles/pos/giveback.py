"""Voids and refunds (give-backs): money back to the card of a sale, once per sale.

A supervisor (card and PIN) authorises a void of the shift's last sale (key D 2, then
``#``) or a refund of a sale by its number (D 3: the number printed on the receipt, or
just ``#`` for the last sale, then the amount); then the customer taps the card. A
give-back is a transaction like a sale (docs/canteen.md "Voids and refunds"): a
``give-back`` record claims the sale, then CREDIT FOR LOAD (cash) and a 0-fen composite
purchase (subsidy purse, day counters) each go through ``ykt.payment`` with an intent
and a ``void`` / ``refund`` completion; nothing is edited. A part whose outcome is
unknown stays pending and is finished when the card comes back. Record layouts:
``ykt.pos.zreport``.
"""

from micropython import const

from ykt import caltime, clock, report
from ykt.card.purse import TX_CAPP
from ykt.money import yuan
from ykt.payment import OutcomeUnknown, default_completion
from ykt.pos import zreport as zr
from ykt.pos.canteen_record import RECORD_NO
from ykt.roles.pos.codes import (
    CANNOT_LOAD,
    GIVE_BACK_PENDING,
    GIVEN_BACK,
    NOT_THE_CARD,
    refused,
)
from ykt.roles.pos.sale import need_room, read_record
from ykt.roles.pos.screen import pair

_ENTRY_MAX = const(8)
# The give-back screens (GiveBacks.stage; 0: none shown).
_SALE_NO = const(1)  # a refund's sale number is keyed
_AMOUNT = const(2)  # a refund's amount is keyed
_CONFIRM = const(3)  # a void waits for #
_CARD = const(4)  # the customer's card is asked for


class GiveBack:
    """A void or refund: what goes back to each purse, and how far it got.

    The ``give-back`` record ``seq`` (written when the card is first tapped) claims the
    sale, then each part is an intent linked to it and a ``void`` / ``refund``
    completion once the card proves it: the subsidy purse and the day's counters with
    a 0-fen composite purchase (``record``), the cash with CREDIT FOR LOAD (``cash``).
    Which parts are done is read from the journal, so a power cut, a torn card or a
    cancelled screen can neither repeat a part nor lose one: the card's next tap
    finishes it.
    """

    def __init__(self, kind, sale_card, sale_no, cash, subsidy, restore, supervisor, seq=0,
                 sale_time=0):
        self.kind = kind  # "void" or "refund"
        self.card = sale_card
        self.sale_no = sale_no  # the sale's purchase seq
        self.cash = cash
        self.subsidy = subsidy
        self.restore = restore  # also give back the day's count, spend and subsidy flag
        self.supervisor = supervisor  # a staff member, or None once restored from flash
        self.seq = seq  # the give-back record (0: not written yet)
        self.sale_time = sale_time
        self.balance = None  # cash purse after

    @staticmethod
    def from_record(record, supervisor=None):
        """The GiveBack a ``give-back`` journal Record describes."""
        return GiveBack("void" if record.tx_type == zr.GB_VOID else "refund", record.card,
                        record.link, record.amount, record.balance, bool(record.tseq & 1),
                        supervisor, record.seq, record.time)

    def parts(self, journal, payments):
        """(record part done, cash part done, a part pending on the card)."""
        rec = not (self.subsidy or self.restore)
        cash = not self.cash
        if not self.seq:
            return rec, cash, False
        intents = {}
        for r in journal.records(self.seq):
            if r.link == self.seq and r.kind in (zr.K_INTENT, zr.K_LOAD_INTENT):
                intents[r.seq] = r.tx_type
            elif r.link in intents and r.kind in (zr.K_VOID, zr.K_REFUND):
                if intents[r.link] == zr.TX_LOAD:
                    cash = True
                else:
                    rec = True
        pending = False
        for h in payments.held(self.card):
            if h.link == self.seq:
                pending = True
        return rec, cash, pending


class Found:
    """A sale found in the journal, and whether a void or refund already claimed it."""

    def __init__(self, sale):
        self.sale = sale  # zreport.SaleRecord
        self.given_back = False


class GiveBacks:
    """The terminal's give-backs: the one on the give-back screens (``op``, ``stage``),
    and those begun and not finished, by card. ``role`` is the terminal (``charge``,
    ``pending_again``, ``shown``: ``TapRole``; ``back_to_sale`` when these screens are
    left on their own)."""

    def __init__(self, role, session, entry):
        self._role = role
        self.session = session
        self.entry = entry  # the Digits being keyed
        self.ui = role.ui  # the Screen
        self.receipt = session.receipt
        self.journal = role.ctx.journal
        self.payments = role.payments
        self._open_gb = {}  # card number -> GiveBack begun and not finished
        self._found = None  # the sale a refund is keyed for (Found)
        self.op = None  # the GiveBack being keyed or waiting for its card
        self.stage = 0  # the give-back screen shown (0: none)

    def restore(self, records):
        """At boot: every give-back among ``records`` (and of any pending intent) whose
        parts are not all done is open again."""
        out = {}
        for r in records:
            if r.kind == zr.K_GIVE_BACK:
                out[r.card] = GiveBack.from_record(r)
        for held in self.payments.pending.values():
            for h in held:
                if h.link and h.pending.card_no not in out:
                    for r in self.journal.records(h.link):
                        if r.kind == zr.K_GIVE_BACK:
                            out[r.card] = GiveBack.from_record(r)
                        break
        for card in list(out):
            rec, cash, pending = out[card].parts(self.journal, self.payments)
            if rec and cash and not pending:
                del out[card]
        self._open_gb = out

    def get(self, card_no):
        """The give-back begun for ``card_no`` and not finished, or None."""
        return self._open_gb.get(card_no)

    def find(self, purchase_seq):
        """The sale whose purchase record is ``purchase_seq`` (None: the shift's last sale),
        as a Found, or None."""
        start = purchase_seq or self.session.shift
        if not start:
            return None
        found = None
        for r in self.journal.records(start):
            if r.kind == zr.K_SALE and (purchase_seq is None or r.link == purchase_seq):
                found = Found(zr.SaleRecord(r))
            elif found is not None and r.kind == zr.K_GIVE_BACK and r.link == found.sale.purchase:
                found.given_back = True
        return found

    # -- the give-back screens ---------------------------------------------------------
    def void(self, sup):
        """Key D 2: a void of the shift's last sale, authorised by ``sup``. True when it is
        on the screen to confirm (``#``), else False (the LCD says why)."""
        found = self.find(None)
        if found is None:
            self.ui.message("NO SALE TO VOID", "")
            return False
        s = found.sale
        if found.given_back:
            self.ui.message("ALREADY VOIDED", "NO.%d" % s.purchase)
            return False
        self.op = GiveBack("void", s.card, s.purchase, s.cash, s.subsidy_purse, True, sup,
                           sale_time=s.time)
        self.stage = _CONFIRM
        return True

    def refund(self):
        """Key D 3: a refund; its sale's number is keyed next."""
        self.entry.clear()
        self.stage = _SALE_NO

    def waiting(self):
        """True while the customer's card is asked for."""
        return self.stage == _CARD

    def cancel(self):
        """Off the give-back screens; a give-back already tapped stays open for its card."""
        self.op = None
        self.stage = 0

    def _leave(self):
        self.cancel()
        self._role.back_to_sale()

    def key(self, k):
        """A key of the give-back screen shown (``C`` or ``D`` leaves it)."""
        stage = self.stage
        if stage == _CONFIRM or stage == _CARD:
            if k == "#" and stage == _CONFIRM:
                self.stage = _CARD
            elif k in "CD":
                self._leave()
            return
        digits = self.entry
        if "0" <= k <= "9":
            digits.add(k, _ENTRY_MAX)
        elif k == "C":
            digits.clear()
        elif k == "D":
            digits.clear()
            self._leave()
        elif k == "#" and (digits.text or stage == _SALE_NO):
            entry = int(digits.pop() or "0")
            if stage == _SALE_NO:
                found = self.find(entry or None)  # nothing keyed: the last sale
                if found is None:
                    self.ui.message("NO SALE %d" % entry if entry else "NO SALE", "")
                elif found.given_back:
                    self.ui.message("ALREADY GIVEN BACK", "NO.%d" % found.sale.purchase)
                    self._leave()
                else:
                    self._found = found
                    self.stage = _AMOUNT
                return
            s = self._found.sale
            if not 0 < entry <= s.net:
                self.ui.message("TOO MUCH", "MAX " + yuan(s.net))
                return
            back = min(entry, s.cash)
            self.op = GiveBack("refund", s.card, s.purchase, back, entry - back, False,
                               self.session.supervisor, sale_time=s.time)
            self.stage = _CARD

    def rows(self):
        """The LCD's two rows of the give-back screen shown."""
        stage = self.stage
        if stage == _SALE_NO:
            return ("REFUND: SALE NO.", self.entry.text)
        if stage == _AMOUNT:
            s = self._found.sale
            return (pair("REFUND %d" % s.purchase, "MAX " + yuan(s.net)),
                    "AMOUNT " + yuan(int(self.entry.text or "0")))
        op = self.op
        if stage == _CONFIRM:
            return (pair("VOID %d" % op.sale_no, "****" + op.card[-4:]),
                    pair("BACK " + yuan(op.cash + op.subsidy), "#=OK"))
        return (pair(op.kind.upper(), yuan(op.cash + op.subsidy)), "TAP CUSTOMER CARD")

    # -- the customer's card -----------------------------------------------------------
    def tap(self, card, info, op):
        """Do what is left of give-back ``op`` on its card (tapped now)."""
        if info.card_no != op.card:
            raise refused(NOT_THE_CARD, op.sale_no)
        rec_done, cash_done, pending = op.parts(self.journal, self.payments)
        if pending:  # settled by the tap loop before this; still undecided
            raise refused(GIVE_BACK_PENDING)
        role = self._role
        if not cash_done and not role.ctx.sam.can_load():
            raise refused(CANNOT_LOAD)
        need_room(self.journal, 5)
        kind = op.kind
        if not op.seq:
            found = self.find(op.sale_no)
            if found is not None and found.given_back:
                self._leave()
                raise refused(GIVEN_BACK, op.sale_no)
            op.seq = self.journal.append(
                zr.K_GIVE_BACK, time=clock.seconds(), card=op.card, amount=op.cash,
                balance=op.subsidy, tx_type=zr.GB_VOID if kind == "void" else zr.GB_REFUND,
                link=op.sale_no, tseq=1 if op.restore else 0)
            self._open_gb[op.card] = op
        if not rec_done:
            rec = self._restored(read_record(card), op)
            if role.charge(card, info, 0, TX_CAPP, (RECORD_NO, rec.encode()), kind, op.seq,
                           -op.subsidy) is None:
                return
        if not cash_done:
            try:
                res = self.payments.load(card, op.cash, kind, op.seq, -op.cash)
            except OutcomeUnknown as e:
                role.pending_again(op.cash, str(e))
                return
            op.balance = res.balance
        self.finish(card, op)

    def recovered(self, card, card_no, ready):
        """A part of the give-back open for ``card_no`` (``card``, on the reader) was
        proven: finish it, or (``ready``: the terminal can serve it now) do the part left."""
        op = self._open_gb.get(card_no)
        if op is not None:
            rec, cash, pending = op.parts(self.journal, self.payments)
            if rec and cash and not pending:
                self.finish(card, op)
            elif not pending and ready:
                self.tap(card, card.info, op)

    def completion(self, held):
        """(kind, amount) of a give-back part's completion record."""
        for r in self.journal.records(held.link):
            if r.kind == zr.K_GIVE_BACK:
                kind = "void" if r.tx_type == zr.GB_VOID else "refund"
                return kind, -(r.amount if held.pending.tx_type == zr.TX_LOAD else r.balance)
            break
        return default_completion(held)

    def _restored(self, rec, op):
        """The canteen record with the operation's subsidy back (and, for a void on the
        sale's day, its count, spend and daily subsidy flag)."""
        r = rec.copy()
        r.subsidy_balance += op.subsidy
        if op.restore and rec.day == caltime.date_of(caltime.civil(op.sale_time)):
            found = self.find(op.sale_no)
            s = found.sale if found is not None else None
            if s is not None:
                if s.slot >= 0 and r.counts[s.slot]:
                    r.counts[s.slot] -= 1
                r.day_spend = r.day_spend - s.net if r.day_spend > s.net else 0
                if s.daily_subsidy:
                    r.subsidy_used = False
        return r

    def finish(self, card, op):
        """Every part of ``op`` is done: report it, print its receipt."""
        self._open_gb.pop(op.card, None)
        if op.balance is None:
            op.balance = card.balance()
        report.emit(op.kind, ("card", self._role.shown), ("fen", op.cash + op.subsidy),
                    ("cash", op.cash), ("subsidy", op.subsidy), ("balance", op.balance),
                    ("sale", op.sale_no))
        self.ui.ok(pair(op.kind.upper(), yuan(op.cash + op.subsidy)),
                        pair("BAL", yuan(op.balance)))
        if self.op is op:
            self._leave()
        who = op.supervisor.name if op.supervisor is not None else ""
        self.receipt.give_back(op.kind, who, op.card, op.sale_no, op.cash, op.subsidy,
                                 op.balance)
