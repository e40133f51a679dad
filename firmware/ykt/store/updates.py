"""Authenticated, versioned update files (docs/stores.md, "Update files").

An envelope is a 20-byte header (magic, format, kind, terminal id, content
version, payload length), the payload and an AES-CMAC over both under this
device's update key (``device_key``). ``Updates(fs, key, terminal_id)``
checks envelopes (``check``), installs them atomically (``install``: payload
to ``<target>.new``, re-read and re-MAC, rename over the target, record the
version in ``/versions``, delete the inbox file) and works through an inbox
(``scan_inbox``). Files are streamed in 512-byte chunks: payloads may be far
larger than the heap.
"""

import binascii
import json
import struct
from collections import namedtuple

import cryptolib
from micropython import const

from ykt import crypto
from ykt.errors import YktError
from ykt.store import denylist, replace

MAGIC = b"YKUP"
FORMAT = const(1)
HEADER_SIZE = const(20)
MAC_SIZE = const(16)
HEADER_FMT = ">4sBB6sII"  # magic, format, kind, terminal id, version, payload length
VERSIONS_PATH = "/versions"

KIND_TARIFF = const(1)
KIND_DENYLIST = const(2)
KIND_DENYLIST_DELTA = const(3)
KIND_CONFIG = const(4)
KIND_STAFF = const(5)
KIND_CLOCK = const(6)
KIND_CANTEEN = const(7)
KIND_TRUST = const(8)
KIND_TRUST_TEST = const(9)
KIND_BOOKINGS = const(10)

# code: (name, installed file); a clock update installs no file, it sets the RTC
KINDS = {
    1: ("tariff", "/tariff.bin"),
    2: ("denylist", "/denylist.bin"),
    3: ("denylist-delta", "/denylist.delta"),
    4: ("config", "/config.json"),
    5: ("staff", "/staff.bin"),
    6: ("clock", None),
    7: ("canteen", "/canteen.bin"),
    8: ("trust", "/trust.bin"),  # e-card QR trust anchors (docs/qr.md)
    9: ("trust-test", "/trust-test.bin"),
    10: ("bookings", "/bookings.bin"),  # a venue's day of bookings (docs/venue.md)
}
CLOCK_YEARS = (2024, 2099)  # a clock update outside these years is refused

_CHUNK = const(512)
_CBC = const(2)
_ENOENT = const(2)
_EIO = const(5)
_ENOSPC = const(28)
_S_IFDIR = const(0x4000)

Outcome = namedtuple("Outcome", ("name", "kind", "version", "installed", "reason"))


class UpdateRefused(YktError):
    """An update file that must not be installed; ``reason`` says why. With ``keep`` it
    could not be applied now (a clock update with the journal full): the file stays in
    the inbox for the next scan."""

    def __init__(self, reason, kind=None, version=0, keep=False):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # kind name, when the header could be read
        self.version = version
        self.keep = keep


def device_key(update_master, terminal_id):
    """This device's update key: diversify(master, FF FF || terminal id (6))."""
    if len(terminal_id) != 6:
        raise ValueError("terminal id must be 6 bytes")
    return crypto.diversify(update_master, b"\xff\xff" + bytes(terminal_id))


def kind_code(kind):
    """Kind code of a code or name; ValueError if unknown."""
    if kind in KINDS:
        return kind
    for code in KINDS:
        if KINDS[code][0] == kind:
            return code
    raise ValueError("unknown update kind %r" % (kind,))


