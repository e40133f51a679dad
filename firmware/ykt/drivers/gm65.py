"""GM65 / GM8xx serial QR scanner module (Hangzhou Grow and compatible) on a UART.

The module is set up through "zone bits", a byte-addressed settings memory, with command
frames (GM65 user manual, "8 Serial Port Instruction": 8.2 read zone bit, 8.3 write zone
bit, 8.4 save to EEPROM, 8.5 list of zone bits)::

    host -> module  7E 00 | type | len | addrH addrL | data | CRC-16/XMODEM (big-endian)
                    type 07 read (data: how many zone bytes), 08 write (data: len bytes),
                    09 save; the CRC covers type .. data ("AB CD" in its place skips the check)
    module -> host  02 00 | 00 | len | data | CRC-16/XMODEM over 00 .. data
                    a write is acknowledged 02 00 00 01 00 33 31; a read answers its bytes

A wrong CRC, an unknown command or a frame cut short gets no answer at all. Zone 0x0000
bits 1-0 select the read mode: 00 manual (the module's button), 01 command ("trigger": a
scan starts when the host writes 1 to zone 0x0002 and ends with the first code or after
the single reading time, zone 0x0006 in 100 ms steps, 0 = no limit), 10 continuous (the
module scans by itself), 11 sensor. A decoded code arrives as plain text ending in CR.

Sources: the GM65 user manual (Hangzhou Grow), 8.2-8.5, with its examples (read 0x000A:
``7E 00 07 01 00 0A 01 EE 8A`` -> ``02 00 00 01 3E E4 AC``; write 0x3E there:
``7E 00 08 01 00 0A 3E 4C CF`` -> ``02 00 00 01 00 33 31``; save ``7E 00 09 01 00 00 00 DE
C8``); Newland's wiki "Command Trigger Mode" (start reading ``7E 00 08 01 00 02 01 02 DA``,
zone 0x0006 the reading time); a GM65-based scanner's manual (Hamlet HBCS2D100W 8.4: the ACK
comes first, then the reading; 0.1-25.5 s, default 5 s). tests/test_gm65_model.py holds the
frames to them byte for byte.

Usage::

    from machine import UART
    from ykt.drivers.gm65 import GM65, CODE, TRIGGER

    qr = GM65(UART(1, 9600, tx=33, rx=35, timeout=0), mode=TRIGGER, read_ms=5000)
    if qr.configure() < 0:                  # mode and reading time written, read back
        print("scanner:", qr.reason())
    qr.trigger()                            # command mode: scan once
    while True:                             # poll() never blocks
        r = qr.poll()
        if r == CODE:
            print(qr.text())                # the payload without its CR
        elif r < 0:
            print("discarded:", qr.reason(r))

Outcome codes (every method returns one; none raises on what the line carries):

    ====  ===========  ===========================================================
    code  name         meaning
    ====  ===========  ===========================================================
       0  NONE         poll: no complete payload yet
       1  OK           the command was acknowledged (configure: and read back)
       2  CODE         poll: a payload ended in CR; ``payload()`` / ``text()``
      -1  NO_REPLY     no answer in time (the module ignores bad CRCs and unknown frames)
      -2  BAD_REPLY    an answer that is not ``02 00 00 len data CRC`` with a good CRC
      -3  MISMATCH     configure: the zone read back differs from what was written
      -4  OVERLONG     poll: a payload longer than ``max_len``, discarded up to its CR
      -5  GARBLED      poll: a payload with a byte outside 0x20..0x7E, or a fragment that
                       stopped without its CR (nothing more for ``gap_ms``): discarded
      -6  NO_CODE      poll, trigger mode: the reading ``trigger`` started ended
                       (``read_ms`` and 100 ms more) without a code
    ====  ===========  ===========================================================

Memory: the payload buffer (``max_len`` bytes), a 32-byte read chunk and the 9-byte command
and 7-byte reply frames are allocated once; a payload longer than the buffer, and any stream
of bytes without a CR, are consumed and dropped, never stored. Time only through ykt.clock.
Commands expect a quiet line: input waiting when one is sent is dropped (``dropped`` counts
the bytes), so send them while no code is being read.
"""

from micropython import const

from ykt import clock

# outcome codes (the table above)
NONE = const(0)
OK = const(1)
CODE = const(2)
NO_REPLY = const(-1)
BAD_REPLY = const(-2)
MISMATCH = const(-3)
OVERLONG = const(-4)
GARBLED = const(-5)
NO_CODE = const(-6)

REASONS = {
    NONE: "nothing yet",
    OK: "ok",
    CODE: "code",
    NO_REPLY: "no reply",
    BAD_REPLY: "bad reply",
    MISMATCH: "zone read back differs",
    OVERLONG: "payload too long",
    GARBLED: "garbled payload",
    NO_CODE: "no code in time",
}

