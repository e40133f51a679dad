"""E-card QR codes for the tests (host_tools.lib.qr): an issuer, holders, anchors, codes at
fixed times, and codes altered the ways an attacker would."""

from host_tools.lib import qr

T0 = qr.parse_time("2026-12-03T09:00:00")
DAY = 86400
ISSUER = qr.key_from_seed("issuer")
OTHER_ISSUER = qr.key_from_seed("another issuer")
HOLDER = qr.key_from_seed("holder")
STRANGER = qr.key_from_seed("stranger")
# RSA-2048 (algorithm 3): e 65537, and the issuer with e 3 too
RSA_ISSUER = qr.key_from_seed("issuer", "rsa", 65537)
RSA_ISSUER3 = qr.key_from_seed("issuer", "rsa", 3)
RSA_OTHER_ISSUER = qr.key_from_seed("another issuer", "rsa", 65537)
RSA_HOLDER = qr.key_from_seed("holder", "rsa", 65537)
RSA_STRANGER = qr.key_from_seed("stranger", "rsa", 65537)
ID_NUMBER = "320502199001011234"
SECRET = b"match secret for tests"


def anchors(*keys, kset="test", until=T0 + 365 * DAY, version=1):
    """A trust-anchor payload of ``keys`` (the issuer by default)."""
    return qr.anchors_payload([(k.public_key(), until) for k in keys or (ISSUER,)], kset,
                              version)


def raw(issuer=ISSUER, holder=HOLDER, generated=T0, validity=60, cert_until=T0 + 30 * DAY,
        card="A12345678"):
    region, birth = qr.id_fields(ID_NUMBER)
    return qr.issue(issuer, holder, cert_not_after=cert_until,
                    match=qr.match_key(SECRET, ID_NUMBER), card=card, region=region,
                    birth=birth, generated=generated, validity=validity)


def code(**kw):
    return qr.encode(raw(**kw))


def resign_code(data, key):
    """``data`` with the holder's signature replaced by one of ``key``."""
    n = len(qr.parts(data).signed)
    return data[:n] + qr._sign(key, data[:n])


def resign_cert(data, key):
    """``data`` with the certificate's signature replaced by one of ``key`` (the code's own
    signature then no longer covers it: resign that too)."""
    p = qr.parts(data)
    n = len(p.tbs)
    return data[:n] + qr._sign(key, data[:n]) + data[n + len(p.cert_sig):]


def forged_certificate():
    """The certificate's signature made by another issuer under the issuer's key id; the code
    then signed by the holder as usual."""
    data = raw()
    data = data[:106] + qr._sign(OTHER_ISSUER, data[:106]) + data[170:]
    return qr.encode(resign_code(data, HOLDER))


def uncertified_holder():
    """A code whose certificate is genuine but which another key signed."""
    return qr.encode(resign_code(raw(), STRANGER))


def flipped(offset, data=None):
    data = bytearray(data or raw())
    data[offset] ^= 0x01
    return qr.encode(bytes(data))


def malleated(data):
    """The code ``data`` (bytes) with s replaced by n - s: a second valid ECDSA signature of
    the same bytes (a replay must still be caught)."""
    s = int.from_bytes(data[208:], "big")
    return qr.encode(data[:208] + (qr._N - s).to_bytes(32, "big"))
