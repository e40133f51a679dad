"""Model of a GM65 / GM8xx serial QR scanner module (see the firmware driver,
``ykt/drivers/gm65.py``, for the protocol and its sources).

A UART device (``uart_write`` / ``uart_read``). What it does, as the GM65 user manual says
(8.2-8.5):

* command frames ``7E 00 type len addrH addrL data CRC``: CRC-16/XMODEM over type..data, or
  ``AB CD`` (no check). Read (07) answers ``02 00 00 n data CRC``; write (08) and save (09,
  data 00) answer ``02 00 00 01 00 33 31``. A wrong CRC, an unknown type and a frame not
  complete within 400 ms of its ``7E 00`` get no answer; bytes before ``7E 00`` are skipped.
* zone bits: a 256-byte settings memory, ``zones``; ``saved`` is what a save put in EEPROM
  and what a power cycle (``power_on``) restores.
* reading: a code shown to the module (``present``) is decoded ``scan_ms`` after it is in
  view while the module is reading, then sent as its text and CR. In continuous mode (zone
  0x0000 bits 1-0 = 10) the module is always reading, once per code shown; in command mode
  (01, "trigger") a write of bit 0 of zone 0x0002 starts a reading that ends with the first
  code or after the single reading time (zone 0x0006, 100 ms steps; 0 = no limit). In manual
  (00) and sensor (11) mode nothing is read (those need the module's button or its sensor).
  ``present_garbage(n)`` is a misread: ``n`` bytes of line garbage (a fixed seed) instead.

The line: what the module sends goes out one byte after another at the UART's speed (10 bits
a byte: start, 8 data, stop), ``baud`` (the board's ``qr.uart.baudrate``): a 1,234-character
RSA code takes 1.29 s at 9600 baud and 107 ms at 115200; the host sees each byte only once
it has been sent. Zones 0x002A-0x002B hold the module's serial speed as a little-endian
divisor (a Waveshare/GM65-based manual, appendix B, "query the baud rate" ``7E 00 07 01 00
2A 02 D8 0F``: 0x0139 9600, 0x009C 19200, 0x004E 38400, 0x0034 57600; 0x001A for 115200 by
the same 3,000,000 / baud rule, not in the table we found): the model keeps them at the speed
it was made for (the module is set to the board's speed once, when the gate is built, and
saves it).

Assumptions (not in the manual's text we found): the factory value of zone 0x0000 (0xD5 here:
LED, sound, aim and light standard, command mode) and the decode time (``scan_ms``, 150 ms).
The single reading time's default, 5 s (0x32), is the one the manual of a GM65-based scanner
gives ("Command Trigger mode ... default time is 5 seconds").
"""

import random

HEAD = b"\x7e\x00"
NO_CHECK = b"\xab\xcd"
ACK = b"\x02\x00\x00\x01\x00\x33\x31"
READ, WRITE, SAVE = 0x07, 0x08, 0x09
ZONE_SETTINGS, ZONE_SCAN, ZONE_READ_TIME, ZONE_BAUD = 0x0000, 0x0002, 0x0006, 0x002A
MANUAL, COMMAND, CONTINUOUS, SENSOR = 0, 1, 2, 3
FRAME_MS = 400  # a frame not complete this long after its 7E 00 is dropped (manual 8.2, 8.3)
DEFAULT_ZONES = {ZONE_SETTINGS: 0xD5, ZONE_READ_TIME: 0x32}


def baud_divisor(baud):
    """Zones 0x002A-0x002B for a serial speed: round(3,000,000 / baud)."""
    return (3000000 + baud // 2) // baud


def crc16(data):
    """CRC-16/XMODEM (poly 0x1021, init 0, no reflection, no final xor)."""
    c = 0
    for b in data:
        c ^= b << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) & 0xFFFF if c & 0x8000 else (c << 1) & 0xFFFF
    return c


def frame(kind, addr, data):
    """A command frame with its CRC (what a host sends)."""
    body = bytes((kind, len(data) & 0xFF, addr >> 8, addr & 0xFF)) + bytes(data)
    return HEAD + body + crc16(body).to_bytes(2, "big")


def answer(data):
    """The module's answer carrying ``data``: ``02 00 00 len data CRC``."""
    body = bytes((0, len(data) & 0xFF)) + bytes(data)
    return b"\x02\x00" + body + crc16(body).to_bytes(2, "big")


