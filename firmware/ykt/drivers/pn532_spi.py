"""PN532 host interface over SPI (UM0701 §6.2.5), a transport for ``pn532.PN532``.

SPI mode 0, LSB first on the wire. Each chip-select window starts with one
operation byte: DW 0x01 (a frame follows), SR 0x02 (the chip clocks out its
status byte; bit 0 RDY = a frame is waiting), DR 0x03 (the chip clocks out the
waiting frame). A frame is read in one DR window: the operation byte and its header in one
transfer, then the rest.

ESP32 hardware SPI can shift LSB first: create the bus with ``firstbit=SPI.LSB``
and pass ``lsb_first=True``. Otherwise (and always with SoftSPI, which is
MSB-only) every byte is bit-reversed through a 256-byte table.

    from machine import SPI, Pin
    spi = SPI(1, 1000000, sck=Pin(18), mosi=Pin(23), miso=Pin(19))
    bus = PN532SPI(spi, Pin(5, Pin.OUT, value=1), irq=Pin(4, Pin.IN, Pin.PULL_UP))
    nfc = PN532(bus)

``irq``: the chip's P70_IRQ pin (low while a frame waits); without it the status
byte is polled.
"""

import time

from micropython import const

from ykt.drivers.pn532 import FRAME_MAX, frame_size

# Operation bytes (§6.2.5)
_DW = const(0x01)
_SR = const(0x02)
_DR = const(0x03)
_RDY = const(0x01)

_WAKE_MS = const(2)  # CS held low this long wakes the chip from power-down


def reverse_table():
    """256 bytes: entry i is i with its bit order reversed."""
    t = bytearray(256)
    for i in range(256):
        r = 0
        for b in range(8):
            if i >> b & 1:
                r |= 0x80 >> b
        t[i] = r
    return t


class PN532SPI:
    def __init__(self, spi, cs, *, irq=None, lsb_first=False):
        self._spi = spi
        self._cs = cs
        self._irq = irq
        self._rev = None if lsb_first else reverse_table()
        self._buf = bytearray(1 + FRAME_MAX)
        self._st = bytearray(2)
        self._dr = bytes((self._wire(_DR),))
        cs(1)

    def wakeup(self):
        self._cs(0)
        time.sleep_ms(_WAKE_MS)
        self._cs(1)

    def write(self, frame):
        n = len(frame) + 1
        buf = self._buf
        buf[0] = _DW
        buf[1:n] = frame
        self._flip(buf, 0, n)
        self._cs(0)
        try:
            self._spi.write(memoryview(buf)[:n])
        finally:
            self._cs(1)

    def ready(self):
        if self._irq is not None:
            return not self._irq.value()
        st = self._st
        st[0] = self._wire(_SR)
        st[1] = 0
        self._cs(0)
        try:
            self._spi.write_readinto(st, st)
        finally:
            self._cs(1)
        return bool(self._wire(st[1]) & _RDY)

    def read(self, n):
        # one DR window: the operation byte and the header in one transfer (the header tells
        # how long the frame is; n = 6, an ACK expected, reads it whole), then the rest
        buf = self._buf
        mv = memoryview(buf)
        size = 6 if n == 6 else 5
        buf[0] = self._dr[0]
        for i in range(1, size + 1):
            buf[i] = 0
        self._cs(0)
        try:
            self._spi.write_readinto(mv[:size + 1], mv[:size + 1])
            self._flip(buf, 1, size + 1)
            got = size
            size = min(frame_size(mv[1:got + 1]), FRAME_MAX)
            while got < size:
                self._spi.readinto(mv[got + 1:size + 1])
                self._flip(buf, got + 1, size + 1)
                got = size
                size = min(frame_size(mv[1:got + 1]), FRAME_MAX)
        finally:
            self._cs(1)
        return mv[1:got + 1]

    def _wire(self, b):
        return b if self._rev is None else self._rev[b]

    def _flip(self, buf, start, end):
        rev = self._rev
        if rev is not None:
            for i in range(start, end):
                buf[i] = rev[buf[i]]
