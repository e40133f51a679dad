"""ISO/IEC 7816-4 command APDUs and status words (docs/purse.md section 3).

``Iso7816(link)`` turns (CLA, INS, P1, P2, data, Le) into a short C-APDU, sends
it with ``link.transceive(capdu) -> R-APDU`` (e.g. the ISO-DEP link) and
returns the response data on 9000. It follows ``61xx`` with GET RESPONSE and
re-sends once on ``6Cxx`` with the Le the card asked for; any other status
word raises ``ApduError(sw)``.
"""

from micropython import const

from ykt.errors import ApduError, YktError

SW_OK = const(0x9000)
_SW1_MORE = const(0x61)
_SW1_WRONG_LE = const(0x6C)
_INS_GET_RESPONSE = const(0xC0)
_MAX_DATA = const(255)
_MAX_LE = const(256)
_MAX_CHAIN = const(32)  # GET RESPONSE rounds before giving up on a card


def build(cla, ins, p1, p2, data=None, le=None):
    """Encode a short C-APDU; ``le`` 0 or 256 is sent as 00."""
    n = len(data) if data else 0
    if n > _MAX_DATA:
        raise ValueError("APDU data too long")
    if le is not None and not 0 <= le <= _MAX_LE:
        raise ValueError("bad Le")
    size = 4 + (n + 1 if n else 0) + (1 if le is not None else 0)
    apdu = bytearray(size)
    apdu[0] = cla
    apdu[1] = ins
    apdu[2] = p1
    apdu[3] = p2
    if n:
        apdu[4] = n
        apdu[5 : 5 + n] = data
    if le is not None:
        apdu[size - 1] = le & 0xFF
    return apdu


class Iso7816:
    """APDU layer over a link with ``transceive(capdu) -> rapdu``."""

    def __init__(self, link):
        self._link = link

    def _send(self, apdu):
        rapdu = self._link.transceive(apdu)
        if len(rapdu) < 2:
            raise YktError("R-APDU shorter than a status word")
        return rapdu

    def exchange(self, cla, ins, p1, p2, data=None, le=None):
        """Send one command and return its response data (bytes) on 9000."""
        rapdu = self._send(build(cla, ins, p1, p2, data, le))
        if rapdu[-2] == _SW1_WRONG_LE:
            rapdu = self._send(build(cla, ins, p1, p2, data, rapdu[-1] or _MAX_LE))
        return self._collect(rapdu)

    def _collect(self, rapdu):
        """Follow 61xx with GET RESPONSE; return the data or raise ApduError."""
        sw = (rapdu[-2] << 8) | rapdu[-1]
        if sw == SW_OK:
            return bytes(rapdu[:-2])
        out = bytearray()
        for _ in range(_MAX_CHAIN):
            if rapdu[-2] != _SW1_MORE:
                raise ApduError(sw)
            out.extend(rapdu[:-2])
            rapdu = self._send(build(0x00, _INS_GET_RESPONSE, 0, 0, None, rapdu[-1] or _MAX_LE))
            sw = (rapdu[-2] << 8) | rapdu[-1]
            if sw == SW_OK:
                out.extend(rapdu[:-2])
                return bytes(out)
        raise ApduError(sw)
