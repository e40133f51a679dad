"""E-card QR trust anchors as signed update files (kinds 8 ``trust`` and 9 ``trust-test``,
docs/qr.md §6): the firmware's installer takes a good file, refuses a forged MAC, a payload
of another version or set and an older version, and the verifier reads what it installed."""

import json

import pytest
import qrkit
import vmscripts
from qrkit import T0

from host_tools.lib import updates as host
from host_tools.lib.errors import BadInput
from ykt.qr import credential as cr
from ykt.store import updates as fw
from ykt.store.updates import Updates
from ykt.store.vfs import Vfs

MASTER = bytes.fromhex("00112233445566778899aabbccddeeff")
TID = bytes.fromhex("000000000101")


@pytest.fixture
def fs(tmp_path):
    fs = Vfs(str(tmp_path))
    fs.mkdir("/inbox")
    return fs


def put(fs, name, data):
    with fs.open("/inbox/" + name, "wb") as f:
        f.write(data)


def scan(fs):
    return [(o.kind, o.version, o.installed, o.reason)
            for o in Updates(fs, fw.device_key(MASTER, TID), TID).scan_inbox()]


def sign(kind, version, payload, check=True):
    return host.sign(kind, version, TID, payload, MASTER, check)


def test_the_kinds_are_the_same_on_host_and_firmware():
    assert (host.KINDS["trust"], host.KINDS["trust-test"]) == (fw.KIND_TRUST, fw.KIND_TRUST_TEST)
    assert fw.KINDS[8] == ("trust", "/trust.bin") and fw.KINDS[9][1] == "/trust-test.bin"


def test_production_anchors_install_and_the_verifier_admits_their_codes(fs):
    put(fs, "t1", sign("trust", 1, qrkit.anchors(kset="production")))
    assert scan(fs) == [("trust", 1, True, "")]
    anchors = cr.load_anchors(fs)
    assert cr.Verifier(anchors).check(qrkit.code(), T0 + 5)[0] == cr.OK


def test_test_anchors_are_read_only_when_asked_for(fs):
    put(fs, "t1", sign("trust-test", 1, qrkit.anchors(kset="test")))
    assert scan(fs) == [("trust-test", 1, True, "")]
    assert cr.load_anchors(fs) == {}
    anchors = cr.load_anchors(fs, ("/trust.bin", "/trust-test.bin"))
    assert [a.test for a in anchors.values()] == [True]


def test_a_forged_mac_is_refused_and_nothing_installed(fs):
    data = bytearray(sign("trust", 1, qrkit.anchors(kset="production")))
    data[30] ^= 1
    put(fs, "t1", bytes(data))
    assert scan(fs) == [("trust", 1, False, "corrupt (MAC mismatch)")]
    assert cr.load_anchors(fs) == {}


def test_a_payload_of_another_version_is_refused(fs):
    put(fs, "t1", sign("trust", 3, qrkit.anchors(kset="production", version=2), check=False))
    assert scan(fs) == [("trust", 3, False, "bad payload (trust anchors v2, not v3)")]


def test_test_keys_sent_as_production_keys_are_refused(fs):
    put(fs, "t1", sign("trust", 1, qrkit.anchors(kset="test"), check=False))
    assert scan(fs) == [("trust", 1, False, "bad payload (trust anchor set 2, not 1)")]


def test_an_older_version_is_refused_and_the_newer_stays_in_force(fs):
    put(fs, "a", sign("trust", 2, qrkit.anchors(qrkit.ISSUER, kset="production", version=2)))
    put(fs, "b", sign("trust", 1, qrkit.anchors(qrkit.OTHER_ISSUER, kset="production")))
    assert scan(fs) == [("trust", 2, True, ""),
                        ("trust", 1, False, "older than installed (v1 <= v2)")]
    assert cr.Verifier(cr.load_anchors(fs)).check(qrkit.code(), T0 + 5)[0] == cr.OK


def test_a_payload_that_is_no_anchor_file_is_refused(fs):
    put(fs, "t1", sign("trust", 1, b"YKTA\x01\x01" + bytes(20), check=False))
    assert scan(fs)[0][2:] == (False, "bad payload (trust anchor file of 0 keys is 26 bytes)")


@pytest.mark.parametrize("kind,payload,says", [
    ("trust", qrkit.anchors(kset="test"), "holds the test keys"),
    ("trust-test", qrkit.anchors(kset="production"), "holds the production keys"),
    ("trust", b"not anchors", "not a trust anchor file")])
