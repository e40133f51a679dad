"""The e-card QR credential, host side (docs/qr.md): keys, trust-anchor files, issuing test
codes and explaining a code. The firmware's verifier is ``ykt/qr/credential.py``; this module
writes and reads the same bytes with ``cryptography``: algorithm 3, RSA-2048
RSASSA-PKCS1-v1_5 / SHA-256 (what ``ykt qr issue`` makes by default), and algorithm 1, ECDSA
P-256 / SHA-256 (codes issued before stay valid).

Times are local wall time as seconds since 2000-01-01, the terminal's clock.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import struct
from dataclasses import dataclass
from typing import Any, Union

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from host_tools.lib.errors import BadInput

PREFIX = "YK1:"
VERSION = 1
ALG_P256 = 1
ALG_RSA = 3
ALGS = {"p256": ALG_P256, "rsa": ALG_RSA}
ALG_NAMES = {ALG_P256: "ECDSA P-256 / SHA-256", ALG_RSA: "RSA-2048 PKCS#1 v1.5 / SHA-256"}
RSA_SIZE = 256
RSA_EXPONENTS = (3, 65537)
# algorithm: (holder key bytes, signature bytes), as the firmware's credential.LAYOUTS
LAYOUTS = {ALG_P256: (64, 64), ALG_RSA: (RSA_SIZE + 4, RSA_SIZE)}
CERT_SIZE = 106
SIG_SIZE = 64
CODE_SIZE = 240
RSA_CODE_SIZE = 820
MAX_VALIDITY = 600
SKEW = 30
ANCHORS_MAGIC = b"YKTA"
ANCHORS_FORMAT = 1
SETS = {"production": 1, "test": 2}
OUTCOMES = ("ok", "expired", "not yet valid", "forged signature", "unknown key id",
            "certificate expired", "replayed", "malformed")
EPOCH = datetime.datetime(2000, 1, 1)
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


# -- time ------------------------------------------------------------------

def secs(when: datetime.datetime) -> int:
    return int((when - EPOCH).total_seconds())


def when(t: int) -> datetime.datetime:
    return EPOCH + datetime.timedelta(seconds=t)


def parse_time(text: str) -> int:
    """``now`` or a local time like 2026-12-03T09:00:00 -> seconds since 2000."""
    text = str(text).strip()
    if text == "now":
        return secs(datetime.datetime.now().replace(microsecond=0))
    try:
        t = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise BadInput("%r is not a time like 2026-12-03T09:00:00 (or now)" % text) from None
    if t.tzinfo is not None or t.year < 2000:
        raise BadInput("%r: give local time, no zone, after 2000" % text)
    return secs(t)


# -- keys ------------------------------------------------------------------

PrivateKey = Union[ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey]
PublicKey = Union[ec.EllipticCurvePublicKey, rsa.RSAPublicKey]


def key_from_seed(seed: str, alg: str = "p256", exponent: int = 3) -> PrivateKey:
    """A key derived from a text seed (tests and demos only): P-256, or RSA-2048 with
    ``exponent`` (``alg`` "rsa"; e = 3 by default, the exponent whose admissions meet the
    budget under every estimate: docs/qr.md §4)."""
    if alg == "rsa":
        return rsa_key_from_seed(seed, exponent)
    if alg != "p256":
        raise BadInput("algorithm must be rsa or p256")
    d = int.from_bytes(hashlib.sha256(b"ykt-qr-key:" + seed.encode()).digest(), "big")
    return ec.derive_private_key(d % (_N - 1) + 1, ec.SECP256R1())


_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % q for q in range(2, int(p ** .5) + 1))]


class _Stream:
    """Deterministic bytes: SHA-256 of a label and a counter."""

    def __init__(self, label: bytes):
        self.label = label
        self.i = 0

    def number(self, bits: int) -> int:
        out = b""
        while len(out) * 8 < bits:
            self.i += 1
            out += hashlib.sha256(self.label + self.i.to_bytes(8, "big")).digest()
        return int.from_bytes(out, "big") >> (len(out) * 8 - bits)


def _probable_prime(c: int, stream: _Stream, rounds: int = 40) -> bool:
    if any(c % p == 0 for p in _SMALL_PRIMES):
        return c in _SMALL_PRIMES
    d, r = c - 1, 0
    while not d & 1:
        d, r = d >> 1, r + 1
    for _ in range(rounds):  # Miller-Rabin, bases from the stream
        x = pow(stream.number(c.bit_length() - 1) % (c - 3) + 2, d, c)
        if x in (1, c - 1):
            continue
        for _ in range(r - 1):
            x = x * x % c
            if x == c - 1:
                break
        else:
            return False
    return True


def _prime(stream: _Stream, bits: int, e: int) -> int:
    while True:  # the top two bits set: a product of two is exactly 2 * bits long
        c = stream.number(bits) | 3 << (bits - 2) | 1
        if (c - 1) % e and _probable_prime(c, stream):
            return c


@functools.lru_cache(maxsize=32)
def rsa_key_from_seed(seed: str, exponent: int = 3) -> rsa.RSAPrivateKey:
    """An RSA-2048 key derived from a text seed (tests and demos only: the primes are
    drawn from SHA-256 of the seed, then tested with Miller-Rabin; ``cryptography`` checks
    the key when it is built)."""
    if exponent not in RSA_EXPONENTS:
        raise BadInput("RSA public exponent must be 3 or 65537")
    stream = _Stream(b"ykt-qr-rsa:%d:" % exponent + seed.encode())
    p = _prime(stream, 1024, exponent)
    q = p
    while q == p:
        q = _prime(stream, 1024, exponent)
    lam = (p - 1) * (q - 1) // _gcd(p - 1, q - 1)
    d = pow(exponent, -1, lam)
    pub = rsa.RSAPublicNumbers(exponent, p * q)
    return rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p),
                                 pub).private_key()


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def load_private_key(path: str) -> PrivateKey:
    """A P-256 or RSA-2048 (e 3 or 65537) private key from a PEM file."""
    try:
        with open(path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
    except FileNotFoundError:
        raise BadInput("%s: no such key file" % path) from None
    except (ValueError, TypeError) as e:
        raise BadInput("%s: not a PEM private key (%s)" % (path, e)) from None
    if isinstance(key, rsa.RSAPrivateKey):
        pn = key.public_key().public_numbers()
        if key.key_size != 2048 or pn.e not in RSA_EXPONENTS:
            raise BadInput("%s: an RSA key must be 2048 bits with e 3 or 65537" % path)
        return key
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise BadInput("%s: not a P-256 or RSA-2048 key" % path)
    return key


def alg_of(key: PrivateKey | PublicKey) -> int:
    """The code algorithm a key signs with."""
    return ALG_RSA if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)) else ALG_P256


def key_bytes(pub: PublicKey) -> bytes:
    """A public key as codes and anchor files carry it: x y (P-256) or n (256) e (4)."""
    if isinstance(pub, rsa.RSAPublicKey):
        pn = pub.public_numbers()
        return pn.n.to_bytes(RSA_SIZE, "big") + pn.e.to_bytes(4, "big")
    return xy(pub)


def rsa_public(raw: bytes) -> rsa.RSAPublicKey:
    """The RSA public key of n (256 bytes) e (4 bytes); BadInput unless the firmware would
    take it: n odd and exactly 2048 bits, e 3 or 65537."""
    n = int.from_bytes(raw[:RSA_SIZE], "big")
    e = int.from_bytes(raw[RSA_SIZE:RSA_SIZE + 4], "big")
    if len(raw) != RSA_SIZE + 4 or n.bit_length() != 2048 or not n & 1 \
            or e not in RSA_EXPONENTS:
        raise BadInput("not an RSA-2048 public key with e 3 or 65537")
    return rsa.RSAPublicNumbers(e, n).public_key()


def xy(pub: ec.EllipticCurvePublicKey) -> bytes:
    """The 64 bytes x y of a public key."""
    return pub.public_bytes(serialization.Encoding.X962,
                            serialization.PublicFormat.UncompressedPoint)[1:]


def public_from_xy(raw: bytes) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + raw)
    except ValueError:
        raise BadInput("not a P-256 public key") from None


def key_id(pub: PublicKey) -> int:
    """An issuer key's id: the first 4 bytes of SHA-256 of its bytes as anchors carry them
    (x y; or n e, 260 bytes), as a number."""
    return int.from_bytes(hashlib.sha256(key_bytes(pub)).digest()[:4], "big")


def _sign(key: PrivateKey, msg: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(msg, padding.PKCS1v15(), hashes.SHA256())
    r, s = decode_dss_signature(key.sign(msg, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _verify(pub: PublicKey, sig: bytes, msg: bytes) -> bool:
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(sig, msg, padding.PKCS1v15(), hashes.SHA256())
        else:
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                       int.from_bytes(sig[32:], "big"))
            pub.verify(der, msg, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


# -- trust anchors ---------------------------------------------------------

@dataclass
class Anchor:
    kid: int
    not_after: int
    public: PublicKey
    test: bool


def anchors_payload(keys: list[tuple[PublicKey, int]], kset: str,
                    version: int) -> bytes:
    """The payload of a ``trust`` (production) or ``trust-test`` update: ``keys`` are
    (issuer public key, not after) pairs."""
    if kset not in SETS:
        raise BadInput("set must be production or test")
    if not 1 <= len(keys) <= 255:
        raise BadInput("a trust anchor file holds 1 to 255 keys")
    if not 1 <= version <= 0xFFFFFFFF:
        raise BadInput("version must be 1..4294967295")
    out = ANCHORS_MAGIC + struct.pack(">BBIB", ANCHORS_FORMAT, SETS[kset], version, len(keys))
    for pub, not_after in keys:
        if not 0 <= not_after < 1 << 32:
            raise BadInput("key expiry out of range")
        out += struct.pack(">IBI", key_id(pub), alg_of(pub), not_after) + key_bytes(pub)
    return out


def read_anchors(data: bytes) -> tuple[str, int, list[Anchor]]:
    """(set, version, anchors) of a trust-anchor payload."""
    if len(data) < 11 or data[:4] != ANCHORS_MAGIC or data[4] != ANCHORS_FORMAT:
        raise BadInput("not a trust anchor file")
    _, _, kset, version, count = struct.unpack(">4sBBIB", data[:11])
    names = {v: k for k, v in SETS.items()}
    if kset not in names:
        raise BadInput("not a trust anchor file")
    out = []
    at = 11
    for _ in range(count):
        if at + 9 > len(data):
            raise BadInput("not a trust anchor file (cut short)")
        kid, alg, not_after = struct.unpack(">IBI", data[at:at + 9])
        if alg not in LAYOUTS:
            raise BadInput("trust anchor %08x: algorithm %d" % (kid, alg))
        size = LAYOUTS[alg][0]
        raw = data[at + 9:at + 9 + size]
        if len(raw) != size:
            raise BadInput("not a trust anchor file (cut short)")
        pub: PublicKey = rsa_public(raw) if alg == ALG_RSA else public_from_xy(raw)
        out.append(Anchor(kid, not_after, pub, kset == 2))
        at += 9 + size
    if at != len(data):
        raise BadInput("not a trust anchor file (%d bytes too many)" % (len(data) - at))
    return names[kset], version, out


# -- holder fields ---------------------------------------------------------

_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_fields(id_number: str) -> tuple[int, int]:
    """(region code, birth date YYYYMMDD) of an 18-character ID number (GB 11643), its
    check character (ISO 7064 MOD 11-2) verified."""
    s = id_number.strip().upper()
    if len(s) != 18 or not s[:17].isdigit() or s[17] not in "0123456789X":
        raise BadInput("an ID number is 17 digits and a check character")
    check = "10X98765432"[sum(int(c) * w for c, w in zip(s, _W)) % 11]
    if s[17] != check:
        raise BadInput("ID number check character is %s, not %s" % (check, s[17]))
    try:
        datetime.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        raise BadInput("ID number: no such birth date %s" % s[6:14]) from None
    return int(s[:6]), int(s[6:14])


def match_key(secret: bytes, id_number: str) -> bytes:
    """The holder's match key: HMAC-SHA256(secret, ID number)[:16]; bookings carry the same
    (the ID number itself is never in a code)."""
    return hmac.new(secret, id_number.strip().upper().encode(), hashlib.sha256).digest()[:16]


# -- codes -----------------------------------------------------------------

def issue(issuer: PrivateKey, holder: PrivateKey, *,
          cert_not_after: int, match: bytes, card: str, region: int, birth: int,
          generated: int, validity: int) -> bytes:
    """A code's bytes: the certificate the issuer signs, then the code the holder signs.
    The keys' type picks the algorithm (RSA: algorithm 3; P-256: 1); both must be of it."""
    alg = alg_of(issuer)
    if alg_of(holder) != alg:
        raise BadInput("the issuer's and the holder's keys must be of one algorithm "
                       "(both RSA or both P-256)")
    if len(match) != 16:
        raise BadInput("the match key is 16 bytes")
    cb = card.encode("ascii", "replace")
    if len(cb) > 9:
        raise BadInput("card id %r: at most 9 characters" % card)
    if not 1 <= validity <= MAX_VALIDITY:
        raise BadInput("validity must be 1..%d seconds" % MAX_VALIDITY)
    if not 0 <= region < 1 << 24 or not 0 <= birth < 1 << 32:
        raise BadInput("region or birth date out of range")
    if not 0 <= generated < 1 << 32 or not 0 <= cert_not_after < 1 << 32:
        raise BadInput("time out of range")
    tbs = (struct.pack(">BBII", VERSION, alg, key_id(issuer.public_key()), cert_not_after)
           + key_bytes(holder.public_key()) + match + cb.ljust(9, b" ")
           + region.to_bytes(3, "big") + struct.pack(">I", birth))
    signed = tbs + _sign(issuer, tbs) + struct.pack(">IH", generated, validity)
    return signed + _sign(holder, signed)


