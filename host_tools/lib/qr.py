"""The e-card QR credential, host side (docs/qr.md): keys, trust-anchor files, issuing test
codes and explaining a code. The firmware's verifier is ``ykt/qr/credential.py``; this module
writes and reads the same bytes with ``cryptography`` (ECDSA P-256 / SHA-256).

Times are local wall time as seconds since 2000-01-01, the terminal's clock.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from host_tools.lib.errors import BadInput

PREFIX = "YK1:"
VERSION = 1
ALG_P256 = 1
CERT_SIZE = 106
SIG_SIZE = 64
CODE_SIZE = 240
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

def key_from_seed(seed: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 key derived from a text seed (tests and demos only)."""
    d = int.from_bytes(hashlib.sha256(b"ykt-qr-key:" + seed.encode()).digest(), "big")
    return ec.derive_private_key(d % (_N - 1) + 1, ec.SECP256R1())


def load_private_key(path: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from a PEM file."""
    try:
        with open(path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
    except FileNotFoundError:
        raise BadInput("%s: no such key file" % path) from None
    except (ValueError, TypeError) as e:
        raise BadInput("%s: not a PEM private key (%s)" % (path, e)) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise BadInput("%s: not a P-256 key" % path)
    return key


def xy(pub: ec.EllipticCurvePublicKey) -> bytes:
    """The 64 bytes x y of a public key."""
    return pub.public_bytes(serialization.Encoding.X962,
                            serialization.PublicFormat.UncompressedPoint)[1:]


def public_from_xy(raw: bytes) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + raw)
    except ValueError:
        raise BadInput("not a P-256 public key") from None


def key_id(pub: ec.EllipticCurvePublicKey) -> int:
    """An issuer key's id: the first 4 bytes of SHA-256 of its x y, as a number."""
    return int.from_bytes(hashlib.sha256(xy(pub)).digest()[:4], "big")


def _sign(key: ec.EllipticCurvePrivateKey, msg: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(msg, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _verify(pub: ec.EllipticCurvePublicKey, sig: bytes, msg: bytes) -> bool:
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        pub.verify(der, msg, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


# -- trust anchors ---------------------------------------------------------

@dataclass
class Anchor:
    kid: int
    not_after: int
    public: ec.EllipticCurvePublicKey
    test: bool


def anchors_payload(keys: list[tuple[ec.EllipticCurvePublicKey, int]], kset: str,
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
        out += struct.pack(">IBI", key_id(pub), ALG_P256, not_after) + xy(pub)
    return out


def read_anchors(data: bytes) -> tuple[str, int, list[Anchor]]:
    """(set, version, anchors) of a trust-anchor payload."""
    if len(data) < 11 or data[:4] != ANCHORS_MAGIC or data[4] != ANCHORS_FORMAT:
        raise BadInput("not a trust anchor file")
    _, _, kset, version, count = struct.unpack(">4sBBIB", data[:11])
    names = {v: k for k, v in SETS.items()}
    if kset not in names or len(data) != 11 + 73 * count:
        raise BadInput("not a trust anchor file")
    out = []
    for i in range(count):
        at = 11 + 73 * i
        kid, alg, not_after = struct.unpack(">IBI", data[at:at + 9])
        out.append(Anchor(kid, not_after, public_from_xy(data[at + 9:at + 73]), kset == 2))
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

def issue(issuer: ec.EllipticCurvePrivateKey, holder: ec.EllipticCurvePrivateKey, *,
          cert_not_after: int, match: bytes, card: str, region: int, birth: int,
          generated: int, validity: int) -> bytes:
    """A code's bytes: the certificate the issuer signs, then the code the holder signs."""
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
    tbs = (struct.pack(">BBII", VERSION, ALG_P256, key_id(issuer.public_key()), cert_not_after)
           + xy(holder.public_key()) + match + cb.ljust(9, b" ")
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


def decode(text: str) -> bytes:
    text = text.strip()
    if not text.startswith(PREFIX):
        raise BadInput("not a YK1 code (it starts %r)" % text[:4])
    raw = b45decode(text[len(PREFIX):])
    if len(raw) != CODE_SIZE or raw[0] != VERSION:
        raise BadInput("not a version %d code of %d bytes" % (VERSION, CODE_SIZE))
    return raw


def fields(raw: bytes) -> dict[str, Any]:
    """A code's fields, the holder's masked: the match key's first 4 bytes, the card id's
    last 4 characters."""
    ver, alg, kid, not_after = struct.unpack(">BBII", raw[:10])
    generated, validity = struct.unpack(">IH", raw[170:176])
    card = raw[90:99].decode("ascii", "replace").strip()
    return {"version": ver, "alg": "ECDSA P-256" if alg == ALG_P256 else "alg %d" % alg,
            "key_id": "%08x" % kid, "holder_key": hashlib.sha256(raw[10:74]).hexdigest()[:8],
            "match_key": raw[74:78].hex() + "…", "card": "*" * max(0, len(card) - 4) + card[-4:],
            "region": "%06d" % int.from_bytes(raw[99:102], "big"),
            "birth": struct.unpack(">I", raw[102:106])[0],
            "certificate_until": when(not_after).isoformat(),
            "generated": when(generated).isoformat(), "validity_s": validity}


def verdict(raw: bytes, anchors: dict[int, Anchor], now: int) -> str:
    """The firmware's outcome for a code at ``now`` (a fresh terminal: never ``replayed``)."""
    _, alg, kid, not_after = struct.unpack(">BBII", raw[:10])
    generated, validity = struct.unpack(">IH", raw[170:176])
    if alg != ALG_P256 or validity > MAX_VALIDITY:
        return "malformed"
    a = anchors.get(kid)
    if a is None or now > a.not_after:
        return "unknown key id"
    if now > not_after:
        return "certificate expired"
    if now + SKEW < generated:
        return "not yet valid"
    if now > generated + validity:
        return "expired"
    try:
        holder = public_from_xy(raw[10:74])
    except BadInput:
        return "malformed"
    if not _verify(a.public, raw[106:170], raw[:106]):
        return "forged signature"
    if not _verify(holder, raw[176:], raw[:176]):
        return "forged signature"
    return "ok"


def qr(text: str) -> Any:
    """The QR symbol of a code (a ``segno.QRCode``), error correction M."""
    import segno

    return segno.make(text, error="m", boost_error=False)
