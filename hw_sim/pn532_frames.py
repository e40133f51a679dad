"""PN532 host-link frames (UM0701 §6.2): building and stream parsing.

Normal information frame ``00 00 FF LEN LCS TFI PD0..PDn DCS 00`` and the
extended one ``00 00 FF FF FF LENM LENL LCS TFI PD0..PDn DCS 00`` (§6.2.1.2),
ACK ``00 00 FF 00 FF 00``, NACK ``00 00 FF FF 00 00`` and the syntax error
frame ``00 00 FF 01 FF 7F 81 00`` (§6.2.1.3-5).
"""

ACK = b"\x00\x00\xff\x00\xff\x00"
NACK = b"\x00\x00\xff\xff\x00\x00"
ERROR_FRAME = b"\x00\x00\xff\x01\xff\x7f\x81\x00"
TFI_HOST = 0xD4
TFI_CHIP = 0xD5
MAX_HOST_BODY = 265  # TFI + PD0..PDn the PN532 accepts (its 265-byte buffer)


def build_frame(body):
    """TFI+data -> information frame; extended when longer than 255 bytes."""
    body = bytes(body)
    n = len(body)
    dcs = (-sum(body)) & 0xFF
    if n <= 255:
        head = bytes([0x00, 0x00, 0xFF, n, (-n) & 0xFF])
    else:
        hi, lo = n >> 8, n & 0xFF
        head = bytes([0x00, 0x00, 0xFF, 0xFF, 0xFF, hi, lo, (-(hi + lo)) & 0xFF])
    return head + body + bytes([dcs, 0x00])


class FrameParser:
    """Finds host frames in a byte stream.

    ``feed(data)`` returns a list of events: ``("ack", None)``,
    ``("nack", None)``, ``("frame", body)`` for a frame whose checksums are
    good (body = TFI + PD0..PDn) and ``("oversize", None)`` for a frame longer
    than the chip's buffer. Anything before the start code ``00 FF``
    (preambles, ``55`` wake-up bytes, garbage) is skipped; a frame with a bad
    LCS or DCS produces no event. An incomplete frame waits for more bytes
    until ``reset()`` (end of an I2C/SPI transaction).
    """

    def __init__(self):
        self._buf = bytearray()

    def reset(self):
        self._buf = bytearray()

    def feed(self, data):
        self._buf += data
        events = []
        while True:
            event = self._next()
            if event is None:
                return events
            if event is not False:
                events.append(event)

    def _next(self):
        """One event, False for a dropped frame, None when bytes are missing."""
        buf = self._buf
        start = buf.find(b"\x00\xff")
        if start < 0:
            del buf[:-1 if buf[-1:] == b"\x00" else len(buf)]
            return None
        del buf[:start]
        if len(buf) < 4:
            return None
        ln, lcs = buf[2], buf[3]
        if ln == 0x00 and lcs == 0xFF:
            del buf[:4]
            return ("ack", None)
        if ln == 0xFF and lcs == 0x00:
            del buf[:4]
            return ("nack", None)
        if ln == 0xFF and lcs == 0xFF:
            if len(buf) < 7:
                return None
            if (buf[4] + buf[5] + buf[6]) & 0xFF:
                del buf[:2]
                return False
            size, head = buf[4] << 8 | buf[5], 7
        else:
            if (ln + lcs) & 0xFF:
                del buf[:2]
                return False
            size, head = ln, 4
        if size > MAX_HOST_BODY:
            del buf[:head]
            return ("oversize", None)
        if len(buf) < head + size + 1:
            return None
        body = bytes(buf[head:head + size])
        dcs = buf[head + size]
        del buf[:head + size + 1]
        if (sum(body) + dcs) & 0xFF:
            return False
        return ("frame", body)
