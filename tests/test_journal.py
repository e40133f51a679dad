"""The journal (ykt.store.journal): appends survive reboots and power cuts, intents are
found again, acks free only acknowledged segments, and a full journal refuses."""

import hashlib
import hmac
import zlib

import pytest
import vmscripts

from host_tools.lib import journal as host
from host_tools.lib.journal import load, seal, verify
from hw_sim.flash import NorFlash, PowerCut
from hw_sim.lfs import LfsVfs, format_flash
from ykt.errors import YktError
from ykt.store.journal import KINDS, Journal, JournalError, JournalFull

KEY = bytes(range(16))
TERMINAL = bytes.fromhex("112233445566")
CARD = "31040000000000001234"

# A Vfs-like adapter over a host directory; the same source runs on the MicroPython VM.
DirFs = vmscripts.load("dirfs").DirFs


@pytest.fixture(params=["dir", "littlefs"])
def fs(request, tmp_path):
    if request.param == "dir":
        return DirFs(str(tmp_path))
    flash = NorFlash(64 * 4096)
    format_flash(flash)
    return LfsVfs(flash)


def journal(fs, **kw):
    kw.setdefault("segment_records", 4)
    kw.setdefault("capacity_records", 100)
    j = Journal(fs, KEY, TERMINAL, **kw)
    j.open()
    return j


def intent(j, n=0, amount=250):
    return j.append("purchase-intent", time=1000 + n, card=CARD, atc=n, amount=amount,
                    balance=5000 - amount, tx_type=6, random=b"\x0b\xad\xf0\x0d", tseq=n)


def files_of(fs):
    out = {}
    for name in fs.listdir("/journal"):
        with fs.open("/journal/" + name, "rb") as f:
            out[name] = f.read()
    return out


def seg(fs, name):
    return files_of(fs)[name]


def write_raw(fs, name, data):
    with fs.open("/journal/" + name, "wb") as f:
        f.write(data)


def host_verify(fs):
    return verify(files_of(fs), KEY, TERMINAL)


# -- appending and reopening ----------------------------------------------------------------

def test_appends_number_records_from_one(fs):
    j = journal(fs)
    assert [j.append("boot", time=t) for t in range(3)] == [1, 2, 3]


def test_appended_fields_read_back(fs):
    j = journal(fs)
    seq = intent(j, 7, amount=420)
    r = list(j.records())[0]
    assert (r.seq, r.time, r.kind, r.tx_type, r.terminal, r.card, r.atc, r.amount, r.balance,
            r.random, r.link, r.tseq) == (
        seq, 1007, 0x10, 6, TERMINAL, CARD, 7, 420, 4580, b"\x0b\xad\xf0\x0d", 0, 7)


def test_negative_amounts_are_kept(fs):
    j = journal(fs)
    j.append("refund", card=CARD, amount=-150, balance=850, link=1)
    assert list(j.records())[0].amount == -150


def test_reopen_continues_seq_and_chain(fs):
    j = journal(fs)
    for t in range(5):
        j.append("boot", time=t)
    j2 = journal(fs)
    assert j2.append("boot", time=9) == 6
    v = host_verify(fs)
    assert (v.ok, v.count, j2.damaged) == (True, 6, None)


def test_segments_are_named_by_their_first_seq(fs):
    j = journal(fs, segment_records=4)
    for t in range(9):
        j.append("boot", time=t)
    assert sorted(n for n in fs.listdir("/journal")) == ["00000001.seg", "00000005.seg",
                                                         "00000009.seg"]


def test_records_from_seq_starts_there(fs):
    j = journal(fs, segment_records=4)
    for t in range(10):
        j.append("boot", time=t)
    assert [r.seq for r in j.records(from_seq=6)] == [6, 7, 8, 9, 10]


def test_append_before_open_is_refused(fs):
    j = Journal(fs, KEY, TERMINAL)
    with pytest.raises(JournalError):
        j.append("boot")


def test_kind_name_and_code_write_the_same_kind(fs):
    j = journal(fs)
    j.append("refund", card=CARD, amount=-1)
    j.append(0x31, card=CARD, amount=-1)
    assert [r.kind for r in j.records()] == [0x31, 0x31]


