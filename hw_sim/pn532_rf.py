"""The PN532's contactless initiator: 106 kbit/s type A over a ``Field``.

Every frame is broadcast to all powered cards in the field; the cards decide
whether to answer (state, UID, CID), as on air. Used by the chip core for
InListPassiveTarget (UM0701 §7.3.5), InDataExchange (§7.3.8),
InCommunicateThru (§7.3.9), InDeselect/InRelease/InSelect (§7.3.10-12).

Model choices (documented because UM0701 leaves them open):

* Polling sends REQA. If a target was activated since the field was last
  switched on, a poll first cycles the field (RF reset), so a card that is
  still lying on the reader is found again, as the PN532 does.
* Two cards answering: bit-oriented anticollision (ISO 14443-3 §6.4.3),
  choosing bit 1 at every collision; MaxTg=1 lists that one card.
* MaxTg=2: target n gets CID n-1 in its RATS. Targets that cannot share the
  field (layer-3 only, or no CID to tell them apart) are parked in HALT
  (HLTA / S(DESELECT)) and woken with WUPA + SELECT (+ RATS) when addressed.
* ISO-DEP: RATS FSDI 8 (FSD 256); I-blocks split to the card's FSC; a
  time-out or bad CRC is retried twice with R(NAK) (R(ACK) while the card is
  chaining), then reported as status 0x01 (0x02 for a CRC error).
* Late answers: a card whose answer delay exceeds the time the reader waits
  for it (FWT, the layer-3 and ATS time-outs, InCommunicateThru's time-out)
  is not heard in that window. The card is still busy: it does not hear the
  frames the reader sends until its answer is out; the answer is heard if it
  comes out within a later waiting window (after the reader's R(NAK), or
  even as the answer to the reader's next command: a stale answer), and is
  lost if it comes out while the reader is sending or not listening. Time
  is virtual: ``t0`` is the time the chip started the current command.
"""

from hw_sim.iso14443 import HLTA, REQA, SEL_CODES, WUPA, bcc, cascade_levels
from hw_sim.iso14443_4 import check_crc, crc_a
from hw_sim.pn532_isodep import (
    ERR_COLLISION,
    ERR_CONTEXT,
    ERR_CRC,
    ERR_TIMEOUT,
    RfError,
    Target,
    block,
    iso_dep_exchange,
    parse_block,
)

US_PER_BYTE = 85        # 8 data bits + parity at 106 kbit/s (9 x 9.44 us)
POLL_MISS_US = 1000     # one REQA round nobody answers
L3_TIMEOUT_US = 1000    # SELECT / anticollision / HLTA without answer
ATS_TIMEOUT_US = 4833   # ISO 14443-4 §5.7: FWT during activation, 65536/fc
RF_ON_US = 2000         # carrier switched on, guard time before REQA
RF_RESET_US = 3000      # carrier off then on again
RATS_FSDI = 8


def _coexist(a, b):
    return a.iso_dep and b.iso_dep and (a.uses_cid or b.uses_cid)


