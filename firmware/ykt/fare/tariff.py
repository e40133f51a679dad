"""The compiled tariff, read by seek from its file (format: docs/fares.md "Compiled tariff").

``Tariff(f)`` keeps the open file. At open it checks the file's CRC-32 (a flipped bit on
flash is refused here, not met as a wrong fare), then reads the header, the section
directory, the station ids (2 bytes a station, for the id -> index search) and the small
rule sections, checking every count, offset and length against the file; names and
distances stay on flash and are read when asked for, so the whole OD table never has to
fit in RAM. Whatever is wrong with the file, the only error is ``TariffError`` (one line).
"""

import binascii
import struct

from micropython import const

from ykt.errors import YktError

MAGIC = b"YKTF"
FORMAT = const(2)
HEADER_FMT = ">4sBBHIIHHI"  # magic, format, rfu, sections, version, length, stations, lines, CRC
HEADER_SIZE = const(24)
CRC_AT = const(20)  # the CRC-32 covers bytes 0..19 and 24..end
DIR_ENTRY = const(12)
STATION_SIZE = const(12)
MAX_LINES = const(32)  # a station's line mask has 32 bits
POLI_SIZE = const(25)
_CHUNK = const(512)
_ROWS = const(32)  # station rows read at a time at open
SECTIONS = (b"LINE", b"STNS", b"NAME", b"DIST", b"FARE", b"LEXC", b"POLI", b"XFER", b"MNTH",
            b"CATG", b"ISSU", b"ROUT")

METRO = 1
BUS = 2
FERRY = 3
MODE_NAMES = {METRO: "metro", BUS: "bus", FERRY: "ferry"}

KIND_NONE = 0
KIND_FIXED = 1
KIND_MAX_FROM_STATION = 2
KIND_NETWORK_MAX = 3

CROSSING_NEXT_RIDE = 0
CROSSING_SPLIT = 1

ISSUER_ACCEPT = 0x01
ISSUER_CATEGORY = 0x02
ISSUER_TRANSFER = 0x04
ISSUER_MONTHLY = 0x08
ISSUER_WILDCARD = 0x80

NO_MAX = 0xFFFFFFFF
OPEN_END = 0xFFFF
UNREACHABLE = 0xFFFF


class TariffError(YktError):
    """The tariff file is damaged or malformed, or a station/route it does not have was
    asked for. The message is one line."""


def _bad(what):
    return TariffError("tariff file damaged: %s" % what)


def checksum(f, length, base=0):
    """CRC-32 of a compiled tariff's bytes 0..19 and 24..length-1 (read from ``f``, where
    the tariff starts at ``base``)."""
    mv = memoryview(bytearray(_CHUNK))
    crc = 0
    pos = 0
    f.seek(base)
    while pos < length:
        n = f.readinto(mv[: min(_CHUNK, length - pos)])
        if not n:
            raise _bad("short read at %d" % pos)
        lo = pos
        hi = pos + n
        if lo < CRC_AT:  # the CRC field itself is left out
            crc = binascii.crc32(mv[: min(n, CRC_AT - lo)], crc)
        if hi > HEADER_SIZE:
            crc = binascii.crc32(mv[max(0, HEADER_SIZE - lo) : n], crc)
        pos = hi
    return crc & 0xFFFFFFFF


def _need(b, p, n, tag):
    if p + n > len(b):
        raise _bad("section %s too short" % tag)


def _raw(b, p, tag="?"):
    _need(b, p, 1, tag)
    n = b[p]
    _need(b, p + 1, n, tag)
    return bytes(b[p + 1 : p + 1 + n]), p + 1 + n


def _text(raw, tag):
    try:
        return raw.decode()
    except ValueError:  # UnicodeError on both runtimes
        raise _bad("text in %s is not UTF-8" % tag)


def _str(b, p, tag="?"):
    s, p = _raw(b, p, tag)
    return _text(s, tag), p


def _end(b, p, tag):
    if p != len(b):
        raise _bad("section %s has %d bytes, its content %d" % (tag, len(b), p))


def _mode(m, tag):
    if m not in MODE_NAMES:
        raise _bad("unknown mode %d in %s" % (m, tag))
    return m


def _pct(v, top, tag):
    if v > top:
        raise _bad("percent %d in %s" % (v, tag))
    return v


