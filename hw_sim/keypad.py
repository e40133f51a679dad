"""A 4x4 membrane keypad on the board's pins, pressed on the terminal's virtual clock.

A key closes the contact between its row and its column. The firmware drives
the row pins (open drain: 0 pulls low, 1 releases) and reads the column pins,
which have pull-ups: a column reads 0 while a pressed key connects it to a row
the firmware holds low. ``press(key)`` and ``type(text)`` schedule presses on
the clock.
"""

LAYOUT = "123A456B789C*0#D"


class KeypadModel:
    def __init__(self, wiring, rows, cols, layout=LAYOUT):
        if len(layout) != len(rows) * len(cols):
            raise ValueError("keypad layout has %d keys for %dx%d" % (len(layout), len(rows),
                                                                     len(cols)))
        self.clock = wiring.clock
        self.rows = list(rows)
        self.cols = list(cols)
        self.layout = layout
        self.down = set()  # (row, col) of the keys held now
        self.attach(wiring)

    def attach(self, wiring):
        """Connect to a (new) board wiring, e.g. after a power cycle."""
        self._wiring = wiring
        for j, pin in enumerate(self.cols):
            wiring.drive_pin(pin, lambda j=j: self._column_level(j))

    def _column_level(self, j):
        levels = self._wiring.levels
        for i, pin in enumerate(self.rows):
            if (i, j) in self.down and levels.get(pin, 1) == 0:
                return 0
        return 1

    def _where(self, key):
        k = self.layout.find(key)
        if len(key) != 1 or k < 0:
            raise ValueError("no key %r on the keypad (%s)" % (key, self.layout))
        return divmod(k, len(self.cols))

    def _set(self, key, held):
        rc = self._where(key)
        if held:
            self.down.add(rc)
        else:
            self.down.discard(rc)

    def press(self, key, hold_ms=80, at_us=None):
        """Press ``key`` at ``at_us`` (default: now) and release it ``hold_ms`` later.
        Returns the time (us) it is released."""
        self._where(key)
        start = self.clock.now_us() if at_us is None else at_us
        end = start + hold_ms * 1000
        self.clock.schedule(start, lambda: self._set(key, True))
        self.clock.schedule(end, lambda: self._set(key, False))
        return end

    def type(self, text, gap_ms=250, hold_ms=80, at_us=None):
        """Press each key of ``text`` in turn, one every ``gap_ms``; returns the time
        (us) the last one is released."""
        start = self.clock.now_us() if at_us is None else at_us
        end = start
        for i, key in enumerate(text):
            end = self.press(key, hold_ms, start + i * gap_ms * 1000)
        return end
