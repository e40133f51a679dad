"""ISO/IEC 14443-4 (ISO-DEP) on the card side, plus CRC_A and ATS parsing.

``IsoDepPicc`` is the PICC half of the half-duplex block protocol
(ISO 14443-4 §7): I-blocks with block numbers and chaining both ways, R(ACK)
and R(NAK), S(DESELECT) and S(WTX), CID addressing. ``Card14443`` owns one
and hands it every frame once RATS has put the card in the PROTOCOL state.

PICC rules implemented (§7.5.4.2): the block number starts at 1 and toggles
on every I-block received and on an R(ACK) that continues chaining; an R
block carrying the current block number makes the card resend its last block;
an R(NAK) with the other number is answered with R(ACK). Invalid blocks, bad
CRCs, blocks for another CID and frames larger than the card's FSC are
ignored (the card stays silent).
"""

import binascii

FS_TABLE = (16, 24, 32, 40, 48, 64, 96, 128, 256)  # §5.2.3 FSDI/FSCI -> bytes
BLOCK_US = 300  # card answer delay for blocks that run no APDU (model choice)


_REVERSE = bytes(int("{:08b}".format(i)[::-1], 2) for i in range(256))


def crc_a(data):
    """CRC_A of ISO 14443-3 Annex B: poly 0x8408 reflected, preset 0x6363.

    Returns the two CRC bytes in transmission order (LSB first). Computed as the unreflected
    CRC-CCITT (``binascii.crc_hqx``, poly 0x1021) of the bit-reversed bytes from the reversed
    preset 0xC6C6, reversed back: the same value (tests/test_iso14443_model.py holds it to
    the standard's examples and to the bitwise definition).
    """
    crc = binascii.crc_hqx(bytes(data).translate(_REVERSE), 0xC6C6)
    return bytes((_REVERSE[crc >> 8], _REVERSE[crc & 0xFF]))


def check_crc(frame):
    """True when ``frame`` ends with the correct CRC_A of what precedes it."""
    return len(frame) >= 3 and crc_a(frame[:-2]) == frame[-2:]


def frame_size(code):
    """FSDI/FSCI -> frame size in bytes (codes above 8 treated as 256)."""
    return FS_TABLE[code] if code < len(FS_TABLE) else 256


def ats_params(ats):
    """ATS (TL first, no CRC) -> ``(fsc, fwi, cid_supported)`` (§5.2).

    Absent T0 means FSCI 2; absent TB1 means FWI 4; TC1 bit 0x02 = CID.
    """
    if len(ats) < 2:
        return frame_size(2), 4, False
    t0, i = ats[1], 2
    fwi, cid_ok = 4, False
    if t0 & 0x10:
        i += 1
    if t0 & 0x20 and i < len(ats):
        fwi = ats[i] >> 4
        i += 1
    if t0 & 0x40 and i < len(ats):
        cid_ok = bool(ats[i] & 0x02)
    return frame_size(t0 & 0x0F), fwi, cid_ok


class IsoDepPicc:
    """Block protocol state of one card (reset by every RATS)."""

    def __init__(self, card):
        self.card = card
        self.reset()

    def reset(self):
        self.cid = 0
        self.cid_ok = False
        self.fsd = 256
        self.fsc = 256
        self.bn = 1
        self._rx = bytearray()
        self._tx = b""
        self._chaining = False
        self._last = None
        self._use_cid = False
        self._wtx_left = 0

    # -- activation (§5.6) ------------------------------------------------------
    def activate(self, param):
        """RATS parameter byte -> ATS frame with CRC (None for CID 15)."""
        if param & 0x0F == 0x0F:
            return None
        self.reset()
        self.fsd = frame_size(param >> 4)
        self.fsc, _, self.cid_ok = ats_params(self.card.ats)
        self.cid = param & 0x0F if self.cid_ok else 0
        return self.card.ats + crc_a(self.card.ats)

    # -- block reception --------------------------------------------------------
    def receive(self, frame):
        if len(frame) > self.fsc or not check_crc(frame):
            return None
        body = frame[:-2]
        pcb, i = body[0], 1
        if pcb & 0xF0 == 0xD0:  # PPS (§5.6.3): 106 kbit/s only, just confirm
            ppss = bytes([pcb])
            return ppss + crc_a(ppss) if pcb & 0x0F == self.cid else None
        has_cid = bool(pcb & 0x08)
        if has_cid:
            if not self.cid_ok or len(body) < 2 or body[1] & 0x0F != self.cid:
                return None
            i = 2
        elif self.cid != 0:
            return None  # §7.1.1.2: a PICC with CID != 0 ignores blocks without CID
        self._use_cid = has_cid
        if pcb & 0xE2 == 0x02:
            if pcb & 0x04:
                i += 1  # NAD: accepted and dropped
            return self._i_block(pcb, body[i:])
        if pcb & 0xE6 == 0xA2:
            return self._r_block(pcb)
        if pcb & 0xC7 == 0xC2:
            return self._s_block(pcb, body[i:])
        return None

    def _i_block(self, pcb, inf):
        self.bn ^= 1
        self._tx, self._chaining = b"", False
        if pcb & 0x10:
            self._rx += inf
            self.card.last_delay_us = BLOCK_US
            return self._send(0xA2 | self.bn, b"")
        apdu, self._rx = bytes(self._rx + inf), bytearray()
        rapdu = self.card.run_apdu(apdu)
        if rapdu is None:
            return None
        self._tx = rapdu
        if self.card.wtx_rounds:
            self._wtx_left = self.card.wtx_rounds
            self.card.last_delay_us = BLOCK_US
            return self._send(0xF2, b"\x01")
        self.card.last_delay_us = self.card.apdu_us
        return self._next_part()

    def _r_block(self, pcb):
        self.card.last_delay_us = BLOCK_US
        if pcb & 0x01 == self.bn:
            return self._last
        if pcb & 0x10:
            return self._send(0xA2 | self.bn, b"")
        if self._chaining:
            self.bn ^= 1
            return self._next_part()
        return None

    def _s_block(self, pcb, inf):
        self.card.last_delay_us = BLOCK_US
        if pcb & 0x30 == 0x00:
            answer = self._send(0xC2, b"")
            self.card.deselected()
            return answer
        if pcb & 0x30 == 0x30 and self._wtx_left and len(inf) == 1:
            self._wtx_left -= 1
            if self._wtx_left:
                return self._send(0xF2, b"\x01")
            self.card.last_delay_us = self.card.apdu_us
            return self._next_part()
        return None

    # -- transmission -----------------------------------------------------------
    def _next_part(self):
        room = self.fsd - 3 - (1 if self._use_cid else 0)
        part, self._tx = self._tx[:room], self._tx[room:]
        self._chaining = bool(self._tx)
        block = self._send(0x02 | self.bn | (0x10 if self._chaining else 0), part)
        if not self._chaining:
            self.card.answered_last_block()
        return block

    def _send(self, pcb, inf):
        head = bytes([pcb | 0x08, self.cid]) if self._use_cid else bytes([pcb])
        block = head + bytes(inf)
        self._last = block + crc_a(block)
        return self._last
