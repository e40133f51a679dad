"""PN532 host interface over I2C (UM0701 §6.2.4), a transport for ``pn532.PN532``.

7-bit address 0x24. Every read transaction starts with a status byte (bit 0 = a
frame is ready) and then clocks out the waiting frame from its start; a 1-byte
read polls the status without consuming the frame. The frame length is not known
before the read, so ``read(n)`` fetches ``n`` bytes (the driver asks for the whole
frame again with a NACK if that was too few).

An asleep PN532 does not acknowledge its address at once (it wakes on the address
match): OSError from the bus while polling means "not ready yet".

    from machine import I2C, Pin
    i2c = I2C(0, scl=Pin(22), sda=Pin(21), freq=400000)
    nfc = PN532(PN532I2C(i2c, irq=Pin(4, Pin.IN, Pin.PULL_UP)))

``irq``: the chip's P70_IRQ pin (low while a frame waits); without it the status
byte is polled.
"""

import time

from micropython import const

from ykt.drivers.pn532 import FRAME_MAX
from ykt.errors import ReaderError

_RDY = const(0x01)
_WAKE_MS = const(2)


class PN532I2C:
    def __init__(self, i2c, *, address=0x24, irq=None):
        self._i2c = i2c
        self._addr = address
        self._irq = irq
        self._buf = bytearray(1 + FRAME_MAX)
        self._st = bytearray(1)

    def wakeup(self):
        try:
            self._i2c.writeto(self._addr, b"")  # the address match wakes it
        except OSError:
            pass
        time.sleep_ms(_WAKE_MS)

    def write(self, frame):
        try:
            self._i2c.writeto(self._addr, frame)
            return
        except OSError:
            time.sleep_ms(_WAKE_MS)  # asleep: that attempt woke it, try once more
        try:
            self._i2c.writeto(self._addr, frame)
        except OSError as e:
            raise ReaderError("PN532 not answering at I2C address %02X (%s)" % (self._addr, e))

    def ready(self):
        if self._irq is not None:
            return not self._irq.value()
        try:
            self._i2c.readfrom_into(self._addr, self._st)
        except OSError:
            return False
        return bool(self._st[0] & _RDY)

    def read(self, n):
        mv = memoryview(self._buf)[:1 + min(n, FRAME_MAX)]
        try:
            self._i2c.readfrom_into(self._addr, mv)
        except OSError:
            return None
        if not mv[0] & _RDY:
            return None
        return mv[1:]
