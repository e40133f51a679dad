"""RSA-2048 e-card codes (algorithm 3, docs/qr.md §3-4): the firmware's RSASSA-PKCS1-v1_5 /
SHA-256 verify (firmware/ykt/qr/rsa.py) on signatures ``cryptography`` makes and on the NIST
CAVP SigVer15 vector; what must be refused (a tampered byte, another key, s >= n, an exponent
other than 3 or 65537, Bleichenbacher's low-exponent forgery with garbage after the hash);
RSA codes through the credential's checks. Every verify case runs on CPython and on the
MicroPython VM with the same results."""

import hashlib
import json

import pytest
import qrkit
import vmscripts
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa as crsa
from qrkit import DAY, T0

from host_tools.lib import qr
from ykt.qr import credential as cr
from ykt.qr import rsa

checks = vmscripts.load("qr_rsa_checks")
DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def vm(check, *args):
    proc = vmscripts.run("qr_rsa_checks", check, *args, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def both(check, tmp_path, lines):
    """The check's result on CPython, after asserting the VM gives the same."""
    path = tmp_path / ("%s.txt" % check)
    path.write_text("".join(line + "\n" for line in lines))
    here = checks.CHECKS[check](str(path))
    assert vm(check, path) == here
    return here


def n_e(key):
    pn = key.public_key().public_numbers()
    return pn.n, pn.e


def case(key, msg, sig, how="key", e=None):
    n, e0 = n_e(key)
    return "%s %s %d %s %s" % (how, n.to_bytes(256, "big").hex(), e or e0, msg.hex(),
                               sig.hex())


def sign(key, msg):
    return key.sign(msg, padding.PKCS1v15(), hashes.SHA256())


def icbrt(x):
    """The least integer r with r**3 >= x."""
    r = 1 << (x.bit_length() // 3 + 1)
    while True:  # Newton from above
        y = (2 * r + x // (r * r)) // 3
        if y >= r:
            break
        r = y
    while r ** 3 < x:
        r += 1
    return r


def bleichenbacher_forgery(msg):
    """A 2048-bit e = 3 "signature" of ``msg`` made without any key (Bleichenbacher, 2006):
    the cube root, rounded up, of 00 01 FF 00 DigestInfo H followed by 201 bytes of room;
    its cube starts with those bytes and ends in garbage."""
    head = b"\x00\x01\xff\x00" + DIGEST_INFO + hashlib.sha256(msg).digest()
    room = 256 - len(head)
    s = icbrt(int.from_bytes(head, "big") << (8 * room))
    assert (s ** 3).to_bytes(256, "big")[:len(head)] == head
    return s.to_bytes(256, "big")


def parsing_verifier(n, e, msg, sig):
    """How the verifiers Bleichenbacher broke checked a signature: undo the padding by
    reading it (00 01, FF bytes up to a 00, DigestInfo) and take the next 32 bytes as the
    hash, ignoring what follows. Not ours: the forgery's witness."""
    em = pow(int.from_bytes(sig, "big"), e, n).to_bytes(256, "big")
    if em[:2] != b"\x00\x01":
        return False
    i = 2
    while em[i] == 0xFF:
        i += 1
    if em[i] != 0 or em[i + 1:i + 20] != DIGEST_INFO:
        return False
    return em[i + 20:i + 52] == hashlib.sha256(msg).digest()


# -- the verify --------------------------------------------------------------------------

def test_the_cavp_sigver15_vector_verifies_with_cryptography_too():
    v = checks.CAVP
    pub = crsa.RSAPublicNumbers(v["e"], int(v["n"], 16)).public_key()
    pub.verify(bytes.fromhex(v["s"]), bytes.fromhex(v["msg"]), padding.PKCS1v15(),
               hashes.SHA256())


def test_the_cavp_sigver15_vector_is_accepted_and_changes_refused_on_cpython():
    assert checks.cavp() == [True, False, False, "key refused"]  # its e is not 3 or 65537


def test_the_cavp_sigver15_vector_is_accepted_and_changes_refused_on_the_vm():
    assert vm("cavp") == [True, False, False, "key refused"]


def test_signatures_cryptography_makes_are_accepted_for_both_exponents(tmp_path):
    lines = []
    for key in (qrkit.RSA_HOLDER, qrkit.RSA_ISSUER3):
        for i in range(3):
            msg = b"a code body %d" % i
            lines.append(case(key, msg, sign(key, msg)))
    assert both("verify", tmp_path, lines) == [True] * 6


def test_a_tampered_message_or_signature_byte_is_refused(tmp_path):
    key = qrkit.RSA_HOLDER
    msg = b"the holder-signed bytes"
    sig = sign(key, msg)
    lines = [case(key, msg + b".", sig), case(key, msg[:-1], sig),
             case(key, msg, sig[:100] + bytes((sig[100] ^ 0x10,)) + sig[101:]),
             case(key, msg, sig[:-1] + bytes((sig[-1] ^ 1,)))]
    assert both("verify", tmp_path, lines) == [False] * 4


def test_a_signature_by_another_key_is_refused(tmp_path):
    msg = b"the holder-signed bytes"
    lines = [case(qrkit.RSA_HOLDER, msg, sign(qrkit.RSA_STRANGER, msg)),
             case(qrkit.RSA_ISSUER, msg, sign(qrkit.RSA_ISSUER3, msg))]
    assert both("verify", tmp_path, lines) == [False, False]


def test_s_at_or_above_n_is_refused_though_it_is_the_same_number_mod_n(tmp_path):
    key = qrkit.RSA_HOLDER
    n, e = n_e(key)
    for i in range(50):  # a signature s with s + n still 256 bytes
        msg = b"message %d" % i
        s = int.from_bytes(sign(key, msg), "big")
        if s + n < 1 << 2048:
            break
    assert pow(s + n, e, n) == pow(s, e, n)
    lines = [case(key, msg, (s + n).to_bytes(256, "big")), case(key, msg, n.to_bytes(256, "big")),
             case(key, msg, s.to_bytes(256, "big"))]
    assert both("verify", tmp_path, lines) == [False, False, True]


def test_bleichenbacher_low_exponent_forgery_is_refused(tmp_path):
    key = qrkit.RSA_ISSUER3
    n, e = n_e(key)
    assert e == 3
    msg = b"a certificate nobody signed"
    forged = bleichenbacher_forgery(msg)
    assert parsing_verifier(n, e, msg, forged)  # a real forgery for a parsing verifier
    assert parsing_verifier(n, e, msg, sign(key, msg))
    assert both("verify", tmp_path, [case(key, msg, forged), case(key, msg, sign(key, msg))]) \
        == [False, True]


@pytest.mark.parametrize("e", [1, 5, 17, 65535, 65539, 2 ** 32 - 1])
def test_an_exponent_other_than_3_or_65537_is_refused(e):
    n = n_e(qrkit.RSA_HOLDER)[0].to_bytes(256, "big")
    with pytest.raises(ValueError):
        rsa.key(n, e)


def test_a_modulus_that_is_not_2048_bits_or_even_is_refused(tmp_path):
    n, e = n_e(qrkit.RSA_HOLDER)
    key = qrkit.RSA_HOLDER
    msg = b"m"
    sig = sign(key, msg)
    short = "key %s 65537 %s %s" % ((n >> 1).to_bytes(256, "big").hex(), msg.hex(), sig.hex())
    even = "key %s 65537 %s %s" % ((n - 1).to_bytes(256, "big").hex(), msg.hex(), sig.hex())
    assert both("verify", tmp_path, [short, even, case(key, msg, sig, e=5)]) == \
        ["key refused"] * 3


def test_the_encoded_message_is_the_whole_of_rfc_8017_emsa_pkcs1_v1_5():
    digest = hashlib.sha256(b"abc").digest()
    em = rsa.encoded(digest).to_bytes(256, "big")
    assert em == b"\x00\x01" + b"\xff" * 202 + b"\x00" + DIGEST_INFO + digest


# -- RSA codes -----------------------------------------------------------------------

def verifier(*keys, until=T0 + 365 * DAY):
    anchors = {a.kid: a for a in cr.read_anchors(qrkit.anchors(*keys, until=until))}
    return cr.Verifier(anchors)


def rsa_raw(**kw):
    kw.setdefault("issuer", qrkit.RSA_ISSUER)
    kw.setdefault("holder", qrkit.RSA_HOLDER)
    return qrkit.raw(**kw)


def outcome(text, now=T0 + 5, v=None):
    return (v or verifier(qrkit.RSA_ISSUER)).check(text, now)[0]


def test_an_rsa_code_is_820_bytes_1234_characters_and_qr_version_23_at_level_m():
    text = qr.encode(rsa_raw())
    assert (len(qr.decode(text)), len(text)) == (cr.RSA_CODE_SIZE, 1234) == (820, 1234)
    assert qr.qr(text).version == 23


def test_an_rsa_code_is_admitted_with_its_holder_fields():
    result, code = verifier(qrkit.RSA_ISSUER).check(qr.encode(rsa_raw()), T0 + 5)
    assert result == cr.OK and code.alg == cr.ALG_RSA
    assert (code.region, code.birth, bytes(code.card)) == (320502, 19900101, b"A12345678")
    assert bytes(code.match_key) == qr.match_key(qrkit.SECRET, qrkit.ID_NUMBER)


def test_rsa_and_p256_codes_are_admitted_side_by_side():
    v = verifier(qrkit.RSA_ISSUER, qrkit.ISSUER)
    assert outcome(qr.encode(rsa_raw()), v=v) == cr.OK
    assert outcome(qrkit.code(), v=v) == cr.OK


def test_an_issuer_with_exponent_3_signs_certificates_too():
    text = qr.encode(rsa_raw(issuer=qrkit.RSA_ISSUER3))
    assert outcome(text, v=verifier(qrkit.RSA_ISSUER3)) == cr.OK


@pytest.mark.parametrize("offset,what", [
    (12, "holder modulus"), (267, "holder exponent"), (275, "match key"), (290, "card"),
    (296, "region"), (301, "birth date"), (8, "certificate expiry"),
    (400, "certificate signature"), (561, "generation time"), (700, "holder signature"),
    (819, "holder signature, last byte")])
def test_a_tampered_byte_of_an_rsa_code_is_refused(offset, what):
    data = bytearray(rsa_raw())
    data[offset] ^= 0x01
    assert outcome(qr.encode(bytes(data))) in (cr.FORGED, cr.MALFORMED, cr.NOT_YET_VALID,
                                               cr.EXPIRED), what


def test_an_rsa_certificate_signed_by_another_key_is_forged():
    data = qrkit.resign_cert(rsa_raw(), qrkit.RSA_OTHER_ISSUER)
    assert outcome(qr.encode(qrkit.resign_code(data, qrkit.RSA_HOLDER))) == cr.FORGED


def test_an_rsa_code_signed_by_a_key_the_certificate_does_not_name_is_forged():
    assert outcome(qr.encode(qrkit.resign_code(rsa_raw(), qrkit.RSA_STRANGER))) == cr.FORGED


def test_an_rsa_code_whose_holder_exponent_is_not_3_or_65537_is_malformed():
    data = bytearray(rsa_raw())
    data[266:270] = (17).to_bytes(4, "big")
    data = qrkit.resign_cert(bytes(data), qrkit.RSA_ISSUER)
    assert outcome(qr.encode(qrkit.resign_code(data, qrkit.RSA_HOLDER))) == cr.MALFORMED


def test_a_p256_issuer_key_id_on_an_rsa_code_is_unknown():
    data = bytearray(rsa_raw())
    data[2:6] = qr.key_id(qrkit.ISSUER.public_key()).to_bytes(4, "big")
    assert outcome(qr.encode(bytes(data)), v=verifier(qrkit.ISSUER)) == cr.UNKNOWN_KEY


def test_an_rsa_code_cut_or_padded_is_malformed():
    data = rsa_raw()
    assert outcome(qr.encode(data[:-2])) == cr.MALFORMED
    assert outcome(qr.encode(data + b"\x00\x00")) == cr.MALFORMED


def test_the_same_rsa_code_again_is_replayed_and_the_holders_next_is_admitted():
    v = verifier(qrkit.RSA_ISSUER)
    text = qr.encode(rsa_raw())
    assert [outcome(text, T0 + t, v) for t in (1, 30)] == [cr.OK, cr.REPLAYED]
    assert outcome(qr.encode(rsa_raw(generated=T0 + 40)), T0 + 41, v) == cr.OK


def test_the_hosts_verdict_on_rsa_codes_is_the_firmwares():
    anchors = {a.kid: a for a in qr.read_anchors(qrkit.anchors(qrkit.RSA_ISSUER))[2]}
    forged = qr.encode(qrkit.resign_code(rsa_raw(), qrkit.RSA_STRANGER))
    for text, now in ((qr.encode(rsa_raw()), T0 + 5), (qr.encode(rsa_raw()), T0 + 61),
                      (forged, T0 + 5)):
        assert qr.verdict(qr.decode(text), anchors, now) == cr.NAMES[outcome(text, now)]


def test_the_vm_gives_the_same_outcomes_on_rsa_codes(tmp_path):
    good = qr.encode(rsa_raw())
    forged = qr.encode(qrkit.resign_code(rsa_raw(), qrkit.RSA_STRANGER))
    cert = qrkit.resign_cert(rsa_raw(), qrkit.RSA_OTHER_ISSUER)
    anchors = qrkit.anchors(qrkit.RSA_ISSUER, qrkit.ISSUER)
    lines = ["%s %d" % (anchors.hex(), T0 + 5), forged,
             qr.encode(qrkit.resign_code(cert, qrkit.RSA_HOLDER)), good, good,
             qr.encode(rsa_raw(generated=T0 - 100)), qrkit.code(), "YK1:garbage"]
    assert both("codes", tmp_path, lines) == [cr.FORGED, cr.FORGED, cr.OK, cr.REPLAYED,
                                              cr.EXPIRED, cr.OK, cr.MALFORMED]
