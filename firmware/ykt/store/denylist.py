"""Denylist: card numbers this terminal refuses (docs/stores.md, "Denylist").

``Denylist(fs).contains(card_no) -> (denied, reason)``. A lookup reads the
base file's 32-byte header, at most one page of it (the page index is kept in
RAM when it is at most 4 KB, otherwise binary-searched on flash) and, when a
delta file for this base is installed, its header and a binary search of its
10-byte records. The delta is consulted first. No base file: nothing is
denied and ``version`` is 0.
"""

import binascii
import struct

from micropython import const

from ykt.errors import YktError

MAGIC = b"YKDL"
DELTA_MAGIC = b"YKDD"
FORMAT = const(1)
HEADER_SIZE = const(32)
DELTA_HEADER_SIZE = const(24)
KEY_SIZE = const(9)
REC_SIZE = const(10)
INDEX_CACHE_MAX = const(4096)

# magic, format, page_shift, reserved, version, count, pages, index_off, pages_off, crc32
HEADER_FMT = ">4sBBHIIIIII"
# magic, format, reserved, reserved, base_version, version, count, crc32
DELTA_FMT = ">4sBBHIIII"

REASON_NONE = const(0)  # in a delta: taken off the list
REASON_LOST = const(1)
REASON_STOLEN = const(2)
REASON_BLOCKED = const(3)  # blocked by the issuer
REASON_CANCELLED = const(4)
REASON_REPLACED = const(5)
REASON_FRAUD = const(6)
REASON_OTHER = const(7)  # listed without a reason

REASONS = {
    1: "lost",
    2: "stolen",
    3: "blocked by issuer",
    4: "cancelled",
    5: "replaced",
    6: "fraud suspected",
    7: "other",
}

_ENOENT = const(2)


def reason_text(code):
    """Short text of a reason code for the display."""
    return REASONS.get(code) or "reason %d" % code


def card_key(card_no):
    """The integer key of a 20-digit card number string."""
    if len(card_no) != 20 or not card_no.isdigit():
        raise ValueError("card number must be 20 digits")
    return int(card_no)


def _open(fs, path):
    try:
        return fs.open(path, "rb")
    except OSError as e:
        if e.args and e.args[0] == _ENOENT:
            return None
        raise