def test_firmware_and_host_name_the_kinds_alike():
    assert KINDS == {name: code for code, name in host.KINDS.items()}


@pytest.mark.parametrize("kind", [0, 256, "teleport"])
def test_unknown_kind_is_refused(fs, kind):
    j = journal(fs)
    with pytest.raises(ValueError):
        j.append(kind)


def test_out_of_range_amount_is_refused_and_nothing_written(fs):
    j = journal(fs)
    with pytest.raises(ValueError):
        j.append("purchase", amount=1 << 31)
    assert j.append("boot") == 1


# -- torn tails ---------------------------------------------------------------------------------

def test_partial_last_record_is_dropped_on_open(fs):
    j = journal(fs, segment_records=8)
    for t in range(3):
        j.append("boot", time=t)
    raw = seg(fs, "00000001.seg")
    write_raw(fs, "00000001.seg", raw + b"\x00\x00\x00\x04" + b"\x12" * 26)  # a cut write
    j2 = journal(fs, segment_records=8)
    assert (j2.torn, j2.last_seq, [r.seq for r in j2.records()]) == (30, 3, [1, 2, 3])


def test_next_record_overwrites_a_torn_tail_and_continues_the_chain(fs):
    j = journal(fs, segment_records=8)
    for t in range(3):
        j.append("boot", time=t)
    raw = seg(fs, "00000001.seg")
    write_raw(fs, "00000001.seg", raw + b"\x00\x00\x00\x04" + b"\x12" * 26)
    j2 = journal(fs, segment_records=8)
    assert j2.append("boot", time=5) == 4
    v = host_verify(fs)
    assert (len(seg(fs, "00000001.seg")), v.ok, v.count) == (4 * 64, True, 4)


def test_whole_last_record_with_bad_crc_is_dropped(fs):
    j = journal(fs, segment_records=8)
    for t in range(3):
        j.append("boot", time=t)
    raw = bytearray(seg(fs, "00000001.seg"))
    raw[2 * 64 + 20] ^= 0xFF
    write_raw(fs, "00000001.seg", bytes(raw))
    j2 = journal(fs, segment_records=8)
    assert (j2.torn, j2.last_seq, j2.damaged, j2.append("boot")) == (64, 2, None, 3)
    assert host_verify(fs).count == 3


def test_torn_first_record_of_a_new_segment_removes_the_file(fs):
    j = journal(fs, segment_records=2)
    for t in range(2):
        j.append("boot", time=t)
    write_raw(fs, "00000003.seg", b"\x00\x00\x00\x03\x00")
    j2 = journal(fs, segment_records=2)
    assert "00000003.seg" not in fs.listdir("/journal")
    assert j2.append("boot") == 3
    assert host_verify(fs).count == 3


def test_bad_record_in_the_middle_is_kept_and_reported(fs):
    j = journal(fs, segment_records=8)
    for t in range(4):
        j.append("boot", time=t)
    raw = bytearray(seg(fs, "00000001.seg"))
    raw[64 + 5] ^= 0x01
    write_raw(fs, "00000001.seg", bytes(raw))
    j2 = journal(fs, segment_records=8)
    assert (j2.damaged, j2.last_seq, seg(fs, "00000001.seg")) == (2, 4, bytes(raw))


def test_edited_record_with_fixed_crc_is_reported_as_damage(fs):
    j = journal(fs, segment_records=8)
    for t in range(4):
        j.append("boot", time=t)
    raw = bytearray(seg(fs, "00000001.seg"))
    rec = bytearray(raw[128:192])
    rec[7] ^= 0x01  # time
    raw[128:192] = seal(rec)
    write_raw(fs, "00000001.seg", bytes(raw))
    assert journal(fs, segment_records=8).damaged == 3


# -- intents ------------------------------------------------------------------------------------

def test_unresolved_intents_are_found_after_reopen(fs):
    j = journal(fs)
    a = intent(j, 1)
    b = intent(j, 2)
    j.append("purchase", card=CARD, link=a, tac=b"\x01\x02\x03\x04")
    c = intent(j, 3)
    j2 = journal(fs)
    assert [(r.seq, r.atc, r.random) for r in j2.unresolved()] == [
        (b, 2, b"\x0b\xad\xf0\x0d"), (c, 3, b"\x0b\xad\xf0\x0d")]


