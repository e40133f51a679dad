"""The e-card QR credential verified offline (firmware/ykt/qr/credential.py, docs/qr.md):
one outcome per refusal, the replay cache, forged and tampered codes; the same outcomes on
the MicroPython VM and from the host's explanation (host_tools/lib/qr.py)."""

import json
import random

import pytest
import qrkit
import vmscripts
from qrkit import DAY, T0

from host_tools.lib import qr
from ykt.qr import credential as cr


def verifier(*keys, until=T0 + 365 * DAY):
    anchors = {a.kid: a for a in cr.read_anchors(qrkit.anchors(*keys, until=until))}
    return cr.Verifier(anchors)


@pytest.fixture(scope="module")
def good():
    return qrkit.code()


def outcome(text, now=T0 + 5, v=None):
    return (v or verifier()).check(text, now)[0]


def test_a_fresh_code_is_admitted_with_its_holder_fields(good):
    result, code = verifier().check(good, T0 + 5)
    assert result == cr.OK
    assert (code.region, code.birth, bytes(code.card)) == (320502, 19900101, b"A12345678")
    assert bytes(code.match_key) == qr.match_key(qrkit.SECRET, qrkit.ID_NUMBER)


def test_the_code_fits_a_phone_screen_qr(good):
    assert len(qr.decode(good)) == cr.CODE_SIZE == 240
    assert len(good) <= 4 + 360
    assert qr.qr(good).version <= 13


def test_a_code_past_its_validity_is_expired(good):
    assert outcome(good, T0 + 61) == cr.EXPIRED


def test_a_code_from_the_future_is_not_yet_valid():
    assert outcome(qrkit.code(generated=T0 + 100)) == cr.NOT_YET_VALID


def test_a_code_a_little_ahead_of_the_terminal_clock_is_admitted():
    assert outcome(qrkit.code(generated=T0 + 30), T0) == cr.OK


def test_a_forged_certificate_is_a_forged_signature():
    assert outcome(qrkit.forged_certificate()) == cr.FORGED


def test_a_code_signed_by_a_key_the_certificate_does_not_name_is_forged():
    assert outcome(qrkit.uncertified_holder()) == cr.FORGED


def test_an_issuer_not_among_the_trust_anchors_is_an_unknown_key_id():
    assert outcome(qrkit.code(issuer=qrkit.OTHER_ISSUER)) == cr.UNKNOWN_KEY


def test_a_trust_anchor_past_its_expiry_is_an_unknown_key_id(good):
    assert outcome(good, v=verifier(until=T0)) == cr.UNKNOWN_KEY


def test_an_expired_certificate_is_refused():
    assert outcome(qrkit.code(cert_until=T0 + 1)) == cr.CERT_EXPIRED


def test_the_same_code_again_is_replayed():
    v = verifier()
    text = qrkit.code()
    assert [v.check(text, T0 + t)[0] for t in (1, 20, 59)] == [cr.OK, cr.REPLAYED, cr.REPLAYED]


def test_a_replay_with_the_other_valid_ecdsa_signature_is_still_replayed():
    v = verifier()
    data = qrkit.raw()
    assert outcome(qr.encode(data), v=v) == cr.OK
    assert outcome(qrkit.malleated(data), v=v) == cr.REPLAYED


def test_the_holders_next_code_is_admitted():
    v = verifier()
    assert outcome(qrkit.code(), v=v) == cr.OK
    assert outcome(qrkit.code(generated=T0 + 10), T0 + 12, v) == cr.OK


@pytest.mark.parametrize("offset,what", [(12, "holder key"), (80, "match key"),
                                         (95, "card"), (100, "region"), (105, "birth date"),
                                         (8, "certificate expiry"), (140, "certificate signature"),
                                         (173, "generation time"), (200, "holder signature")])
def test_a_tampered_byte_is_refused(offset, what):
    assert outcome(qrkit.flipped(offset)) in (cr.FORGED, cr.MALFORMED, cr.NOT_YET_VALID,
                                              cr.EXPIRED), what
    assert outcome(qrkit.flipped(offset)) != cr.OK


@pytest.mark.parametrize("text", ["", "hello", "YK1:", "YK1:!!!", "HC1:" + "0" * 300,
                                  "YK1:" + qr.b45encode(b"\x01" * 239),
                                  "YK1:" + qr.b45encode(b"\x02" + bytes(239))])
