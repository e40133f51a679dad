"""4x4 matrix keypad: rows driven low one at a time, columns read with pull-ups.

Layout (the common membrane keypad; row 0 at the top)::

    1 2 3 A
    4 5 6 B
    7 8 9 C
    * 0 # D

Rows are open-drain outputs, so two keys held in one column never short two
driven rows together. Between scans every row is held low: one read of the
four columns then tells whether any key is down, and only then are the rows
driven one at a time to find it (a scan of an idle keypad costs four pin
reads). A key is reported once it has read the same for ``debounce_ms``
(contact bounce of membrane keypads is under 10 ms; 20 ms is the usual
margin), and again only after it was seen released. Call ``poll()`` every
5-20 ms; it returns the next key pressed or None.

    kp = Keypad([Pin(n, Pin.OPEN_DRAIN, value=0) for n in (4, 5, 6, 7)],
                [Pin(n, Pin.IN, Pin.PULL_UP) for n in (15, 16, 21, 47)])
    key = kp.poll()
"""

import time

from micropython import const

KEYS = "123A456B789C*0#D"
_QUEUE = const(16)


class Keypad:
    def __init__(self, rows, cols, debounce_ms=20, keys=KEYS):
        if len(keys) != len(rows) * len(cols):
            raise ValueError("keypad: %d keys for %dx%d" % (len(keys), len(rows), len(cols)))
        self._rows = rows
        self._cols = cols
        self._keys = keys
        self._debounce = debounce_ms
        self._raw = -1  # key index read last (-1: none)
        self._since = time.ticks_ms()
        self._down = -1  # debounced key held now (-1: none)
        self._queue = bytearray(_QUEUE)
        self._head = 0
        self._count = 0
        for r in rows:
            r.value(0)

    def _any_column_low(self):
        for c in self._cols:
            if not c.value():
                return True
        return False

    def _read(self):
        """Index of the key down now (the first one in scan order), or -1."""
        if not self._any_column_low():
            return -1
        rows = self._rows
        ncols = len(self._cols)
        found = -1
        for r in rows:
            r.value(1)
        for i in range(len(rows)):
            rows[i].value(0)
            for j in range(ncols):
                if not self._cols[j].value():
                    found = i * ncols + j
                    break
            rows[i].value(1)
            if found >= 0:
                break
        for r in rows:
            r.value(0)
        return found

    def scan(self):
        """Read the matrix once and debounce; queue a key that has just gone down."""
        raw = self._read()
        now = time.ticks_ms()
        if raw != self._raw:
            self._raw = raw
            self._since = now
            return
        if raw != self._down and time.ticks_diff(now, self._since) >= self._debounce:
            self._down = raw
            if raw >= 0 and self._count < _QUEUE:
                self._queue[(self._head + self._count) % _QUEUE] = raw
                self._count += 1

    def poll(self):
        """Scan once; return the oldest key pressed and not yet returned (a str) or None."""
        self.scan()
        if not self._count:
            return None
        k = self._queue[self._head]
        self._head = (self._head + 1) % _QUEUE
        self._count -= 1
        return self._keys[k]

    def clear(self):
        """Forget keys pressed but not yet returned."""
        self._count = 0
