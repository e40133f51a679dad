"""The compiled tariff, read by seek from its file (format: docs/fares.md "Compiled tariff").

``Tariff(f)`` keeps the open file. At open it reads the header, the section directory, the
station ids (2 bytes a station, for the id -> index search) and the small rule sections;
names and distances stay on flash and are read when asked for, so the whole OD table never
has to fit in RAM.
"""

import struct

from ykt.errors import YktError

MAGIC = b"YKTF"
FORMAT = 1
HEADER_FMT = ">4sBBHIIHHI"  # magic, format, rfu, sections, version, length, stations, lines, rfu
HEADER_SIZE = 24
DIR_ENTRY = 12
STATION_SIZE = 12

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
    """The tariff file is malformed, or a station/route it does not have was asked for."""


class Tariff:
    def __init__(self, f):
        self._f = f
        head = self._read(0, HEADER_SIZE)
        magic, fmt, _, nsec, version, length, n, nlines, _ = struct.unpack(HEADER_FMT, head)
        if magic != MAGIC:
            raise TariffError("not a tariff file")
        if fmt != FORMAT:
            raise TariffError("tariff format %d not supported" % fmt)
        f.seek(0, 2)
        if f.tell() != length:
            raise TariffError("tariff file is %d bytes, header says %d" % (f.tell(), length))
        self.version = version
        self.length = length
        self.n = n
        self._sec = {}
        d = self._read(HEADER_SIZE, nsec * DIR_ENTRY)
        for i in range(nsec):
            tag, off, size = struct.unpack_from(">4sII", d, i * DIR_ENTRY)
            if off + size > length:
                raise TariffError("tariff section %s outside the file" % tag.decode())
            self._sec[tag] = (off, size)
        for tag in (b"LINE", b"STNS", b"NAME", b"DIST", b"FARE", b"LEXC", b"POLI", b"XFER",
                    b"MNTH", b"CATG", b"ISSU", b"ROUT"):
            if tag not in self._sec:
                raise TariffError("tariff section %s missing" % tag.decode())
        if self._sec[b"STNS"][1] != n * STATION_SIZE or self._sec[b"DIST"][1] != n * (n - 1):
            raise TariffError("tariff station table sizes disagree")
        self._load_lines(nlines)
        self._load_ids()
        self._load_fare()
        self._load_lexc()
        self._load_policies()
        self._load_small()

    @classmethod
    def open(cls, fs, path="/tariff.bin"):
        """The tariff at ``path`` of an fs object (docs/architecture.md "Files on flash")."""
        return cls(fs.open(path, "rb"))

    def close(self):
        self._f.close()

    # -- reading -------------------------------------------------------------------------

    def _read(self, off, n):
        self._f.seek(off)
        b = self._f.read(n)
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
            lid, p = _str(b, p)
            name, p = _str(b, p)
            self.lines.append((lid, name))

    def _load_ids(self):
        off = self._sec[b"STNS"][0]
        ids = bytearray(2 * self.n)
        for i in range(self.n):
            ids[2 * i:2 * i + 2] = self._read(off + i * STATION_SIZE, 2)
        self._ids = bytes(ids)

    def _load_fare(self):
        b = self._section(b"FARE")
        base_fen, base_dam, max_fen, nsteps = struct.unpack_from(">IHIB", b, 0)
        steps = []
        for i in range(nsteps):
            steps.append(struct.unpack_from(">HHHI", b, 11 + 10 * i))
        self.base_fen = base_fen
        self.base_dam = base_dam
        self.max_fen = None if max_fen == NO_MAX else max_fen
        self.fare_steps = steps  # (from_dam, to_dam or OPEN_END, every_dam, add_fen)

    def _load_lexc(self):
        b = self._section(b"LEXC")
        self.line_exceptions = []  # (line bit, adjust_fen, station index bytes, bitmap)
        p = 1
        for _ in range(b[0]):
            line, _, adjust, k = struct.unpack_from(">BBiH", b, p)
            p += 8
            idx = b[p:p + 2 * k]
            p += 2 * k
            nbits = (k * k + 7) // 8
            self.line_exceptions.append((line, adjust, idx, b[p:p + nbits]))
            p += nbits

    def _load_policies(self):
        v = struct.unpack(">HIHBIBIBIH", self._section(b"POLI"))
        self.same_station_grace_min = v[0]
        self.same_station_grace_fen = v[1]
        self.time_limit_min = v[2]
        self.overtime = (v[3], v[4])  # (kind, fen)
        self.missing_entry = (v[5], v[6])
        self.unclosed = (v[7], v[8])
        self.network_max_dam = v[9]

    def _load_small(self):
        b = self._section(b"XFER")
        self.transfers = [struct.unpack_from(">BBHI", b, 1 + 8 * i) for i in range(b[0])]
        b = self._section(b"MNTH")
        self.monthly = []  # (mode, crossing, percent_off, threshold_fen)
        for i in range(b[0]):
            mode, crossing, pct, _, thr = struct.unpack_from(">BBBBI", b, 1 + 8 * i)
            self.monthly.append((mode, crossing, pct, thr))
        b = self._section(b"CATG")
        self.categories = {}  # code -> (name, [(modes, days, from_min, to_min, pct_off)])
        p = 1
        for _ in range(b[0]):
            code, nrules = b[p], b[p + 1]
            name, p = _str(b, p + 2)
            rules = []
            for _ in range(nrules):
                rules.append(struct.unpack_from(">BBHHB", b, p))
                p += 7
            self.categories[code] = (name, rules)
        b = self._section(b"ISSU")
        self.issuers = []  # (city, flags, percent, name)
        p = 1
        for _ in range(b[0]):
            city, flags, pct = struct.unpack_from(">HBH", b, p)
            name, p = _str(b, p + 5)
            self.issuers.append((city, flags, pct, name))

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
        return (self._ids[2 * i] << 8) | self._ids[2 * i + 1]

    def _row(self, i):
        return struct.unpack(">HHIHBB", self._read(self._sec[b"STNS"][0] + i * STATION_SIZE,
                                                   STATION_SIZE))

    def name(self, station_id):
        r = self._row(self.index(station_id))
        return self._read(self._sec[b"NAME"][0] + r[3], r[4]).decode()

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
            rid, p = _raw(b, p + 1)
            fen = struct.unpack_from(">I", b, p)[0]
            _, p = _raw(b, p + 4)
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


def _raw(b, p):
    n = b[p]
    return bytes(b[p + 1:p + 1 + n]), p + 1 + n


def _str(b, p):
    s, p = _raw(b, p)
    return s.decode(), p


def _find_u16(b, v):
    for k in range(len(b) // 2):
        if ((b[2 * k] << 8) | b[2 * k + 1]) == v:
            return k
    return -1
