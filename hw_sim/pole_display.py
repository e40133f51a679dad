"""Model of a two-line customer pole display on a UART (see the firmware driver).

Understands the bytes a real one does: 0x0C clear/home, CR, LF, printable ASCII.
``lines`` is what a passenger would read right now.
"""


class PoleDisplayModel:
    def __init__(self, width=20, rows=2):
        self.width = width
        self.rows = rows
        self._text = [""] * rows
        self._row = 0
        self.history = []  # every full screen shown, in order
        self.on_show = None  # fn(lines) when what is shown changes

    @property
    def lines(self):
        return tuple(self._text)

    def uart_write(self, data):
        for b in data:
            if b == 0x0C:
                self._text = [""] * self.rows
                self._row = 0
            elif b == 0x0A:
                self._row = min(self._row + 1, self.rows - 1)
            elif b == 0x0D:
                pass
            elif 0x20 <= b < 0x7F and len(self._text[self._row]) < self.width:
                self._text[self._row] += chr(b)
        changed = not self.history or self.history[-1] != self.lines
        self.history.append(self.lines)
        if changed and self.on_show is not None:
            self.on_show(self.lines)

    def uart_read(self):
        return b""
