"""`ykt office ingest|report|export|clearing`: thin over the library, exit 0 done, 1 failed
(records that did not verify, findings), 2 bad input, in one line; no whole card number and
no key in anything printed."""

import json
import re

import officekit
import pytest
from officekit import NUMBERS, TIDS, journal_files, two_operators

from host_tools import cli
from host_tools.lib import journal, provision
from host_tools.lib.errors import BadInput
from host_tools.lib.issuer import IssuerKeys, read_office_keys


@pytest.fixture(scope="module")
def cloned():
    cards = [{"name": "alice", "number": NUMBERS["alice"], "balance_fen": 1000},
             {"name": "copy", "number": NUMBERS["alice"], "balance_fen": 1000}]
    return officekit.run(two_operators([(1, "A", "alice"), (3, "B", "copy")], cards))


@pytest.fixture
def seed(tmp_path):
    path = tmp_path / "issuer-seed.json"
    path.write_text(json.dumps({"format": "ykt-issuer-seed/1", "seed": "yikatong-demo-issuer"}))
    return path


def _dir(tmp_path, name, files):
    d = tmp_path / name
    d.mkdir()
    for n, data in files.items():
        (d / n).write_bytes(data)
    return d


def _ykt(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_of_two_flash_images_stores_and_acknowledges_each(capsys, tmp_path, cloned,
                                                                 seed):
    images = []
    for t in ("A", "B"):
        images.append(tmp_path / ("%s.img" % t))
        images[-1].write_bytes(cloned.terms[t].flash.image())
    code, out, err = _ykt(capsys, "office", "ingest", *images, "--db", tmp_path / "o.sqlite",
                          "--keys", seed)
    assert (code, err) == (0, "")
    n = len(officekit.raw_records(journal_files(cloned, "A")))
    assert out.splitlines()[0] == ("%s: terminal %s: %d stored, 0 already stored, 0 waiting, "
                                   "0 quarantined, acknowledged up to seq %d"
                                   % (images[0], TIDS["A"], n, n))


def test_ingest_again_stores_nothing_more(capsys, tmp_path, cloned, seed):
    j = _dir(tmp_path, "a", journal_files(cloned, "A"))
    _ykt(capsys, "office", "ingest", j, "--db", tmp_path / "o.sqlite", "--keys", seed)
    code, out, _ = _ykt(capsys, "office", "ingest", j, "--db", tmp_path / "o.sqlite",
                        "--keys", seed)
    assert code == 0
    assert ": 0 stored, " in out and "0 quarantined" in out


def test_a_tampered_journal_exits_1_naming_the_record_and_what_to_resend(capsys, tmp_path,
                                                                         cloned, seed):
    files = journal_files(cloned, "A")
    seg = bytearray(files["00000001.seg"])
    rec = bytearray(seg[2 * 64:3 * 64])  # seq 3
    rec[31] ^= 0x01
    seg[2 * 64:3 * 64] = journal.seal(bytes(rec))
    j = _dir(tmp_path, "a", dict(files, **{"00000001.seg": bytes(seg)}))
    code, out, _ = _ykt(capsys, "office", "ingest", j, "--db", tmp_path / "o.sqlite",
                        "--keys", seed)
    assert code == 1
    assert "  QUARANTINED seq 3: chain broken" in out
    assert "  MISSING seq 3 (ask the terminal to resend)" in out
    assert "acknowledged up to seq 2" in out


def test_clearing_exits_1_with_the_fork_and_the_card_masked(capsys, tmp_path, cloned, seed):
    for t in ("A", "B"):
        _ykt(capsys, "office", "ingest", _dir(tmp_path, t, journal_files(cloned, t)),
             "--db", tmp_path / "o.sqlite", "--keys", seed)
    code, out, _ = _ykt(capsys, "office", "clearing", "--db", tmp_path / "o.sqlite")
    assert code == 1
    assert out.startswith("FORK 310123**********0001: 2 transactions with offline ATC 0")
    assert not re.search(r"\d{20}", out)


def test_clearing_of_honest_journals_says_every_chain_closes(capsys, tmp_path, cloned, seed):
    _ykt(capsys, "office", "ingest", _dir(tmp_path, "a", journal_files(cloned, "A")),
         "--db", tmp_path / "o.sqlite", "--keys", seed)
    assert _ykt(capsys, "office", "clearing", "--db", tmp_path / "o.sqlite") == (
        0, "OK 1 cards: every chain closes\n", "")


def test_report_and_export_show_the_settlement(capsys, tmp_path, cloned, seed):
    _ykt(capsys, "office", "ingest", _dir(tmp_path, "a", journal_files(cloned, "A")),
         "--db", tmp_path / "o.sqlite", "--keys", seed)
    code, out, _ = _ykt(capsys, "office", "report", "--db", tmp_path / "o.sqlite")
    assert code == 0
    assert "  issuer 310123  operator 290001  2026-11-29  debits 1 (200 fen)" in out
    code, _, _ = _ykt(capsys, "office", "export", "--db", tmp_path / "o.sqlite", "--format",
                      "csv", "--out", tmp_path / "s.csv")
    assert code == 0
    assert (tmp_path / "s.csv").read_text().splitlines()[1] == (
        "310123,290001,2026-11-29,1,200,0,0,200")


def test_a_master_key_file_with_the_tac_master_gives_the_office_its_keys(tmp_path):
    doc = provision.new_master_keys()
    tac = IssuerKeys.from_seed(b"x").tac_master
    doc["tac"], doc["kcv"]["tac"] = tac.hex(), provision.kcv(tac)
    path = tmp_path / "master.json"
    path.write_text(json.dumps(doc))
    keys = read_office_keys(str(path))
    tid = bytes.fromhex(TIDS["A"])
    assert keys.tac_master == tac
    assert keys.journal_key(tid) == provision.journal_key(bytes.fromhex(doc["device"]), tid)


def test_a_new_master_key_file_holds_the_tac_master_the_office_reads(tmp_path):
    path = tmp_path / "master.json"
    provision.write_new_master_file(str(path))
    doc = json.loads(path.read_text())
    assert read_office_keys(str(path)).tac_master == bytes.fromhex(doc["tac"])
    assert doc["kcv"]["tac"] == provision.kcv(bytes.fromhex(doc["tac"]))


def test_a_master_key_file_without_the_tac_master_is_one_line_exit_2(capsys, tmp_path, cloned):
    path = tmp_path / "master.json"
    doc = provision.new_master_keys()
    del doc["tac"], doc["kcv"]["tac"]  # an operator's file from before the TAC master
    path.write_text(json.dumps(doc))
    with pytest.raises(BadInput, match="holds no TAC master"):
        read_office_keys(str(path))
    code, out, err = _ykt(capsys, "office", "ingest", _dir(tmp_path, "a",
                                                           journal_files(cloned, "A")),
                          "--db", tmp_path / "o.sqlite", "--keys", path)
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert not (tmp_path / "o.sqlite").exists()
    assert json.loads(path.read_text())["device"] not in err


def test_a_database_url_that_cannot_be_reached_exits_1_in_one_line(capsys):
    code, out, err = _ykt(capsys, "office", "report", "--db",
                          "postgresql://office:secret@127.0.0.1:1/ykt")
    assert code == 1
    assert err.startswith("ykt: error: cannot reach the database "
                          "postgresql://office@127.0.0.1:1/ykt") and err.count("\n") == 1
    assert "secret" not in err
