"""One key file (issue 11): the master key file `ykt provision --new-master-key-file` writes
is what `tariff build`, `update sign/show`, `journal verify`, `collect` and `sim board` take;
each derives the terminal's key itself. A wrong or unreadable key file is one line (exit 2)
and leaves nothing half-written."""

import json

import pytest
from hostkit import ykt

from host_tools.device.collect import key_source
from host_tools.lib import provision, updates
from ykt.store.journal import Journal
from ykt.store.vfs import Vfs

TID = "290031000201"
TARIFF = "tariffs/shanghai-2017.json"
CARD = "31040000000000001234"


@pytest.fixture(scope="module")
def keyfiles(tmp_path_factory):
    w = tmp_path_factory.mktemp("keys")
    master, other = w / "master.json", w / "other.json"
    provision.write_new_master_file(str(master))
    provision.write_new_master_file(str(other))
    cfg = provision.provision("devkitc-turnstile", TID, "gate",
                              provision.read_master_file(str(master)), station=3)
    provision.write_config(str(w / "config.json"), cfg)
    damaged = json.loads(master.read_text())
    damaged["update"] = "00" * 16
    (w / "damaged.json").write_text(json.dumps(damaged))
    return dict(w=w, master=master, other=other, config=w / "config.json",
                damaged=w / "damaged.json", masters=provision.read_master_file(str(master)))


def one_line(run):
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ykt: error: "), run.stderr
    return lines[0]


def build(keyfile, out_dir):
    return ykt("tariff", "build", TARIFF, "--version", 3, "--out", out_dir / "tariff.bin",
               "--device", TID, "--master-key-file", keyfile,
               "--signed-out", out_dir / "tariff.upd")


def test_tariff_build_signs_with_the_key_derived_from_the_master_key_file(keyfiles, tmp_path):
    run = build(keyfiles["master"], tmp_path)
    assert run.returncode == 0, run.stderr
    data = (tmp_path / "tariff.upd").read_bytes()
    assert updates.parse(data)["terminal"] == TID
    assert updates.verify(data, keyfiles["masters"]["update"])


@pytest.mark.parametrize("which", ["config", "damaged", "missing", "directory"])
def test_tariff_build_with_a_bad_key_file_writes_nothing(keyfiles, tmp_path, which):
    keyfile = {"config": keyfiles["config"], "damaged": keyfiles["damaged"],
               "missing": tmp_path / "nope.json", "directory": tmp_path}[which]
    out = tmp_path / "out"
    out.mkdir()
    run = build(keyfile, out)
    assert run.returncode == 2
    assert str(keyfile) in one_line(run)
    assert list(out.iterdir()) == []


def test_a_terminal_config_given_as_key_file_is_named_as_such(keyfiles, tmp_path):
    run = build(keyfiles["config"], tmp_path)
    assert "is a terminal config" in one_line(run)
    assert "--new-master-key-file" in one_line(run)


def test_update_sign_and_show_take_the_master_key_file(keyfiles, tmp_path):
    out = tmp_path / "clock.upd"
    run = ykt("update", "sign", "--kind", "clock", "--version", 1, "--device", TID,
              "--master-key-file", keyfiles["master"], "--time", "2026-11-29T07:00:00",
              "-o", out)
    assert run.returncode == 0, run.stderr
    show = ykt("update", "show", out, "--master-key-file", keyfiles["master"])
    assert json.loads(show.stdout)["mac_ok"] is True


def test_update_show_with_another_operators_master_key_file_says_the_mac_is_wrong(
        keyfiles, tmp_path):
    out = tmp_path / "clock.upd"
    assert ykt("update", "sign", "--kind", "clock", "--version", 1, "--device", TID,
               "--master-key-file", keyfiles["master"], "--time", "2026-11-29T07:00:00",
               "-o", out).returncode == 0
    show = ykt("update", "show", out, "--master-key-file", keyfiles["other"])
    assert json.loads(show.stdout)["mac_ok"] is False


