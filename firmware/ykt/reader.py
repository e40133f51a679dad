"""Cards coming and going, on top of the PN532 driver.

The reader polls for type A targets (InListPassiveTarget with up to two
targets, so a second card in the field is seen and refused rather than one of
them charged at random -- DB31/T 239 allows refusing), opens an ISO-DEP link
to a single card and waits for a card to leave before serving the next tap.

MaxRetries for passive activation is set low (UM0701 §7.3.1 RFConfiguration
item 5), so each poll answers at once with the targets present; the loop sleeps
``poll_ms`` between polls.
"""

from ykt import clock
from ykt.errors import ReaderError
from ykt.isodep import IsoDep


class Reader:
    def __init__(self, pn532, poll_ms=100):
        self.pn532 = pn532
        self.poll_ms = poll_ms
        self.version = None

    def start(self):
        """Wake the chip and configure it; raises ReaderError if it does not answer."""
        self.version = self.pn532.firmware_version()
        self.pn532.sam_configuration()
        self.pn532.set_max_retries(atr=0xFF, psl=0x01, passive=0x01)

    def poll(self):
        """Targets in the field now (0, 1 or 2 of them)."""
        return self.pn532.list_passive_targets(max_targets=2, timeout_ms=500)

    def open(self, target):
        return IsoDep(self.pn532, target)

    def release(self):
        try:
            self.pn532.release(0)
        except ReaderError:
            pass

    def wait_removed(self, uid, limit_ms=None):
        """Block until no target with ``uid`` is in the field (or ``limit_ms`` passed)."""
        start = clock.ticks_ms()
        while True:
            targets = self.poll()
            if not [t for t in targets if t.uid == uid]:
                return True
            if limit_ms is not None and clock.elapsed_ms(start) >= limit_ms:
                return False
            clock.sleep_ms(self.poll_ms)
