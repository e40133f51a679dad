"""The e-card QR credential, verified offline (docs/qr.md).

A code is ``YK1:`` and the base45 text of: a certificate (the issuer's key, named by its key
id, certifies the holder's public key, the certificate's expiry and the holder fields an
offline gate needs: match key, card id, region code, birth date) and the code proper (its
generation time and validity in seconds), signed by the holder's key. ``Verifier.check``
answers with one of the integer outcomes below, never an exception; a code once admitted is
refused inside its validity window (``Recent``: a bounded cache in RAM).

Trust anchors (key id -> issuer public key) arrive as signed update files of kind ``trust``
(production) and ``trust-test`` (test keys): ``load_anchors`` reads their payload.
"""

import hashlib
import struct

from micropython import const

from ykt.qr import ec

# outcomes (docs/qr.md §5)
OK = const(0)
EXPIRED = const(1)
NOT_YET_VALID = const(2)
FORGED = const(3)
UNKNOWN_KEY = const(4)
CERT_EXPIRED = const(5)
REPLAYED = const(6)
MALFORMED = const(7)
NAMES = ("ok", "expired", "not yet valid", "forged signature", "unknown key id",
         "certificate expired", "replayed", "malformed")

PREFIX = "YK1:"
VERSION = const(1)
ALG_P256 = const(1)  # ECDSA P-256 / SHA-256
ALG_SM2 = const(2)  # SM2 / SM3, reserved (measured, not issued: docs/qr.md §4)
CERT_SIZE = const(106)  # version, alg, key id, not after, holder key, match key, card,
#                          region, birth date (docs/qr.md §3)
SIG_SIZE = const(64)
CODE_SIZE = const(240)  # certificate, its signature, time (4), validity (2), signature
MAX_VALIDITY = const(600)  # seconds; a code claiming longer is malformed
SKEW = const(30)  # a code from up to 30 s in the terminal's future is accepted

ANCHORS_MAGIC = b"YKTA"
ANCHORS_FORMAT = const(1)
SET_PRODUCTION = const(1)
SET_TEST = const(2)
_ANCHOR_SIZE = const(73)  # key id (4), alg (1), not after (4), x y (64)


_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def b45decode(text):
    """Bytes of base45 text (RFC 9285); ValueError if it is not base45."""
    n = len(text)
    if n % 3 == 1:
        raise ValueError("base45 length")
    out = bytearray()
    for i in range(0, n, 3):
        v = 0
        k = min(3, n - i)
        for j in range(k - 1, -1, -1):
            d = _B45.find(text[i + j])
            if d < 0:
                raise ValueError("base45 character")
            v = v * 45 + d
        if k == 3:
            if v > 0xFFFF:
                raise ValueError("base45 value")
            out.append(v >> 8)
        elif v > 0xFF:
            raise ValueError("base45 value")
        out.append(v & 0xFF)
    return bytes(out)


class Code:
    """A code's fields (no check but its layout). ``signed`` is the bytes the holder signed,
    ``tbs`` those the issuer signed."""

    def __init__(self, raw):
        if len(raw) != CODE_SIZE or raw[0] != VERSION:
            raise ValueError("not a version %d code of %d bytes" % (VERSION, CODE_SIZE))
        self.raw = raw
        self.alg = raw[1]
        self.kid, self.not_after = struct.unpack(">II", raw[2:10])
        self.holder_key = raw[10:74]  # x y, uncompressed: no square root to verify
        self.match_key = raw[74:90]
        self.card = raw[90:99]
        self.region = int.from_bytes(raw[99:102], "big")
        self.birth = struct.unpack(">I", raw[102:106])[0]
        self.tbs = raw[:CERT_SIZE]
        self.cert_sig = raw[CERT_SIZE : CERT_SIZE + SIG_SIZE]
        at = CERT_SIZE + SIG_SIZE
        self.generated, self.validity = struct.unpack(">IH", raw[at : at + 6])
        self.signed = raw[: at + 6]
        self.sig = raw[at + 6 :]


