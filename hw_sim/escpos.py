"""Model of an ESC/POS receipt printer with GB18030 Chinese text, on a UART.

Decodes the byte stream the way a Chinese thermal printer does (Epson ESC/POS
command reference; the GB18030 decoding is CPython's codec, independent of the
firmware's table):

- ``ESC @`` initialise: bold off, left aligned, Chinese mode off (so a driver must
  send ``FS &`` after it); ``ESC E n`` bold; ``ESC a n`` alignment; ``ESC d n``
  feed n lines; ``ESC ! n`` / ``GS ! n`` print mode (accepted, not modelled);
- ``FS &`` / ``FS .`` Chinese character mode on / off; in Chinese mode a byte
  0x81-0xFE starts a GB18030 character (two bytes, or four when the second is
  0x30-0x39); outside it such bytes are code-page characters, kept as ``?``;
- ``LF`` ends a line; ``GS V m`` (m 0, 1, 48, 49; or 65, 66 with a feed byte)
  cuts: the text since the last cut becomes one entry of ``receipts``;
- ``DLE EOT 4`` answers the roll-paper status byte (``paper``: "ok",
  "near-end", "out"), which the firmware reads back.

``receipts`` are strings (lines joined by newlines, trailing spaces kept out);
``styled`` the same receipts as ``[(line, bold)]``, ``bold`` True when any of the
line was printed emphasised; ``errors`` anything the printer would not understand.
"""

_STATUS = {"ok": 0x12, "near-end": 0x1E, "out": 0x72}


class PrinterModel:
    def __init__(self, paper="ok"):
        self.paper = paper
        self.receipts = []
        self.styled = []
        self.errors = []
        self.raw = bytearray()  # every byte received
        self._out = bytearray()
        self._pending = bytearray()
        self._reset()
        self._lines = []

    def _reset(self):
        self.bold = False
        self.align = 0
        self.chinese = False
        self._line = []
        self._line_bold = False

    # -- UART device -----------------------------------------------------------------
    def uart_write(self, data):
        self.raw += data
        self._pending += data
        self._parse()

    def uart_read(self):
        out = bytes(self._out)
        self._out.clear()
        return out

    # -- decoding ----------------------------------------------------------------------
    def _parse(self):
        p = self._pending
        while p:
            used = self._step(p)
            if used == 0:
                return  # wait for the rest of a command or character
            del p[:used]

    def _step(self, p):  # noqa: C901  (one branch per ESC/POS command the printer knows)
        b = p[0]
        if b == 0x1B:
            if len(p) < 2:
                return 0
            c = p[1]
            if c == 0x40:
                self._reset()
                return 2
            if c in (0x45, 0x61, 0x64, 0x21, 0x74, 0x4D, 0x32, 0x33):
                if len(p) < 3:
                    return 0
                n = p[2]
                if c == 0x45:
                    self.bold = bool(n & 1)
                elif c == 0x61:
                    self.align = n if n in (0, 1, 2) else n - 48
                elif c == 0x64:
                    self._end_line()
                    for _ in range(max(0, n - 1)):
                        self._end_line()
                return 3
            self.errors.append("unknown ESC %02X" % c)
            return 2
        if b == 0x1D:
            if len(p) < 3:
                return 0
            c, m = p[1], p[2]
            if c == 0x56:
                if m in (65, 66):
                    if len(p) < 4:
                        return 0
                    self._cut()
                    return 4
                if m in (0, 1, 48, 49):
                    self._cut()
                    return 3
                self.errors.append("bad GS V %d" % m)
                return 3
            if c == 0x21:
                return 3
            self.errors.append("unknown GS %02X" % c)
            return 2
        if b == 0x1C:
            if len(p) < 2:
                return 0
            c = p[1]
            if c == 0x26:
                self.chinese = True
            elif c == 0x2E:
                self.chinese = False
            else:
                self.errors.append("unknown FS %02X" % c)
            return 2
        if b == 0x10:
            if len(p) < 3:
                return 0
            if p[1] == 0x04 and p[2] == 4:
                self._out.append(_STATUS[self.paper])
            elif p[1] == 0x04 and p[2] in (1, 2, 3):
                self._out.append(0x12)
            else:
                self.errors.append("unknown DLE %02X %02X" % (p[1], p[2]))
            return 3
        if b == 0x0A:
            self._end_line()
            return 1
        if b == 0x0D:
            return 1
        if 0x20 <= b < 0x7F:
            self._put(chr(b))
            return 1
        if b >= 0x81 and b != 0xFF and self.chinese:
            if len(p) < 2:
                return 0
            n = 4 if 0x30 <= p[1] <= 0x39 else 2
            if len(p) < n:
                return 0
            try:
                self._put(bytes(p[:n]).decode("gb18030"))
            except UnicodeDecodeError:
                self.errors.append("bad GB18030 bytes %s" % bytes(p[:n]).hex())
                self._put("?")
            return n
        if b >= 0x80:
            self.errors.append("byte %02X outside Chinese mode" % b)
            self._put("?")
            return 1
        self.errors.append("control byte %02X" % b)
        return 1

    def _put(self, text):
        self._line.append(text)
        if self.bold:
            self._line_bold = True

    def _end_line(self):
        self._lines.append(("".join(self._line).rstrip(), self._line_bold))
        self._line = []
        self._line_bold = False

    def _cut(self):
        if self._line:
            self._end_line()
        lines = self._lines
        while lines and not lines[-1][0]:
            lines.pop()  # the feed before the cut
        self.styled.append(lines)
        self.receipts.append("\n".join(text for text, _ in lines))
        self._lines = []

    def bold_lines(self, n=-1):
        """Lines of receipt ``n`` printed (at least partly) in bold."""
        return [text for text, bold in self.styled[n] if bold]
