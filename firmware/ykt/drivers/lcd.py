"""20x4 character LCD: HD44780 controller behind a PCF8574 I2C backpack (address 0x27).

The PCF8574 (NXP datasheet, section 7 "Functional description") sets its eight
quasi-bidirectional pins to each byte written to it. The usual backpack wires
P0 = RS, P1 = R/W, P2 = E, P3 = backlight transistor, P4..P7 = DB4..DB7, so the
HD44780 runs in its 4-bit interface: each byte goes as two nibbles, high first,
each latched by a falling edge of E (HD44780U datasheet, "Interfacing to the
MPU", Figure 9). R/W stays low: the busy flag is never read, the driver waits
out each instruction instead (Table 6: 37 us per instruction, 1.52 ms for
clear display and return home). A nibble is two I2C bytes, which at 100-400 kHz
already take longer than 37 us, so only the clear needs an explicit wait.

Initialisation follows "Initializing by Instruction", Figure 24 (4-bit): wait
more than 40 ms after power-on, function set 0011 three times (waits of more
than 4.1 ms and 100 us), then 0010 to enter 4-bit mode, then function set
(2 lines, 5x8 dots), display off, clear, entry mode (increment, no shift),
display on.

DDRAM addresses of a 20x4 module (2-line mode, Table 4 / module wiring): row 0
at 0x00, row 1 at 0x40, row 2 at 0x14, row 3 at 0x54. Characters are the ROM
code A00 set: printable ASCII except that 0x5C is the yen sign; anything else
is shown as ``?``.

    lcd = Lcd(I2C(0, scl=Pin(9), sda=Pin(8)), address=0x27)
    lcd.init()
    lcd.show(("LUNCH 15.00", "TAP CARD", "", ""))
"""

import time

from micropython import const

_RS = const(0x01)
_EN = const(0x04)
_BL = const(0x08)

_CLEAR = const(0x01)
_ENTRY_INC = const(0x06)
_DISPLAY_OFF = const(0x08)
_DISPLAY_ON = const(0x0C)
_FUNCTION_4BIT_2LINE = const(0x28)
_SET_DDRAM = const(0x80)

_ROW_ADDR = (0x00, 0x40, 0x14, 0x54)


class Lcd:
    def __init__(self, i2c, address=0x27, cols=20, rows=4, backlight=True):
        if rows > len(_ROW_ADDR):
            raise ValueError("lcd: at most %d rows" % len(_ROW_ADDR))
        self._i2c = i2c
        self._addr = address
        self.cols = cols
        self.rows = rows
        self._bl = _BL if backlight else 0
        self._buf = bytearray(4 * (cols + 1))  # one row: address + characters, 4 bytes each
        self._mv = memoryview(self._buf)
        self._shown = [None] * rows  # text on each row now (None: unknown)

    def _put(self, at, value, rs):
        """Two nibbles of ``value`` into the buffer at ``at``: 4 port bytes (E high, E low)."""
        b = self._buf
        hi = (value & 0xF0) | self._bl | rs
        lo = ((value << 4) & 0xF0) | self._bl | rs
        b[at] = hi | _EN
        b[at + 1] = hi
        b[at + 2] = lo | _EN
        b[at + 3] = lo
        return at + 4

    def _send(self, n):
        self._i2c.writeto(self._addr, self._mv[:n])

    def _nibble(self, nib):
        b = self._buf
        b[0] = (nib << 4) | self._bl | _EN
        b[1] = (nib << 4) | self._bl
        self._send(2)

    def command(self, value):
        self._send(self._put(0, value, 0))

    def init(self):
        """Figure 24 initialisation; leaves the display on, cleared, cursor off."""
        time.sleep_ms(50)  # > 40 ms after Vcc reached 2.7 V
        self._nibble(0x3)
        time.sleep_ms(5)  # > 4.1 ms
        self._nibble(0x3)
        time.sleep_us(150)  # > 100 us
        self._nibble(0x3)
        time.sleep_us(150)
        self._nibble(0x2)  # 4-bit interface from here on
        time.sleep_us(150)
        self.command(_FUNCTION_4BIT_2LINE)
        self.command(_DISPLAY_OFF)
        self.clear()
        self.command(_ENTRY_INC)
        self.command(_DISPLAY_ON)

    def clear(self):
        self.command(_CLEAR)
        time.sleep_ms(2)  # 1.52 ms
        for i in range(self.rows):
            self._shown[i] = " " * self.cols

    def write_row(self, row, text):
        """Write ``text`` (cut or padded to the width) on ``row``. The text is walked as
        UTF-8 bytes, so no character of it becomes a (never freed) qstr."""
        n = self._put(0, _SET_DDRAM | _ROW_ADDR[row], 0)
        data = text.encode()
        i = 0
        for _ in range(self.cols):
            if i >= len(data):
                c = 0x20
            elif data[i] < 0x80:
                c = data[i]
                i += 1
                if c < 0x20 or c > 0x7D or c == 0x5C:
                    c = 0x3F
            else:
                # the yen sign (UTF-8 C2 A5) sits at 0x5C in ROM A00; nothing else fits
                c = 0x5C if data[i] == 0xC2 and data[i + 1] == 0xA5 else 0x3F
                lead = data[i]
                i += 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
            n = self._put(n, c, _RS)
        self._send(n)
        text = text[:self.cols]
        self._shown[row] = text + " " * (self.cols - len(text))

    def show(self, lines):
        """Show up to ``rows`` lines; only rows whose text changed are written."""
        for row in range(self.rows):
            text = lines[row] if row < len(lines) else ""
            text = text[:self.cols]
            if len(text) < self.cols:
                text = text + " " * (self.cols - len(text))
            if text != self._shown[row]:
                self.write_row(row, text)

    def lines(self):
        """What the driver last wrote on each row."""
        return tuple(self._shown)
