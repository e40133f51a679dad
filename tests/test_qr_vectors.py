"""Our signature verifies (firmware/ykt/qr) on standard test vectors, on CPython and on the
MicroPython VM: NIST CAVP ECDSA P-256/SHA-256 SigVer, GM/T 0003.5 Annex A (SM2), SM3 of
"abc" (GM/T 0004 Appendix A)."""

import json

import pytest
import vmscripts
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec as cec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM2_ZA = "b2e14c5c79c6df5b85f4fe7ed8db7a262b9da7e07ccb0ea9f4747b8ccda8a4f3"


def vm(check, *args):
    proc = vmscripts.run("qr_checks", check, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def checks():
    return vmscripts.load("qr_checks")


def test_the_cavp_vector_is_a_good_signature_for_cryptography_too(checks):
    v = checks.CAVP
    pub = cec.EllipticCurvePublicKey.from_encoded_point(
        cec.SECP256R1(), bytes.fromhex("04" + v["qx"] + v["qy"]))
    der = encode_dss_signature(int(v["r"], 16), int(v["s"], 16))
    pub.verify(der, bytes.fromhex(v["msg"]), cec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        pub.verify(der, bytes.fromhex(v["msg"])[:-1] + b"\x00", cec.ECDSA(hashes.SHA256()))


def test_p256_cavp_vector_accepted_and_a_changed_message_refused_on_cpython(checks):
    assert checks.p256_vector() == [True, False]


def test_p256_cavp_vector_accepted_and_a_changed_message_refused_on_the_vm():
    assert vm("p256") == [True, False]


def test_sm2_gmt_0003_example_and_sm3_on_cpython(checks):
    assert checks.sm2_vector() == [SM3_ABC, SM2_ZA, True, False]


def test_sm2_gmt_0003_example_and_sm3_on_the_vm():
    assert vm("sm2") == [SM3_ABC, SM2_ZA, True, False]


def test_p256_accepts_signatures_cryptography_makes_and_refuses_others():
    from ykt.qr import ec

    key = cec.derive_private_key(12345, cec.SECP256R1())
    q = key.public_key().public_numbers()
    tab = ec.table(ec.P256, (q.x, q.y))
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    for i in range(5):
        msg = b"message %d" % i
        r, s = decode_dss_signature(key.sign(msg, cec.ECDSA(hashes.SHA256())))
        assert ec.ecdsa_p256(tab, msg, r, s)
        assert not ec.ecdsa_p256(tab, msg + b".", r, s)
        assert not ec.ecdsa_p256(tab, msg, s, r)
    assert not ec.ecdsa_p256(tab, b"m", 0, 1) and not ec.ecdsa_p256(tab, b"m", 1, ec.P256.n)


def test_a_public_key_off_the_curve_is_refused():
    from ykt.qr import ec

    x, y = ec.P256.g
    with pytest.raises(ValueError):
        ec.point(ec.P256, x.to_bytes(32, "big") + (y + 1).to_bytes(32, "big"))
    compressed = bytes([2 + (y & 1)]) + x.to_bytes(32, "big")
    assert ec.point(ec.P256, compressed) == (x, y)
