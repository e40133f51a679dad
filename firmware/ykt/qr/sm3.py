"""SM3 (GM/T 0004-2012), the hash SM2 signs with, in plain MicroPython (no port has it in C).

32-bit words as integers. On the 64-bit VM they are small integers; on the ESP32 (31-bit
small integers) a word of 2^30 or more is a heap integer, so this is slower there than the
VM's figure times the interpreter factor (docs/qr.md §4).
"""

from micropython import const

_M = const(0xFFFFFFFF)
_IV = (0x7380166F, 0x4914B2B9, 0x172442D7, 0xDA8A0600,
       0xA96F30BC, 0x163138AA, 0xE38DEE4D, 0xB0FB0E4E)


def _rol(x, n):
    n &= 31
    return ((x << n) | (x >> (32 - n))) & _M


_T = [_rol(0x79CC4519 if j < 16 else 0x7A879D8A, j) for j in range(64)]


def _compress(v, blk):
    w = [int.from_bytes(blk[i : i + 4], "big") for i in range(0, 64, 4)]
    for j in range(16, 68):
        x = w[j - 16] ^ w[j - 9] ^ _rol(w[j - 3], 15)
        x ^= _rol(x, 15) ^ _rol(x, 23)  # P1
        w.append(x ^ _rol(w[j - 13], 7) ^ w[j - 6])
    a, b, c, d, e, f, g, h = v
    for j in range(64):
        a12 = _rol(a, 12)
        ss1 = _rol((a12 + e + _T[j]) & _M, 7)
        ss2 = ss1 ^ a12
        if j < 16:
            ff = a ^ b ^ c
            gg = e ^ f ^ g
        else:
            ff = (a & b) | (a & c) | (b & c)
            gg = (e & f) | (~e & g)
        tt1 = (ff + d + ss2 + (w[j] ^ w[j + 4])) & _M
        tt2 = (gg + h + ss1 + w[j]) & _M
        d = c
        c = _rol(b, 9)
        b = a
        a = tt1
        h = g
        g = _rol(f, 19)
        f = e
        e = tt2 ^ _rol(tt2, 9) ^ _rol(tt2, 17)  # P0
    return [x ^ y for x, y in zip((a, b, c, d, e, f, g, h), v)]


def digest(msg):
    """The 32-byte SM3 hash of ``msg``."""
    n = len(msg)
    pad = bytearray(msg)
    pad.append(0x80)
    while len(pad) % 64 != 56:
        pad.append(0)
    pad += (8 * n).to_bytes(8, "big")
    v = list(_IV)
    for i in range(0, len(pad), 64):
        v = _compress(v, pad[i : i + 64])
    return b"".join([x.to_bytes(4, "big") for x in v])
