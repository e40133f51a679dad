"""The minimal terminal: every tap pays one configured fare.

Used as a canteen fixed-price POS and as a flat-fare bus/ferry validator
until the richer roles exist. One tap: poll, refuse two cards, select the
purse, check validity dates, charge (with anti-tearing), record, show the
outcome, wait for the card to leave. Nothing a card or the reader does can
end the loop.
"""

from ykt import clock, report
from ykt.card.purse import PurseCard
from ykt.errors import ApduError, CardGone, CardRefused, ReaderError, YktError
from ykt.iso7816 import Iso7816
from ykt.money import yuan

_RETRY_READER_MS = 2000


class FixedFareTerminal:
    def __init__(self, reader, payments, ui, config):
        self.reader = reader
        self.payments = payments
        self.ui = ui
        fare = config.get("fare_fen")
        if not isinstance(fare, int) or isinstance(fare, bool) or fare < 0:
            raise ValueError("config: 'fare_fen' must be a whole number of fen >= 0")
        self.fare = fare
        self.label = config.get("label", "TAP CARD")
        self.repeat_ms = int(config.get("repeat_ms", 3000))
        self._last = None  # (card number, ticks) of the last paid tap
        self._shown = None  # masked number of the card being served

    def run(self):
        self._start_reader()
        while True:
            self.serve_one()

    def _start_reader(self):
        while True:
            try:
                self.reader.start()
                report.emit("ready", ("reader", "PN532 %d.%d" % self.reader.version[1:3]),
                            ("fare", self.fare))
                self.ui.idle(self.label, yuan(self.fare))
                return
            except ReaderError as e:
                report.emit("error", ("reason", "reader not answering: %s" % e))
                self.ui.fail("READER FAULT", "SEE STAFF")
                clock.sleep_ms(_RETRY_READER_MS)

    def serve_one(self):
        """Serve one tap (or one refusal); returns when the field is clear again."""
        try:
            targets = self.reader.wait_for_cards()
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
        try:
            self._pay(self.reader.open(targets[0]))
        except CardGone:
            report.emit("error", ("reason", "card removed too early"))
            self.ui.fail("TAP AGAIN", "HOLD CARD STILL")
        except CardRefused as e:
            report.emit("refused", ("card", self._shown), ("reason", str(e)))
            self.ui.fail("REFUSED", str(e)[:20])
        except ApduError as e:
            report.emit("refused", ("card", self._shown), ("reason", "card error %04X" % e.sw))
            self.ui.fail("CARD ERROR", "%04X" % e.sw)
        except ReaderError as e:
            report.emit("error", ("reason", "reader: %s" % e))
            self.ui.fail("READ ERROR", "TAP AGAIN")
        except YktError as e:
            report.emit("error", ("card", self._shown), ("reason", str(e)))
            self.ui.fail("ERROR", "TAP AGAIN")
        self._settle(uid)

    def _settle(self, uid):
        """Release the card and wait until it (or every card) has left."""
        self.reader.release()
        try:
            if uid is None:
                while self.reader.poll():
                    clock.sleep_ms(self.reader.poll_ms)
            else:
                self.reader.wait_removed(uid)
        except ReaderError:
            pass
        self.ui.idle(self.label, yuan(self.fare))

    def _pay(self, link):
        self._shown = None
        card = PurseCard(Iso7816(link))
        info = card.select()
        self._shown = report.mask(info.card_no)
        report.emit("read", ("card", self._shown), ("category", info.category))
        y, m, d = clock.now()[:3]
        today = y * 10000 + m * 100 + d
        if today < info.start:
            raise CardRefused("card not yet valid")
        if today > info.end:
            raise CardRefused("card expired")
        last = self._last
        if last and last[0] == info.card_no and clock.elapsed_ms(last[1]) < self.repeat_ms:
            if info.card_no not in self.payments.pending:
                report.emit("refused", ("card", self._shown), ("reason", "already paid"))
                self.ui.fail("ALREADY PAID", "")
                return
        try:
            result, recovered = self.payments.charge(card, self.fare)
        except CardGone:
            if info.card_no in self.payments.pending:
                report.emit("pending", ("card", self._shown), ("fen", self.fare),
                            ("reason", "card left during debit; tap again"))
                self.ui.fail("TAP CARD AGAIN", "")
                return
            raise
        self._last = (info.card_no, clock.ticks_ms())
        report.emit("debit", ("card", self._shown), ("fen", result.amount),
                    ("balance", result.balance), ("atc", result.atc),
                    ("recovered", recovered), ("tac", result.tac.hex()))
        self.ui.ok("PAID " + yuan(result.amount), "BAL " + yuan(result.balance))