class Initiator:
    """The RF half of the chip: targets, activation, data exchange."""

    def __init__(self, field):
        self.field = field
        self.targets = {}
        self.auto_rats = True
        self.thru_timeout_idx = 0x0A
        self.fifo = 0x00   # what CIU_FIFOData (0x6339) reads back
        self.us = 0        # air time charged to the current command
        self.current = None  # the target addressed last (Diagnose 0x06 checks it)
        self.t0 = 0        # virtual time the current command started (set by the chip)
        self._used = False

    # -- air ----------------------------------------------------------------------
    def air(self, frame, timeout_us, bits=8):
        """Send one frame to every powered card; return the list of answers."""
        self.us += US_PER_BYTE * len(frame)
        sent = self.t0 + self.us  # the frame has gone out
        answers, delay = [], 0
        if self.field.rf_on:
            for card in list(self.field.cards):
                late = getattr(card, "late", None)
                if late is not None:
                    card.late = None
                    answer, at = late
                    if at < sent:  # it came out while the reader sent or did not listen
                        continue   # lost, and the card was too busy to hear this frame
                    wait = at - sent
                else:
                    answer = card.transceive_frame(frame, bits)
                    if answer is None:
                        continue
                    wait = card.last_delay_us
                if timeout_us and wait > timeout_us:
                    card.late = (answer, sent + wait)  # not heard in this window
                    continue
                answers.append(answer)
                delay = max(delay, wait)
        if answers:
            self.us += delay + US_PER_BYTE * max(len(a) for a in answers)
        else:
            self.us += timeout_us
        return answers

    def _air1(self, body, timeout_us, crc=True, bits=8):
        answers = self.air(body + crc_a(body) if crc else body, timeout_us, bits)
        if not answers:
            raise RfError(ERR_TIMEOUT)
        if len(set(answers)) > 1:
            raise RfError(ERR_COLLISION)
        answer = answers[0]
        if crc:
            if not check_crc(answer):
                raise RfError(ERR_CRC)
            answer = answer[:-2]
        return answer

    def rf_switch(self, on):
        if on and not self.field.rf_on:
            self.us += RF_ON_US
        if not on:
            self.targets.clear()
            self._used = False
        self.field.set_rf(on)

    # -- activation -----------------------------------------------------------------
    def poll(self, max_tg, uid=None):
        """One activation attempt for up to ``max_tg`` targets; returns them."""
        self.targets.clear()
        if not self.field.rf_on:
            self.rf_switch(True)
        elif self._used:
            self.field.set_rf(False)
            self.field.set_rf(True)
            self.us += RF_RESET_US
        self._used = False
        found = []
        while len(found) < max_tg:
            if found and not found[0].iso_dep:
                self._sleep(found[0])
            target = self._activate(len(found) + 1, uid)
            if target is None:
                break
            self._used = True
            found.append(target)
            self.targets[target.tg] = target
        if len(found) == 2 and found[0].awake and not _coexist(*found):
            self._sleep(found[0])
        self.current = found[-1] if found else None
        return found

    def _activate(self, tg, uid):
        answers = self.air(bytes([REQA]), POLL_MISS_US, bits=7)
        if not answers:
            self.fifo = REQA  # the REQA is still in the CIU FIFO
            return None
        self.fifo = 0x00
        atqa = 0
        for answer in answers:
            atqa |= int.from_bytes(answer[:2], "little")
        levels = cascade_levels(uid) if uid else None
        uid_out = b""
        for level, sel in enumerate(SEL_CODES):
            if levels is not None and level >= len(levels):
                return None
            cl = levels[level] if levels is not None else self._anticollision(sel)
            if cl is None:
                return None
            sak = self._select(sel, cl)
            if sak is None:
                return None
            if not sak & 0x04:
                uid_out += cl
                break
            uid_out += cl[1:]
        target = Target(tg, atqa.to_bytes(2, "big"), sak, uid_out)
        if sak & 0x20 and self.auto_rats and not self._rats(target):
            return None
        return target

    def _select(self, sel, cl):
        try:
            sak = self._air1(bytes([sel, 0x70]) + cl + bytes([bcc(cl)]), L3_TIMEOUT_US)
        except RfError:
            return None
        return sak[0] if len(sak) == 1 else None

    def _anticollision(self, sel):
        known, prefix = 0, 0
        while True:
            nbytes, nbits = divmod(known, 8)
            frame = bytes([sel, (2 + nbytes) << 4 | nbits])
            frame += prefix.to_bytes(nbytes + (1 if nbits else 0), "little")
            answers = self.air(frame, L3_TIMEOUT_US, bits=nbits or 8)
            if not answers:
                return None
            mask40 = (1 << 40) - 1
            values = [(prefix | int.from_bytes(a, "little") << (8 * nbytes)) & mask40
                      for a in answers]
            diff = 0
            for value in values:
                diff |= value ^ values[0]
            if not diff:
                full = values[0].to_bytes(5, "little")
                return full[:4] if bcc(full) == full[4] else None
            pos = (diff & -diff).bit_length() - 1
            prefix = (values[0] & ((1 << pos) - 1)) | (1 << pos)
            known = pos + 1

    def _rats(self, target):
        try:
            ats = self._air1(bytes([0xE0, RATS_FSDI << 4 | target.cid]), ATS_TIMEOUT_US)
        except RfError:
            return False
        if not ats or ats[0] != len(ats):
            return False
        target.set_ats(ats)
        return True

    # -- parking and waking targets --------------------------------------------------
    def _sleep(self, target):
        """Park an awake target in HALT (HLTA reaches every ACTIVE card: only one is)."""
        if target.iso_dep:
            try:
                self._air1(block(target, 0xC2, b""), target.fwt_us, crc=False)
            except RfError:
                pass
        else:
            self.air(HLTA + crc_a(HLTA), L3_TIMEOUT_US)
        target.awake = False

    def _wake(self, target):
        if not self.air(bytes([WUPA]), POLL_MISS_US, bits=7):
            raise RfError(ERR_TIMEOUT)
        for sel, cl in zip(SEL_CODES, cascade_levels(target.uid)):
            if self._select(sel, cl) is None:
                raise RfError(ERR_TIMEOUT)
        if target.iso_dep and not self._rats(target):
            raise RfError(ERR_TIMEOUT)
        target.awake = True

    def make_current(self, tg):
        target = self.targets.get(tg)
        if target is None:
            raise RfError(ERR_CONTEXT)
        for other in self.targets.values():
            if other is not target and other.awake and not _coexist(other, target):
                self._sleep(other)
        if not target.awake:
            self._wake(target)
        self.current = target
        return target

    def presence(self):
        """Diagnose 0x06: R(NAK) to the current ISO-DEP target; it must answer."""
        target = self.current
        if target is None or target.tg not in self.targets or not target.iso_dep:
            raise RfError(ERR_CONTEXT)
        if not target.awake:
            raise RfError(ERR_TIMEOUT)
        answers = self.air(block(target, 0xB2 | target.bn, b""), target.fwt_us)
        if len(answers) != 1 or parse_block(target, answers[0]) is None:
            raise RfError(ERR_TIMEOUT)

    def deselect(self, tg, forget=False):
        chosen = list(self.targets) if tg == 0 else [tg]
        if any(t not in self.targets for t in chosen):
            raise RfError(ERR_CONTEXT)
        for t in chosen:
            if self.targets[t].awake:
                self._sleep(self.targets[t])
            if forget:
                del self.targets[t]

    # -- data exchange ------------------------------------------------------------
    def exchange(self, tg, data):
        """InDataExchange: ISO-DEP for ISO 14443-4 targets, else data + CRC."""
        target = self.make_current(tg)
        if not target.iso_dep:
            return self._air1(bytes(data), target.fwt_us)
        return iso_dep_exchange(self.air, target, bytes(data))

    def thru(self, data, tx_crc, rx_crc, bits=8):
        """InCommunicateThru: one raw frame; CRC per CIU TxMode/RxMode bit 7."""
        idx = self.thru_timeout_idx
        timeout = 100 << (idx - 1) if idx else 0
        data = bytes(data)
        answer = self._air1(data + crc_a(data) if tx_crc else data, timeout,
                            crc=False, bits=bits)
        if rx_crc:
            if not check_crc(answer):
                raise RfError(ERR_CRC)
            answer = answer[:-2]
        return answer
