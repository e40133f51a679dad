"""Signature verification on the short Weierstrass curves with a = -3 (docs/qr.md §4).

ECDSA over NIST P-256 with SHA-256 (FIPS 186-4 §6.4; SEC 1 §4.1.4) and SM2 (GM/T 0003.2-2012
§7.1) share everything but the hash and the final equation: both verify u1*G + u2*Q with one
interleaved double-and-add over width-5 NAFs of the two scalars, in Jacobian coordinates
(dbl-2001-b for a = -3, mixed addition with the tables' affine points), with MicroPython's
native big integers. A verify is public data only: no constant-time concern.

``Curve`` holds a curve's constants and the NAF table of its base point (built on first
use); ``point(curve, raw)`` reads a public key (SEC 1: 04 x y, or 02/03 x compressed, or
the 64 bytes x y) and checks it is on the curve; ``ecdsa_verify`` and ``sm2_verify`` return
True or False, never raise for a bad signature.
"""

import hashlib

from micropython import const

_W = const(5)  # NAF width of a key's scalar: odd multiples 1, 3, ..., 15 in its table
_WG = const(7)  # of a fixed point's (G, the issuer keys): 1, 3, ..., 63, built once


class Curve:
    def __init__(self, name, p, b, n, gx, gy):
        self.name = name
        self.p = p
        self.b = b
        self.n = n
        self.g = (gx, gy)
        self._gtab = None

    def gtable(self):
        if self._gtab is None:
            self._gtab = table(self, self.g, _WG)
        return self._gtab


P256 = Curve(
    "P-256",
    0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF,
    0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
    0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)

SM2 = Curve(  # GM/T 0003.5-2012, the recommended curve
    "SM2",
    0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF,
    0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93,
    0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123,
    0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)


def on_curve(c, x, y):
    p = c.p
    return 0 <= x < p and 0 <= y < p and (y * y - x * x * x + 3 * x - c.b) % p == 0


def point(c, raw):
    """The affine point (x, y) of a public key in SEC 1 form (65 bytes 04 x y, 33 bytes
    02/03 x) or the bare 64 bytes x y; ValueError if it is none, or not on the curve."""
    n = len(raw)
    if n == 65 and raw[0] == 4:
        raw = raw[1:]
        n = 64
    if n == 64:
        x = int.from_bytes(raw[:32], "big")
        y = int.from_bytes(raw[32:], "big")
    elif n == 33 and raw[0] in (2, 3):
        p = c.p
        x = int.from_bytes(raw[1:], "big")
        if x >= p:
            raise ValueError("not a point")
        y = pow((x * x * x - 3 * x + c.b) % p, (p + 1) >> 2, p)  # p = 3 mod 4
        if (y & 1) != (raw[0] & 1):
            y = p - y
    else:
        raise ValueError("not a public key")
    if not on_curve(c, x, y):
        raise ValueError("not on the curve")
    return x, y


def _double(p, X, Y, Z):
    """2(X, Y, Z) in Jacobian coordinates, a = -3 (dbl-2001-b); Z = 0 is infinity."""
    d = Z * Z % p
    g = Y * Y % p
    be = X * g % p
    al = 3 * (X - d) * (X + d) % p
    X3 = (al * al - 8 * be) % p
    Z3 = ((Y + Z) * (Y + Z) - g - d) % p
    return X3, (al * (4 * be - X3) - 8 * g * g) % p, Z3


def _add_affine(p, X, Y, Z, x2, y2):
    """(X, Y, Z) + (x2, y2) (mixed addition); the doubling when they are equal."""
    if Z == 0:
        return x2, y2, 1
    zz = Z * Z % p
    h = (x2 * zz - X) % p
    r = (y2 * Z % p * zz - Y) % p
    if h == 0:
        if r == 0:
            return _double(p, X, Y, Z)
        return 1, 1, 0
    hh = h * h % p
    hhh = h * hh % p
    v = X * hh % p
    X3 = (r * r - hhh - 2 * v) % p
    return X3, (r * (v - X3) - Y * hhh) % p, Z * h % p


def _affine(p, X, Y, Z):
    zi = pow(Z, p - 2, p)
    zi2 = zi * zi % p
    return X * zi2 % p, Y * zi2 % p * zi % p


def table(c, pt, w=_W):
    """Affine odd multiples 1P, 3P, ..., (2^(w-1) - 1)P of ``pt``, for a width-``w`` NAF:
    computed in Jacobian coordinates, then made affine with one inversion (Montgomery's
    trick). The table's length tells ``mul2`` its width."""
    p = c.p
    x, y = pt
    d = _affine(p, *_double(p, x, y, 1))
    jac = [(x, y, 1)]
    size = 1 << (w - 2)
    for _ in range(size - 1):
        a = jac[-1]
        jac.append(_add_affine(p, a[0], a[1], a[2], d[0], d[1]))
    acc = [1] * size
    prod = 1
    for i in range(size):
        acc[i] = prod
        prod = prod * jac[i][2] % p
    inv = pow(prod, p - 2, p)
    out = [pt] * size
    for i in range(size - 1, -1, -1):
        X, Y, Z = jac[i]
        zi = inv * acc[i] % p
        inv = inv * Z % p
        zi2 = zi * zi % p
        out[i] = (X * zi2 % p, Y * zi2 % p * zi % p)
    return out