@pytest.mark.parametrize("kind", ["purchase", "unpaid", "abandoned", "entry", "exit", "load",
                                  "refund", "void"])
def test_completion_resolves_its_intent(fs, kind):
    j = journal(fs)
    a = intent(j)
    j.append(kind, card=CARD, link=a)
    assert journal(fs).unresolved() == []


def test_completion_frees_the_reserved_record_at_once(fs):
    j = journal(fs)
    a = intent(j)
    j.append("purchase", card=CARD, link=a)
    assert (j.unresolved(), j.state().reserved) == ([], 0)


def test_record_without_resolving_kind_leaves_intent_open(fs):
    j = journal(fs)
    a = intent(j)
    j.append("correction", card=CARD, amount=-250, link=a)
    assert [r.seq for r in journal(fs).unresolved()] == [a]


# -- acknowledgement ---------------------------------------------------------------------------

def test_ack_deletes_only_fully_acknowledged_segments(fs):
    j = journal(fs, segment_records=4)
    for t in range(10):
        j.append("boot", time=t)
    assert j.ack(6) == 1
    assert sorted(fs.listdir("/journal")) == ["00000005.seg", "00000009.seg", "ack"]


def test_repeated_and_old_acks_change_nothing(fs):
    j = journal(fs, segment_records=4)
    for t in range(10):
        j.append("boot", time=t)
    j.ack(8)
    before = files_of(fs)
    assert (j.ack(8), j.ack(3)) == (0, 0)
    assert files_of(fs) == before


def test_ack_beyond_the_last_record_is_refused(fs):
    j = journal(fs)
    j.append("boot")
    with pytest.raises(ValueError):
        j.ack(2)
    assert "ack" not in fs.listdir("/journal")


def test_ack_watermark_survives_reopen(fs):
    j = journal(fs, segment_records=4)
    for t in range(10):
        j.append("boot", time=t)
    j.ack(6)
    assert journal(fs, segment_records=4).state().used == 4


def test_newest_segment_is_kept_until_full(fs):
    j = journal(fs, segment_records=4)
    for t in range(6):
        j.append("boot", time=t)
    assert j.ack(6) == 1
    j.append("boot")
    j.append("boot")
    assert j.ack(8) == 1
    assert j.append("boot") == 9
    assert sorted(fs.listdir("/journal")) == ["00000009.seg", "ack"]


def test_chain_verifies_after_segments_are_deleted(fs):
    j = journal(fs, segment_records=4)
    for t in range(10):
        j.append("boot", time=t)
    j.ack(8)
    j2 = journal(fs, segment_records=4)
    j2.append("boot")
    v = host_verify(fs)
    assert (v.ok, v.first, v.last, j2.damaged) == (True, 9, 11, None)


def test_unresolved_intent_survives_deletion_of_its_segment(fs):
    j = journal(fs, segment_records=4)
    a = intent(j)
    for t in range(4):
        j.append("boot", time=t)
    j.ack(5)
    assert "00000001.seg" not in fs.listdir("/journal")
    assert [r.seq for r in journal(fs, segment_records=4).unresolved()] == [a]


def test_carried_intent_resolved_later_stays_resolved(fs):
    j = journal(fs, segment_records=4)
    a = intent(j)
    for t in range(4):
        j.append("boot", time=t)
    j.ack(5)
    j.append("unpaid", card=CARD, link=a)
    assert journal(fs, segment_records=4).unresolved() == []


def test_unreadable_ack_file_is_damage_and_nothing_counts_as_acknowledged(fs):
    j = journal(fs, segment_records=4)
    for t in range(10):
        j.append("boot", time=t)
    j.ack(6)
    ack = bytearray(seg(fs, "ack"))
    ack[5] ^= 0x01
    write_raw(fs, "ack", bytes(ack))
    j2 = journal(fs, segment_records=4)
    assert (j2.damaged, j2.state().used) == (0, 10)


class Cut(BaseException):
    """Stands in for a power cut between two fs calls."""


class CutOnRemove:
    def __init__(self, inner):
        self.inner = inner
        self.armed = False

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def remove(self, path):
        if self.armed:
            raise Cut(path)
        self.inner.remove(path)


