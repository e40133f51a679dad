"""Purchases that are charged exactly once, through torn cards and power cuts.

Every debit is bracketed in the journal (docs/stores.md): a ``purchase-intent``
record is on flash *before* DEBIT FOR PURCHASE is sent, and a completion
record (``purchase``, ``entry``, ``exit``) linked to it after the card's MAC2
checks out. If the DEBIT answer is lost (the card left, or the power died),
the intent stays unresolved -- in RAM as *pending* and on flash, so it
survives a reboot (``restore()``). When that card comes back, GET
TRANSACTION PROVE settles it (afc.md §3.1): the card proves the debit (the
completion is recorded, nothing more is charged) or has no such debit
(``unpaid``, then a fresh purchase). An intent whose DEBIT was never sent is
closed as ``abandoned``. The card's offline counter only moves when a debit
commits, so a purchase is charged exactly once or not at all.
"""

from ykt import caltime, clock
from ykt.card.purse import TX_PURCHASE, Pending
from ykt.errors import CardGone


def _serial8(card_no):
    return bytes(int(card_no[i:i + 2], 16) for i in range(4, 20, 2))


class Payments:
    def __init__(self, sam, journal):
        self.sam = sam
        self.journal = journal
        self.pending = {}  # card number -> (intent seq, purse.Pending)

    def restore(self):
        """After boot: every unresolved intent in the journal is pending again (and
        the SAM hands out no sequence number at or below theirs)."""
        for r in self.journal.unresolved():
            t = caltime.civil(r.time)
            p = Pending(r.card, _serial8(r.card), r.balance, r.atc, bytes(r.random), r.amount,
                        r.tx_type, bytes(r.terminal), clock.bcd7(t), r.tseq)
            self.pending[r.card] = (r.seq, p)
            self.sam.advance_to(r.tseq + 1)
        return len(self.pending)

    def _complete(self, kind, intent, p, balance, tac):
        self.journal.append(kind, time=self._secs(p), card=p.card_no, atc=p.atc, amount=p.amount,
                            balance=balance, tx_type=p.tx_type, tac=tac, random=p.random,
                            link=intent, tseq=p.term_seq)

    @staticmethod
    def _secs(p):
        return caltime.secs(*clock.unbcd7(p.datetime7))

    def settle(self, card, kind="purchase"):
        """Settle a pending purchase of the selected ``card``, if it has one.

        Returns the proven PurchaseResult (recorded as ``kind``; nothing more is
        charged), or None: no purchase was pending, or the card proved the
        debit never happened (recorded ``unpaid``; the caller sells afresh).
        """
        card_no = card.info.card_no
        held = self.pending.get(card_no)
        if held is None:
            return None
        intent, p = held
        result = card.recover(self.sam, p)
        del self.pending[card_no]
        if result is not None:
            self._complete(kind, intent, p, result.balance, result.tac)
            return result
        self._complete("unpaid", intent, p, p.balance, None)
        return None

    def charge(self, card, amount, tx_type=TX_PURCHASE, record=None, kind="purchase"):
        """Charge ``amount`` fen to the selected ``card`` (``record``: (no, 48 bytes));
        ``kind`` is the journal code of the completion (purchase, entry, exit).

        Returns ``(result, recovered)``: ``recovered`` is True when ``result``
        is an earlier torn purchase now proven (nothing new was charged).
        Raises CardGone (the purchase stays pending if DEBIT was sent),
        CardRefused, or JournalFull (nothing was sent to the card).
        """
        card_no = card.info.card_no
        result = self.settle(card, kind)
        if result is not None:
            return result, True
        t = clock.now()
        p = card.init_purchase(self.sam, amount, tx_type, clock.bcd7(t))
        intent = self.journal.append("purchase-intent", time=caltime.secs(*t), card=card_no,
                                     atc=p.atc, amount=amount, balance=p.balance,
                                     tx_type=tx_type, random=p.random, tseq=p.term_seq)
        try:
            if record is not None:
                card.update_record(record[0], record[1])
            result = card.debit(self.sam, p)
        except CardGone:
            if card.pending is not None:
                self.pending[card_no] = (intent, p)
            else:
                self._complete("abandoned", intent, p, p.balance, None)
            raise
        except Exception:
            # the card answered (refused MAC1, low balance, bad MAC2): no debit to prove
            self._complete("abandoned", intent, p, p.balance, None)
            raise
        self._complete(kind, intent, p, result.balance, result.tac)
        return result, False