def naf(k, w=_W):
    """Width-``w`` NAF digits of ``k``, least significant first (0 or odd, |d| < 2^(w-1)),
    each plus 64 in a bytearray (a quarter of a list's heap on the board, an eighth here)."""
    out = bytearray()
    full = 1 << w
    half = full >> 1
    mask = full - 1
    while k:
        if k & 1:
            d = k & mask
            if d > half:
                d -= full
            k -= d
        else:
            d = 0
        out.append(d + 64)
        k >>= 1
    return out


def mul2(c, k1, t1, k2, t2):
    """k1*P1 + k2*P2 in Jacobian coordinates, the P's given by their tables (of any width).
    The doubling (dbl-2001-b) is written out in the loop: a verify is some 256 doublings
    and 80 additions."""
    p = c.p
    n1 = naf(k1, _width(t1))
    n2 = naf(k2, _width(t2))
    L = max(len(n1), len(n2))
    n1 += b"@" * (L - len(n1))  # "@" is 64, the digit 0
    n2 += b"@" * (L - len(n2))
    X, Y, Z = 1, 1, 0
    for i in range(L - 1, -1, -1):
        if Z:
            d = Z * Z % p
            g = Y * Y % p
            be = X * g % p
            al = 3 * (X - d) * (X + d) % p
            Z = (Y + Z) * (Y + Z) - g - d
            X = (al * al - 8 * be) % p
            Y = (al * (4 * be - X) - 8 * g * g) % p
            Z %= p
        dg = n1[i]
        if dg != 64:
            if dg > 64:
                q = t1[(dg - 64) >> 1]
                X, Y, Z = _add_affine(p, X, Y, Z, q[0], q[1])
            else:
                q = t1[(64 - dg) >> 1]
                X, Y, Z = _add_affine(p, X, Y, Z, q[0], p - q[1])
        dg = n2[i]
        if dg != 64:
            if dg > 64:
                q = t2[(dg - 64) >> 1]
                X, Y, Z = _add_affine(p, X, Y, Z, q[0], q[1])
            else:
                q = t2[(64 - dg) >> 1]
                X, Y, Z = _add_affine(p, X, Y, Z, q[0], p - q[1])
    return X, Y, Z


def _width(t):
    n = len(t)
    w = 2
    while n > 1:
        n >>= 1
        w += 1
    return w


def _scalars(c, r, s):
    n = c.n
    return 0 < r < n and 0 < s < n


def ecdsa_verify(c, qtab, digest, r, s):
    """ECDSA: is (r, s) a signature of the hash ``digest`` (bytes, at most the order's
    length) under the key whose table is ``qtab``?"""
    if not _scalars(c, r, s):
        return False
    n = c.n
    e = int.from_bytes(digest[:32], "big")
    w = pow(s, n - 2, n)
    X, Y, Z = mul2(c, e * w % n, c.gtable(), r * w % n, qtab)
    if Z == 0:
        return False
    p = c.p
    zz = Z * Z % p
    # x(R) mod n == r without an inversion: X == r Z^2, or (r + n) Z^2 when r + n < p
    return (X - r * zz) % p == 0 or (r + n < p and (X - (r + n) * zz) % p == 0)


def ecdsa_p256(qtab, msg, r, s):
    """ECDSA P-256 with SHA-256 over ``msg``."""
    return ecdsa_verify(P256, qtab, hashlib.sha256(msg).digest(), r, s)


_SM2_CONST = None


def sm2_za(xy, ident=b"1234567812345678"):
    """Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA) (GM/T 0003.2 §5.5); ``xy`` is
    the key's 64 bytes x y; the default ID is the standards' (GM/T 0009)."""
    from ykt.qr import sm3

    global _SM2_CONST
    if _SM2_CONST is None:
        c = SM2
        _SM2_CONST = b"".join([v.to_bytes(32, "big") for v in (c.p - 3, c.b, c.g[0], c.g[1])])
    bits = 8 * len(ident)
    return sm3.digest(bytes((bits >> 8, bits & 0xFF)) + ident + _SM2_CONST + xy)


def sm2_verify(ptab, za, msg, r, s):
    """SM2: is (r, s) a signature of ``msg`` by the key whose table is ``ptab`` and whose
    Z_A is ``za``? (GM/T 0003.2 §7.1)."""
    from ykt.qr import sm3

    c = SM2
    if not _scalars(c, r, s):
        return False
    n = c.n
    t = (r + s) % n
    if t == 0:
        return False
    e = int.from_bytes(sm3.digest(za + msg), "big")
    X, Y, Z = mul2(c, s, c.gtable(), t, ptab)
    if Z == 0:
        return False
    x1 = _affine(c.p, X, Y, Z)[0]
    return (e + x1) % n == r