def test_ack_cut_before_removals_is_finished_at_open(tmp_path):
    fs = DirFs(str(tmp_path))
    cutting = CutOnRemove(fs)
    j = journal(cutting, segment_records=4)
    for t in range(10):
        j.append("boot", time=t)
    cutting.armed = True
    with pytest.raises(Cut):
        j.ack(8)
    j2 = journal(fs, segment_records=4)
    assert sorted(fs.listdir("/journal")) == ["00000009.seg", "ack"]
    assert (j2.state().used, j2.damaged, j2.append("boot")) == (2, None, 11)


# -- capacity -----------------------------------------------------------------------------------

def test_warn_starts_at_the_warn_ratio(fs):
    j = journal(fs, capacity_records=10, warn_ratio=0.8)
    seen = []
    for t in range(9):
        j.append("boot", time=t)
        seen.append(j.state().warn)
    assert seen == [False] * 7 + [True, True]


def test_full_journal_refuses_and_overwrites_nothing(fs):
    j = journal(fs, capacity_records=6, segment_records=4)
    for t in range(6):
        j.append("boot", time=t)
    before = files_of(fs)
    with pytest.raises(JournalFull):
        j.append("boot", time=99)
    assert (files_of(fs), j.state().full, j.last_seq) == (before, True, 6)


def test_ack_makes_room_again(fs):
    j = journal(fs, capacity_records=6, segment_records=2)
    for t in range(6):
        j.append("boot", time=t)
    j.ack(4)
    assert (j.append("boot"), j.state().free) == (7, 3)


def test_intent_needs_room_for_its_completion(fs):
    j = journal(fs, capacity_records=4)
    for t in range(3):
        j.append("boot", time=t)
    with pytest.raises(JournalFull):
        intent(j)
    assert j.last_seq == 3


def test_completion_of_an_intent_is_written_when_otherwise_full(fs):
    j = journal(fs, capacity_records=4)
    j.append("boot")
    a = intent(j)
    j.append("boot")
    with pytest.raises(JournalFull):
        j.append("boot")
    assert j.append("purchase", card=CARD, link=a) == 4


def test_journal_full_is_a_ykt_error():
    assert issubclass(JournalFull, YktError)


class NoSpaceFs:
    """Writes fail with ENOSPC after ``room`` bytes (the first part lands); with
    ``short`` they return the short count instead of raising."""

    def __init__(self, inner, room, short=False):
        self.inner = inner
        self.room = room
        self.short = short

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def open(self, path, mode="rb"):
        f = self.inner.open(path, mode)
        if mode == "rb":
            return f
        fs = self

        class W:
            def seek(self, offset, whence=0):
                return f.seek(offset, whence)

            def write(self, data):
                n = min(len(data), fs.room)
                if n:
                    f.write(bytes(data[:n]))
                fs.room -= n
                if n < len(data) and not fs.short:
                    raise OSError(28, "No space left on device")
                return n

            def flush(self):
                f.flush()

            def close(self):
                f.close()

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                f.close()

        return W()


PLENTY = 1 << 30


def test_enospc_from_the_filesystem_is_journal_full(tmp_path):
    fs = NoSpaceFs(DirFs(str(tmp_path)), room=PLENTY)
    j = journal(fs)
    j.append("boot")
    fs.room = 20
    with pytest.raises(JournalFull):
        j.append("boot")
    assert j.last_seq == 1


def test_short_write_is_journal_full(tmp_path):
    fs = NoSpaceFs(DirFs(str(tmp_path)), room=PLENTY, short=True)
    j = journal(fs)
    j.append("boot")
    fs.room = 20
    with pytest.raises(JournalFull):
        j.append("boot")
    assert j.last_seq == 1


def test_append_after_enospc_overwrites_the_partial_write(tmp_path):
    fs = NoSpaceFs(DirFs(str(tmp_path)), room=PLENTY)
    j = journal(fs, segment_records=8)
    j.append("boot")
    fs.room = 20
    with pytest.raises(JournalFull):
        j.append("boot")
    fs.room = PLENTY  # space freed
    assert j.append("boot", time=3) == 2
    assert (len(seg(fs, "00000001.seg")), host_verify(fs).ok) == (128, True)


