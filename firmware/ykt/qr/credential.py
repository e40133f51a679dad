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

from ykt.qr import anchors

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
ALG_RSA = const(3)  # RSASSA-PKCS1-v1_5 / SHA-256, RSA-2048, e 3 or 65537 (ykt.qr.rsa)
# algorithm: (holder key bytes, signature bytes); the algorithm byte picks the layout
LAYOUTS = {ALG_P256: (64, 64), ALG_RSA: (260, 256)}  # RSA: n (256) e (4); ykt.qr.rsa,
#                                                       imported when an RSA key is read
CERT_SIZE = const(106)  # P-256: version, alg, key id, not after, holder key, match key,
#                          card, region, birth date (docs/qr.md §3)
SIG_SIZE = const(64)
CODE_SIZE = const(240)  # P-256: certificate, its signature, time (4), validity (2), signature
RSA_CODE_SIZE = const(820)  # RSA: 302 + 256 + 6 + 256
MAX_VALIDITY = const(600)  # seconds; a code claiming longer is malformed
SKEW = const(30)  # a code from up to 30 s in the terminal's future is accepted

# the trust anchors are ykt.qr.anchors (the update installer reads them without this module)
ANCHORS_MAGIC = anchors.ANCHORS_MAGIC
SET_PRODUCTION = anchors.SET_PRODUCTION
SET_TEST = anchors.SET_TEST
Anchor = anchors.Anchor
read_anchors = anchors.read_anchors
anchors_version = anchors.anchors_version
load_anchors = anchors.load_anchors


_B45 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_DIGIT = []  # type: list[bytes]  # byte value -> base45 digit, 0xFF if none (made once)


def _digits():
    if not _B45_DIGIT:
        t = bytearray(b"\xff" * 256)
        for i in range(45):
            t[_B45[i]] = i
        _B45_DIGIT.append(bytes(t))
    return _B45_DIGIT[0]


def b45decode(text):
    """Bytes of base45 text (RFC 9285), str or bytes; ValueError if it is not base45. A
    table lookup a character and one test a group of three (an RSA code is 410 groups)."""
    b = text.encode() if isinstance(text, str) else text
    t = _digits()
    n = len(b)
    if n % 3 == 1:
        raise ValueError("base45 length")
    out = bytearray(n // 3 * 2 + (1 if n % 3 else 0))
    j = 0
    for i in range(0, n - 2, 3):
        a = t[b[i]]
        c = t[b[i + 1]]
        d = t[b[i + 2]]
        v = a + c * 45 + d * 2025
        if (a | c | d) & 0x80 or v > 0xFFFF:  # 0xFF: not a base45 character
            raise ValueError("base45 group")
        out[j] = v >> 8
        out[j + 1] = v & 0xFF
        j += 2
    if n % 3:
        a = t[b[n - 2]]
        c = t[b[n - 1]]
        v = a + c * 45
        if (a | c) & 0x80 or v > 0xFF:
            raise ValueError("base45 group")
        out[j] = v
    return bytes(out)


def code_size(alg):
    """The bytes of a code of algorithm ``alg`` (0 if it has no layout)."""
    lay = LAYOUTS.get(alg)
    return 10 + lay[0] + 32 + 2 * lay[1] + 6 if lay else 0


class Code:
    """A code's fields (no check but its layout, which its algorithm byte picks: docs/qr.md
    §3). ``signed`` is the bytes the holder signed, ``tbs`` those the issuer signed;
    ``holder_key`` is x y (P-256, uncompressed: no square root to verify) or n e (RSA)."""

    def __init__(self, raw):
        if len(raw) < 2 or raw[0] != VERSION or len(raw) != code_size(raw[1]):
            raise ValueError("not a version %d code of its algorithm's size" % VERSION)
        self.raw = raw
        self.alg = raw[1]
        hk, sig = LAYOUTS[self.alg]
        self.kid, self.not_after = struct.unpack(">II", raw[2:10])
        at = 10 + hk
        self.holder_key = raw[10:at]
        self.match_key = raw[at : at + 16]
        self.card = raw[at + 16 : at + 25]
        self.region = int.from_bytes(raw[at + 25 : at + 28], "big")
        self.birth = struct.unpack(">I", raw[at + 28 : at + 32])[0]
        cert = at + 32
        self.tbs = raw[:cert]
        self.cert_sig = raw[cert : cert + sig]
        at = cert + sig
        self.generated, self.validity = struct.unpack(">IH", raw[at : at + 6])
        self.signed = raw[: at + 6]
        self.sig = raw[at + 6 :]


def decode(text):
    """The ``Code`` of a scanned payload (str or bytes); ValueError if it is none."""
    b = text.encode() if isinstance(text, str) else bytes(text)
    b = b.strip()
    if b[:4] != b"YK1:":
        raise ValueError("not a YK1 code")
    return Code(b45decode(memoryview(b)[4:]))


def _rs(sig):
    return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")


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
        if code.validity > MAX_VALIDITY:
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
        rsa_ = code.alg == ALG_RSA
        if rsa_:
            from ykt.qr import rsa
        else:  # the curve module only on a terminal that meets P-256 codes
            from ykt.qr import ec
        # ValueError (malformed): off the curve, not a 2048-bit modulus, e not 3 or 65537
        holder = rsa.key_of(code.holder_key) if rsa_ else ec.point(ec.P256, code.holder_key)
        # the whole digest: a cached certificate skips its signature check
        cert = hashlib.sha256(code.raw[: len(code.tbs) + len(code.cert_sig)]).digest()
        if not self._certs.seen(cert, now):
            if rsa_:
                if not rsa.verify(a.rsa(), code.tbs, code.cert_sig):
                    return FORGED
            else:
                r, s = _rs(code.cert_sig)
                if not ec.ecdsa_p256(a.table(), code.tbs, r, s):
                    return FORGED
        if rsa_:
            if not rsa.verify_digest(holder, digest, code.sig):
                return FORGED
        else:
            r, s = _rs(code.sig)
            if not ec.ecdsa_verify(ec.P256, ec.table(ec.P256, holder), digest, r, s):
                return FORGED
        self._certs.add(cert, code.not_after, now)
        self.recent.add(key, code.generated + code.validity, now)
        return OK
