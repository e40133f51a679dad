"""`ykt journal verify` / `dump` through the CLI: a clean journal passes, and each kind of
tampering is named at the record where it happened."""

import json
import os
import subprocess
import sys

import pytest

from host_tools.lib.journal import seal
from hw_sim.flash import NorFlash
from hw_sim.lfs import LfsVfs, format_flash
from ykt.store.journal import Journal
from ykt.store.vfs import Vfs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = bytes(range(16))
TERMINAL = bytes.fromhex("112233445566")
CARD = "31040000000000001234"
SEG = "00000001.seg"


def ykt(*args):
    proc = subprocess.run([sys.executable, "-m", "host_tools.cli", "journal", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def verify(path, key=KEY, *extra):
    return ykt("verify", str(path), "--key", key.hex(), *extra)


def fill(fs, n=10, segment_records=16):
    j = Journal(fs, KEY, TERMINAL, segment_records=segment_records, capacity_records=1000)
    j.open()
    for i in range(n):
        j.append("purchase", time=1000 + i, card=CARD, atc=i, amount=100 + i,
                 balance=9000 - i, tx_type=6, tac=b"\x0a\x0b\x0c\x0d", tseq=i)
    return j


@pytest.fixture
def jdir(tmp_path):
    fill(Vfs(str(tmp_path)))
    return tmp_path


def seg_path(root, name=SEG):
    return root / "journal" / name


def edit(root, fn, name=SEG):
    path = seg_path(root, name)
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(fn(data) or data))


def rec(data, seq):
    return data[(seq - 1) * 64:seq * 64]


def test_clean_journal_passes_with_its_count(jdir):
    assert verify(jdir) == (0, "OK 10 records (seq 1..10)\n", "")


def test_edited_byte_is_named_as_bad_crc(jdir):
    def flip(d):
        d[3 * 64 + 30] ^= 0x01  # seq 4, amount
    edit(jdir, flip)
    code, out, _ = verify(jdir)
    assert (code, out) == (1, "BAD seq 4 in 00000001.seg (offset 192): bad CRC\n")


def test_edited_record_with_fixed_crc_breaks_the_chain_there(jdir):
    def forge(d):
        r = bytearray(rec(d, 4))
        r[31] = 0x01  # amount 103 -> 1: a cheaper meal
        d[192:256] = seal(r)
    edit(jdir, forge)
    code, out, _ = verify(jdir)
    assert code == 1
    assert out.startswith("BAD seq 4 in 00000001.seg (offset 192): chain broken")


def test_deleted_record_is_named_as_a_gap(jdir):
    edit(jdir, lambda d: d[:4 * 64] + d[5 * 64:])
    code, out, _ = verify(jdir)
    assert (code, out) == (1, "BAD seq 5 in 00000001.seg (offset 256): "
                              "sequence gap: seq 5 missing (record deleted)\n")


def test_deleted_and_renumbered_records_break_the_chain(jdir):
    def delete_and_renumber(d):
        out = bytearray(d[:4 * 64])
        for seq in range(6, 11):
            r = bytearray(rec(d, seq))
            r[0:4] = (seq - 1).to_bytes(4, "big")
            out += seal(r)
        return out
    edit(jdir, delete_and_renumber)
    code, out, _ = verify(jdir)
    assert code == 1
    assert out.startswith("BAD seq 5 in 00000001.seg (offset 256): chain broken")


def test_reordered_records_are_named(jdir):
    edit(jdir, lambda d: d[:6 * 64] + rec(d, 8) + rec(d, 7) + d[8 * 64:])
    code, out, _ = verify(jdir)
    assert (code, out) == (1, "BAD seq 7 in 00000001.seg (offset 384): out of order: seq 8 "
                              "found where seq 7 belongs (records reordered)\n")


def test_wrong_key_fails_at_record_1(jdir):
    code, out, _ = verify(jdir, bytes(16))
    assert code == 1
    assert out.startswith("BAD seq 1 in 00000001.seg (offset 0): chain broken")


def test_truncated_last_record_is_named(jdir):
    edit(jdir, lambda d: d[:-20])
    code, out, _ = verify(jdir)
    assert (code, out) == (1, "BAD seq 10 in 00000001.seg (offset 576): "
                              "truncated: 44 of 64 bytes (record cut short)\n")


def test_deleted_segment_is_named_as_a_gap(tmp_path):
    fill(Vfs(str(tmp_path)), n=12, segment_records=4)
    os.remove(seg_path(tmp_path, "00000005.seg"))
    code, out, _ = verify(tmp_path)
    assert (code, out) == (1, "BAD seq 5 in 00000009.seg (offset 0): "
                              "sequence gap: seq 5..8 missing (segment deleted?)\n")


def test_records_of_another_terminal_are_named(jdir):
    code, out, _ = verify(jdir, KEY, "--terminal", "665544332211")
    assert code == 1
    assert out.startswith("BAD seq 1 in 00000001.seg (offset 0): wrong terminal 112233445566")


def test_acknowledged_journal_verifies_from_its_anchor(tmp_path):
    j = fill(Vfs(str(tmp_path)), n=12, segment_records=4)
    j.ack(9)
    assert verify(tmp_path) == (
        0, "OK 4 records (seq 9..12), acknowledged up to seq 9\n", "")


def test_edited_ack_file_is_named(tmp_path):
    j = fill(Vfs(str(tmp_path)), n=12, segment_records=4)
    j.ack(9)
    ack = seg_path(tmp_path, "ack")
    data = bytearray(ack.read_bytes())
    data[11] ^= 0x01  # anchor seq
    ack.write_bytes(bytes(data))
    code, out, _ = verify(tmp_path)
    assert (code, out) == (1, "BAD ack: bad ack file (MAC: wrong key or edited)\n")


def test_key_can_come_from_a_file(jdir, tmp_path_factory):
    key_file = tmp_path_factory.mktemp("keys") / "device.key"
    key_file.write_text(KEY.hex() + "\n")
    code, out, _ = ykt("verify", str(jdir), "--key-file", str(key_file))
    assert (code, out) == (0, "OK 10 records (seq 1..10)\n")


def test_missing_path_is_a_one_line_error(tmp_path):
    code, out, err = verify(tmp_path / "nowhere")
    assert (code, out) == (2, "")
    assert err == "ykt: error: no such journal: %s\n" % (tmp_path / "nowhere")


def test_key_that_is_not_hex_is_a_one_line_error(jdir):
    code, _, err = ykt("verify", str(jdir), "--key", "xyz")
    assert (code, err) == (2, "ykt: error: --key is not hex\n")


def test_littlefs_image_is_verified(tmp_path):
    flash = NorFlash(32 * 4096)
    format_flash(flash)
    fill(LfsVfs(flash), n=7, segment_records=4)
    image = tmp_path / "flash.img"
    image.write_bytes(flash.image())
    assert verify(image) == (0, "OK 7 records (seq 1..7)\n", "")


def test_file_that_is_not_an_image_is_a_one_line_error(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 100)
    code, _, err = verify(junk)
    assert (code, err.count("\n"), err.startswith("ykt: error: ")) == (2, 1, True)


def test_dump_prints_one_json_object_per_record(jdir):
    code, out, _ = ykt("dump", str(jdir))
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [r["seq"] for r in rows] == list(range(1, 11))
    assert {k: rows[3][k] for k in ("time", "kind", "card", "amount", "tac", "crc_ok")} == {
        "time": "2000-01-01T00:16:43", "kind": "purchase", "card": CARD, "amount": 103,
        "tac": "0a0b0c0d", "crc_ok": True}
