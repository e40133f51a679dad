"""The canteen POS's journal records and the shift (Z) report computed from them.

The journal (docs/stores.md) records each card debit as ``purchase-intent`` +
``purchase``. The POS adds (proposed journal kinds, codes in reserved ranges):

``sale`` (0x14), right after its ``purchase``, ``link`` = that purchase's seq:

==========  ================================================================
``tx_type`` bits 0-2: meal-period slot + 1 (0: none); bits 4-5: mode (0 fixed,
            1 menu, 2 amount); bit 7: the sale used the card's daily subsidy
``card``    the card
``atc``     the card's offline ATC (as the purchase)
``amount``  net: what left the card, both purses (fen)
``balance`` the part paid from the subsidy purse (fen); cash = amount - balance
``tac``     discounts: category + campaign + spend-get + coupon steps (fen, u32)
``random``  category byte (u8), cashier's staff number (u8), the canteen-paid
            daily subsidy step (fen, u16)
``tseq``    gross (fen)
==========  ================================================================

``give-back`` (0x34) claims a sale for a void or refund when the customer's card
is first tapped for it: ``card`` the sale's card, ``link`` the sale's
``purchase`` seq, ``amount`` the cash part, ``balance`` the subsidy-purse
part (fen), ``tx_type`` 1 void / 2 refund, ``tseq`` bit 0: the day's count,
spend and daily-subsidy flag go back too. One per sale.

Each part is then a transaction of its own: an intent whose ``link`` is the
``give-back`` record, completed by a ``void`` (0x32) or ``refund`` (0x31) record
(the journal's own kinds, resolving the intent like ``purchase``) once the card
proves it, ``amount`` negative: ``tx_type`` 09 for the subsidy purse and the
day's counters (a ``purchase-intent`` of a 0-fen composite purchase rewriting
the canteen record; ``amount`` minus the subsidy part) and 02 for the cash (a
``load-intent``, CREDIT FOR LOAD; ``atc`` the online ATC, ``tac`` the load TAC).
``balance`` is the cash purse after, ``tseq`` the SAM sequence of the part.

``shift-open`` (0x60), ``shift-close`` (0x61: ``amount`` takings, ``balance``
cash purse net, ``tac`` subsidy purse net (i32), ``random`` number of sales
(u32), ``link`` the shift-open seq, ``tseq`` the last seq counted),
``sign-in`` (0x62) / ``sign-out`` (0x63) (``card`` the staff card, ``tx_type``
1 cashier / 2 supervisor, ``tseq`` staff number), ``staff-locked`` (0x64,
``card`` the staff card, ``amount`` lock-out seconds).

The Z report of a shift is a pure function of the journal records after its
``shift-open``: every figure in it is a sum over those records, so the back
office recomputes it from the uploaded journal. A ``purchase`` of a composite
debit above 0 fen with no ``sale`` after it (a power cut between the two) is
counted as *unclassified* with its cash amount.
"""

import struct

from micropython import const

K_INTENT = const(0x10)
K_PURCHASE = const(0x11)
K_SALE = const(0x14)
K_LOAD_INTENT = const(0x15)
K_REFUND = const(0x31)
K_VOID = const(0x32)
K_GIVE_BACK = const(0x34)
GB_VOID = const(1)
GB_REFUND = const(2)
K_SHIFT_OPEN = const(0x60)
K_SHIFT_CLOSE = const(0x61)
K_SIGN_IN = const(0x62)
K_SIGN_OUT = const(0x63)
K_STAFF_LOCKED = const(0x64)

TX_LOAD = const(0x02)
TX_CAPP = const(0x09)

MODES = ("fixed", "menu", "amount")
_DAILY_SUBSIDY = const(0x80)


def sale_fields(sale, category, cashier):
    """Journal fields (tx_type, amount, balance, tac, random, tseq) of a priced ``Sale``."""
    discounts = 0
    subsidy = 0
    for s in sale.steps:
        if s.kind == "subsidy":
            subsidy -= s.delta
        elif s.kind != "set":
            discounts -= s.delta
    tx = MODES.index(sale.mode) << 4
    if sale.period_slot is not None:
        tx |= sale.period_slot + 1
    if sale.daily_subsidy:
        tx |= _DAILY_SUBSIDY
    return (tx, sale.net, sale.subsidy, struct.pack(">I", discounts),
            struct.pack(">BBH", category & 0xFF, cashier, subsidy), sale.gross)


