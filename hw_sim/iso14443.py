"""ISO/IEC 14443 type A contactless cards and the reader's RF field.

A ``Card14443`` models layer 3 (ISO 14443-3 §6: REQA/WUPA, anticollision,
SELECT cascade, HLTA) and, through ``hw_sim.iso14443_4.IsoDepPicc``, layer 4
(ISO 14443-4 §5 RATS/ATS and §7 the block protocol). Readers talk to it one
air frame at a time::

    field = Field()
    card = Card14443(bytes.fromhex("04112233445566"), app)
    field.place(card)
    card.transceive_frame(b"\\x26", last_bits=7)     # REQA -> ATQA b"\\x44\\x00"

Frames are exactly what travels on the air: CRC_A is included wherever
ISO 14443-3 §6.2.4 requires it (SELECT, HLTA, RATS, every block) and checked;
a frame with a bad CRC, or one the card does not expect, gets no answer
(``None``), as a real card stays silent. ATQA and the anticollision answer
carry no CRC. Multi-byte values travel LSB first, so the ATQA a card sends is
``atqa[::-1]`` when ``atqa`` is written MSB first (PN532 SENS_RES order).
"""

import collections

from hw_sim.iso14443_4 import IsoDepPicc, check_crc, crc_a

__all__ = ["crc_a", "check_crc", "Field", "Card14443"]

REQA = 0x26
WUPA = 0x52
SEL_CODES = (0x93, 0x95, 0x97)
CASCADE_TAG = 0x88
SAK_CASCADE = 0x04
SAK_ISO_DEP = 0x20
HLTA = b"\x50\x00"
FDT_L3_US = 86  # ISO 14443-3 §6.2.1.1: 1172/fc, the card's layer-3 answer delay

OFF, IDLE, READY, ACTIVE, HALT, PROTOCOL = (
    "OFF", "IDLE", "READY", "ACTIVE", "HALT", "PROTOCOL")


TRACE_FRAMES = 512  # frames a card remembers (bounded: simulated days are long)


class Field:
    """The reader's RF field: the cards in range and whether it is energised.

    ``listeners`` are called as ``fn(event, card)`` with ``"place"`` /
    ``"remove"`` after the change (the PN532 model uses this to answer a
    pending InListPassiveTarget when a card arrives).
    """

    def __init__(self):
        self.cards = []
        self.rf_on = True
        self.listeners = []

    def place(self, card):
        if card.field is not None:
            card.field.remove(card)
        self.cards.append(card)
        card.entered(self)
        self._notify("place", card)

    def remove(self, card):
        if card in self.cards:
            self.cards.remove(card)
            card.left()
            self._notify("remove", card)

    def clear(self):
        for card in list(self.cards):
            self.remove(card)

    def set_rf(self, on):
        """Switch the carrier; cards lose power (and state) when it drops."""
        on = bool(on)
        if on == self.rf_on:
            return
        self.rf_on = on
        for card in list(self.cards):
            card.power_on() if on else card.power_off()

    def _notify(self, event, card):
        for fn in list(self.listeners):
            fn(event, card)


def _atqa_for(uid_len):
    # ISO 14443-3 §6.3.2: ATQA b8b7 = UID size (single/double/triple); b3 set
    # (bit-frame anticollision). MSB first: 0x0004, 0x0044, 0x0084.
    return {4: b"\x00\x04", 7: b"\x00\x44", 10: b"\x00\x84"}[uid_len]


def cascade_levels(uid):
    """UID -> the 4-byte UID CLn of each cascade level (ISO 14443-3 §6.4.4)."""
    if len(uid) == 4:
        return [bytes(uid)]
    if len(uid) == 7:
        return [bytes([CASCADE_TAG]) + uid[:3], bytes(uid[3:])]
    if len(uid) == 10:
        return [bytes([CASCADE_TAG]) + uid[:3], bytes([CASCADE_TAG]) + uid[3:6],
                bytes(uid[6:])]
    raise ValueError("UID must be 4, 7 or 10 bytes")


def bcc(cl):
    return cl[0] ^ cl[1] ^ cl[2] ^ cl[3]