def test_a_hex_update_master_key_file_still_signs_the_same_update(keyfiles, tmp_path):
    hexfile = tmp_path / "update.key"
    hexfile.write_text(keyfiles["masters"]["update"].hex() + "\n")
    args = ("update", "sign", "--kind", "clock", "--version", 1, "--device", TID,
            "--time", "2026-11-29T07:00:00", "-o")
    assert ykt(*args, tmp_path / "a.upd", "--master-key-file", hexfile).returncode == 0
    assert ykt(*args, tmp_path / "b.upd", "--master-key-file", keyfiles["master"]).returncode == 0
    assert (tmp_path / "a.upd").read_bytes() == (tmp_path / "b.upd").read_bytes()


def test_update_sign_with_a_bad_key_file_leaves_no_output(keyfiles, tmp_path):
    out = tmp_path / "clock.upd"
    run = ykt("update", "sign", "--kind", "clock", "--version", 1, "--device", TID,
              "--master-key-file", keyfiles["config"], "--time", "now", "-o", out)
    assert run.returncode == 2 and "terminal config" in one_line(run)
    assert not out.exists()


def journal_dir(tmp_path, key, tid=TID):
    j = Journal(Vfs(str(tmp_path)), key, bytes.fromhex(tid), segment_records=16,
                capacity_records=1000)
    j.open()
    for i in range(5):
        j.append("purchase", time=1000 + i, card=CARD, atc=i, amount=100, balance=9000 - i,
                 tx_type=6, tac=b"\x0a\x0b\x0c\x0d", tseq=i)
    return tmp_path


def test_journal_verify_derives_the_key_for_the_terminal_its_records_name(keyfiles, tmp_path):
    key = provision.journal_key(keyfiles["masters"]["device"], bytes.fromhex(TID))
    run = ykt("journal", "verify", journal_dir(tmp_path, key), "--master-key-file",
              keyfiles["master"])
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("OK 5 records")


def test_journal_verify_with_another_operators_master_key_file_fails(keyfiles, tmp_path):
    key = provision.journal_key(keyfiles["masters"]["device"], bytes.fromhex(TID))
    run = ykt("journal", "verify", journal_dir(tmp_path, key), "--master-key-file",
              keyfiles["other"])
    assert run.returncode == 1
    assert run.stdout.startswith("BAD")


def test_journal_verify_with_a_terminal_config_as_key_file_is_one_line(keyfiles, tmp_path):
    key = provision.journal_key(keyfiles["masters"]["device"], bytes.fromhex(TID))
    run = ykt("journal", "verify", journal_dir(tmp_path, key), "--key-file",
              keyfiles["config"])
    assert run.returncode == 2 and "terminal config" in one_line(run)


def test_collect_derives_each_terminals_journal_key_from_the_master_key_file(keyfiles):
    key_for = key_source(str(keyfiles["master"]))
    tid = bytes.fromhex(TID)
    assert key_for(tid) == provision.journal_key(keyfiles["masters"]["device"], tid)


def test_collect_with_a_missing_key_file_is_one_line_before_the_board(keyfiles, tmp_path):
    run = ykt("collect", "--port", "socket://127.0.0.1:9", "--key-file",
              tmp_path / "nope.json", "--out", tmp_path / "out")
    assert run.returncode == 2 and "no such key file" in one_line(run)


def test_sim_board_with_a_terminal_config_as_master_key_file_is_one_line(keyfiles):
    run = ykt("sim", "board", "--listen", "127.0.0.1:0", "--boot", "app", "--taps",
              "scenarios/demo-canteen.json", "--master-key-file", keyfiles["config"],
              "--max-seconds", 1)
    assert run.returncode == 2 and "terminal config" in one_line(run)


def test_collect_takes_master_key_file_and_refuses_a_config_before_the_board(keyfiles, tmp_path):
    run = ykt("collect", "--port", "socket://127.0.0.1:9", "--master-key-file",
              keyfiles["config"], "--out", tmp_path / "out")
    assert run.returncode == 2 and "terminal config" in one_line(run)
    assert not (tmp_path / "out").exists()