class SaleRecord:
    """A ``sale`` journal record, decoded."""

    def __init__(self, r):
        self.seq = r.seq
        self.time = r.time
        self.card = r.card
        self.atc = r.atc
        self.purchase = r.link
        self.slot = (r.tx_type & 0x07) - 1  # -1: no period
        self.mode = MODES[(r.tx_type >> 4) & 0x03]
        self.daily_subsidy = bool(r.tx_type & _DAILY_SUBSIDY)
        self.net = r.amount
        self.subsidy_purse = r.balance
        self.cash = r.amount - r.balance
        self.discounts = struct.unpack(">I", r.tac)[0]
        self.category, self.cashier, self.subsidy = struct.unpack(">BBH", r.random)
        self.gross = r.tseq
        self.sets = self.gross - self.net - self.discounts - self.subsidy


def _add(table, key, fen):
    row = table.get(key)
    if row is None:
        table[key] = [1, fen]
    else:
        row[0] += 1
        row[1] += fen


class ZReport:
    """Totals of one shift; feed it the journal records after the shift-open."""

    def __init__(self, shift_seq, opened=0):
        self.shift = shift_seq
        self.opened = opened  # shift-open time (journal seconds)
        self.closed = 0
        self.last_seq = shift_seq
        self.sales = 0
        self.gross = 0
        self.sets = 0
        self.discounts = 0
        self.subsidies = 0  # canteen-paid daily subsidy steps
        self.net = 0
        self.cash = 0
        self.subsidy_purse = 0
        self.by_period = {}  # slot (-1: none) -> [count, net]
        self.by_mode = {}
        self.by_category = {}  # category byte -> [count, net]
        self.by_cashier = {}  # staff number -> [count, net]
        self.voids = [0, 0]  # [sales voided, fen returned]
        self.refunds = [0, 0]  # [refund operations, fen returned]
        self.returned_cash = 0
        self.returned_subsidy = 0
        self.unclassified = [0, 0]  # [purchases without a sale record, cash fen]
        self._open = {}  # purchase seq -> cash, until its sale record comes

    def add(self, r):
        """Count one journal Record (any kind; the ones a Z report ignores are skipped)."""
        self.last_seq = r.seq
        k = r.kind
        if k == K_PURCHASE:
            if r.tx_type == TX_CAPP and r.amount > 0:
                self._open[r.seq] = r.amount
        elif k == K_SALE:
            s = SaleRecord(r)
            self._open.pop(s.purchase, None)
            self.sales += 1
            self.gross += s.gross
            self.sets += s.sets
            self.discounts += s.discounts
            self.subsidies += s.subsidy
            self.net += s.net
            self.cash += s.cash
            self.subsidy_purse += s.subsidy_purse
            _add(self.by_period, s.slot, s.net)
            _add(self.by_mode, s.mode, s.net)
            _add(self.by_category, s.category, s.net)
            _add(self.by_cashier, s.cashier, s.net)
        elif k == K_VOID or k == K_REFUND:
            back = -r.amount
            if r.tx_type == TX_LOAD:
                self.returned_cash += back
            else:
                self.returned_subsidy += back
            row = self.voids if k == K_VOID else self.refunds
            row[1] += back
        elif k == K_GIVE_BACK:
            row = self.voids if r.tx_type == GB_VOID else self.refunds
            row[0] += 1
        elif k == K_SHIFT_CLOSE:
            self.closed = r.time

    def finish(self):
        """Close the books: purchases still without a sale record are unclassified."""
        for cash in self._open.values():
            self.unclassified[0] += 1
            self.unclassified[1] += cash
        self._open = {}
        return self

    def takings(self):
        """What the cards paid this shift, less what was given back (fen)."""
        return self.net + self.unclassified[1] - self.voids[1] - self.refunds[1]

    def cash_net(self):
        return self.cash + self.unclassified[1] - self.returned_cash

    def subsidy_net(self):
        return self.subsidy_purse - self.returned_subsidy

    def close_fields(self):
        """Journal fields (amount, balance, tac, random, tseq) of the shift-close record."""
        return (self.takings(), self.cash_net(), struct.pack(">i", self.subsidy_net()),
                struct.pack(">I", self.sales), self.last_seq)


def scan(journal, shift_seq):
    """The Z report of the shift opened at ``shift_seq``, from the journal."""
    z = ZReport(shift_seq)
    for r in journal.records(shift_seq):
        if r.seq == shift_seq:
            z.opened = r.time
        else:
            z.add(r)
    return z.finish()
