"""The transaction journal: append-only, power-cut safe, MAC-chained.

Format, kinds and rules: docs/stores.md "Journal". Each ``append`` is on
flash when it returns; ``open()`` recovers at boot; ``ack(seq)`` frees whole
acknowledged segments. RAM: one record buffer, the last seq and mac, and 64
bytes per open purchase intent.
"""

import binascii
import hashlib
import struct
from collections import namedtuple

from micropython import const

from ykt.errors import YktError
from ykt.store import replace

# Record kinds (docs/stores.md "Kinds"); ``append`` takes the name or the code.
KINDS = {
    "boot": 0x01,
    "clock-set": 0x02,
    "purchase-intent": 0x10,
    "purchase": 0x11,
    "unpaid": 0x12,
    "abandoned": 0x13,
    "sale": 0x14,
    "load-intent": 0x15,
    "entry": 0x20,
    "exit": 0x21,
    "admitted": 0x22,  # a venue gate admitted a visitor (roles/venue.py)
    "load": 0x30,
    "refund": 0x31,
    "void": 0x32,
    "correction": 0x33,
    "give-back": 0x34,
    "denied": 0x40,
    "refused": 0x41,  # a venue gate refused a visitor: tx_type the code (roles/venue.py)
    "update-installed": 0x50,
    "update-refused": 0x51,
    "shift-open": 0x60,
    "shift-close": 0x61,
    "sign-in": 0x62,
    "sign-out": 0x63,
    "staff-locked": 0x64,
}
_INTENTS = b"\x10\x15"  # purchase-intent, load-intent
# purchase, unpaid, abandoned, entry, exit, load, refund, void
_RESOLVING = b"\x11\x12\x13\x20\x21\x30\x31\x32"

_CLOCK_SET = const(0x02)  # the clock check's baseline restarts at a clock-set record
_SIZE = const(64)
_FIELDS = const(52)
_CRC = const(60)
_FMT = ">IIBB6s10sHii4s4sII"
_ACK_FMT = ">4sII8sH"
_ACK_HEAD = const(22)
_U32 = const(0xFFFFFFFF)
_I32 = const(0x7FFFFFFF)
_ENOENT = const(2)
_EEXIST = const(17)
_ENOSPC = const(28)

Record = namedtuple(
    "Record",
    ("seq", "time", "kind", "tx_type", "terminal", "card", "atc", "amount", "balance",
     "tac", "random", "link", "tseq", "mac"),
)
State = namedtuple("State", ("used", "reserved", "free", "warn", "full", "last_seq", "acked"))


class JournalError(YktError):
    """The journal could not read or write flash (or was not opened)."""


class JournalFull(JournalError):
    """No room: upload and acknowledge records before selling more."""


def _crc_ok(buf):
    return struct.unpack_from(">I", buf, _CRC)[0] == binascii.crc32(memoryview(buf)[:_CRC])


def _decode(buf):
    f = struct.unpack_from(_FMT, buf, 0)
    return Record(f[0], f[1], f[2], f[3], f[4], binascii.hexlify(f[5]).decode(), f[6], f[7],
                  f[8], f[9], f[10], f[11], f[12], bytes(buf[_FIELDS:_CRC]))


