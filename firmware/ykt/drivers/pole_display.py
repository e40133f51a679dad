"""Two-line customer pole display on a UART (VFD/LCD "customer display").

These displays take plain text at 9600 8N1 with a few control bytes (Epson
customer-display command set, the common subset): 0x0C clears the screen and
homes the cursor, CR LF moves to the second line. Text is ASCII; each line is
cut to the display width.

    disp = PoleDisplay(machine.UART(2, 9600, tx=17, rx=16))
    disp.show("PAID 3.50", "BAL 46.50")
"""

from micropython import const

_CLEAR = const(0x0C)


class PoleDisplay:
    def __init__(self, uart, width=20):
        self._uart = uart
        self._width = width
        self.lines = ("", "")

    def show(self, line1, line2=""):
        line1 = line1[: self._width]
        line2 = line2[: self._width]
        self.lines = (line1, line2)
        self._uart.write(bytes((_CLEAR,)) + line1.encode() + b"\r\n" + line2.encode())
