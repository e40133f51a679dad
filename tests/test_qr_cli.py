"""`ykt qr issue/check/anchors` (host_tools/cli/qr.py): test codes as text, PNG and on the
terminal, a code explained with its holder fields masked, exit 0 admitted / 1 refused / 2
bad input in one line, trust anchors the update signer and the firmware take."""

import json

import pytest
import qrkit
from qrkit import T0

from host_tools import cli
from host_tools.lib import qr

ISSUE = ["qr", "issue", "--issuer-seed", "demo", "--holder-seed", "alice", "--id-number",
         qrkit.ID_NUMBER, "--card", "A12345678", "--at", "2026-12-03T09:00:00"]


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def issued(capsys):
    code, out, err = run(capsys, *ISSUE)
    assert code == 0 and err == ""
    return out.splitlines()[0]


def _admitted(text, alg="rsa", exponent=3):
    from ykt.qr import credential as cr

    key = qr.key_from_seed("demo", alg, exponent)
    anchors = qr.anchors_payload([(key.public_key(), T0 + 99)], "test", 1)
    v = cr.Verifier({a.kid: a for a in cr.read_anchors(anchors)})
    return v.check(text, T0 + 5)[0] == cr.OK


def test_issue_prints_an_rsa_code_the_firmware_admits(issued):
    assert issued.startswith("YK1:") and len(issued) == 4 + 1230
    assert qr.decode(issued)[1] == qr.ALG_RSA
    assert _admitted(issued)


def test_issue_makes_p256_codes_and_rsa_codes_of_exponent_65537_when_asked(capsys):
    code, out, _ = run(capsys, *ISSUE, "--alg", "p256")
    assert code == 0 and len(out.splitlines()[0]) == 4 + 360
    assert _admitted(out.splitlines()[0], "p256")
    code, out, _ = run(capsys, *ISSUE, "--rsa-exponent", 65537)
    assert code == 0 and _admitted(out.splitlines()[0], "rsa", 65537)
    assert qr.fields(qr.decode(out.splitlines()[0]))["holder_exponent"] == 65537


def test_deny_number_gives_the_card_ids_denylist_number(capsys):
    code, out, _ = run(capsys, "qr", "deny-number", "A12345678")
    assert (code, out) == (0, "99100102030405060708\n")


def test_issue_writes_a_png_and_draws_on_the_terminal(capsys, tmp_path):
    code, out, _ = run(capsys, *ISSUE, "--png", tmp_path / "c.png", "--show")
    assert code == 0
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(out.splitlines()) > 20  # the code, then the symbol


def test_check_explains_a_good_code_with_the_holder_masked(capsys, issued):
    code, out, _ = run(capsys, "qr", "check", issued, "--issuer-seed", "demo", "--at",
                       "2026-12-03T09:00:30", "--json")
    assert code == 0
    f = json.loads(out)
    assert (f["verdict"], f["card"], f["region"], f["birth"]) == ("ok", "*****5678", "320502",
                                                                  19900101)
    assert f["valid_until"] == "2026-12-03T09:01:00" and "(test)" in f["signed_by"]
    assert f["alg"] == "RSA-2048 PKCS#1 v1.5 / SHA-256" and f["holder_exponent"] == 3
    assert f["key_id"] in f["signed_by"] and "RSA-2048" in f["signed_by"]
    assert qrkit.ID_NUMBER not in out and "A12345678" not in out


@pytest.mark.parametrize("at,verdict", [("2026-12-03T09:01:01", "expired"),
                                        ("2026-12-03T08:59:00", "not yet valid")])
def test_check_of_a_code_the_terminal_refuses_exits_1(capsys, issued, at, verdict):
    code, out, _ = run(capsys, "qr", "check", issued, "--issuer-seed", "demo", "--at", at)
    assert code == 1 and "verdict            %s" % verdict in out


def test_check_against_another_issuer_names_the_unknown_key(capsys, issued):
    code, out, _ = run(capsys, "qr", "check", issued, "--issuer-seed", "other", "--at",
                       "2026-12-03T09:00:30", "--json")
    assert code == 1
    f = json.loads(out)
    assert f["verdict"] == "unknown key id" and "not a trust anchor" in f["signed_by"]


@pytest.mark.parametrize("argv", [
    ("qr", "check", "YK1:garbage", "--issuer-seed", "demo"),
    ("qr", "check", "hello", "--issuer-seed", "demo"),
    ("qr", "check", "YK1:00", "--anchors", "no-anchors-file"),
    ("qr", "issue", "--issuer-seed", "d", "--holder-seed", "h", "--id-number", "1", "--card", "x"),
    ("qr", "issue", "--issuer-seed", "d", "--holder-seed", "h", "--id-number", qrkit.ID_NUMBER,
     "--card", "x", "--validity", "3600"),
    ("qr", "issue", "--issuer-key", "no-key.pem", "--holder-seed", "h", "--id-number",
     qrkit.ID_NUMBER, "--card", "x"),
    ("qr", "anchors", "--issuer-seed", "d", "--set", "test", "--version", "0", "--until",
     "2027-01-01T00:00:00", "-o", "x.bin"),
    ("qr", "deny-number", "A1234567&"),
    ("qr", "deny-number", "A123456789"),
])
def test_bad_input_is_one_line_and_exits_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("ykt: error: ") and err.count("\n") == 1


def test_anchors_are_signed_and_installed_as_the_test_set(capsys, tmp_path):
    from ykt.qr import credential as cr
    from ykt.store import updates as fw
    from ykt.store.vfs import Vfs

    ta, upd, key = tmp_path / "ta.bin", tmp_path / "ta.upd", tmp_path / "master.hex"
    key.write_text("00" * 16)
    assert run(capsys, "qr", "anchors", "--issuer-seed", "demo", "--set", "test", "--version",
               1, "--until", "2027-12-31T23:59:59", "-o", ta)[0] == 0
    assert run(capsys, "update", "sign", "--kind", "trust-test", "--version", 1, "--device",
               "000000000101", "--master-key-file", key, ta, "-o", upd)[0] == 0
    assert run(capsys, "update", "sign", "--kind", "trust", "--version", 1, "--device",
               "000000000101", "--master-key-file", key, ta, "-o", upd)[0] == 2
    (tmp_path / "flash").mkdir()
    fs = Vfs(str(tmp_path / "flash"))
    fs.mkdir("/inbox")
    with fs.open("/inbox/ta", "wb") as f:
        f.write(upd.read_bytes())
    tid = bytes.fromhex("000000000101")
    [o] = fw.Updates(fs, fw.device_key(bytes(16), tid), tid).scan_inbox()
    assert (o.kind, o.installed) == ("trust-test", True)
    anchors = cr.load_anchors(fs, ("/trust.bin", "/trust-test.bin"))
    assert list(anchors) == [qr.key_id(qr.key_from_seed("demo", "rsa", 3).public_key())]
    assert anchors[list(anchors)[0]].alg == cr.ALG_RSA