class Card14443:
    """A contactless CPU card (ISO 14443-3 type A + ISO 14443-4).

    ``app.process(apdu) -> rapdu`` runs each complete C-APDU;
    ``app.power_on()``, if defined, runs whenever the card gets power (placed
    in an energised field, or the field comes back on).

    APDUs are counted from placement (``apdu_count``). ``remove_after_apdu=n``:
    the card answers APDU n (all blocks of it) and then leaves its field.
    ``tear_at_apdu=n``: ``app.process`` runs for APDU n, the answer is lost
    and the card leaves. ``wtx_rounds``: S(WTX) requests sent before each
    answer. ``apdu_us``: the application's processing time.
    ``trace`` keeps the last TRACE_FRAMES entries of
    ``(">", frame)`` / ``("<", answer)`` for every frame the card received
    (the answer as the card sent it, before any fault on the air).

    Faults on the air for the answer of APDU n (``app.process`` always runs:
    the card may commit, and it stays in the field):

    * ``garble_at_apdu=n``: every block of the answer is damaged on the air
      (one bit flipped, so its CRC_A fails), the first time and each time the
      reader asks for it again (R(NAK), presence check), until the card gets
      its next APDU, is deselected or loses power. A reader's ISO-DEP recovery
      cannot get it; the PN532 reports a CRC error (status 0x02).
    * ``drop_at_apdu=n``: the same, but the answer never arrives (the reader
      hears silence: status 0x01, time-out).
    * ``delay_at_apdu=n`` with ``delay_us``: the first frame of the answer
      comes ``delay_us`` later than usual. The reader decides whether it
      still listens (``hw_sim.pn532_rf``: an answer after the frame waiting
      time is missed, and the card, busy, misses what the reader sends
      meanwhile).
    """

    def __init__(self, uid, app, *, atqa=None, sak=SAK_ISO_DEP,
                 ats=bytes.fromhex("0578807002")):
        self.uid = bytes(uid)
        self._levels = cascade_levels(self.uid)
        if atqa is None:
            atqa = _atqa_for(len(self.uid))
        elif isinstance(atqa, int):
            atqa = atqa.to_bytes(2, "big")
        self.atqa = bytes(atqa)
        self.sak = sak
        self.ats = bytes(ats)
        self.app = app
        self.field = None
        self.state = OFF
        self.apdu_count = 0
        self.remove_after_apdu = None
        self.tear_at_apdu = None
        self.garble_at_apdu = None
        self.drop_at_apdu = None
        self.delay_at_apdu = None
        self.delay_us = 0
        self.late = None  # (answer, virtual time) of an answer the reader has not heard yet
        self.wtx_rounds = 0
        self.apdu_us = 2000
        self.last_delay_us = 0
        self._spoil = None  # "garble" / "drop": what the air does to this APDU's answer
        self._extra_us = 0  # delay added to the next frame the card sends
        self.trace = collections.deque(maxlen=TRACE_FRAMES)
        self._level = 0
        self._from_halt = False
        self.picc = IsoDepPicc(self)

    # -- field membership and power ---------------------------------------
    def entered(self, field):
        self.field = field
        self.apdu_count = 0
        if field.rf_on:
            self.power_on()

    def left(self):
        self.field = None
        self.power_off()

    def leave(self):
        """Leave the field the card is in (remove_after_apdu / tear_at_apdu)."""
        if self.field is not None:
            self.field.remove(self)

    def power_on(self):
        self.state = IDLE
        self._level = 0
        self._from_halt = False
        self._quiet()
        power_on = getattr(self.app, "power_on", None)
        if power_on is not None:
            power_on()

    def power_off(self):
        self.state = OFF
        self._quiet()

    def _quiet(self):
        """Power came or went: no answer in flight, no fault pending on one."""
        self._spoil = None
        self._extra_us = 0
        self.late = None

    # -- the air interface ---------------------------------------------------
    def transceive_frame(self, frame, last_bits=8):
        """Receive one PCD frame; return the answer frame or ``None`` (silence).

        ``last_bits`` is the number of valid bits in the last byte (7 for the
        REQA/WUPA short frame, ISO 14443-3 §6.2.3.1).
        """
        frame = bytes(frame)
        self.last_delay_us = FDT_L3_US
        answer = self._dispatch(frame, last_bits) if self.state != OFF else None
        self.trace.append((">", frame))
        self.trace.append(("<", answer))
        if answer is None:
            return None
        if self._extra_us:
            self.last_delay_us += self._extra_us
            self._extra_us = 0
        return self._on_air(answer)

    def _on_air(self, answer):
        """What the reader receives of an answer while a garble/drop fault is on."""
        if self._spoil is None or self.state != PROTOCOL or answer[0] & 0xE2 != 0x02:
            return answer  # only I-blocks (the APDU's answer) are hit
        if self._spoil == "drop":
            return None
        damaged = bytearray(answer)
        damaged[len(damaged) // 2] ^= 0x10  # one bit: CRC_A catches it
        return bytes(damaged)

    def _dispatch(self, frame, last_bits):
        if len(frame) == 1 and last_bits == 7 and frame[0] in (REQA, WUPA):
            return self._request(frame[0])
        if self.state == READY:
            return self._ready(frame, last_bits)
        if self.state == ACTIVE:
            return self._active(frame)
        if self.state == PROTOCOL:
            return self.picc.receive(frame)
        return None

    def _back_off(self):
        # ISO 14443-3 §6.3: an unexpected frame sends READY/ACTIVE back to
        # IDLE, or to HALT when the card was woken from HALT.
        self.state = HALT if self._from_halt else IDLE
        return None

    def _request(self, cmd):
        if self.state in (IDLE, READY) or (self.state == HALT and cmd == WUPA):
            if self.state != READY:
                self._from_halt = self.state == HALT
            self.state = READY
            self._level = 0
            return self.atqa[::-1]
        if self.state == ACTIVE:
            return self._back_off()
        return None  # HALT ignores REQA; PROTOCOL ignores layer-3 frames

    def _ready(self, frame, last_bits):
        if len(frame) < 2 or frame[0] != SEL_CODES[self._level]:
            return self._back_off()
        cl = self._levels[self._level]
        full = cl + bytes([bcc(cl)])
        nvb = frame[1]
        if nvb == 0x70:
            if len(frame) != 9 or not check_crc(frame) or frame[2:7] != full:
                return self._back_off()
            return self._selected()
        return self._anticollision(frame, nvb, full)

    def _anticollision(self, frame, nvb, full):
        # ISO 14443-3 §6.4.3: NVB high nibble = whole bytes sent (incl. SEL and
        # NVB), low nibble = extra bits. Cards whose UID CLn starts with those
        # bits answer the rest; the first answer byte keeps bit positions
        # (its already-known low bits are zero).
        nbytes, nbits = (nvb >> 4) - 2, nvb & 0x0F
        known = nbytes * 8 + nbits
        if nbytes < 0 or nbits > 7 or known >= 40:
            return self._back_off()
        sent = frame[2:2 + nbytes + (1 if nbits else 0)]
        mask = (1 << known) - 1
        if int.from_bytes(sent, "little") & mask != int.from_bytes(full, "little") & mask:
            return None  # not this card: stay READY and silent
        rest = bytearray(full[nbytes:])
        rest[0] &= (0xFF << nbits) & 0xFF
        return bytes(rest)

    def _selected(self):
        if self._level + 1 < len(self._levels):
            self._level += 1
            return self._with_crc(bytes([SAK_CASCADE]))
        self.state = ACTIVE
        return self._with_crc(bytes([self.sak]))

    def _active(self, frame):
        if not check_crc(frame):
            return None
        body = frame[:-2]
        if body == HLTA:
            self.state = HALT
            self._from_halt = False
            return None
        if len(body) == 2 and body[0] == 0xE0 and self.sak & SAK_ISO_DEP:
            ats = self.picc.activate(body[1])
            if ats is None:
                return None
            self.state = PROTOCOL
            return ats
        return self._back_off()

    @staticmethod
    def _with_crc(data):
        return data + crc_a(data)

    # -- hooks used by the layer-4 engine --------------------------------------
    def deselected(self):
        self.state = HALT
        self._from_halt = False
        self._spoil = None

    def run_apdu(self, apdu):
        """Count and run one C-APDU; ``None`` when the answer is torn away."""
        self.apdu_count += 1
        self._spoil = None
        rapdu = bytes(self.app.process(bytes(apdu)))
        n = self.apdu_count
        if self.tear_at_apdu == n:
            self.leave()
            return None
        if self.garble_at_apdu == n:
            self._spoil = "garble"
        elif self.drop_at_apdu == n:
            self._spoil = "drop"
        if self.delay_at_apdu == n:
            self._extra_us = self.delay_us
        return rapdu

    def answered_last_block(self):
        """The last block of an APDU's answer went out."""
        if self.remove_after_apdu == self.apdu_count:
            self.leave()

    def __repr__(self):
        return "Card14443(uid=%s, state=%s)" % (self.uid.hex(), self.state)