def test_the_host_refuses_to_sign_what_the_terminal_would_refuse(kind, payload, says):
    with pytest.raises(BadInput, match=says):
        sign(kind, 1, payload)
    with pytest.raises(BadInput, match="not v2"):
        sign("trust", 2, qrkit.anchors(kset="production"))


def test_the_vm_installs_the_anchors_the_same_way(tmp_path):
    fs = Vfs(str(tmp_path))
    fs.mkdir("/inbox")
    put(fs, "a", sign("trust", 2, qrkit.anchors(kset="production", version=2)))
    put(fs, "b", sign("trust", 1, qrkit.anchors(kset="production")))
    proc = vmscripts.run("updates_inbox", tmp_path, MASTER.hex(), TID.hex(), "scan", "1" * 20,
                         timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert out[:2] == [["a", "trust", 2, True, ""],
                       ["b", "trust", 1, False, "older than installed (v1 <= v2)"]]
    assert cr.read_anchors(fs.open("/trust.bin", "rb").read())[0].kid == \
        cr.read_anchors(qrkit.anchors())[0].kid


def test_rsa_and_p256_issuer_keys_install_together_and_their_codes_are_admitted(fs):
    payload = qrkit.anchors(qrkit.RSA_ISSUER, qrkit.RSA_ISSUER3, qrkit.ISSUER,
                            kset="production")
    assert len(payload) == 11 + 2 * (9 + 260) + (9 + 64)
    put(fs, "t1", sign("trust", 1, payload))
    assert scan(fs) == [("trust", 1, True, "")]
    anchors = cr.load_anchors(fs)
    assert sorted(a.alg for a in anchors.values()) == [cr.ALG_P256, cr.ALG_RSA, cr.ALG_RSA]
    rsa_code = qrkit.code(issuer=qrkit.RSA_ISSUER, holder=qrkit.RSA_HOLDER)
    assert [cr.Verifier(anchors).check(c, T0 + 5)[0] for c in (rsa_code, qrkit.code())] == \
        [cr.OK, cr.OK]


def _rsa_anchor_with(e=None, n=None):
    """A production anchor payload holding the RSA issuer's key with its exponent or
    modulus replaced (the host would not write one)."""
    data = bytearray(qrkit.anchors(qrkit.RSA_ISSUER, kset="production"))
    if e is not None:
        data[11 + 9 + 256:11 + 9 + 260] = e.to_bytes(4, "big")
    if n is not None:
        data[11 + 9:11 + 9 + 256] = n.to_bytes(256, "big")
    return bytes(data)


@pytest.mark.parametrize("payload,says", [
    (_rsa_anchor_with(e=17), "RSA exponent 17"),
    (_rsa_anchor_with(n=(1 << 2046) + 1), "not a 2048-bit RSA modulus"),
    (_rsa_anchor_with(n=(1 << 2047) + 2), "not a 2048-bit RSA modulus"),
    (_rsa_anchor_with()[:-1], "trust anchor file of 1 keys is 279 bytes")])
def test_an_rsa_anchor_the_terminal_cannot_verify_with_is_refused(fs, payload, says):
    put(fs, "t1", sign("trust", 1, payload, check=False))
    assert scan(fs) == [("trust", 1, False, "bad payload (%s)" % says)]


def test_the_host_refuses_to_sign_an_rsa_anchor_of_another_exponent():
    with pytest.raises(BadInput, match="e 3 or 65537"):
        sign("trust", 1, _rsa_anchor_with(e=17))


def test_the_vm_installs_rsa_anchors_and_refuses_a_bad_one_the_same_way(tmp_path):
    fs = Vfs(str(tmp_path))
    fs.mkdir("/inbox")
    put(fs, "a", sign("trust", 1, _rsa_anchor_with(e=17), check=False))
    put(fs, "b", sign("trust", 2, qrkit.anchors(qrkit.RSA_ISSUER, qrkit.ISSUER,
                                                kset="production", version=2)))
    # 128 KB: this script compiles the firmware's sources as it imports them (ykt.qr.rsa
    # and ykt.qr.ec both here); the board imports them compiled
    proc = vmscripts.run("updates_inbox", tmp_path, MASTER.hex(), TID.hex(), "scan", "1" * 20,
                         timeout=120, heap="128K")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert out[:2] == [["a", "trust", 1, False, "bad payload (RSA exponent 17)"],
                       ["b", "trust", 2, True, ""]]
    assert sorted(a.alg for a in cr.load_anchors(fs).values()) == [cr.ALG_P256, cr.ALG_RSA]