# read modes (zone 0x0000 bits 1-0)
TRIGGER = const(1)  # "command mode"
CONTINUOUS = const(2)
_MODE_MASK = const(0x03)

# frame types (GM65 manual 8.2-8.4)
_READ = const(0x07)
_WRITE = const(0x08)
_SAVE = const(0x09)

# zone bits (manual 8.5)
_ZONE_SETTINGS = const(0x0000)
_ZONE_SCAN = const(0x0002)  # bit 0: start a scan (command mode)
_ZONE_READ_TIME = const(0x0006)  # single reading time, 100 ms steps, 0 = no limit

_CR = const(0x0D)
_LF = const(0x0A)
_REPLY_MS = const(100)  # a 7-byte answer takes 7 ms at 9600 baud, 0.6 ms at 115200
_CHUNK = const(32)
_CHUNKS_MAX = const(16)  # chunks one poll (or one drop) takes at most: it never blocks
_SYNC_MAX = const(16)  # bytes skipped looking for an answer's 02 00
_READ_SLACK_MS = const(100)  # after read_ms, how long a triggered reading may still answer


def crc16(buf, start, end):
    """CRC-16/XMODEM (poly 0x1021, init 0, no reflection) of ``buf[start:end]``."""
    c = 0
    for i in range(start, end):
        c ^= buf[i] << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) & 0xFFFF if c & 0x8000 else (c << 1) & 0xFFFF
    return c


