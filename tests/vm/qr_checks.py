"""The e-card QR verifier (ykt.qr) on both runtimes (tests/test_qr_vectors.py,
tests/test_qr_credential.py).

``micropython qr_checks.py CHECK ARG...`` prints the result of one check as JSON; under
CPython the tests import this module and call the same functions.
"""

import json
import sys

# NIST CAVP FIPS 186-4 ECDSA SigVer.rsp, [P-256,SHA-256], a case with Result = P
CAVP = {
    "msg": "e1130af6a38ccb412a9c8d13e15dbfc9e69a16385af3c3f1e5da954fd5e7c45f"
           "d75e2b8c36699228e92840c0562fbf3772f07e17f1add56588dd45f7450e1217"
           "ad239922dd9c32695dc71ff2424ca0dec1321aa47064a044b7fe3c2b97d03ce4"
           "70a592304c5ef21eed9f93da56bb232d1eeb0035f9bf0dfafdcc4606272b20a3",
    "qx": "e424dc61d4bb3cb7ef4344a7f8957a0c5134e16f7a67c074f82e6e12f49abf3c",
    "qy": "970eed7aa2bc48651545949de1dddaf0127e5965ac85d1243d6f60e7dfaee927",
    "r": "bf96b99aa49c705c910be33142017c642ff540c76349b9dab72f981fd9347f4f",
    "s": "17c55095819089c2e03b9cd415abdf12444e323075d98f31920b9e0f57ec871c",
}
# GM/T 0003.5-2012 Annex A (GB/T 32918.5-2017): SM2 signature on the recommended curve
SM2_EXAMPLE = {
    "msg": "message digest",
    "xy": "09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"
          "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13",
    "za": "b2e14c5c79c6df5b85f4fe7ed8db7a262b9da7e07ccb0ea9f4747b8ccda8a4f3",
    "r": "f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3",
    "s": "b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa",
}


def _u(h):
    return bytes.fromhex(h)


def p256_vector(flip=""):
    """[accepted as given, accepted with the message's last byte changed]."""
    from ykt.qr import ec

    v = CAVP
    tab = ec.table(ec.P256, ec.point(ec.P256, _u(v["qx"] + v["qy"])))
    r, s = int(v["r"], 16), int(v["s"], 16)
    msg = _u(v["msg"])
    bad = msg[:-1] + bytes((msg[-1] ^ 1,))
    return [ec.ecdsa_p256(tab, msg, r, s), ec.ecdsa_p256(tab, bad, r, s)]


def sm2_vector():
    """[SM3("abc"), Z_A, accepted, accepted with s changed]."""
    from ykt.qr import ec, sm3

    v = SM2_EXAMPLE
    xy = _u(v["xy"])
    za = ec.sm2_za(xy)
    tab = ec.table(ec.SM2, ec.point(ec.SM2, xy))
    r, s = int(v["r"], 16), int(v["s"], 16)
    msg = v["msg"].encode()
    return [sm3.digest(b"abc").hex(), za.hex(), ec.sm2_verify(tab, za, msg, r, s),
            ec.sm2_verify(tab, za, msg, r, s ^ 1)]


def check(anchors_hex, now, path):
    """Outcome of each code of the file ``path`` (one a line: the unix port's command line
    takes no argument of 256 characters or more) in turn, on one verifier (its replay cache
    and certificate cache shared): [outcome, ...]."""
    from ykt.qr import credential

    anchors = {a.kid: a for a in credential.read_anchors(_u(anchors_hex))}
    v = credential.Verifier(anchors)
    with open(path) as f:
        codes = [line.rstrip("\n") for line in f]
    return [v.check(c, int(now))[0] for c in codes]


CHECKS = {"p256": p256_vector, "sm2": sm2_vector, "check": check}

if __name__ == "__main__":
    print(json.dumps(CHECKS[sys.argv[1]](*sys.argv[2:])))
