"""RSA signature verification: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2.2), 2048-bit
keys, public exponent 65537 or 3 (docs/qr.md §4).

A verify is one modular exponentiation, ``pow(s, e, n)``: C in every MicroPython port (its
mpz), so it costs a fraction of an elliptic-curve verify in bytecode. The check does what
RFC 8017 §8.2.2 step 3-4 says and nothing looser: it **builds** the whole expected encoded
message ``00 01 FF..FF 00 DigestInfo(SHA-256) H`` (EMSA-PKCS1-v1_5, §9.2) and compares it
with ``s^e mod n`` whole, never parsing the padding. A verifier that parses (skips the FF
bytes, reads the DigestInfo, takes the hash and ignores what follows) accepts Bleichenbacher's
2006 forgery for e = 3: a cube root of ``00 01 FF 00 DigestInfo H garbage``, which needs no
key. Here that is simply a different number.

``key(raw_n, e)`` reads a public key (ValueError if it is not one we verify with);
``verify(key, msg, sig)`` returns True or False and never raises for a bad signature.
"""

import hashlib

from micropython import const

BITS = const(2048)
SIZE = const(256)  # bytes of n and of a signature
EXPONENTS = (3, 65537)

# DigestInfo of SHA-256 (RFC 8017 §9.2, note 1), then the 32-byte hash
_DIGEST_INFO = b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20"
# 00 01 FF.. FF 00 DigestInfo: everything of the encoded message but the hash
_PREFIX = b"\x00\x01" + b"\xff" * (SIZE - 3 - len(_DIGEST_INFO) - 32) + b"\x00" + _DIGEST_INFO


class Key:
    """A public key: the modulus ``n`` (an int of exactly 2048 bits, odd) and ``e``."""

    def __init__(self, n, e):
        self.n = n
        self.e = e


def key(raw_n, e):
    """The ``Key`` of a 256-byte big-endian modulus and an exponent; ValueError unless n is
    odd and exactly 2048 bits and e is 3 or 65537."""
    if len(raw_n) != SIZE or not raw_n[0] & 0x80 or not raw_n[SIZE - 1] & 1:
        raise ValueError("not a 2048-bit RSA modulus")
    if e not in EXPONENTS:
        raise ValueError("RSA exponent %d" % e)
    return Key(int.from_bytes(raw_n, "big"), e)


def key_of(raw):
    """The ``Key`` of n (256 bytes) then e (4 bytes, big-endian), as codes and trust-anchor
    files carry it (docs/qr.md §3, §6)."""
    return key(raw[:SIZE], int.from_bytes(raw[SIZE : SIZE + 4], "big"))


def encoded(digest):
    """EMSA-PKCS1-v1_5 of a SHA-256 ``digest``, as the integer it is (RFC 8017 §9.2)."""
    return int.from_bytes(_PREFIX + digest, "big")


def verify_digest(k, digest, sig):
    """True if ``sig`` (256 bytes) is k's signature of the SHA-256 ``digest``."""
    if len(sig) != SIZE or len(digest) != 32:
        return False
    s = int.from_bytes(sig, "big")
    if s >= k.n:  # RFC 8017 §8.2.2 step 2a (RSAVP1: s out of range)
        return False
    # the whole encoded message, built and compared: no padding is parsed
    return pow(s, k.e, k.n) == encoded(digest)


def verify(k, msg, sig):
    """True if ``sig`` is k's RSASSA-PKCS1-v1_5 SHA-256 signature of ``msg``."""
    return verify_digest(k, hashlib.sha256(msg).digest(), sig)