class _Cmac:
    """AES-CMAC over a message of known length fed in pieces of any size."""

    def __init__(self, key, total):
        k1, k2 = crypto.subkeys(key)
        r = total % 16
        if total and not r:
            self._full = total - 16
            self._sub = k1
        else:
            self._full = total - r
            self._sub = k2
        self._total = total
        self._aes = cryptolib.aes(key, _CBC, bytes(16))
        self._blk = bytearray(16)  # a partial block of the CBC part, or the last block
        self._n = 0
        self._pos = 0
        self._out = bytearray(_CHUNK)

    def update(self, data):
        mv = memoryview(data)
        n = len(mv)
        i = 0
        if self._pos + n > self._total:
            raise ValueError("more data than announced")
        while i < n:
            if self._pos < self._full:
                if self._n == 0 and n - i >= 16:
                    k = min(n - i, self._full - self._pos, _CHUNK) & ~15
                    self._aes.encrypt(mv[i : i + k], memoryview(self._out)[:k])
                else:
                    k = min(16 - self._n, n - i)
                    self._blk[self._n : self._n + k] = mv[i : i + k]
                    self._n += k
                    if self._n == 16:
                        self._aes.encrypt(self._blk, self._out)
                        self._n = 0
            else:
                k = n - i
                off = self._pos - self._full
                self._blk[off : off + k] = mv[i : i + k]
            i += k
            self._pos += k

    def digest(self):
        blk = self._blk
        r = self._total - self._full
        if r < 16:
            blk[r] = 0x80
            for j in range(r + 1, 16):
                blk[j] = 0
        sub = self._sub
        for j in range(16):
            blk[j] ^= sub[j]
        return self._aes.encrypt(blk)


def clock_time(payload):
    """The time a clock update carries, ``YYYY-MM-DDThh:mm:ss`` (local time; a trailing
    newline is allowed), as seconds since 2000-01-01; ValueError if it is not one."""
    from ykt import caltime

    try:
        t = bytes(payload).decode().strip()
        d = t[0:4] + t[5:7] + t[8:10] + t[11:13] + t[14:16] + t[17:]
        if len(t) != 19 or t[4] + t[7] + t[10] + t[13] + t[16] != "--T::" or not d.isdigit():
            raise ValueError
        f = (int(d[0:4]), int(d[4:6]), int(d[6:8]), int(d[8:10]), int(d[10:12]), int(d[12:]))
        s = caltime.secs(*f)
    except (ValueError, IndexError):
        raise ValueError("not a time like 2026-11-29T07:00:00")
    if caltime.civil(s) != f:
        raise ValueError("no such time %s" % t)
    if not CLOCK_YEARS[0] <= f[0] <= CLOCK_YEARS[1]:
        raise ValueError("year %d outside %d..%d" % (f[0], CLOCK_YEARS[0], CLOCK_YEARS[1]))
    return s


def _clock_payload(payload, name, version):
    try:
        return clock_time(payload)
    except ValueError as e:
        raise UpdateRefused("bad payload (%s)" % e, name, version)


def _set_rtc(t):
    from ykt import clock

    clock.set_seconds(t)


def _check_tariff(f, plen, name, version):
    """A tariff payload the fare engine could not read is refused before it is installed
    (the tariff reader's own checks, where the payload lies: CRC-32, header, every count
    and offset)."""
    from ykt.fare.tariff import Tariff, TariffError

    try:
        Tariff(f, HEADER_SIZE, plen)
    except TariffError as e:
        raise UpdateRefused("bad payload (%s)" % e, name, version)


def _check_canteen(f, plen, name, version):
    """A canteen rule set (JSON, docs/canteen.md section 2) the POS could not load, or
    whose own ``version`` is not the envelope's, is refused before it is installed (the
    POS's own loader judges it)."""
    from ykt.pos import rules

    try:
        r = rules.load(json.loads(f.read(plen)))
    except ValueError as e:  # not JSON, or a RuleError ("where: what")
        raise UpdateRefused("bad payload (%s)" % e, name, version)
    if r.version != version:
        raise UpdateRefused("bad payload (rule set v%d, not v%d)" % (r.version, version),
                            name, version)


def _check_trust(payload, kind, name, version):
    """A trust-anchor payload (docs/qr.md section 6) of the kind's set (production for
    ``trust``, test for ``trust-test``), every key on the curve or an RSA-2048 key with e 3
    or 65537, and its own version the envelope's, or it is refused before it is installed."""
    from ykt.qr import anchors

    want = anchors.SET_TEST if kind == KIND_TRUST_TEST else anchors.SET_PRODUCTION
    try:
        anchors.read_anchors(payload, want)
    except ValueError as e:
        raise UpdateRefused("bad payload (%s)" % e, name, version)
    pver = anchors.anchors_version(payload)
    if pver != version:
        raise UpdateRefused("bad payload (trust anchors v%d, not v%d)" % (pver, version),
                            name, version)


