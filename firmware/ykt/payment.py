"""Purchases that survive a card leaving mid-transaction (afc.md §3.1).

If the answer to DEBIT FOR PURCHASE is lost, nobody knows whether the card
committed the debit. The purchase is kept as *pending* (by card number) and
written to the record file as such; other cards are served meanwhile. When
that card comes back, GET TRANSACTION PROVE settles it: the card proves the
debit (its MAC2 is checked and the purchase is recorded, nothing more is
charged) or it has no such debit (it is recorded as unpaid and a fresh purchase
runs). The card's offline counter only moves when a debit commits, so a
purchase is charged exactly once or not at all.
"""

from ykt import clock
from ykt.card.purse import TX_PURCHASE
from ykt.errors import CardGone


class Payments:
    def __init__(self, sam, log, max_pending=16):
        self.sam = sam
        self.log = log
        self.terminal = sam.terminal_id().hex()
        self.max_pending = max_pending
        self.pending = {}  # card number -> purse.Pending
        self._order = []  # card numbers, oldest pending first

    def _record(self, p, kind, balance, tac=b""):
        t = p.datetime7
        when = "%02x%02x-%02x-%02xT%02x:%02x:%02x" % tuple(t)
        return self.log.append(when, self.terminal, p.card_no, p.atc, p.amount, balance, kind,
                               p.term_seq, tac.hex() if tac else "")

    def charge(self, card, amount, tx_type=TX_PURCHASE, record=None):
        """Charge ``amount`` fen to the selected ``card``.

        Returns ``(result, recovered)``: ``recovered`` is True when ``result``
        is an earlier torn purchase now proven (nothing new was charged).
        Raises CardGone (the purchase is pending if DEBIT was sent) and
        CardRefused.
        """
        card_no = card.info.card_no
        p = self.pending.get(card_no)
        if p is not None:
            result = card.recover(self.sam, p)
            self._drop(card_no)
            if result is not None:
                self._record(p, "purchase", result.balance, result.tac)
                return result, True
            self._record(p, "unpaid", p.balance)
        p = card.init_purchase(self.sam, amount, tx_type, clock.bcd7())
        if record is not None:
            card.update_record(record[0], record[1])
        try:
            result = card.debit(self.sam, p)
        except CardGone:
            if card.pending is not None:
                self._keep(p)
            raise
        self._record(p, "purchase", result.balance, result.tac)
        return result, False

    def _drop(self, card_no):
        del self.pending[card_no]
        self._order.remove(card_no)

    def _keep(self, p):
        if len(self._order) >= self.max_pending:
            # The oldest stays in the record file as pending for the back office.
            self._drop(self._order[0])
        self.pending[p.card_no] = p
        self._order.append(p.card_no)
        self._record(p, "pending", p.balance - p.amount)