def test_littlefs_running_out_of_blocks_is_journal_full():
    flash = NorFlash(8 * 4096)
    format_flash(flash)
    j = journal(LfsVfs(flash), segment_records=64, capacity_records=100000)
    with pytest.raises(JournalFull):
        for t in range(100000):
            j.append("boot", time=t)
    last = j.last_seq
    assert [r.seq for r in journal(LfsVfs(flash), segment_records=64).records()][-1] == last


# -- power cuts on the simulated flash -----------------------------------------------------------

@pytest.mark.parametrize("partial", [None, 16])
def test_power_cut_at_any_flash_operation_loses_no_committed_record(partial):
    flash = NorFlash(32 * 4096)
    format_flash(flash)
    j = journal(LfsVfs(flash), segment_records=4)
    for t in range(3):
        j.append("boot", time=t)
    image = flash.image()
    n = 1
    while True:
        flash = NorFlash.from_image(image)
        j = journal(LfsVfs(flash), segment_records=4)
        flash.cut_at(n, partial)
        done = 3
        try:
            for t in range(5):  # through a segment change and out of inline storage
                intent(j, t)
                done += 1
        except PowerCut:
            pass
        else:
            break
        flash.power_on()
        fs = LfsVfs(flash)
        j2 = journal(fs, segment_records=4)
        assert done <= j2.last_seq <= done + 1, n
        j2.append("boot")
        assert verify(files_of(fs), KEY, TERMINAL).ok, n
        n += 1
    assert n > 10


# -- codec ----------------------------------------------------------------------------------------

def first_mac(key, raw):
    genesis = hmac.new(key, b"ykt journal v1" + TERMINAL, hashlib.sha256).digest()[:8]
    return hmac.new(key, genesis + raw[:52], hashlib.sha256).digest()[:8]


@pytest.mark.parametrize("key", [KEY, bytes(range(100))])
def test_first_mac_is_hmac_sha256_over_the_genesis_and_fields(fs, key):
    j = Journal(fs, key, TERMINAL)
    j.open()
    j.append("boot", time=7)
    raw = seg(fs, "00000001.seg")
    assert raw[52:60] == first_mac(key, raw)


def test_crc_covers_fields_and_mac(fs):
    j = journal(fs)
    j.append("boot", time=7)
    raw = seg(fs, "00000001.seg")
    assert int.from_bytes(raw[60:64], "big") == zlib.crc32(raw[:60])


# -- the MicroPython VM writes the same bytes -----------------------------------------------------

def write_same(j):
    for n in range(4):
        s = j.append("purchase-intent", time=1000 + n, card=CARD, atc=n, amount=250 + n,
                     balance=5000, tx_type=6, random=b"\x0b\xad\xf0\x0d", tseq=n)
        if n % 2:
            j.append("purchase", time=1001 + n, card=CARD, atc=n, amount=250 + n, balance=4750,
                     tac=b"\x01\x02\x03\x04", link=s, tseq=n)
    j.append("refund", time=2000, card=CARD, amount=-251, balance=5000, link=4)
    j.ack(4)


def test_vm_and_cpython_write_byte_identical_journals(tmp_path):
    vm_dir = tmp_path / "vm"
    py_dir = tmp_path / "py"
    vm_dir.mkdir()
    py_dir.mkdir()
    proc = vmscripts.run("journal_write", vm_dir, CARD)  # tests/vm/journal_write.py
    assert proc.returncode == 0, proc.stdout + proc.stderr
    j = Journal(DirFs(str(py_dir)), KEY, TERMINAL, segment_records=3, capacity_records=50)
    j.open()
    write_same(j)
    vm_files = load(str(vm_dir))
    assert proc.stdout.split() == ["done", str(j.last_seq)]
    assert sorted(vm_files) == ["00000004.seg", "00000007.seg", "ack"]
    assert vm_files == load(str(py_dir))


def test_load_intent_is_unresolved_until_its_completion(fs):
    j = journal(fs)
    a = j.append("load-intent", card=CARD, atc=3, amount=500, tx_type=2)
    assert [r.seq for r in journal(fs).unresolved()] == [a]
    j.append("void", card=CARD, atc=3, amount=-500, tx_type=2, link=a)
    assert journal(fs).unresolved() == []