class GM65:
    """The scanner behind ``uart`` (see the module docstring)."""

    def __init__(self, uart, mode=TRIGGER, read_ms=5000, max_len=1536, gap_ms=200):
        if mode != TRIGGER and mode != CONTINUOUS:
            raise ValueError("GM65 mode must be TRIGGER or CONTINUOUS")
        self._uart = uart
        self.mode = mode
        self.read_ms = read_ms
        self._gap_ms = gap_ms
        self._buf = bytearray(max_len)
        self._chunk = bytearray(_CHUNK)
        self._ci = 0  # next unread byte of the chunk
        self._cn = 0  # bytes in the chunk
        self._frame = bytearray(9)
        self._reply = bytearray(7)
        self._n = 0  # payload bytes stored so far
        self._seen = 0  # payload bytes seen so far (stored or not)
        self._bad = False  # the payload so far has a byte outside 0x20..0x7E
        self._last = 0  # ticks_ms of the payload's last byte
        self._len = 0  # length of the payload poll() returned CODE for
        self._trig = None  # ticks_ms of the trigger whose reading is still open
        self.last = NONE  # the last outcome (reason())
        self.dropped = 0  # bytes dropped before commands

    # -- commands ------------------------------------------------------------
    def configure(self):
        """Set the read mode in zone 0x0000 (the other bits kept) and, in trigger mode, the
        single reading time (zone 0x0006), each read back -> OK, or the first failure."""
        self._trig = None
        r = self._set(_ZONE_SETTINGS, _MODE_MASK, self.mode)
        if r == OK and self.mode == TRIGGER:
            steps = (self.read_ms + 99) // 100
            r = self._set(_ZONE_READ_TIME, 0xFF, steps if steps < 255 else 255)
        self.last = r
        return r

    def trigger(self):
        """Command mode: start one scan (write 1 to zone 0x0002) -> OK or a failure."""
        self.last = self.write_zone(_ZONE_SCAN, 1)
        if self.last == OK and self.mode == TRIGGER and self.read_ms:
            self._trig = clock.ticks_ms()
        return self.last

    def save(self):
        """Save the zone bits to the module's EEPROM (kept across power cycles)."""
        self.last = self._command(_SAVE, 0, 0)
        return self.last

    def write_zone(self, addr, value):
        """Write one zone byte -> OK (acknowledged) or a failure."""
        return self._command(_WRITE, addr, value)

    def read_zone(self, addr):
        """Read one zone byte -> its value (0..255), or a failure (< 0)."""
        r = self._command(_READ, addr, 1)
        return self._reply[4] if r == OK else r

    def reason(self, code=None):
        """The outcome ``code`` (default: the last one) in words."""
        return REASONS.get(self.last if code is None else code, "?")

    # -- payloads --------------------------------------------------------------
    def poll(self):
        """Take what the module has sent, without waiting -> CODE when a payload has ended
        (``payload()``), NONE, or OVERLONG / GARBLED when one was discarded."""
        r = self._poll()
        if r == CODE:
            self._trig = None
        elif (r == NONE and self._trig is not None and not self._seen
              and clock.elapsed_ms(self._trig) > self.read_ms + _READ_SLACK_MS):
            self._trig = None
            r = NO_CODE
        if r != NONE:
            self.last = r
        return r

    def payload(self):
        """The payload ``poll`` returned CODE for (a view of the buffer, valid until the
        next ``poll``), without its CR."""
        return memoryview(self._buf)[:self._len]

    def text(self):
        """The payload as a str (ASCII)."""
        return bytes(self._buf[:self._len]).decode()

    def _poll(self):
        u = self._uart
        if (self._seen and self._ci >= self._cn and clock.elapsed_ms(self._last) > self._gap_ms
                and not u.any()):
            self._restart()  # the fragment stopped without its CR
            return GARBLED
        for _ in range(_CHUNKS_MAX):
            if self._ci >= self._cn:
                k = u.any()
                if not k:
                    return NONE
                k = u.readinto(self._chunk, k if k < _CHUNK else _CHUNK)
                if not k:
                    return NONE
                self._ci = 0
                self._cn = k
                self._last = clock.ticks_ms()
            r = self._take()
            if r != NONE:
                return r
        return NONE  # more is waiting: the next poll goes on with it

    def _take(self):
        """Run the chunk's bytes through the line until a payload ends -> its outcome."""
        chunk = self._chunk
        buf = self._buf
        cap = len(buf)
        i = self._ci
        n = self._cn
        while i < n:
            b = chunk[i]
            i += 1
            if b == _CR:
                self._ci = i
                return self._end()
            if b == _LF and not self._seen:
                continue  # the LF of a CR LF tail
            if b < 0x20 or b > 0x7E:
                self._bad = True
            if self._n < cap:
                buf[self._n] = b
                self._n += 1
            self._seen += 1
        self._ci = i
        return NONE

    def _end(self):
        seen = self._seen
        bad = self._bad
        self._len = self._n
        self._restart()
        if bad:
            self._len = 0
            return GARBLED
        if seen > len(self._buf):
            self._len = 0
            return OVERLONG
        if not seen:
            return NONE  # an empty line
        return CODE

    def _restart(self):
        self._n = 0
        self._seen = 0
        self._bad = False

    # -- frames ----------------------------------------------------------------
    def _set(self, addr, mask, value):
        """Zone ``addr``: the bits in ``mask`` to ``value``, written and read back."""
        old = self.read_zone(addr)
        if old < 0:
            return old
        want = (old & ~mask & 0xFF) | value
        if want != old:
            r = self.write_zone(addr, want)
            if r != OK:
                return r
            old = self.read_zone(addr)
            if old < 0:
                return old
        return OK if old == want else MISMATCH

    def _command(self, kind, addr, data):
        """Send ``7E 00 kind 01 addr data CRC`` and take the 7-byte answer -> OK or a
        failure; the answer's data byte is left in ``_reply[4]``."""
        self._drop()
        f = self._frame
        f[0] = 0x7E
        f[1] = 0x00
        f[2] = kind
        f[3] = 1
        f[4] = addr >> 8
        f[5] = addr & 0xFF
        f[6] = data
        c = crc16(f, 2, 7)
        f[7] = c >> 8
        f[8] = c & 0xFF
        self._uart.write(f)
        return self._answer()

    def _drop(self):
        """Input waiting before a command (a scan's bytes, noise) is dropped (up to 512
        bytes: a line that never goes quiet then fails the command instead)."""
        u = self._uart
        self._ci = self._cn = 0
        self._restart()
        for _ in range(_CHUNKS_MAX):
            k = u.any()
            if not k:
                return
            k = u.readinto(self._chunk, k if k < _CHUNK else _CHUNK)
            if not k:
                return
            self.dropped += k

    def _answer(self):
        r = self._reply
        mv = memoryview(r)
        start = clock.ticks_ms()
        got = 0
        skipped = 0
        while got < 7:
            k = self._uart.any()
            if k:
                want = 1 if got < 2 else 7 - got
                k = self._uart.readinto(mv[got:], want)
                if k:
                    if got == 0 and r[0] != 0x02 or got == 1 and r[1] != 0x00:
                        skipped += 1  # not (yet) at the answer's 02 00
                        got = 1 if r[got] == 0x02 else 0
                        if got:
                            r[0] = 0x02
                        if skipped > _SYNC_MAX:
                            return BAD_REPLY
                        continue
                    got += k
                    continue
            if clock.elapsed_ms(start) >= _REPLY_MS:
                return NO_REPLY
            clock.sleep_ms(1)
        if r[2] != 0 or r[3] != 1:
            return BAD_REPLY
        c = crc16(r, 2, 5)
        if r[5] != c >> 8 or r[6] != c & 0xFF:
            return BAD_REPLY
        return OK