class Denylist:
    """Lookups in the base file ``path`` and its delta file ``delta_path``."""

    def __init__(self, fs, path="/denylist.bin", delta_path="/denylist.delta"):
        self.fs = fs
        self.path = path
        self.delta_path = delta_path
        self._hdr = bytearray(HEADER_SIZE)
        self._dhdr = bytearray(DELTA_HEADER_SIZE)
        self._rec = bytearray(REC_SIZE)
        self._loaded = None  # header bytes of the base file the fields below describe
        self._page = None
        self._index = None
        self._base_version = 0
        self._count = 0
        self._pages = 0
        self._index_off = 0
        self._pages_off = 0

    # -- base file ---------------------------------------------------------

    def _read_header(self, f):
        """Read and check the base header; reload the cached index if it changed."""
        hdr = self._hdr
        if f.readinto(hdr) != HEADER_SIZE:
            raise YktError("denylist file corrupt")
        if self._loaded is not None and self._loaded == hdr:
            return
        magic, fmt, shift, _, version, count, pages, index_off, pages_off, _ = struct.unpack(
            HEADER_FMT, hdr
        )
        if magic != MAGIC or fmt != FORMAT or not 8 <= shift <= 12:
            raise YktError("denylist file corrupt")
        size = 1 << shift
        if self._page is None or len(self._page) != size:
            self._page = None
            self._page = bytearray(size)
        self._index = None
        if pages * KEY_SIZE <= INDEX_CACHE_MAX:
            f.seek(index_off)
            self._index = f.read(pages * KEY_SIZE)
            if len(self._index) != pages * KEY_SIZE:
                raise YktError("denylist file corrupt")
        self._base_version = version
        self._count = count
        self._pages = pages
        self._index_off = index_off
        self._pages_off = pages_off
        self._loaded = bytes(hdr)

    def _index_key(self, f, i):
        idx = self._index
        if idx is not None:
            return int.from_bytes(idx[i * KEY_SIZE : (i + 1) * KEY_SIZE], "big")
        rec = self._rec
        f.seek(self._index_off + i * KEY_SIZE)
        if f.readinto(rec) < KEY_SIZE:
            raise YktError("denylist file corrupt")
        return int.from_bytes(rec[:KEY_SIZE], "big")

    def _find_page(self, f, key):
        """Index of the last page whose first key is <= key, or -1."""
        lo = 0
        hi = self._pages
        while lo < hi:
            mid = (lo + hi) >> 1
            if self._index_key(f, mid) <= key:
                lo = mid + 1
            else:
                hi = mid
        return lo - 1

    def _lookup_base(self, f, key):
        page = self._find_page(f, key)
        if page < 0:
            return 0
        buf = self._page
        f.seek(self._pages_off + page * len(buf))
        n = f.readinto(buf)
        if n < KEY_SIZE + 1:
            raise YktError("denylist file corrupt")
        t = key - int.from_bytes(buf[:KEY_SIZE], "big")
        reason = buf[KEY_SIZE]
        if t == 0:
            return reason
        return _scan(buf, n, t, reason)

    # -- delta file --------------------------------------------------------

    def _delta_code(self, key, base_version):
        """The delta's code for key (0 = taken off), or -1 if the delta says nothing."""
        f = _open(self.fs, self.delta_path)
        if f is None:
            return -1
        with f:
            hdr = self._dhdr
            if f.readinto(hdr) != DELTA_HEADER_SIZE:
                return -1
            magic, fmt, _, _, base, _, count, _ = struct.unpack(DELTA_FMT, hdr)
            if magic != DELTA_MAGIC or fmt != FORMAT or base != base_version:
                return -1  # a delta for another base is stale: ignored
            rec = self._rec
            lo = 0
            hi = count
            while lo < hi:
                mid = (lo + hi) >> 1
                f.seek(DELTA_HEADER_SIZE + mid * REC_SIZE)
                if f.readinto(rec) != REC_SIZE:
                    raise YktError("denylist delta corrupt")
                k = int.from_bytes(rec[:KEY_SIZE], "big")
                if k == key:
                    return rec[KEY_SIZE]
                if k < key:
                    lo = mid + 1
                else:
                    hi = mid
        return -1

    # -- public ------------------------------------------------------------

    def contains(self, card_no):
        """(True, reason) if card_no (20-digit string) is denied, else (False, 0)."""
        key = card_key(card_no)
        f = _open(self.fs, self.path)
        if f is None:
            self._loaded = None
            self._base_version = 0
            code = self._delta_code(key, 0)
            return (code > 0, code if code > 0 else 0)
        with f:
            self._read_header(f)
            code = self._delta_code(key, self._base_version)
            if code < 0:
                code = self._lookup_base(f, key)
        return (code > 0, code)

    def _delta_header(self):
        f = _open(self.fs, self.delta_path)
        if f is None:
            return None
        with f:
            if f.readinto(self._dhdr) != DELTA_HEADER_SIZE:
                return None
        h = struct.unpack(DELTA_FMT, self._dhdr)
        if h[0] != DELTA_MAGIC or h[1] != FORMAT:
            return None
        return h

    def _base_header(self):
        """Read the base file's header; False when there is no base file."""
        f = _open(self.fs, self.path)
        if f is None:
            return False
        with f:
            self._read_header(f)
        return True

    @property
    def base_version(self):
        """Version of the base file; 0 when there is none."""
        return self._base_version if self._base_header() else 0

    @property
    def version(self):
        """Version in force: the delta's if it applies to the base, else the base's."""
        base = self.base_version
        h = self._delta_header()
        if h is not None and h[4] == base and h[5] > base:
            return h[5]
        return base

    def __len__(self):
        """Entries in the base file (the delta not counted)."""
        return self._count if self._base_header() else 0

    def verify(self):
        """Check the CRC-32 of the base file (and of an applicable delta)."""
        f = _open(self.fs, self.path)
        base = 0
        if f is not None:
            with f:
                self._read_header(f)
                base = self._base_version
                if _crc(f, HEADER_SIZE) != struct.unpack(HEADER_FMT, self._hdr)[9]:
                    raise YktError("denylist file corrupt")
        h = self._delta_header()
        if h is not None and h[4] == base:
            with self.fs.open(self.delta_path, "rb") as f:
                if _crc(f, DELTA_HEADER_SIZE) != h[7]:
                    raise YktError("denylist delta corrupt")


def _crc(f, off):
    f.seek(off)
    buf = bytearray(256)
    crc = 0
    while True:
        n = f.readinto(buf)
        if not n:
            return crc
        crc = binascii.crc32(memoryview(buf)[:n], crc)


def _scan(buf, n, t, reason):
    """Walk a page's deltas from its first key until the offset t is reached."""
    acc = 0
    i = KEY_SIZE + 1
    while i < n:
        b = buf[i]
        i += 1
        if b < 0x80:
            if b == 0:
                return 0  # end of page
            v = b
        else:
            v = b & 0x7F
            sh = 7
            while True:
                b = buf[i]
                i += 1
                v |= (b & 0x7F) << sh
                if b < 0x80:
                    break
                sh += 7
        acc += v >> 1
        if v & 1:
            reason = buf[i]
            i += 1
        if acc >= t:
            return reason if acc == t else 0
    return 0
