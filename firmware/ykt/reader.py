"""Cards coming and going, on top of the PN532 driver.

The reader looks for type A targets (InListPassiveTarget with up to two
targets, so a second card in the field is seen and refused rather than one of
them charged at random -- DB31/T 239 allows refusing), opens an ISO-DEP link
to a single card and waits for a card to leave before serving the next tap.

Two ways to wait (board option ``nfc.wait``):

* ``poll`` (the default): MaxRetries for passive activation is set low (UM0701
  §7.3.1 RFConfiguration item 5), so each poll answers at once with the targets
  present; the loop sleeps ``poll_ms`` between polls.
* ``irq``: MaxRetries 0xFF, so one InListPassiveTarget waits in the chip until a
  card arrives and the chip's IRQ line falls; the ESP32 light-sleeps until then
  (``ykt.clock.light_sleep``), waking every ``idle_ms`` or when the role's own
  wake-up pin changes (the fire alarm) to run ``idle``. A card still in the field
  answers such a poll within ``_ANSWER_MS``; one that does not is gone, and the
  poll is left waiting for the next card.
"""

from micropython import const

from ykt import clock
from ykt.errors import ReaderError
from ykt.isodep import IsoDep

_ANSWER_MS = const(50)  # a card in the field answers InListPassiveTarget within this


class Reader:
    def __init__(self, pn532, poll_ms=100, idle_ms=1000):
        self.pn532 = pn532
        self.poll_ms = poll_ms
        self.idle_ms = idle_ms  # irq: longest light sleep between two idle() calls
        self.version = None
        self._listing = False  # irq: an InListPassiveTarget is waiting for a card
        self._held = False  # irq: the card served is still selected (released once gone)

    @property
    def dozes(self):
        return self.pn532.dozes

    def start(self):
        """Wake the chip and configure it; raises ReaderError if it does not answer."""
        self._listing = self._held = False
        self.version = self.pn532.firmware_version()
        self.pn532.sam_configuration()
        self.pn532.set_max_retries(atr=0xFF, psl=0x01, passive=0xFF if self.dozes else 0x01)

    def poll(self):
        """Targets in the field now (0, 1 or 2 of them)."""
        if not self.dozes:
            return self.pn532.list_passive_targets(max_targets=2, timeout_ms=500)
        targets = self._listen(_ANSWER_MS)
        if targets is None:
            self._listing = False
            self.pn532.abort()
            return []
        return targets

    def wait_cards(self, idle, wake):
        """Block until a card (or two) is in the field -> the targets, calling ``idle()``
        between polls (poll) or each time the light sleep ends without a card (irq: after
        ``idle_ms``, or when ``wake()``'s ``(pins, high)`` holds)."""
        if not self.dozes:
            while True:
                targets = self.poll()
                if targets:
                    return targets
                idle()
                clock.sleep_ms(self.poll_ms)
        while True:
            targets = self._listen(self.idle_ms, wake())
            if targets:
                return targets
            idle()

    def _listen(self, ms, wake=None):
        """irq: the targets a waiting InListPassiveTarget found within ``ms``; None if none
        came (the command is left waiting)."""
        try:
            if self._held:
                self.release()
            if not self._listing:
                self.pn532.start_list(max_targets=2)
                self._listing = True
            if not self.pn532.doze(ms, wake):
                return None
            self._listing = False
            return self.pn532.targets_found()
        except ReaderError:
            self._listing = False
            raise

    def open(self, target):
        return IsoDep(self.pn532, target)

    def release(self):
        """End the session with the card (irq: once it has left, see ``wait_removed``)."""
        if self.dozes and not self._held:
            self._held = True  # released when it is gone: the presence check needs it
            return
        self._held = False
        try:
            self.pn532.release(0)
        except ReaderError:
            pass

    def wait_removed(self, uid=None, limit_ms=None):
        """Block until no target with ``uid`` (None: no target at all) is in the field (or
        ``limit_ms`` passed, -> False). irq: the card just served is watched with the
        PN532's presence check (one R(NAK) on the air, not a new activation) until it is
        gone, then released."""
        start = clock.ticks_ms()
        if self._held:
            while self.pn532.check_presence(_ANSWER_MS):
                if limit_ms is not None and clock.elapsed_ms(start) >= limit_ms:
                    return False
                clock.sleep_ms(self.poll_ms)
            self.release()
            if uid is not None:
                return True
        while True:
            if self.dozes:
                targets = self._listen(self.poll_ms)
                if targets is None:  # nobody answered: the field is clear
                    return True
            else:
                targets = self.poll()
            if not [t for t in targets if uid is None or t.uid == uid]:
                return True
            if limit_ms is not None and clock.elapsed_ms(start) >= limit_ms:
                return False
            clock.sleep_ms(self.poll_ms)