def b45encode(data: bytes) -> str:
    out = []
    for i in range(0, len(data), 2):
        if i + 1 < len(data):
            v = data[i] * 256 + data[i + 1]
            out += [_B45[v % 45], _B45[v // 45 % 45], _B45[v // 2025]]
        else:
            out += [_B45[data[i] % 45], _B45[data[i] // 45]]
    return "".join(out)


def b45decode(text: str) -> bytes:
    if len(text) % 3 == 1:
        raise BadInput("not base45 (length)")
    out = bytearray()
    for i in range(0, len(text), 3):
        chunk = text[i:i + 3]
        if any(c not in _B45 for c in chunk):
            raise BadInput("not base45 (character)")
        v = sum(_B45.index(c) * 45 ** k for k, c in enumerate(chunk))
        if v > (0xFFFF if len(chunk) == 3 else 0xFF):
            raise BadInput("not base45 (value)")
        out += v.to_bytes(len(chunk) - 1, "big")
    return bytes(out)


def encode(raw: bytes) -> str:
    """The QR payload text of a code."""
    return PREFIX + b45encode(raw)


def code_size(alg: int) -> int:
    lay = LAYOUTS.get(alg)
    return 10 + lay[0] + 32 + 2 * lay[1] + 6 if lay else 0


@dataclass
class Parts:
    """A code's fields by its algorithm's layout (docs/qr.md §3)."""

    alg: int
    kid: int
    not_after: int
    holder_key: bytes
    match: bytes
    card: bytes
    region: int
    birth: int
    tbs: bytes
    cert_sig: bytes
    generated: int
    validity: int
    signed: bytes
    sig: bytes


def parts(raw: bytes) -> Parts:
    _, alg, kid, not_after = struct.unpack(">BBII", raw[:10])
    hk, sl = LAYOUTS[alg]
    at = 10 + hk
    cert = at + 32
    gen, validity = struct.unpack(">IH", raw[cert + sl:cert + sl + 6])
    return Parts(alg, kid, not_after, raw[10:at], raw[at:at + 16], raw[at + 16:at + 25],
                 int.from_bytes(raw[at + 25:at + 28], "big"),
                 struct.unpack(">I", raw[at + 28:cert])[0], raw[:cert], raw[cert:cert + sl],
                 gen, validity, raw[:cert + sl + 6], raw[cert + sl + 6:])


def decode(text: str) -> bytes:
    text = text.strip()
    if not text.startswith(PREFIX):
        raise BadInput("not a YK1 code (it starts %r)" % text[:4])
    raw = b45decode(text[len(PREFIX):])
    if len(raw) < 2 or raw[0] != VERSION or len(raw) != code_size(raw[1]):
        raise BadInput("not a version %d code of %d (P-256) or %d (RSA) bytes"
                       % (VERSION, CODE_SIZE, RSA_CODE_SIZE))
    return raw


def fields(raw: bytes) -> dict[str, Any]:
    """A code's fields, the holder's masked: the match key's first 4 bytes, the card id's
    last 4 characters; the holder key by the first 4 bytes of its SHA-256."""
    p = parts(raw)
    card = p.card.decode("ascii", "replace").strip()
    out: dict[str, Any] = {
        "version": raw[0], "alg": ALG_NAMES.get(p.alg, "alg %d" % p.alg),
        "key_id": "%08x" % p.kid, "holder_key": hashlib.sha256(p.holder_key).hexdigest()[:8]}
    if p.alg == ALG_RSA:
        out["holder_exponent"] = int.from_bytes(p.holder_key[RSA_SIZE:], "big")
    out.update({"match_key": p.match[:4].hex() + "…",
                "card": "*" * max(0, len(card) - 4) + card[-4:],
                "region": "%06d" % p.region, "birth": p.birth,
                "certificate_until": when(p.not_after).isoformat(),
                "generated": when(p.generated).isoformat(), "validity_s": p.validity})
    return out


_CARD_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ "


def denylist_number(card: str) -> str:
    """The 20-digit number under which a code's card id is put on the denylist (the
    firmware's ``credential.denylist_number``): ``99`` then two digits per character (0-9
    -> 00-09, A-Z -> 10-35, space 36), the id space-padded to 9."""
    c = card.upper().ljust(9)
    if len(c) != 9 or any(ch not in _CARD_CHARS for ch in c):
        raise BadInput("card id %r: up to 9 characters 0-9 A-Z" % card)
    return "99" + "".join("%02d" % _CARD_CHARS.index(ch) for ch in c)


def verdict(raw: bytes, anchors: dict[int, Anchor], now: int) -> str:
    """The firmware's outcome for a code at ``now`` (a fresh terminal: never ``replayed``)."""
    if raw[1] not in LAYOUTS:
        return "malformed"
    p = parts(raw)
    if p.validity > MAX_VALIDITY:
        return "malformed"
    a = anchors.get(p.kid)
    if a is None or now > a.not_after or alg_of(a.public) != p.alg:
        return "unknown key id"
    if now > p.not_after:
        return "certificate expired"
    if now + SKEW < p.generated:
        return "not yet valid"
    if now > p.generated + p.validity:
        return "expired"
    try:
        holder: PublicKey = (rsa_public(p.holder_key) if p.alg == ALG_RSA
                             else public_from_xy(p.holder_key))
    except BadInput:
        return "malformed"
    if not _verify(a.public, p.cert_sig, p.tbs):
        return "forged signature"
    if not _verify(holder, p.sig, p.signed):
        return "forged signature"
    return "ok"


def qr(text: str) -> Any:
    """The QR symbol of a code (a ``segno.QRCode``), error correction M."""
    import segno

    return segno.make(text, error="m", boost_error=False)
