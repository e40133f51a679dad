"""Listed targets and the ISO-DEP initiator link the PN532 runs to them.

``iso_dep_exchange`` is the PCD half of ISO 14443-4 §7: the C-APDU is split
into I-blocks that fit the card's FSC (chaining bit set on all but the last),
the card's chained answer is pulled with R(ACK), S(WTX) is confirmed, and a
time-out or a bad block is recovered per the PCD rules of §7.5.4.1 (R(NAK),
or R(ACK) while the card chains; an R(ACK) carrying the other block number
means "resend the I-block"), at most ``ISO_DEP_RETRIES`` times.
"""

from hw_sim.iso14443_4 import ats_params, check_crc, crc_a

FWT_UNIT_US = 302       # ISO 14443-4 §7.2: FWT = 256*16/fc * 2^FWI
ISO_DEP_RETRIES = 2

ERR_TIMEOUT = 0x01
ERR_CRC = 0x02
ERR_COLLISION = 0x06
ERR_PROTOCOL = 0x0B
ERR_CONTEXT = 0x27


class RfError(Exception):
    def __init__(self, code):
        super().__init__("PN532 RF error 0x%02X" % code)
        self.code = code


class Target:
    """One listed target: what InListPassiveTarget reported, plus ISO-DEP state."""

    def __init__(self, tg, sens_res, sel_res, uid):
        self.tg = tg
        self.sens_res = sens_res  # MSB first, as the PN532 reports it
        self.sel_res = sel_res
        self.uid = uid
        self.ats = None
        self.cid = tg - 1
        self.cid_ok = False
        self.fsc = 32
        self.fwt_us = FWT_UNIT_US << 4
        self.bn = 0
        self.awake = True

    def set_ats(self, ats):
        self.ats = ats
        self.fsc, fwi, self.cid_ok = ats_params(ats)
        self.fwt_us = FWT_UNIT_US << fwi
        self.bn = 0

    @property
    def iso_dep(self):
        return self.ats is not None

    @property
    def uses_cid(self):
        return self.iso_dep and self.cid != 0 and self.cid_ok

    def target_data(self):
        """``Tg SENS_RES SEL_RES NFCIDLength NFCID1 [ATS]`` (UM0701 §7.3.5)."""
        return (bytes([self.tg]) + self.sens_res + bytes([self.sel_res, len(self.uid)])
                + self.uid + (self.ats or b""))


def block(target, pcb, inf):
    """PCB [CID] INF CRC_A for ``target``."""
    head = bytes([pcb | 0x08, target.cid]) if target.uses_cid else bytes([pcb])
    frame = head + bytes(inf)
    return frame + crc_a(frame)


def parse_block(target, answer):
    """Card block -> ``(pcb, inf)`` without CID/NAD; None if CRC or CID is wrong."""
    if not check_crc(answer):
        return None
    body = answer[:-2]
    pcb, i = body[0], 1
    if pcb & 0x08:
        if len(body) < 2 or body[1] & 0x0F != target.cid:
            return None
        i = 2
    if pcb & 0xE2 == 0x02 and pcb & 0x04:
        i += 1
    return pcb, body[i:]


def iso_dep_exchange(air, target, apdu):
    """C-APDU -> R-APDU; ``air(frame, timeout_us)`` returns the cards' answers."""
    room = target.fsc - 3 - (1 if target.uses_cid else 0)
    parts = [apdu[i:i + room] for i in range(0, len(apdu), room)] or [b""]
    for k, part in enumerate(parts):
        chaining = k < len(parts) - 1
        pcb, inf = _transfer(air, target, 0x02 | target.bn | (0x10 if chaining else 0), part)
        if chaining:
            if pcb & 0xF6 != 0xA2 or pcb & 1 != target.bn:
                raise RfError(ERR_PROTOCOL)
            target.bn ^= 1
    data = bytearray()
    while True:
        if pcb & 0xE2 != 0x02 or pcb & 1 != target.bn:
            raise RfError(ERR_PROTOCOL)
        target.bn ^= 1
        data += inf
        if not pcb & 0x10:
            return bytes(data)
        pcb, inf = _transfer(air, target, 0xA2 | target.bn, b"")


def _transfer(air, target, pcb, inf):
    """Send one block and recover per §7.5.4.1 -> the card's ``(pcb, inf)``."""
    sent = block(target, pcb, inf)
    frame, wait, retries, error = sent, target.fwt_us, ISO_DEP_RETRIES, ERR_TIMEOUT
    while True:
        answers = air(frame, wait)
        wait = target.fwt_us
        parsed = parse_block(target, answers[0]) if len(answers) == 1 else None
        if parsed is not None:
            rpcb, rinf = parsed
            if rpcb & 0xF7 == 0xF2 and rinf:      # S(WTX): confirm, then wait longer
                frame = block(target, 0xF2, rinf[:1])
                wait = target.fwt_us * max(1, rinf[0] & 0x3F)
                continue
            lost = pcb & 0xE2 == 0x02 and rpcb & 0xF6 == 0xA2 and rpcb & 1 != target.bn
            if not lost:
                return rpcb, rinf
        else:
            error = ERR_CRC if answers else ERR_TIMEOUT
        if retries == 0:
            raise RfError(error)
        retries -= 1
        if parsed is not None or pcb & 0xF6 == 0xA2:
            frame = sent        # rule 6: the card missed our I-block; rule 5: R(ACK) again
        else:
            frame = block(target, 0xB2 | target.bn, b"")  # rule 4: R(NAK)
