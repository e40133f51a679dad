"""ISO/IEC 14443-4 (ISO-DEP) link to one card through the PN532.

With fAutomaticRATS on (the PN532's default) InListPassiveTarget has already sent
RATS and returned the ATS; from then on the chip's firmware runs the block
protocol (I-blocks, block numbers, chaining to the card's FSC, R(ACK), S(WTX),
retransmissions) inside InDataExchange (UM0701 §7.3.8). So a C-APDU goes in
whole and the R-APDU (data + SW1 SW2) comes back whole.

    targets = nfc.list_passive_targets()
    link = IsoDep(nfc, targets[0])
    rapdu = link.transceive(b"\\x00\\xa4\\x04\\x00\\x07\\xa0\\x00\\x00\\x06\\x32\\x01\\x01")
    ...
    link.release()

Presence check (``present()``): Diagnose test 6 (UM0701 §7.2.1), in which the chip
sends R(NAK) and expects R(ACK) or the card's last I-block back. It elicits an
answer from a card that is there without touching its application or its block
numbering, unlike an empty I-block, which the card would hand to its application.

Once the card is found gone (CardGone from an exchange, or ``present()`` False)
or the link is released, every ``transceive`` raises CardGone without bus traffic.
"""

from ykt.errors import CardGone, CardRefused, ReaderError


class IsoDep:
    def __init__(self, pn532, target, timeout_ms=2000):
        if target.ats is None:
            raise CardRefused("not an ISO 14443-4 card (SAK %02X)" % target.sak)
        self._pn = pn532
        self.target = target
        self._timeout_ms = timeout_ms
        self._gone = False

    def transceive(self, capdu):
        """Send a C-APDU -> the R-APDU including SW1 SW2."""
        if self._gone:
            raise CardGone("card link closed")
        try:
            rapdu = self._pn.data_exchange(self.target.tg, capdu, self._timeout_ms)
        except CardGone:
            self._gone = True
            raise
        if len(rapdu) < 2:
            raise ReaderError("R-APDU of %d bytes has no status word" % len(rapdu))
        return rapdu

    def present(self):
        """Is the card still in the field and answering? (see the module docstring)"""
        if self._gone:
            return False
        if not self._pn.check_presence():
            self._gone = True
        return not self._gone

    def release(self):
        """End the session (InRelease: the chip sends S(DESELECT) to the card)."""
        self._gone = True
        self._pn.release(self.target.tg)
