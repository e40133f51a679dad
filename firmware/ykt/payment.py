"""Debits and loads that happen exactly once, through torn cards, bad links and power cuts.

Every debit (DEBIT FOR PURCHASE) and load (CREDIT FOR LOAD) is bracketed in
the journal (docs/stores.md): an intent (``purchase-intent`` / ``load-intent``)
is on flash *before* the command is sent, and a completion record (the
role's kind: ``purchase``, ``entry``, ``exit``, ``void``, ...) linked to it
once the card's answer is verified. Only a status word from the card proves
it refused; then the intent is closed ``abandoned``. Any other failure after
the command was sent -- the card left, the reader or the line failed, the
answer was garbled or its MAC does not verify -- leaves the outcome unknown:
the intent stays open, in RAM as *pending* and on flash, so it survives a
reboot (``restore()``).

When that card comes back, ``settle()`` decides each pending transaction from
the card's own history (docs/purse.md section 6.2):

1. INTERNAL AUTHENTICATE: the card proves it is the genuine card of this
   number and gives its counters (a clone fails here and settles nothing).
2. The counter never reached the transaction's value: it did not happen
   (``unpaid``).
3. GET TRANSACTION PROVE for that counter value answers a MAC only the
   card's own session could make: it happened (the completion is recorded
   with its TAC; nothing more is charged).
4. Another transaction used that counter value (another terminal's, or
   another attempt of this one): ``unpaid``.
5. The card's log no longer holds that value (ten more transactions since):
   the terminal cannot tell; the intent stays open for the back office.

So every transaction the card commits ends as exactly one completion here,
whatever the card did at other terminals in between.
"""

from collections import namedtuple

from micropython import const

from ykt import caltime, clock
from ykt.card.purse import TX_LOAD, TX_PURCHASE, Pending
from ykt.errors import CardGone, CardRefused, ReaderError, YktError

COMPLETED = const(1)  # the card committed it: its completion is recorded
UNPAID = const(2)  # the card provably did not: recorded ``unpaid``
UNDECIDED = const(3)  # the card's log has moved on: still pending

# One transaction whose outcome is unknown: its intent's seq, the purse.Pending,
# and the intent's ``link`` (what it belongs to, e.g. a give-back; 0 for a sale).
Held = namedtuple("Held", ("intent", "pending", "link"))
# What settle() decided: the outcome, the PurchaseResult or LoadResult of a COMPLETED one
# and the seq of the record it wrote (0 when UNDECIDED).
Settled = namedtuple("Settled", ("held", "outcome", "result", "seq"))


class OutcomeUnknown(YktError):
    """DEBIT or CREDIT was sent and its outcome is unknown: the transaction is pending
    until the card comes back (``args[0]`` says why)."""


def _serial8(card_no):
    return bytes(int(card_no[i:i + 2], 16) for i in range(4, 20, 2))


def _why(e):
    if isinstance(e, CardGone):
        return "card left during %s"
    if isinstance(e, ReaderError):
        return "reader error during %s"
    if isinstance(e, CardRefused):
        return str(e) + " (%s)"
    return "bad answer to %s"


def _matches(entry, p):
    """True if the card's log record ``entry`` describes Pending ``p``."""
    t = clock.unbcd7(p.datetime7)
    return (entry.tx_type == p.tx_type and entry.amount == p.amount
            and entry.terminal_id == p.terminal_id
            and entry.date == caltime.date_of(t) and entry.time == t[3] * 10000 + t[4] * 100 + t[5])


def _entry(log, p):
    """The log record of the card's transaction that used Pending ``p``'s counter value."""
    load = p.tx_type == TX_LOAD
    for e in log:
        if e.atc == p.atc and (e.tx_type == TX_LOAD) == load:
            return e
    return None


def default_completion(held):
    """Completion record of a plain sale: ``purchase`` with the amount debited."""
    return "purchase", held.pending.amount


