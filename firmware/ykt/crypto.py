"""AES-128 CMAC and the purse key schedule (docs/purse.md section 5); HMAC-SHA256 (RFC 2104)
for the holder match key (docs/venue.md §2).

CMAC is NIST SP 800-38B over ``cryptolib.aes``; every purse MAC is its first
four bytes (``mac4``). Card keys are diversified from an issuer master key
(section 5.2) and session keys from a card key (section 5.3).
"""

import hashlib

import cryptolib
from micropython import const

_BLOCK = const(16)
_ECB = const(1)
_CBC = const(2)
_RB = const(0x87)  # R_128 of SP 800-38B, the doubling constant
_ZERO = bytes(_BLOCK)


def _ecb(key, block):
    return cryptolib.aes(key, _ECB).encrypt(block)


def _double(block):
    """Multiply by x in GF(2^128): shift left one bit, fold the carry with Rb."""
    out = bytearray(_BLOCK)
    carry = 0
    for i in range(_BLOCK - 1, -1, -1):
        b = block[i]
        out[i] = ((b << 1) | carry) & 0xFF
        carry = b >> 7
    if carry:
        out[_BLOCK - 1] ^= _RB
    return out


def _check_key(key):
    if len(key) != _BLOCK:
        raise ValueError("AES-128 key must be 16 bytes")


def subkeys(key):
    """Return the CMAC subkeys (K1, K2) of ``key``."""
    _check_key(key)
    k1 = _double(_ecb(key, _ZERO))
    return bytes(k1), bytes(_double(k1))


def pad(msg):
    """ISO/IEC 9797-1 method 2 padding of a short ``msg`` to one block."""
    if len(msg) >= _BLOCK:
        raise ValueError("pad() takes less than one block")
    out = bytearray(_BLOCK)
    out[: len(msg)] = msg
    out[len(msg)] = 0x80
    return out


def cmac(key, msg):
    """AES-CMAC of ``msg`` under ``key`` (16 bytes)."""
    k1, k2 = subkeys(key)
    n = len(msg)
    if n and n % _BLOCK == 0:
        buf = bytearray(msg)
        sub = k1
    else:
        full = n - n % _BLOCK
        buf = bytearray(full + _BLOCK)
        buf[:n] = msg
        buf[n] = 0x80
        sub = k2
    last = len(buf) - _BLOCK
    for i in range(_BLOCK):
        buf[last + i] ^= sub[i]
    out = cryptolib.aes(key, _CBC, _ZERO).encrypt(buf)
    return out[last:]


def mac4(key, msg):
    """The 4-byte purse MAC: the first 4 bytes of the CMAC."""
    return cmac(key, msg)[:4]


def diversify(master, serial8):
    """Card key = AES_master(serial8 || NOT serial8) (section 5.2)."""
    _check_key(master)
    if len(serial8) != 8:
        raise ValueError("serial8 must be 8 bytes")
    block = bytearray(_BLOCK)
    for i in range(8):
        block[i] = serial8[i]
        block[8 + i] = serial8[i] ^ 0xFF
    return _ecb(master, block)


def auth_master(purchase_master):
    """The issuer's card-authentication master key: AES_purchase-master("ykt auth master" 00)
    (section 5.2). Card authentication key = diversify(auth_master, serial8)."""
    return _ecb(purchase_master, b"ykt auth master\x00")


def purchase_session(card_key, random4, atc, term_seq):
    """SESP = AES_cardkey(pad(random(4) || ATC(2) || terminal sequence(4)))."""
    msg = bytes(random4) + atc.to_bytes(2, "big") + term_seq.to_bytes(4, "big")
    return _ecb(card_key, pad(msg))


def load_session(card_key, random4, atc):
    """SESL = AES_cardkey(pad(random(4) || online ATC(2)))."""
    return _ecb(card_key, pad(bytes(random4) + atc.to_bytes(2, "big")))


def equal(a, b):
    """Compare two MACs or digests without an early exit (no timing hint)."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


def hmac_sha256(key, msg):
    """HMAC-SHA256 (RFC 2104) of ``msg`` under ``key`` (at most 64 bytes)."""
    if len(key) > 64:
        raise ValueError("HMAC key over 64 bytes")
    k = bytearray(64)
    k[: len(key)] = key
    inner = bytearray(64)
    for i in range(64):
        inner[i] = k[i] ^ 0x36
        k[i] ^= 0x5C
    h = hashlib.sha256(inner)
    h.update(msg)
    o = hashlib.sha256(k)
    o.update(h.digest())
    return o.digest()