def _check_bookings(f, plen, name, version):
    """A bookings payload (docs/venue.md §4): its header, size and version the envelope's."""
    from ykt.venue.bookings import header

    try:
        pver = header(f.read(16), plen)[0]
    except ValueError as e:
        raise UpdateRefused("bad payload (%s)" % e, name, version)
    if pver != version:
        raise UpdateRefused("bad payload (bookings v%d, not v%d)" % (pver, version),
                            name, version)


def _missing(e):
    return e.args and e.args[0] == _ENOENT


class Updates:
    """Check and install update files for the terminal ``terminal_id`` (6 bytes)."""

    def __init__(self, fs, device_update_key, terminal_id, versions_path=VERSIONS_PATH,
                 set_clock=None):
        if len(terminal_id) != 6:
            raise ValueError("terminal id must be 6 bytes")
        self.fs = fs
        # what a clock update calls with its time (seconds since 2000): the terminal's
        # Context.set_clock journals clock-set and sets the RTC; by default only the RTC
        self.set_clock = set_clock or _set_rtc
        self.key = bytes(device_update_key)
        self.terminal_id = bytes(terminal_id)
        self.versions_path = versions_path
        self._versions = None
        self._buf = bytearray(_CHUNK)

    # -- installed versions ------------------------------------------------

    def _load_versions(self):
        if self._versions is None:
            try:
                with self.fs.open(self.versions_path, "rb") as f:
                    text = f.read()
            except OSError as e:
                if not _missing(e):
                    raise
                text = b"{}"
            try:
                self._versions = json.loads(text)
            except ValueError:
                raise YktError("versions file corrupt")
        return self._versions

    def _installed(self, kind):
        """(version, MAC hex) of the installed file of kind; (0, "") if none."""
        rec = self._load_versions().get(KINDS[kind_code(kind)][0])
        return (rec[0], rec[1]) if rec else (0, "")

    def installed_version(self, kind):
        """Version of the installed file of ``kind`` (code or name); 0 if none."""
        return self._installed(kind)[0]

    def _set_version(self, kind, version, mac):
        table = dict(self._load_versions())
        table[KINDS[kind][0]] = [version, binascii.hexlify(mac).decode()]
        replace(self.fs, self.versions_path, json.dumps(table).encode())
        self._versions = table

    # -- checking ----------------------------------------------------------

    def _header(self, head, size):
        """Parse and check the header; returns (kind, version, payload length)."""
        n = min(size, HEADER_SIZE)
        if bytes(head[: min(n, 4)]) != MAGIC[: min(n, 4)]:
            raise UpdateRefused("bad magic")
        if n < HEADER_SIZE:
            raise UpdateRefused("truncated")
        magic, fmt, kind, tid, version, plen = struct.unpack(HEADER_FMT, head)
        if fmt != FORMAT:
            raise UpdateRefused("unsupported format %d" % fmt)
        name = KINDS[kind][0] if kind in KINDS else None
        total = HEADER_SIZE + plen + MAC_SIZE
        if size < total:
            raise UpdateRefused("truncated", name, version)
        if size > total:
            raise UpdateRefused("corrupt (trailing bytes)", name, version)
        if tid != self.terminal_id:
            raise UpdateRefused("not for this device", name, version)
        return kind, version, plen

    def _accept(self, kind, version, phead, mac=None):
        """After the MAC: kind, version and payload checks. True when ``mac`` is
        that of the installed file (the same envelope again: already installed)."""
        if kind not in KINDS:
            raise UpdateRefused("unknown kind", None, version)
        name = KINDS[kind][0]
        have, have_mac = self._installed(kind)
        if version <= have:
            if version == have and mac and binascii.hexlify(mac).decode() == have_mac:
                return True
            reason = "older than installed (v%d <= v%d)" % (version, have)
            raise UpdateRefused(reason, name, version)
        if kind == KIND_DENYLIST or kind == KIND_DENYLIST_DELTA:
            delta = kind == KIND_DENYLIST_DELTA
            fmt = denylist.DELTA_FMT if delta else denylist.HEADER_FMT
            size = struct.calcsize(fmt)
            if len(phead) < size:
                raise UpdateRefused("bad payload (not a %s file)" % name, name, version)
            h = struct.unpack(fmt, phead[:size])
            magic = denylist.DELTA_MAGIC if delta else denylist.MAGIC
            pver = h[5] if delta else h[4]
            if h[0] != magic or h[1] != denylist.FORMAT or pver != version:
                raise UpdateRefused(
                    "bad payload (not a %s file of v%d)" % (name, version), name, version
                )
            if delta:
                base = self.installed_version(KIND_DENYLIST)
                if h[4] != base:
                    raise UpdateRefused(
                        "delta for denylist v%d, installed is v%d" % (h[4], base), name, version
                    )
        return False

    def _mac_file(self, head, f, off, length):
        """CMAC of head || length bytes of f from off."""
        mac = _Cmac(self.key, len(head) + length)
        mac.update(head)
        f.seek(off)
        buf = self._buf
        left = length
        while left:
            n = f.readinto(buf) if left >= _CHUNK else f.readinto(memoryview(buf)[:left])
            if not n:
                raise UpdateRefused("truncated")
            mac.update(memoryview(buf)[:n])
            left -= n
        return mac.digest()

    def _verify_file(self, path, again=False):
        """(kind, version, payload length, header, MAC, already installed, clock time or
        None) of a good envelope file; with ``again`` the installed envelope itself is
        good too."""
        size = self.fs.stat(path)[6]
        with self.fs.open(path, "rb") as f:
            head = f.read(HEADER_SIZE)
            kind, version, plen = self._header(head, size)
            name = KINDS[kind][0] if kind in KINDS else None
            f.seek(HEADER_SIZE + plen)
            want = f.read(MAC_SIZE)
            if not crypto.equal(self._mac_file(head, f, HEADER_SIZE, plen), want):
                raise UpdateRefused("corrupt (MAC mismatch)", name, version)
            f.seek(HEADER_SIZE)
            phead = f.read(32)
            already = self._accept(kind, version, phead, want if again else None)
            when = None
            if kind == KIND_TARIFF and not already:
                _check_tariff(f, plen, name, version)
            elif kind == KIND_CLOCK and not already:
                when = _clock_payload(phead[:plen] if plen <= 32 else b"", name, version)
            elif kind == KIND_CANTEEN and not already:
                f.seek(HEADER_SIZE)
                _check_canteen(f, plen, name, version)
            elif (kind == KIND_TRUST or kind == KIND_TRUST_TEST) and not already:
                f.seek(HEADER_SIZE)
                _check_trust(f.read(min(plen, 20000)), kind, name, version)
            elif kind == KIND_BOOKINGS and not already:
                f.seek(HEADER_SIZE)
                _check_bookings(f, plen, name, version)
        return kind, version, plen, head, want, already, when

    def check(self, src):
        """Verify an envelope (bytes, or a path on the fs) -> (kind, version, payload).

        ``payload`` is the payload bytes for bytes input, and ``(offset, length)``
        inside the file for a path (payloads can exceed RAM). Raises UpdateRefused.
        """
        if isinstance(src, str):
            kind, version, plen, _, _, _, _ = self._verify_file(src)
            return kind, version, (HEADER_SIZE, plen)
        data = memoryview(src)
        kind, version, plen = self._header(data[:HEADER_SIZE], len(data))
        name = KINDS[kind][0] if kind in KINDS else None
        end = HEADER_SIZE + plen
        if not crypto.equal(crypto.cmac(self.key, data[:end]), data[end:]):
            raise UpdateRefused("corrupt (MAC mismatch)", name, version)
        self._accept(kind, version, data[HEADER_SIZE : HEADER_SIZE + 32])
        payload = bytes(data[HEADER_SIZE:end])
        if kind == KIND_TARIFF:
            import io

            _check_tariff(io.BytesIO(data), plen, name, version)
        elif kind == KIND_CLOCK:
            _clock_payload(payload if plen <= 32 else b"", name, version)
        elif kind == KIND_CANTEEN:
            import io

            _check_canteen(io.BytesIO(payload), plen, name, version)
        elif kind == KIND_TRUST or kind == KIND_TRUST_TEST:
            _check_trust(payload, kind, name, version)
        elif kind == KIND_BOOKINGS:
            import io

            _check_bookings(io.BytesIO(payload), plen, name, version)
        return kind, version, payload

    # -- installing --------------------------------------------------------

    def install(self, path):
        """Verify and install the envelope at ``path`` -> (kind, version, already).

        ``already`` is True when this very envelope was installed before (an install
        cut before the inbox file was removed, or a resend): only the file goes.
        Raises UpdateRefused (the installed file stays in force) or OSError.

        A clock update sets the clock (``set_clock``) before its version is recorded: a
        power cut in between sets it again at the next scan, never not at all.
        """
        kind, version, plen, head, want, already, when = self._verify_file(path, True)
        if already:
            self.fs.remove(path)
            return kind, version, True
        if kind == KIND_CLOCK:
            try:
                self.set_clock(when)
            except YktError as e:
                raise UpdateRefused("clock not set: %s" % e, KINDS[kind][0], version, True)
            self._set_version(kind, version, want)
            self.fs.remove(path)
            return kind, version, False
        target = KINDS[kind][1]
        tmp = target + ".new"
        try:
            self._copy(path, HEADER_SIZE, plen, tmp)
            with self.fs.open(tmp, "rb") as f:
                ok = crypto.equal(self._mac_file(head, f, 0, plen), want)
            if not ok or self.fs.stat(tmp)[6] != plen:
                raise OSError(_EIO)
            self.fs.rename(tmp, target)
        except OSError:
            self._remove(tmp)
            raise
        self._set_version(kind, version, want)
        self.fs.remove(path)
        return kind, version, False

    def _copy(self, src, off, length, dst):
        buf = self._buf
        with self.fs.open(src, "rb") as fi:
            fi.seek(off)
            with self.fs.open(dst, "wb") as fo:
                left = length
                while left:
                    n = fi.readinto(buf) if left >= _CHUNK else fi.readinto(
                        memoryview(buf)[:left]
                    )
                    if not n:
                        raise OSError(_EIO)
                    fo.write(memoryview(buf)[:n])
                    left -= n
                fo.flush()

    def _remove(self, path):
        try:
            self.fs.remove(path)
        except OSError as e:
            if not _missing(e):
                raise

    def cleanup(self):
        """Remove what an interrupted install left behind (``.new`` files)."""
        for code in KINDS:
            if KINDS[code][1]:
                self._remove(KINDS[code][1] + ".new")
        self._remove(self.versions_path + ".new")

    def scan_inbox(self, inbox="/inbox"):
        """Install every file in ``inbox`` in name order -> [Outcome].

        Refused files are deleted (their outcome says why); a file whose install
        failed on an I/O error stays for the next scan, except when the flash is
        too full to install it: kept, it would take the room the journal needs.
        """
        self.cleanup()
        try:
            names = sorted(self.fs.listdir(inbox))
        except OSError as e:
            if _missing(e):
                return []
            raise
        out = []
        for name in names:
            path = inbox.rstrip("/") + "/" + name
            if self.fs.stat(path)[0] & _S_IFDIR:
                continue
            try:
                kind, version, already = self.install(path)
                note = "already installed" if already else ""
                out.append(Outcome(name, KINDS[kind][0], version, True, note))
            except UpdateRefused as e:
                if not e.keep:
                    self._remove(path)
                out.append(Outcome(name, e.kind, e.version, False, e.reason))
            except OSError as e:
                code = e.args[0] if e.args else 0
                if code == _ENOSPC:
                    size = self.fs.stat(path)[6]
                    self._remove(path)
                    out.append(Outcome(name, None, 0, False,
                                       "no room on flash to install it (%d bytes)" % size))
                else:
                    out.append(Outcome(name, None, 0, False, "I/O error %s" % code))
        return out