class Payments:
    def __init__(self, sam, journal):
        self.sam = sam
        self.journal = journal
        self.pending = {}  # card number -> [Held], oldest first
        self._undecided = []  # intents the card could no longer decide (this boot)

    def restore(self):
        """After boot: every unresolved intent in the journal is pending again (and
        the SAM hands out no sequence number at or below theirs)."""
        n = 0
        for r in self.journal.unresolved():
            t = caltime.civil(r.time)
            p = Pending(r.card, _serial8(r.card), r.balance, r.atc, bytes(r.random), r.amount,
                        r.tx_type, bytes(r.terminal), clock.bcd7(t), r.tseq)
            self._keep(Held(r.seq, p, r.link))
            self.sam.advance_to(r.tseq + 1)
            n += 1
        return n

    def held(self, card_no):
        """The pending transactions of ``card_no`` (a list, oldest first)."""
        return self.pending.get(card_no, ())

    def _keep(self, h):
        self.pending.setdefault(h.pending.card_no, []).append(h)

    def _drop(self, h):
        held = self.pending.get(h.pending.card_no)
        if held is not None and h in held:
            held.remove(h)
            if not held:
                del self.pending[h.pending.card_no]

    def _record(self, kind, h, amount, balance, tac):
        p = h.pending
        return self.journal.append(kind, time=caltime.secs(*clock.unbcd7(p.datetime7)),
                                   card=p.card_no, atc=p.atc, amount=amount, balance=balance,
                                   tx_type=p.tx_type, tac=tac, random=p.random,
                                   link=h.intent, tseq=p.term_seq)

    def _result(self, card, h, tac):
        p = h.pending
        return card.load_result(p, tac) if p.tx_type == TX_LOAD else card.result(p, tac)

    # -- settlement ------------------------------------------------------------------
    def settle(self, card, completion=default_completion):
        """Settle the pending transactions of the selected ``card`` (module docstring).

        ``completion(held) -> (kind, amount)`` names the record a committed one
        completes as. Returns a list of Settled (outcome COMPLETED with its
        PurchaseResult or LoadResult, UNPAID or UNDECIDED), each journaled as it
        is decided. Raises CardRefused when the card fails authentication
        (nothing is settled) or claims a transaction of this terminal it cannot
        prove (that one stays pending); link errors leave the rest pending.
        """
        todo = [h for h in self.held(card.info.card_no) if h.intent not in self._undecided]
        if not todo:
            return []
        offline, online = card.authenticate(self.sam)
        proofs = {}
        used = []  # (is a load, counter value) proven by one of the pending
        for h in todo:
            p = h.pending
            load = p.tx_type == TX_LOAD
            if (online if load else offline) > p.atc:
                proof = card.prove(p)
                if proof is not None and card.proof_is(self.sam, p, proof[0]):
                    proofs[h.intent] = proof[1]
                    used.append((load, p.atc))
        out = []
        log = None
        forged = False
        for h in todo:
            p = h.pending
            load = p.tx_type == TX_LOAD
            if h.intent in proofs:
                outcome = COMPLETED
            elif (online if load else offline) <= p.atc or (load, p.atc) in used:
                outcome = UNPAID
            else:
                if log is None:
                    log = card.read_log()
                e = _entry(log, p)
                if e is None:
                    outcome = UNDECIDED
                elif _matches(e, p):  # the card says it made p but cannot prove it
                    forged = True
                    continue
                else:
                    outcome = UNPAID
            result = None
            seq = 0
            if outcome == COMPLETED:
                result = self._result(card, h, proofs[h.intent])
                kind, amount = completion(h)
                seq = self._record(kind, h, amount, result.balance, result.tac)
            elif outcome == UNPAID:
                seq = self._record("unpaid", h, p.amount, p.balance, None)
            else:
                self._undecided.append(h.intent)
            if outcome != UNDECIDED:
                self._drop(h)
            out.append(Settled(h, outcome, result, seq))
        if forged:
            raise CardRefused("card MAC2 invalid")
        return out

    # -- new transactions ------------------------------------------------------------
    def _send(self, card, h, send, what):
        """Run ``send()`` (DEBIT or CREDIT of ``h``); keep ``h`` pending when its
        outcome is unknown, close it ``abandoned`` when the card refused it."""
        try:
            return send()
        except Exception as e:
            if card.pending is h.pending:
                card.pending = None
                self._keep(h)
                raise OutcomeUnknown(_why(e) % what)
            # a status word: the card refused it (or it was never sent); nothing changed
            self._record("abandoned", h, h.pending.amount, h.pending.balance, None)
            raise

    def charge(self, card, amount, tx_type=TX_PURCHASE, record=None, kind="purchase", link=0,
               recorded=None):
        """Debit ``amount`` fen from the selected ``card`` (``record``: (no, 48 bytes)
        written with it, composite purchases only). ``kind`` is the completion's
        journal kind, ``recorded`` its amount field (default ``amount``), ``link``
        the intent's (what the debit belongs to).

        Returns the PurchaseResult. Raises OutcomeUnknown (pending until the
        card returns), CardRefused / ApduError (the card refused; nothing was
        debited), JournalFull or SequenceError (nothing was sent).
        """
        t = clock.now()
        p = card.init_purchase(self.sam, amount, tx_type, clock.bcd7(t))
        h = Held(self.journal.append("purchase-intent", time=caltime.secs(*t),
                                     card=p.card_no, atc=p.atc, amount=amount,
                                     balance=p.balance, tx_type=tx_type, random=p.random,
                                     tseq=p.term_seq, link=link), p, link)

        def send():
            if record is not None:
                card.update_record(record[0], record[1])
            return card.debit(self.sam, p)

        result = self._send(card, h, send, "debit")
        self._record(kind, h, amount if recorded is None else recorded, result.balance,
                     result.tac)
        return result

    def load(self, card, amount, kind="load", link=0, recorded=None):
        """Load ``amount`` fen onto the selected ``card`` (CREDIT FOR LOAD); as
        ``charge``. Returns the LoadResult."""
        t = clock.now()
        p = card.init_load(self.sam, amount, clock.bcd7(t))
        h = Held(self.journal.append("load-intent", time=caltime.secs(*t), card=p.card_no,
                                     atc=p.atc, amount=amount, balance=p.balance,
                                     tx_type=TX_LOAD, random=p.random, tseq=p.term_seq,
                                     link=link), p, link)
        result = self._send(card, h, lambda: card.credit(self.sam, p), "load")
        self._record(kind, h, amount if recorded is None else recorded, result.balance,
                     result.tac)
        return result