def test_what_is_not_a_code_is_malformed(text):
    assert outcome(text) == cr.MALFORMED


def test_a_validity_beyond_the_limit_is_malformed():
    data = bytearray(qrkit.raw())
    data[174:176] = (601).to_bytes(2, "big")
    assert outcome(qr.encode(qrkit.resign_code(bytes(data), qrkit.HOLDER))) == cr.MALFORMED


def test_a_holder_key_off_the_curve_is_malformed():
    data = bytearray(qrkit.raw())
    data[73] ^= 1
    assert outcome(qr.encode(bytes(data))) in (cr.MALFORMED, cr.FORGED)


def test_scanner_garbage_never_raises():
    rnd = random.Random(7)
    v = verifier()
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:\r\n\x00é"
    for n in range(200):
        text = "YK1:" + "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 400)))
        assert v.check(text.encode("utf-8") if n % 2 else text, T0)[0] in range(8)
    assert v.check(b"\xff\xfe", T0)[0] == cr.MALFORMED
    assert v.check(None, T0)[0] == cr.MALFORMED


def test_the_replay_cache_is_bounded_and_forgets_what_ends_first():
    r = cr.Recent(3)
    for i, until in enumerate((50, 10, 30)):
        r.add(b"k%d" % i, until, 0)
    r.add(b"k3", 40, 0)  # full: k1 (ends at 10) goes
    assert [r.seen(b"k%d" % i, 5) for i in range(4)] == [True, False, True, True]
    r.add(b"k4", 60, 35)  # k2 (ended at 30) is dropped first
    assert len(r.keys) == 3 and not r.seen(b"k2", 35)
    assert not r.seen(b"k0", 51)


def test_the_outcome_table_names_every_code():
    assert cr.NAMES == qr.OUTCOMES
    assert [cr.OK, cr.EXPIRED, cr.NOT_YET_VALID, cr.FORGED, cr.UNKNOWN_KEY, cr.CERT_EXPIRED,
            cr.REPLAYED, cr.MALFORMED] == list(range(8))


CASES = [("ok", qrkit.code, T0 + 5), ("expired", qrkit.code, T0 + 61),
         ("forged signature", qrkit.forged_certificate, T0 + 5),
         ("forged signature", qrkit.uncertified_holder, T0 + 5),
         ("unknown key id", lambda: qrkit.code(issuer=qrkit.OTHER_ISSUER), T0 + 5),
         ("certificate expired", lambda: qrkit.code(cert_until=T0), T0 + 5),
         ("not yet valid", lambda: qrkit.code(generated=T0 + 100), T0 + 5)]


@pytest.mark.parametrize("name,make,now", CASES, ids=[c[0] for c in CASES])
def test_the_hosts_verdict_is_the_firmwares(name, make, now):
    text = make()
    anchors = {a.kid: a for a in qr.read_anchors(qrkit.anchors())[2]}
    assert qr.verdict(qr.decode(text), anchors, now) == name
    assert cr.NAMES[outcome(text, now)] == name


def test_the_vm_gives_the_same_outcomes(tmp_path):
    good = qrkit.code()
    codes = tmp_path / "codes.txt"
    codes.write_text("".join(c + "\n" for c in (
        good, good, qrkit.forged_certificate(), qrkit.uncertified_holder(), qrkit.flipped(80),
        qrkit.code(generated=T0 - 100), "YK1:garbage")))
    proc = vmscripts.run("qr_checks", "check", qrkit.anchors().hex(), T0 + 5, codes)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == [cr.OK, cr.REPLAYED, cr.FORGED, cr.FORGED, cr.FORGED, cr.EXPIRED,
                   cr.MALFORMED]
    assert out == vmscripts.load("qr_checks").check(qrkit.anchors().hex(), T0 + 5, codes)


def test_a_known_certificate_still_needs_the_holders_signature():
    v = verifier()
    data = qrkit.raw()
    assert outcome(qr.encode(data), v=v) == cr.OK
    later = data[:170] + (T0 + 10).to_bytes(4, "big") + data[174:176]
    assert outcome(qr.encode(qrkit.resign_code(later, qrkit.STRANGER)), T0 + 12, v) == cr.FORGED
    assert outcome(qr.encode(qrkit.resign_code(later, qrkit.HOLDER)), T0 + 12, v) == cr.OK
