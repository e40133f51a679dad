"""What every card-tapping terminal does around the sale itself.

Poll the reader (two cards in the field are refused and neither is charged),
select the purse, settle what the card left pending at this terminal (before
anything else: an expired or denylisted card's torn payment is still settled,
then the card is refused), check validity dates and the denylist, hand the
card to the role's ``serve()``, show and report the outcome, then wait for
the card to leave. Between taps ``idle()`` runs (installing updates, watching inputs).
Nothing a card, the reader or flash does ends the loop.
"""

from ykt import caltime, clock, report
from ykt.card.purse import MAX_BALANCE, PurseCard
from ykt.errors import ApduError, CardGone, CardRefused, ReaderError, SequenceError, YktError
from ykt.iso7816 import Iso7816
from ykt.money import yuan
from ykt.payment import COMPLETED, UNDECIDED, OutcomeUnknown, default_completion
from ykt.store.journal import JournalFull

_RETRY_READER_MS = 2000
_SALE_KINDS = (0x11, 0x20, 0x21)  # purchase, entry, exit (ykt.store.journal.KINDS)


class TapRole:
    def __init__(self, ctx, config):
        self.ctx = ctx
        self.reader = ctx.reader
        self.payments = ctx.payments
        self.ui = ctx.ui
        self.config = config
        self.repeat_ms = int(config.get("repeat_ms", 3000))
        self.max_balance = int(config.get("max_balance_fen", MAX_BALANCE))
        self._last = None  # (card number, ticks) of the last completed tap
        self.shown = None  # masked number of the card being served
        self.card = None  # the PurseCard being served
        self._warned = False  # "journal nearly full" said once

    # -- for the roles --------------------------------------------------------
    def idle_screen(self):
        return ("TAP CARD", "")

    def ready_fields(self):
        return ()

    def idle(self):
        """Called between polls while no card is in the field."""

    def wake(self):
        """A pin change that must end the reader's light sleep at once, for ``idle`` to see:
        ``(pins, high)`` (``ykt.clock.light_sleep``), or None."""
        return None

    def clock_needed(self):
        """False while the role takes a tap that does not need the wall clock (e.g. a
        staff card signing in, which is how a wrong clock gets set right)."""
        return True

    def serve(self, card, info):
        """Sell to the selected card; raise CardRefused to refuse it."""
        raise NotImplementedError

    def completion(self, held):
        """(journal kind, amount) a pending transaction of this role completes as
        when its card proves it (``Payments.settle``)."""
        return default_completion(held)

    def recovered(self, held, result, seq):
        """A pending sale was proven on the card's return: nothing more was charged."""
        report.emit("debit", ("card", self.shown), ("fen", result.amount),
                    ("balance", result.balance), ("atc", result.atc), ("recovered", True),
                    ("tac", result.tac.hex()))
        self.ui.ok("PAID " + yuan(result.amount), "BAL " + yuan(result.balance))

    def pending_again(self, fen, why):
        report.emit("pending", ("card", self.shown), ("fen", fen), ("reason", why + "; tap again"))
        self.ui.fail("TAP CARD AGAIN", "")

    def charge(self, card, info, fen, tx_type, record=None, kind="purchase", link=0,
               recorded=None):
        """Debit through ``Payments``; ``None`` if the outcome is unknown (the
        purchase is pending until the card returns), else the PurchaseResult."""
        try:
            result = self.payments.charge(card, fen, tx_type, record, kind, link, recorded)
        except OutcomeUnknown as e:
            self.pending_again(fen, str(e))
            return None
        self._last = (info.card_no, clock.ticks_ms())
        return result

    # -- the loop -------------------------------------------------------------
    def run(self):
        self._recent_sale()
        self._start_reader()
        while True:
            self.serve_one()

    def _recent_sale(self):
        """After a reboot: a sale journaled less than ``repeat_ms`` ago still guards
        against its card being charged again (the power went just after it was paid,
        before the passenger saw it)."""
        j = self.ctx.journal
        if not j.last_seq:
            return
        for r in j.records(max(1, j.last_seq - 3)):  # past this boot's records
            if (r.kind in _SALE_KINDS and r.card
                    and 0 <= clock.seconds() - r.time <= self.repeat_ms // 1000):
                self._last = (r.card, clock.ticks_ms())

    def _start_reader(self):
        while True:
            try:
                self.reader.start()
                report.emit("ready", ("reader", "PN532 %d.%d" % self.reader.version[1:3]),
                            *self.ready_fields())
                self._idle_screen()
                return
            except ReaderError as e:
                report.emit("error", ("reason", "reader not answering: %s" % e))
                self.ui.fail("READER FAULT", "SEE STAFF")
                clock.sleep_ms(_RETRY_READER_MS)

    def _idle_screen(self):
        line1, line2 = self.idle_screen()
        state = self.ctx.journal.state()
        if state.full:
            line2 = "RECORDS FULL"
        elif self.ctx.sam_fault:
            line2 = "SAM FAULT"
        elif not self.ctx.clock_ok():
            line2 = "CHECK CLOCK"
        elif state.warn:
            line2 = "UPLOAD RECORDS"
            if not self._warned:
                self._warned = True
                report.emit("warning", ("reason", "journal nearly full"), ("used", state.used),
                            ("free", state.free))
        self.ui.idle(line1, line2)

    def _wait_for_cards(self):
        return self.reader.wait_cards(self.idle, self.wake)

    def serve_one(self):
        """Serve one tap (or one refusal); returns when the field is clear again."""
        try:
            targets = self._wait_for_cards()
        except ReaderError as e:
            report.emit("error", ("reason", "reader: %s" % e))
            clock.sleep_ms(self.reader.poll_ms)
            return
        if len(targets) > 1:
            report.emit("refused", ("reason", "two cards in the field"))
            self.ui.fail("ONE CARD ONLY", "PLEASE")
            self._settle(None)
            return
        uid = targets[0].uid
        self.shown = None
        try:
            self._tap(self.reader.open(targets[0]))
        except OutcomeUnknown as e:  # a give-back's load, or anything a role lets through
            self.pending_again(0, str(e))
        except CardGone:
            report.emit("error", ("card", self.shown), ("reason", "card removed too early"))
            self.ui.fail("TAP AGAIN", "HOLD CARD STILL")
        except CardRefused as e:
            report.emit("refused", ("card", self.shown), ("reason", str(e)))
            self.ui.fail("REFUSED", str(e)[:20])
        except ApduError as e:
            report.emit("refused", ("card", self.shown), ("reason", "card error %04X" % e.sw))
            self.ui.fail("CARD ERROR", "%04X" % e.sw)
        except ReaderError as e:
            report.emit("error", ("reason", "reader: %s" % e))
            self.ui.fail("READ ERROR", "TAP AGAIN")
        except JournalFull as e:
            report.emit("refused", ("card", self.shown), ("reason", str(e)))
            self.ui.fail("RECORDS FULL", "SALES STOPPED")
        except SequenceError as e:  # nothing was charged; each sale tries again
            report.emit("refused", ("card", self.shown), ("reason", str(e)))
            self.ui.fail("SAM FAULT", "SALES STOPPED")
        except YktError as e:
            report.emit("error", ("card", self.shown), ("reason", str(e)))
            self.ui.fail("ERROR", str(e)[:20])
        self._settle(uid)

    def _settle(self, uid):
        """Release the card and wait until it (or every card) has left."""
        self.reader.release()
        try:
            self.reader.wait_removed(uid)
        except ReaderError:
            pass
        self._idle_screen()

    def _check_card(self, info):
        if self.ctx.clock_ok():  # (a wrong clock cannot judge dates: see clock_needed)
            today = caltime.date_of(clock.now())
            if today < info.start:
                raise CardRefused("card not yet valid")
            if today > info.end:
                raise CardRefused("card expired")
        self.ctx.check_denylist(info.card_no)

    def _settle_pending(self, card, info):
        """Settle what ``card`` left pending here; the proven ones (Settled)."""
        paid = []
        for s in self.payments.settle(card, self.completion):
            if s.outcome == COMPLETED:
                paid.append(s)
            elif s.outcome == UNDECIDED:
                report.emit("warning", ("card", self.shown), ("reason", "pending payment "
                            "undecidable on the card: left for the back office"))
        return paid

    def _tap(self, link):
        card = PurseCard(Iso7816(link), self.max_balance)
        self.card = card
        info = card.select()
        self.shown = report.mask(info.card_no)
        report.emit("read", ("card", self.shown), ("category", info.category))
        if self.clock_needed() and not self.ctx.clock_ok():  # validity, fares, records
            raise CardRefused("clock not set")
        paid = self._settle_pending(card, info) if self.payments.held(info.card_no) else ()
        try:
            self._check_card(info)
        except CardRefused:
            for s in paid:  # settled (and journaled) all the same
                report.emit("settled", ("card", self.shown), ("fen", s.result.amount),
                            ("balance", s.result.balance))
            raise
        if paid:
            self._last = (info.card_no, clock.ticks_ms())
            for s in paid:
                self.recovered(s.held, s.result, s.seq)
            return
        last = self._last
        if (last and last[0] == info.card_no and clock.elapsed_ms(last[1]) < self.repeat_ms
                and not self.payments.held(info.card_no)):
            raise CardRefused("already paid")
        self.serve(card, info)
