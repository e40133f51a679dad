"""PN532 host interface over HSU/UART (UM0701 §6.2.3), a transport for ``pn532.PN532``.

115200 8N1 by default; frames travel as a plain byte stream. The chip starts in a
low-power state: ``wakeup()`` sends ``55 55`` and zeros (the chip wakes on the
0x55 and needs the zeros' time), and the first command should be
SAMConfiguration (AN10609). A frame is read by its header: sync on the start code
``00 FF``, read LEN, read the rest. Input left over from an aborted command is
discarded before each write.

    from machine import UART
    nfc = PN532(PN532UART(UART(1, 115200, tx=17, rx=16)))
    nfc.sam_configuration()

Ready means bytes have arrived (``uart.any()``) or, with ``irq`` (the chip's
P70_IRQ pin, low while it holds a frame), that the chip has one to send.
"""

import time

from micropython import const

from ykt.drivers.pn532 import FRAME_MAX, frame_size

_WAKEUP = b"\x55\x55\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
_GAP_MS = const(20)  # longest silence inside a frame
_SYNC_MAX = const(32)  # bytes skipped at most while looking for the start code


class PN532UART:
    def __init__(self, uart, *, irq=None):
        self._uart = uart
        self._irq = irq
        self._buf = bytearray(FRAME_MAX)

    def wakeup(self):
        self._uart.write(_WAKEUP)

    def write(self, frame):
        uart = self._uart
        while uart.any():
            uart.read()
        uart.write(frame)

    def ready(self):
        if self._uart.any():
            return True
        # the chip releases IRQ once it has sent the frame: bytes already
        # received count as ready, the pin tells about a frame still to come
        return self._irq is not None and not self._irq.value()

    def read(self, n):
        # n is not needed: the header tells how long the frame is
        buf = self._buf
        mv = memoryview(buf)
        prev = -1
        for _ in range(_SYNC_MAX):
            if not self._fill(mv[3:4]):
                return None
            if prev == 0 and buf[3] == 0xFF:
                break
            prev = buf[3]
        else:
            return None
        buf[0] = 0
        buf[1] = 0
        buf[2] = 0xFF
        got = 3
        size = 5
        while got < size:
            k = self._fill(mv[got:size])
            got += k
            if got < size:
                break  # the rest did not come: the driver finds the frame short
            size = min(frame_size(mv[:got]), FRAME_MAX)
        return mv[:got]

    def _fill(self, mv):
        """Read into all of ``mv`` unless the line goes quiet -> bytes read."""
        got = 0
        deadline = time.ticks_add(time.ticks_ms(), _GAP_MS)
        while got < len(mv):
            k = self._uart.readinto(mv[got:])
            if k:
                got += k
                deadline = time.ticks_add(time.ticks_ms(), _GAP_MS)
            elif time.ticks_diff(deadline, time.ticks_ms()) <= 0:
                break
            else:
                time.sleep_ms(1)
        return got