def decode(text):
    """The ``Code`` of a scanned payload (str or bytes); ValueError if it is none."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text).decode()
    text = text.strip()
    if not text.startswith(PREFIX):
        raise ValueError("not a YK1 code")
    return Code(b45decode(text[len(PREFIX) :]))


def _rs(sig):
    return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")


class Anchor:
    """One issuer key: its key id, algorithm, expiry, set and the NAF table of its point."""

    def __init__(self, kid, alg, not_after, xy, test):
        self.kid = kid
        self.alg = alg
        self.not_after = not_after
        self.xy = bytes(xy)
        self.test = test
        self._tab = None

    def table(self):
        if self._tab is None:
            self._tab = ec.table(ec.P256, ec.point(ec.P256, self.xy), 7)
        return self._tab


def read_anchors(data, want_set=None):
    """[Anchor] of a trust-anchor payload (docs/qr.md §6); ValueError if it is not one (or
    not of ``want_set``)."""
    if len(data) < 15 or bytes(data[:4]) != ANCHORS_MAGIC or data[4] != ANCHORS_FORMAT:
        raise ValueError("not a trust anchor file")
    kset = data[5]
    count = data[10]
    if kset not in (SET_PRODUCTION, SET_TEST) or (want_set and kset != want_set):
        raise ValueError("trust anchor set %d, not %d" % (kset, want_set or 0))
    if len(data) != 11 + count * _ANCHOR_SIZE:
        raise ValueError("trust anchor file of %d keys is %d bytes" % (count, len(data)))
    out = []
    for i in range(count):
        at = 11 + i * _ANCHOR_SIZE
        kid, alg, not_after = struct.unpack(">IBI", data[at : at + 9])
        xy = data[at + 9 : at + _ANCHOR_SIZE]
        if alg != ALG_P256:
            raise ValueError("key %08x: algorithm %d" % (kid, alg))
        ec.point(ec.P256, xy)  # ValueError if not on the curve
        out.append(Anchor(kid, alg, not_after, xy, kset == SET_TEST))
    return out


def anchors_version(data):
    """The version a trust-anchor payload gives itself (it must be its envelope's)."""
    return struct.unpack(">I", data[6:10])[0]


def load_anchors(fs, paths=("/trust.bin",)):
    """{key id: Anchor} from the installed trust-anchor files that exist (add
    ``/trust-test.bin`` to accept the test keys)."""
    out = {}
    for path in paths:
        try:
            with fs.open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        for a in read_anchors(data):
            out[a.kid] = a
    return out


class Recent:
    """The codes admitted lately, until their validity ends: at most ``size`` (8-byte
    digests). Full, it forgets the one whose validity ends first."""

    def __init__(self, size=64):
        self.size = size
        self.keys = []
        self.until = []

    def seen(self, key, now):
        for i in range(len(self.keys)):
            if self.keys[i] == key and self.until[i] >= now:
                return True
        return False

    def add(self, key, until, now):
        i = 0
        while i < len(self.keys):  # drop what has ended
            if self.until[i] < now:
                self.keys.pop(i)
                self.until.pop(i)
            else:
                i += 1
        if len(self.keys) >= self.size:
            j = self.until.index(min(self.until))
            self.keys.pop(j)
            self.until.pop(j)
        self.keys.append(key)
        self.until.append(until)


class Verifier:
    """Check codes against ``anchors`` ({key id: Anchor}) at a time ``now`` (seconds since
    2000, the terminal's clock). Certificates already verified are remembered (``certs``
    entries, their whole SHA-256: a match stands for the issuer's signature) so a holder's
    next code costs one signature verify."""

    def __init__(self, anchors, recent=None, certs=16):
        self.anchors = anchors
        self.recent = recent or Recent()
        self._certs = Recent(certs)

    def check(self, text, now):
        """(outcome, Code or None)."""
        code = None
        try:
            code = decode(text)
            return self._check(code, now), code
        except MemoryError:  # the terminal's to handle, as anywhere else
            raise
        except Exception:  # whatever a scanner can send: no code, never a crash
            return MALFORMED, code

    def _check(self, code, now):
        if code.alg != ALG_P256 or code.validity > MAX_VALIDITY:
            return MALFORMED
        a = self.anchors.get(code.kid)
        if a is None or a.alg != code.alg or now > a.not_after:
            return UNKNOWN_KEY
        if now > code.not_after:
            return CERT_EXPIRED
        if now + SKEW < code.generated:
            return NOT_YET_VALID
        if now > code.generated + code.validity:
            return EXPIRED
        digest = hashlib.sha256(code.signed).digest()
        key = digest[:8]
        if self.recent.seen(key, now):
            return REPLAYED
        holder = ec.point(ec.P256, code.holder_key)  # ValueError: malformed
        # the whole digest: a cached certificate skips its signature check
        cert = hashlib.sha256(code.raw[: CERT_SIZE + SIG_SIZE]).digest()
        if not self._certs.seen(cert, now):
            r, s = _rs(code.cert_sig)
            if not ec.ecdsa_p256(a.table(), code.tbs, r, s):
                return FORGED
        r, s = _rs(code.sig)
        if not ec.ecdsa_verify(ec.P256, ec.table(ec.P256, holder), digest, r, s):
            return FORGED
        self._certs.add(cert, code.not_after, now)
        self.recent.add(key, code.generated + code.validity, now)
        return OK