class Tariff:
    def __init__(self, f, base=0, size=None):
        """The tariff in ``f``: the whole file, or the ``size`` bytes from ``base`` (the
        update installer checks a payload where it lies in its envelope)."""
        self._f = f
        self._base = base
        if size is None:
            try:
                f.seek(0, 2)
                size = f.tell() - base
            except OSError as e:
                raise TariffError("tariff file unreadable (I/O error %s)"
                                  % (e.args[0] if e.args else "?"))
        head = self._read(0, min(size, HEADER_SIZE))
        if head[:4] != MAGIC[: len(head)] or len(head) < 4:
            raise TariffError("not a tariff file")
        if len(head) < HEADER_SIZE:
            raise TariffError("tariff file is %d bytes, shorter than its header" % size)
        magic, fmt, _, nsec, version, length, n, nlines, crc = struct.unpack(HEADER_FMT, head)
        if fmt != FORMAT:
            raise TariffError("tariff format %d not supported (this firmware reads %d)"
                              % (fmt, FORMAT))
        if size != length:
            raise TariffError("tariff file is %d bytes, header says %d" % (size, length))
        if checksum(f, length, base) != crc:
            raise _bad("checksum mismatch")
        self.version = version
        self.length = length
        self.n = n
        self._sec = {}
        if HEADER_SIZE + nsec * DIR_ENTRY > length:
            raise _bad("section directory outside the file")
        first = HEADER_SIZE + nsec * DIR_ENTRY
        d = self._read(HEADER_SIZE, nsec * DIR_ENTRY)
        for i in range(nsec):
            tag, off, size = struct.unpack_from(">4sII", d, i * DIR_ENTRY)
            if off < first or off + size > length:
                if all(0x20 < c < 0x7F for c in tag):
                    name = tag.decode()
                else:
                    name = binascii.hexlify(tag).decode()
                raise _bad("section %s outside the file" % name)
            self._sec[tag] = (off, size)
        for tag in SECTIONS:
            if tag not in self._sec:
                raise _bad("section %s missing" % tag.decode())
        if self._sec[b"STNS"][1] != n * STATION_SIZE or self._sec[b"DIST"][1] != n * (n - 1):
            raise _bad("station table sizes disagree")
        if nlines > MAX_LINES:
            raise _bad("%d lines" % nlines)
        self._load_lines(nlines)
        self._load_ids()
        self._load_fare()
        self._load_lexc()
        self._load_policies()
        self._load_small()
        self._check_routes()

    @classmethod
    def open(cls, fs, path="/tariff.bin"):
        """The tariff at ``path`` of an fs object (docs/architecture.md "Files on flash")."""
        f = fs.open(path, "rb")
        try:
            return cls(f)
        except Exception:
            f.close()
            raise

    def close(self):
        self._f.close()

    # -- reading -------------------------------------------------------------------------

    def _read(self, off, n):
        try:
            self._f.seek(self._base + off)
            b = self._f.read(n)
        except OSError as e:
            code = e.args[0] if e.args else "?"
            raise TariffError("tariff file unreadable (I/O error %s)" % code)
        if b is None or len(b) != n:
            raise TariffError("tariff file short read at %d" % off)
        return b

    def _section(self, tag):
        off, size = self._sec[tag]
        return self._read(off, size)

    def _load_lines(self, nlines):
        b = self._section(b"LINE")
        self.lines = []  # (id, name) in bit order
        p = 0
        for _ in range(nlines):
            lid, p = _str(b, p, "LINE")
            name, p = _str(b, p, "LINE")
            self.lines.append((lid, name))
        _end(b, p, "LINE")

    def _load_ids(self):
        """Station ids (strictly ascending: the id search is a binary search); each row's
        name must lie inside NAME."""
        off = self._sec[b"STNS"][0]
        names = self._sec[b"NAME"][1]
        ids = bytearray(2 * self.n)
        prev = -1
        i = 0
        while i < self.n:
            k = min(_ROWS, self.n - i)
            rows = self._read(off + i * STATION_SIZE, k * STATION_SIZE)
            for r in range(k):
                sid, _, _, noff, nlen, _ = struct.unpack_from(">HHIHBB", rows, r * STATION_SIZE)
                if sid <= prev:
                    raise _bad("station ids out of order at %d" % (i + r))
                if noff + nlen > names:
                    raise _bad("station %d's name outside NAME" % sid)
                prev = sid
                ids[2 * (i + r)] = sid >> 8
                ids[2 * (i + r) + 1] = sid & 0xFF
            i += k
        self._ids = bytes(ids)

    def _load_fare(self):
        b = self._section(b"FARE")
        _need(b, 0, 11, "FARE")
        base_fen, base_dam, max_fen, nsteps = struct.unpack_from(">IHIB", b, 0)
        _end(b, 11 + 10 * nsteps, "FARE")
        steps = []
        for i in range(nsteps):
            fr, to, every, add = struct.unpack_from(">HHHI", b, 11 + 10 * i)
            if every == 0 or fr >= to:
                raise _bad("fare band %d" % i)
            steps.append((fr, to, every, add))
        self.base_fen = base_fen
        self.base_dam = base_dam
        self.max_fen = None if max_fen == NO_MAX else max_fen
        self.fare_steps = steps  # (from_dam, to_dam or OPEN_END, every_dam, add_fen)

    def _load_lexc(self):
        b = self._section(b"LEXC")
        self.line_exceptions = []  # (line bit, adjust_fen, station index bytes, bitmap)
        _need(b, 0, 1, "LEXC")
        p = 1
        for _ in range(b[0]):
            _need(b, p, 8, "LEXC")
            line, _, adjust, k = struct.unpack_from(">BBiH", b, p)
            if line >= len(self.lines):
                raise _bad("line exception for line bit %d" % line)
            p += 8
            _need(b, p, 2 * k, "LEXC")
            idx = b[p:p + 2 * k]
            p += 2 * k
            for j in range(k):
                if ((idx[2 * j] << 8) | idx[2 * j + 1]) >= self.n:
                    raise _bad("line exception station index")
            nbits = (k * k + 7) // 8
            _need(b, p, nbits, "LEXC")
            self.line_exceptions.append((line, adjust, idx, b[p:p + nbits]))
            p += nbits
        _end(b, p, "LEXC")

    def _load_policies(self):
        b = self._section(b"POLI")
        _end(b, POLI_SIZE, "POLI")
        v = struct.unpack(">HIHBIBIBIH", b)
        for kind in (v[3], v[5], v[7]):
            if kind > KIND_NETWORK_MAX:
                raise _bad("policy kind %d" % kind)
        self.same_station_grace_min = v[0]
        self.same_station_grace_fen = v[1]
        self.time_limit_min = v[2]
        self.overtime = (v[3], v[4])  # (kind, fen)
        self.missing_entry = (v[5], v[6])
        self.unclosed = (v[7], v[8])
        self.network_max_dam = v[9]

    def _load_small(self):
        b = self._section(b"XFER")
        _need(b, 0, 1, "XFER")
        _end(b, 1 + 8 * b[0], "XFER")
        self.transfers = []
        for i in range(b[0]):
            fr, to, minutes, off = struct.unpack_from(">BBHI", b, 1 + 8 * i)
            self.transfers.append((_mode(fr, "XFER"), _mode(to, "XFER"), minutes, off))
        b = self._section(b"MNTH")
        _need(b, 0, 1, "MNTH")
        _end(b, 1 + 8 * b[0], "MNTH")
        self.monthly = []  # (mode, crossing, percent_off, threshold_fen)
        for i in range(b[0]):
            mode, crossing, pct, _, thr = struct.unpack_from(">BBBBI", b, 1 + 8 * i)
            if crossing > CROSSING_SPLIT:
                raise _bad("monthly crossing %d" % crossing)
            self.monthly.append((_mode(mode, "MNTH"), crossing, _pct(pct, 100, "MNTH"), thr))
        b = self._section(b"CATG")
        self.categories = {}  # code -> (name, [(modes, days, from_min, to_min, pct_off)])
        _need(b, 0, 1, "CATG")
        p = 1
        for _ in range(b[0]):
            _need(b, p, 2, "CATG")
            code, nrules = b[p], b[p + 1]
            name, p = _str(b, p + 2, "CATG")
            _need(b, p, 7 * nrules, "CATG")
            rules = []
            for _ in range(nrules):
                r = struct.unpack_from(">BBHHB", b, p)
                _pct(r[4], 100, "CATG")
                rules.append(r)
                p += 7
            self.categories[code] = (name, rules)
        _end(b, p, "CATG")
        b = self._section(b"ISSU")
        self.issuers = []  # (city, flags, percent, name)
        _need(b, 0, 1, "ISSU")
        p = 1
        for _ in range(b[0]):
            _need(b, p, 5, "ISSU")
            city, flags, pct = struct.unpack_from(">HBH", b, p)
            name, p = _str(b, p + 5, "ISSU")
            self.issuers.append((city, flags, _pct(pct, 1000, "ISSU"), name))
        _end(b, p, "ISSU")

    def _check_routes(self):
        """Walk ROUT once, so that ``route_fen`` can trust it."""
        b = self._section(b"ROUT")
        _need(b, 0, 2, "ROUT")
        p = 2
        for _ in range((b[0] << 8) | b[1]):
            _need(b, p, 1, "ROUT")
            _mode(b[p], "ROUT")
            _, p = _raw(b, p + 1, "ROUT")
            _need(b, p, 4, "ROUT")
            _, p = _raw(b, p + 4, "ROUT")
        _end(b, p, "ROUT")

    # -- stations and distances ----------------------------------------------------------

    def index(self, station_id):
        """Table index of a station id; TariffError if the tariff has no such station."""
        ids = self._ids
        lo, hi = 0, self.n - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            v = (ids[2 * mid] << 8) | ids[2 * mid + 1]
            if v == station_id:
                return mid
            if v < station_id:
                lo = mid + 1
            else:
                hi = mid - 1
        raise TariffError("unknown station %s" % (station_id,))

    def has_station(self, station_id):
        try:
            self.index(station_id)
        except TariffError:
            return False
        return True

    def station_id(self, i):
        if not 0 <= i < self.n:
            raise TariffError("no station at index %d" % i)
        return (self._ids[2 * i] << 8) | self._ids[2 * i + 1]

    def _row(self, i):
        return struct.unpack(">HHIHBB", self._read(self._sec[b"STNS"][0] + i * STATION_SIZE,
                                                   STATION_SIZE))

    def name(self, station_id):
        r = self._row(self.index(station_id))
        if r[3] + r[4] > self._sec[b"NAME"][1]:  # the file changed under us
            raise _bad("station %d's name outside NAME" % station_id)
        return _text(self._read(self._sec[b"NAME"][0] + r[3], r[4]), "NAME")

    def station_lines(self, station_id):
        """Line ids (strings) serving the station."""
        mask = self._row(self.index(station_id))[2]
        return [self.lines[i][0] for i in range(len(self.lines)) if mask & (1 << i)]

    def max_dam(self, station_id):
        """Longest shortest-mileage distance from the station, decametres."""
        return self._row(self.index(station_id))[1]

    def distance_dam(self, a, b):
        """Shortest-mileage distance between two station ids, whole decametres (rounded up)."""
        i, j = self.index(a), self.index(b)
        if i == j:
            return 0
        if i > j:
            i, j = j, i
        n = self.n
        k = i * (2 * n - i - 1) // 2 + (j - i - 1)
        b2 = self._read(self._sec[b"DIST"][0] + 2 * k, 2)
        d = (b2[0] << 8) | b2[1]
        if d == UNREACHABLE:
            raise TariffError("no path between stations %d and %d" % (a, b))
        return d

    def line_adjust(self, a, b):
        """Sum of the line exceptions' adjustments (fen) that apply to the trip a -> b."""
        if a == b:
            return 0
        i, j = self.index(a), self.index(b)
        total = 0
        for _, adjust, idx, bitmap in self.line_exceptions:
            r = _find_u16(idx, i)
            c = _find_u16(idx, j)
            if r < 0 or c < 0:
                continue
            k = len(idx) // 2
            bit = r * k + c
            if bitmap[bit >> 3] & (0x80 >> (bit & 7)):
                total += adjust
        return total

    # -- rules ---------------------------------------------------------------------------

    def route_fen(self, mode, route):
        """Flat fare (fen) of a bus/ferry route (``route`` a str); TariffError if unknown."""
        b = self._section(b"ROUT")
        want = route.encode() if isinstance(route, str) else bytes(route)
        p = 2
        for _ in range((b[0] << 8) | b[1]):
            m = b[p]
            rid, p = _raw(b, p + 1, "ROUT")
            _need(b, p, 4, "ROUT")
            fen = struct.unpack_from(">I", b, p)[0]
            _, p = _raw(b, p + 4, "ROUT")
            if m == mode and rid == want:
                return fen
        raise TariffError("unknown %s route %s" % (MODE_NAMES.get(mode, "?"), route))

    def issuer(self, city):
        """``(flags, percent, name)`` for a card's city code (the wildcard if none matches)."""
        wild = None
        for c, flags, pct, name in self.issuers:
            if flags & ISSUER_WILDCARD:
                wild = (flags, pct, name)
            elif c == city:
                return (flags, pct, name)
        if wild is None:
            raise TariffError("tariff has no default issuer")
        return wild

    def category_name(self, code):
        c = self.categories.get(code)
        return c[0] if c else None


def _find_u16(b, v):
    for k in range(len(b) // 2):
        if ((b[2 * k] << 8) | b[2 * k + 1]) == v:
            return k
    return -1