class GM65Model:
    def __init__(self, clock, scan_ms=150, seed=65, baud=9600):
        self.clock = clock
        self.scan_ms = scan_ms
        self.baud = baud
        self.byte_us = 10 * 1000000 / baud  # start bit, 8 data bits, stop bit
        self.saved = bytearray(256)
        for addr, v in DEFAULT_ZONES.items():
            self.saved[addr] = v
        self.saved[ZONE_BAUD:ZONE_BAUD + 2] = baud_divisor(baud).to_bytes(2, "little")
        self._rng = random.Random(seed)
        self.frames = []  # every command frame taken (good or not), in order
        self.answers = []  # every answer sent
        self.sent = []  # every code or misread sent: (virtual us, bytes)
        self.power_on()

    def power_on(self):
        """The module powers up: zones from EEPROM, nothing in view or on the line."""
        self.zones = bytearray(self.saved)
        self._rx = bytearray()
        self._rx_at = 0  # when the frame being received started (its 7E 00)
        self._out = []  # [starts at us, bytes, bytes already taken], one after another
        self._shown = []  # codes in view: [from us, until us, bytes, read]
        self._reading_until = None  # command mode: a triggered reading runs until then
        self._reading_from = 0

    @property
    def mode(self):
        return self.zones[ZONE_SETTINGS] & 0x03

    # -- what a scenario does --------------------------------------------------
    def present(self, text, hold_ms=1500, scan_ms=None):
        """A code is shown to the module now, for ``hold_ms``; ``scan_ms`` overrides the
        decode time for this one."""
        data = text.encode() if isinstance(text, str) else bytes(text)
        self._show(data + b"\r", hold_ms, scan_ms)

    def present_garbage(self, n, hold_ms=1500, scan_ms=None):
        """A misread: ``n`` bytes of garbage (any value, CR included; no CR of its own at the
        end) where a code would be."""
        self._show(bytes(self._rng.randrange(256) for _ in range(n)), hold_ms, scan_ms)

    def _show(self, sent, hold_ms, scan_ms):
        now = self.clock.now_us()
        scan = (self.scan_ms if scan_ms is None else scan_ms) * 1000
        self._shown.append([now, now + hold_ms * 1000, sent, False, scan])
        self._schedule_reads()

    # -- the UART -------------------------------------------------------------------
    def uart_write(self, data):
        now = self.clock.now_us()
        if self._rx and now - self._rx_at > FRAME_MS * 1000:
            self._rx.clear()  # the frame in progress timed out: an unknown command
        for b in data:
            if len(self._rx) == 0 and b != 0x7E or len(self._rx) == 1 and b != 0x00:
                self._rx.clear()
                if b == 0x7E:
                    self._rx.append(b)
                    self._rx_at = now
                continue
            if not self._rx:
                self._rx_at = now
            self._rx.append(b)
            need = self._frame_len()
            if need is not None and len(self._rx) >= need:
                f = bytes(self._rx)
                self._rx.clear()
                self._command(f)

    def uart_read(self):
        """The bytes that have come down the line by now (each once)."""
        self._schedule_reads()
        now = self.clock.now_us()
        out = bytearray()
        while self._out and self._out[0][0] <= now:
            start, data, taken = self._out[0]
            done = min(len(data), int((now - start) // self.byte_us))  # bytes fully sent
            out += data[taken:done]
            if done < len(data):
                self._out[0][2] = done
                break
            self._out.pop(0)
        return bytes(out)

    # -- inside ---------------------------------------------------------------------
    def _frame_len(self):
        rx = self._rx
        if len(rx) < 4:
            return None
        kind, n = rx[2], rx[3]
        if kind == WRITE:
            return 6 + (n or 256) + 2
        return 6 + 1 + 2  # read and save carry one data byte; any other type: the same shape

    def _command(self, f):
        self.frames.append(f)
        kind, n, addr = f[2], f[3], f[4] << 8 | f[5]
        data = f[6:-2]
        if f[-2:] != NO_CHECK and crc16(f[2:-2]) != int.from_bytes(f[-2:], "big"):
            return  # "If CRC wrong, no return data"
        if kind == READ:
            count = data[0] or 256
            if addr + count > 256:
                return  # "If format or data wrong, no return data"
            self._send(answer(self.zones[addr:addr + count]))
        elif kind == WRITE:
            if n != len(data) % 256 or addr + len(data) > 256:
                return
            self.zones[addr:addr + len(data)] = data
            self._send(ACK)
            if addr <= ZONE_SCAN < addr + len(data) and self.zones[ZONE_SCAN] & 1:
                self._trigger()
        elif kind == SAVE and addr == 0 and data == b"\x00":
            self.saved[:] = self.zones
            self._send(ACK)

    def _send(self, data, at=None):
        """``data`` onto the line from ``at`` (default now), after what is still being sent
        (the line carries one byte at a time)."""
        now = self.clock.now_us() if at is None else at
        if data[:2] == b"\x02\x00":
            self.answers.append(data)
        for i, (start, queued, _) in enumerate(self._out):
            if start > now:  # a later send (a code decoded later than this answer)
                self._out.insert(i, [now, data, 0])
                break
        else:
            self._out.append([now, data, 0])
        t = self._out[0][0]
        for item in self._out:  # one after another: each starts when the previous ends
            item[0] = max(item[0], t)
            t = item[0] + len(item[1]) * self.byte_us

    def _trigger(self):
        """Command mode: the host started a reading (the ACK goes first, then it reads)."""
        if self.mode != COMMAND:
            self.zones[ZONE_SCAN] &= 0xFE
            return
        now = self.clock.now_us()
        steps = self.zones[ZONE_READ_TIME]
        self._reading_from = now
        self._reading_until = now + steps * 100000 if steps else float("inf")
        self._schedule_reads()

    def _schedule_reads(self):
        """Decide, for each code in view and not yet read, when the module sends it (as the
        clock moves: called on every present, trigger and read of the line)."""
        mode = self.mode
        for shown in self._shown:
            start, until, data, done, scan = shown
            if done:
                continue
            if mode == CONTINUOUS:
                at = start + scan
            elif mode == COMMAND and self._reading_until is not None:
                at = max(start, self._reading_from) + scan
                if at > self._reading_until:
                    continue
            else:
                continue
            if at > until:
                continue  # taken away before it was decoded
            shown[3] = True
            self.sent.append((at, data))
            self._send(data, at)
            if mode == COMMAND:
                self._reading_until = None  # the reading ends with its code
                self.zones[ZONE_SCAN] &= 0xFE
        now = self.clock.now_us()
        if self._reading_until is not None and now > self._reading_until:
            self._reading_until = None  # the reading timed out
            self.zones[ZONE_SCAN] &= 0xFE
        self._shown = [s for s in self._shown if not s[3] and s[1] > now]  # still in view
