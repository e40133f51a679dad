"""Model of a 20x4 HD44780 character LCD behind a PCF8574 I2C backpack.

Written from the HD44780U and PCF8574 datasheets, not from the firmware driver:

- the PCF8574 sets its pins P0..P7 to every byte written to it; the backpack
  wires P0 = RS, P1 = R/W, P2 = E, P3 = backlight, P4..P7 = DB4..DB7;
- the HD44780 latches DB4..DB7 on each falling edge of E;
- after power-on it is in the 8-bit interface: each latched nibble is a whole
  instruction (DB0..DB3 are not connected and read 0) until a function set with
  DL = 0 switches it to 4-bit, after which instructions and data come as two
  nibbles, high first;
- instructions (Table 6): clear, return home, entry mode, display on/off,
  cursor/display shift, function set, set CGRAM / DDRAM address; writing data
  stores into DDRAM at the address counter, which then moves (0x27 -> 0x40,
  0x67 -> 0x00 in 2-line mode).

It checks timing on the terminal's virtual clock: the Figure 24 initialisation
(first nibble more than 40 ms after power-on, waits of more than 4.1 ms and 100 us
between the three 0011 nibbles, then 0010) sets ``init_ok``; any nibble latched
while the controller is still executing the previous instruction (37 us, 1.52 ms
for clear and home) is recorded in ``violations``. Bytes of one I2C write are
spaced by the bus's byte time (9 clocks).

``lines()`` is what a person reads on the glass (blank while the display is
off); ``history`` every distinct screen in order.
"""

_RS = 0x01
_RW = 0x02
_EN = 0x04
_BL = 0x08

_ROW_ADDR = (0x00, 0x40, 0x14, 0x54)
_EXEC_US = 37
_DATA_US = 41  # 37 us + t_ADD 4 us
_SLOW_US = 1520  # clear display, return home


def rom_a00(code):
    """Character of ROM code A00 (printable ASCII; 0x5C is the yen sign)."""
    if code == 0x5C:
        return "\u00a5"
    if code == 0x7E:
        return "\u2192"
    if code == 0x7F:
        return "\u2190"
    if 0x20 <= code < 0x7E:
        return chr(code)
    return "?"


class LcdModel:
    def __init__(self, clock, address=0x27, cols=20, rows=4, freq=400000):
        self.clock = clock
        self.i2c_address = address
        self.cols = cols
        self.rows = rows
        self.byte_us = 9 * 1000000 / max(1, freq)
        self.history = []
        self.violations = []
        self.power_on()

    def power_on(self):
        """Power (back) on: the controller resets to the 8-bit interface, DDRAM unknown."""
        self.powered_at = self.clock.now_us()
        self._port = 0
        self.eight_bit = True
        self._high = None  # first nibble of a 4-bit transfer
        self._init = []  # (time us, nibble) latched in 8-bit mode
        self.init_ok = False
        self.ddram = bytearray(b" " * 0x68)
        self.ac = 0
        self.increment = True
        self.display_on = False
        self.cursor = False
        self.blink = False
        self.two_line = False
        self._cgram = False
        self._busy_until = 0.0
        self.backlight = False

    # -- I2C device ------------------------------------------------------------------
    def i2c_write(self, data):
        end = self.clock.now_us()
        n = len(data)
        for i, b in enumerate(data):
            self._port_write(b, end - (n - 1 - i) * self.byte_us)
        screen = self.lines()
        if not self.history or self.history[-1] != screen:
            self.history.append(screen)

    def i2c_read(self, n):
        return bytes([self._port | 0xF0]) * n  # quasi-bidirectional pins read high

    # -- pins ------------------------------------------------------------------------
    def _port_write(self, b, t):
        prev = self._port
        self._port = b
        self.backlight = bool(b & _BL)
        if prev & _EN and not b & _EN:
            if b & _RW:
                self.violations.append((t, "E pulsed with R/W high (a read; not modelled)"))
                return
            if (prev ^ b) & 0xF0 or (prev ^ b) & _RS:
                self.violations.append((t, "data or RS changed with the falling edge of E"))
            self._latch(b >> 4, bool(b & _RS), t)

    def _latch(self, nib, rs, t):
        if t < self._busy_until:
            self.violations.append((t, "nibble %X while busy (%.0f us early)"
                                    % (nib, self._busy_until - t)))
        if self.eight_bit:
            self._init.append((t, nib))
            if rs:
                self._data(nib << 4, t)
            else:
                self._instruction(nib << 4, t)
            return
        if self._high is None:
            self._high = (nib, rs)
            return
        hi, hi_rs = self._high
        self._high = None
        if hi_rs != rs:
            self.violations.append((t, "RS differs between the two nibbles"))
        value = (hi << 4) | nib
        if rs:
            self._data(value, t)
        else:
            self._instruction(value, t)

    # -- controller ------------------------------------------------------------------
    def _check_init(self):
        seq = self._init
        if [n for _, n in seq] != [0x3, 0x3, 0x3, 0x2]:
            return False
        t = [x for x, _ in seq]
        return (t[0] - self.powered_at > 40000 and t[1] - t[0] > 4100
                and t[2] - t[1] > 100)

    def _instruction(self, v, t):
        cost = _EXEC_US
        if v & 0x80:
            self.ac = v & 0x7F
            self._cgram = False
        elif v & 0x40:
            self._cgram = True
        elif v & 0x20:
            dl = bool(v & 0x10)
            if self.eight_bit and not dl:
                self.eight_bit = False
                self.init_ok = self._check_init()
            elif not self.eight_bit:
                self.two_line = bool(v & 0x08)
        elif v & 0x10:
            self.violations.append((t, "cursor/display shift not modelled"))
        elif v & 0x08:
            self.display_on = bool(v & 0x04)
            self.cursor = bool(v & 0x02)
            self.blink = bool(v & 0x01)
        elif v & 0x04:
            self.increment = bool(v & 0x02)
            if v & 0x01:
                self.violations.append((t, "display shift on entry not modelled"))
        elif v & 0x02:
            self.ac = 0
            self._cgram = False
            cost = _SLOW_US
        elif v & 0x01:
            self.ddram[:] = b" " * len(self.ddram)
            self.ac = 0
            self.increment = True
            self._cgram = False
            cost = _SLOW_US
        self._busy_until = t + cost

    def _data(self, v, t):
        self._busy_until = t + _DATA_US
        if self._cgram:
            return
        if self.ac < len(self.ddram):
            self.ddram[self.ac] = v
        if self.increment:
            self.ac = {0x27: 0x40, 0x67: 0x00}.get(self.ac, self.ac + 1)
        else:
            self.ac = {0x40: 0x27, 0x00: 0x67}.get(self.ac, self.ac - 1)

    # -- what a person sees ------------------------------------------------------------
    def lines(self):
        if not self.display_on:
            return tuple(" " * self.cols for _ in range(self.rows))
        out = []
        for r in range(self.rows):
            a = _ROW_ADDR[r]
            out.append("".join(rom_a00(c) for c in self.ddram[a:a + self.cols]))
        return tuple(out)

    def text(self):
        """The screen as one string, rows stripped and joined with newlines."""
        return "\n".join(line.rstrip() for line in self.lines())

    def seen(self, fragment):
        """True if ``fragment`` was on some row of some screen shown so far."""
        return any(fragment in line for screen in self.history for line in screen)
