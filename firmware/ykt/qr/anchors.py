"""Trust anchors of the e-card QR credential: the issuer keys a terminal accepts, by key id
(docs/qr.md §6). They arrive as signed update files of kind ``trust`` (production) and
``trust-test`` (test keys); ``read_anchors`` reads and checks a payload (the update installer
calls it before it replaces anything), ``load_anchors`` the installed files.

Payload (big-endian): ``YKTA``, format 1, set (1 production, 2 test), version (4), count
(1), then per key: key id (4), algorithm (1), not after (4, seconds since 2000) and the key:
x y (64 bytes) for algorithm 1 (P-256), n (256) e (4) for algorithm 3 (RSA-2048).
"""

import struct

from micropython import const

ANCHORS_MAGIC = b"YKTA"
ANCHORS_FORMAT = const(1)
SET_PRODUCTION = const(1)
SET_TEST = const(2)
_P256 = const(1)
_RSA = const(3)
_KEY_SIZE = {_P256: 64, _RSA: 260}  # algorithm: bytes of its key


def rsa_key(raw):
    """The ``ykt.qr.rsa.Key`` of n e (260 bytes); ValueError if not one we verify with."""
    from ykt.qr import rsa

    return rsa.key_of(raw)


class Anchor:
    """One issuer key: its key id, algorithm, expiry, set and what verifies with it (the
    NAF table of a P-256 point, built on first use; an RSA key)."""

    def __init__(self, kid, alg, not_after, key, test):
        self.kid = kid
        self.alg = alg
        self.not_after = not_after
        self.xy = bytes(key)  # the key's bytes: x y, or n e
        self.test = test
        self._tab = rsa_key(self.xy) if alg == _RSA else None

    def table(self):
        if self._tab is None:
            from ykt.qr import ec

            self._tab = ec.table(ec.P256, ec.point(ec.P256, self.xy), 7)
        return self._tab

    def rsa(self):
        return self._tab


def read_anchors(data, want_set=None):
    """[Anchor] of a trust-anchor payload; ValueError if it is not one (or not of
    ``want_set``), a key is off the curve or not an RSA-2048 key with e 3 or 65537."""
    if len(data) < 15 or bytes(data[:4]) != ANCHORS_MAGIC or data[4] != ANCHORS_FORMAT:
        raise ValueError("not a trust anchor file")
    kset = data[5]
    count = data[10]
    if kset not in (SET_PRODUCTION, SET_TEST) or (want_set and kset != want_set):
        raise ValueError("trust anchor set %d, not %d" % (kset, want_set or 0))
    out = []
    at = 11
    for _ in range(count):
        if at + 9 > len(data):
            break
        kid, alg, not_after = struct.unpack(">IBI", data[at : at + 9])
        size = _KEY_SIZE.get(alg)
        if size is None:
            raise ValueError("key %08x: algorithm %d" % (kid, alg))
        key = data[at + 9 : at + 9 + size]
        if len(key) != size:
            break
        if alg == _P256:
            from ykt.qr import ec

            ec.point(ec.P256, key)  # ValueError if not on the curve
        out.append(Anchor(kid, alg, not_after, key, kset == SET_TEST))  # RSA: checked here
        at += 9 + size
    if len(out) != count or at != len(data):
        raise ValueError("trust anchor file of %d keys is %d bytes" % (count, len(data)))
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