class Journal:
    def __init__(self, fs, device_key, terminal_id, *, segment_records=64,
                 capacity_records=8192, warn_ratio=0.8, path="/journal"):
        if len(terminal_id) != 6:
            raise ValueError("terminal id is 6 bytes")
        key = bytes(device_key)
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key += bytes(64 - len(key))
        self._ipad = bytes(b ^ 0x36 for b in key)
        self._opad = bytes(b ^ 0x5C for b in key)
        self._fs = fs
        self._dir = path
        self._term = bytes(terminal_id)
        self._genesis = self._hmac(b"ykt journal v1", self._term)
        self.segment_records = segment_records
        self.capacity = capacity_records
        self._warn_at = (capacity_records * int(warn_ratio * 1000 + 0.5) + 999) // 1000
        self._buf = bytearray(_SIZE)
        self._mv = memoryview(self._buf)
        self.last_seq = None  # None until open()
        # the latest record time since the last clock-set record, that record's own time
        # included (0: none on flash): what the boot clock check compares the clock with
        self.last_time = 0
        self._open = {}  # seq -> raw bytes of each unresolved intent
        self.torn = 0  # bytes of a torn tail open() found (the next record overwrites them)
        self.damaged = None  # first damaged seq open() found (0: the ack file)

    def _hmac(self, a, b):
        h = hashlib.sha256(self._ipad)
        h.update(a)
        h.update(b)
        o = hashlib.sha256(self._opad)
        o.update(h.digest())
        return o.digest()[:8]

    def _path(self, first):
        return "%s/%08x.seg" % (self._dir, first)

    def _segments(self):
        out = []
        for name in self._fs.listdir(self._dir):
            if len(name) == 12 and name.endswith(".seg"):
                try:
                    out.append(int(name[:8], 16))
                except ValueError:
                    continue
        out.sort()
        return out

    def _damage(self, seq):
        if self.damaged is None:
            self.damaged = seq

    def _check(self):
        if self.last_seq is None:
            raise JournalError("journal not open")

    # -- recovery -----------------------------------------------------------------

    def open(self):
        """Recover at boot: find a torn tail, check CRCs and chain, find open intents."""
        self.last_seq = None
        self.last_time = 0
        self.torn = 0
        self.damaged = None
        self._open = {}
        self._seg_first = None
        self._seg_count = 0
        fs = self._fs
        buf = self._buf
        try:
            try:
                fs.mkdir(self._dir)
            except OSError as e:
                if e.args[0] != _EEXIST:
                    raise
            self._load_ack()
            prev = self._anchor_mac
            last = self._anchor
            segs = self._segments()
            for i in range(len(segs)):
                first = segs[i]
                path = self._path(first)
                size = fs.stat(path)[6]
                n = size // _SIZE
                newest = i == len(segs) - 1
                if n and first + n - 1 <= self._anchor:
                    fs.remove(path)  # an ack cut short by a power cut
                    continue
                if first != last + 1 and n:
                    self._damage(last + 1)
                keep = n
                with fs.open(path, "rb") as f:
                    for k in range(n):
                        f.readinto(buf)
                        mac = bytes(buf[_FIELDS:_CRC])
                        if not _crc_ok(buf):
                            if newest and k == n - 1:
                                keep = k  # the write a power cut interrupted
                                break
                            self._damage(first + k)
                        else:
                            seq, t, kind = struct.unpack_from(">IIB", buf, 0)
                            self.last_time = t if kind == _CLOCK_SET else max(self.last_time, t)
                            if seq != last + 1 or seq != first + k or self._hmac(
                                    prev, self._mv[:_FIELDS]) != mac:
                                self._damage(first + k)
                            last = max(last, seq)
                            if kind in _INTENTS:
                                self._open[seq] = bytes(buf)
                            elif kind in _RESOLVING:
                                self._open.pop(struct.unpack_from(">I", buf, 44)[0], None)
                        prev = mac
                        last = max(last, first + k)
                if newest:
                    self.torn = size - keep * _SIZE
                elif size % _SIZE:
                    self._damage(first + n)
                if keep:
                    self._seg_first = first
                    self._seg_count = keep
                else:
                    fs.remove(path)  # holds no whole record
        except OSError as e:
            raise JournalError("journal unreadable (errno %d)" % e.args[0])
        self._last_mac = prev
        self.last_seq = last

    def _load_ack(self):
        self._acked = self._anchor = 0
        self._anchor_mac = self._genesis
        try:
            f = self._fs.open(self._dir + "/ack", "rb")
        except OSError as e:
            if e.args[0] == _ENOENT:
                return
            raise
        with f:
            data = f.read()
        end = len(data) - 8
        if end < _ACK_HEAD or data[:4] != b"YKA1" or self._hmac(
                b"ykt journal ack", memoryview(data)[:end]) != data[end:]:
            self._damage(0)  # watermark lost: all on flash counts as un-acknowledged
            return
        _, self._acked, self._anchor, mac, n = struct.unpack_from(_ACK_FMT, data, 0)
        self._anchor_mac = bytes(mac)
        for at in range(_ACK_HEAD, _ACK_HEAD + n * _SIZE, _SIZE):
            self._open[struct.unpack_from(">I", data, at)[0]] = data[at:at + _SIZE]

    # -- acknowledgement ----------------------------------------------------------

    def ack(self, seq):
        """The back office holds every record up to ``seq``: remove whole segments.

        Returns how many were removed; an old or repeated ack does nothing.
        """
        self._check()
        if seq > self.last_seq:
            raise ValueError("ack beyond the last record")
        if seq <= self._acked:
            return 0
        fs = self._fs
        doomed = []
        anchor = self._anchor
        mac = self._anchor_mac
        try:
            for first in self._segments():
                n = fs.stat(self._path(first))[6] // _SIZE
                if first == self._seg_first:
                    n = self._seg_count
                    if n < self.segment_records:
                        break  # the newest still takes records
                if first + n - 1 > seq:
                    break
                doomed.append(first)
                anchor = first + n - 1
            if doomed:
                with fs.open(self._path(doomed[-1]), "rb") as f:
                    f.seek((anchor - doomed[-1]) * _SIZE)
                    f.readinto(self._buf)
                mac = bytes(self._buf[_FIELDS:_CRC])
            # Carried: unresolved intents whose segment goes.
            carried = [s for s in sorted(self._open) if s <= anchor]
            body = bytearray(struct.pack(_ACK_FMT, b"YKA1", seq, anchor, mac, len(carried)))
            for s in carried:
                body += self._open[s]
            body += self._hmac(b"ykt journal ack", body)
            replace(fs, self._dir + "/ack", body, self._dir + "/ack.tmp")
            self._acked = seq
            self._anchor = anchor
            self._anchor_mac = mac
            for first in doomed:
                fs.remove(self._path(first))  # the newest only when full: no more appends
        except OSError as e:
            if e.args[0] == _ENOSPC:
                raise JournalFull("flash full")
            raise JournalError("journal ack failed (errno %d)" % e.args[0])
        return len(doomed)

    # -- appending ----------------------------------------------------------------

    def append(self, kind, time=0, card=None, atc=0, amount=0, balance=0, tx_type=0,
               tac=None, random=None, link=0, tseq=0):
        """Write one record and commit it; return its seq.

        ``kind``: a name of KINDS or a code; ``card``: up to 20 digits;
        ``tac``/``random``: 4 bytes. Raises ValueError (nothing written),
        JournalFull or JournalError.
        """
        self._check()
        kind = KINDS.get(kind, kind)
        if not isinstance(kind, int):
            raise ValueError("unknown record kind")
        if not (0 < kind < 256 and 0 <= tx_type < 256 and 0 <= atc <= 0xFFFF
                and 0 <= time <= _U32 and 0 <= link <= _U32 and 0 <= tseq <= _U32
                and -_I32 - 1 <= amount <= _I32 and -_I32 - 1 <= balance <= _I32):
            raise ValueError("record field out of range")
        if card is None:
            card = ""
        elif len(card) > 20 or not card.isdigit():
            raise ValueError("card number is up to 20 digits")
        tac = tac or b"\0\0\0\0"
        random = random or b"\0\0\0\0"
        if len(tac) != 4 or len(random) != 4:
            raise ValueError("tac and random are 4 bytes")
        resolving = link in self._open and kind in _RESOLVING
        need = 1
        if resolving:
            need = 0  # uses the record its intent reserved
        elif kind in _INTENTS:
            need = 2  # itself and its completion
        if need > self.capacity - (self.last_seq - self._acked) - len(self._open):
            raise JournalFull("journal full: upload records")
        seq = self.last_seq + 1
        buf = self._buf
        struct.pack_into(_FMT, buf, 0, seq, time, kind, tx_type, self._term,
                         binascii.unhexlify("0" * (20 - len(card)) + card), atc, amount,
                         balance, tac, random, link, tseq)
        mac = self._hmac(self._last_mac, self._mv[:_FIELDS])
        buf[_FIELDS:_CRC] = mac
        struct.pack_into(">I", buf, _CRC, binascii.crc32(self._mv[:_CRC]))
        first = self._seg_first
        count = self._seg_count
        if first is None or count >= self.segment_records:
            first = seq
            count = 0
        # Written at its place, so whatever a failed or torn write left there is overwritten.
        err = _ENOSPC  # a short write means a full filesystem
        try:
            f = self._fs.open(self._path(first), "r+b" if count else "wb")
            try:
                f.seek(count * _SIZE)
                n = f.write(buf)
            finally:
                f.close()  # commits (LittleFS writes the file's metadata on close)
            if n == _SIZE:
                err = 0
        except OSError as e:
            err = e.args[0]
        if err == _ENOSPC:
            raise JournalFull("flash full")
        if err:
            raise JournalError("journal write failed (errno %d)" % err)
        self.last_seq = seq
        self.last_time = time if kind == _CLOCK_SET else max(self.last_time, time)
        self._last_mac = mac
        self._seg_first = first
        self._seg_count = count + 1
        if kind in _INTENTS:
            self._open[seq] = bytes(buf)
        elif resolving:
            del self._open[link]
        return seq

    # -- reading --------------------------------------------------------------------

    def records(self, from_seq=1):
        """Yield each Record with seq >= ``from_seq`` (bad-CRC records are skipped)."""
        self._check()
        buf = bytearray(_SIZE)
        for first in self._segments():
            path = self._path(first)
            n = self._fs.stat(path)[6] // _SIZE
            k = max(0, from_seq - first)
            if k >= n:
                continue
            with self._fs.open(path, "rb") as f:
                f.seek(k * _SIZE)
                while k < n and f.readinto(buf) == _SIZE:
                    if _crc_ok(buf):
                        yield _decode(buf)
                    k += 1

    def raw(self, seq, buf, n):
        """Copy up to ``n`` consecutive records from ``seq`` on, as stored (64 bytes each),
        into ``buf`` -> how many (0 when ``seq`` is not on flash). For the uplink."""
        self._check()
        got = 0
        mv = memoryview(buf)
        for first in self._segments():
            if got == n or seq > self.last_seq or seq < first:
                break
            path = self._path(first)
            count = self._seg_count if first == self._seg_first else (
                self._fs.stat(path)[6] // _SIZE)
            if seq >= first + count:
                continue
            with self._fs.open(path, "rb") as f:
                f.seek((seq - first) * _SIZE)
                while got < n and seq < first + count:
                    if f.readinto(mv[got * _SIZE:(got + 1) * _SIZE]) != _SIZE:
                        return got
                    got += 1
                    seq += 1
        return got

    def unresolved(self):
        """Purchase intents with no completion, oldest first (Records)."""
        return [_decode(self._open[s]) for s in sorted(self._open)]

    def state(self):
        """State(used, reserved, free, warn, full, last_seq, acked); docs/stores.md."""
        self._check()
        used = self.last_seq - self._acked
        free = max(0, self.capacity - used - len(self._open))
        return State(used, len(self._open), free, self.capacity - free >= self._warn_at,
                     free < 1, self.last_seq, self._acked)
