"""The denylist: host-built base and delta files, looked up by the firmware on flash."""

import json
import os
import random
import struct

import pytest
import vmscripts

from host_tools import cli
from host_tools.lib import denylist as host
from hw_sim.flash import NorFlash
from hw_sim.lfs import LfsVfs, format_flash
from ykt.errors import YktError
from ykt.store.denylist import Denylist
from ykt.store.vfs import Vfs

N_BIG = 250_000
MAX_BYTES_250K = 440_000  # stated bound: 1.76 bytes per card number (see docs/stores.md)
PAGE = host.DEFAULT_PAGE_SIZE


class CountingFs:
    """An fs wrapper that counts the bytes the store reads."""

    def __init__(self, fs):
        self.fs = fs
        self.read = 0

    def open(self, path, mode="rb"):
        return _CountingFile(self.fs.open(path, mode), self)

    def __getattr__(self, name):
        return getattr(self.fs, name)


class _CountingFile:
    def __init__(self, f, owner):
        self.f = f
        self.owner = owner

    def read(self, n=-1):
        data = self.f.read(n)
        self.owner.read += len(data)
        return data

    def readinto(self, buf):
        n = self.f.readinto(buf)
        self.owner.read += n or 0
        return n

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def put(fs, path, data):
    with fs.open(path, "wb") as f:
        f.write(data)


def page_count(data):
    return struct.unpack(host.HEADER_FMT, data[:32])[6]


def littlefs(blocks=256):
    flash = NorFlash(blocks * 4096)
    format_flash(flash)
    return LfsVfs(flash)


@pytest.fixture(params=["dir", "littlefs"])
def fs(request, tmp_path):
    return Vfs(str(tmp_path)) if request.param == "dir" else littlefs()


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """250,000 card numbers (seeded) scattered over 20 million issued cards, 90 % of them
    lost and 10 % with other reasons, built into a base file."""
    numbers = host.sample_numbers(N_BIG, seed=7)
    rng = random.Random(8)
    entries = [(no, 1 if rng.random() < 0.9 else rng.choice((2, 3, 4, 6))) for no in numbers]
    data = host.build_base(entries, 42)
    root = tmp_path_factory.mktemp("big")
    fs = Vfs(str(root))
    put(fs, "/denylist.bin", data)
    return {"entries": entries, "data": data, "fs": fs, "set": set(numbers)}


def unlisted(listed, n, seed):
    """n seeded card numbers that are not in ``listed``: neighbours of listed numbers and
    random numbers under the same prefixes and elsewhere."""
    rng = random.Random(seed)
    ordered = sorted(listed)
    out = set()
    while len(out) < n:
        pick = rng.random()
        if pick < 0.4:
            base = int(rng.choice(ordered))
            no = "%020d" % (base + rng.choice((-1, 1, 2)))
        elif pick < 0.8:
            no = rng.choice(("31049900", "31050100")) + "%012d" % rng.randrange(10 ** 12)
        else:
            no = "%020d" % rng.randrange(10 ** 20)
        if no not in listed:
            out.add(no)
    return sorted(out)


# -- 250,000 entries -----------------------------------------------------------------------

def test_250k_base_file_is_below_the_stated_size(big):
    assert len(big["data"]) < MAX_BYTES_250K


def test_250k_every_listed_number_decodes_back_with_its_reason(big):
    assert host.read_base(big["data"]) == (42, big["entries"])


def test_250k_first_and_last_number_of_every_page_are_found(big):
    entries = big["entries"]
    d = Denylist(big["fs"])
    firsts = {int.from_bytes(big["data"][32 + i * 9: 41 + i * 9], "big")
              for i in range(page_count(big["data"]))}
    edges = [i for i, (no, _) in enumerate(entries) if int(no) in firsts]
    probes = sorted({j for i in edges for j in (i - 1, i) if j >= 0})
    assert len(probes) > 500
    for j in probes:
        no, reason = entries[j]
        assert d.contains(no) == (True, reason), no


def test_250k_random_sample_of_listed_numbers_is_denied(big):
    entries = big["entries"]
    d = Denylist(big["fs"])
    count = N_BIG if os.environ.get("YKT_FULL") else 4000
    for no, reason in random.Random(9).sample(entries, count):
        assert d.contains(no) == (True, reason), no


def test_250k_random_sample_of_unlisted_numbers_is_not_denied(big):
    d = Denylist(big["fs"])
    for no in unlisted(big["set"], 4000, seed=10):
        assert d.contains(no) == (False, 0), no


def test_250k_numbers_below_and_above_the_list_are_not_denied(big):
    d = Denylist(big["fs"])
    lo, hi = big["entries"][0][0], big["entries"][-1][0]
    assert d.contains("%020d" % (int(lo) - 1)) == (False, 0)
    assert d.contains("%020d" % (int(hi) + 1)) == (False, 0)
    assert d.contains("0" * 20) == (False, 0)
    assert d.contains("9" * 20) == (False, 0)


def test_lookup_reads_one_page_and_the_headers_once_the_index_is_cached(big):
    fs = CountingFs(big["fs"])
    d = Denylist(fs)
    d.contains(big["entries"][0][0])  # loads the index
    rng = random.Random(11)
    probes = [no for no, _ in rng.sample(big["entries"], 50)] + unlisted(big["set"], 50, 12)
    for no in probes:
        fs.read = 0
        d.contains(no)
        assert fs.read <= 32 + PAGE, (no, fs.read)


def test_first_lookup_reads_header_index_and_one_page(big):
    fs = CountingFs(big["fs"])
    Denylist(fs).contains(big["entries"][1000][0])
    pages = page_count(big["data"])
    assert fs.read <= 32 + pages * 9 + PAGE
    assert pages * 9 <= 4096  # the index of 250k realistic numbers fits the RAM cache


# -- large index: searched on flash ----------------------------------------------------------

def test_index_larger_than_4kb_is_binary_searched_on_flash(tmp_path):
    rng = random.Random(13)
    numbers = sorted({"%020d" % rng.randrange(10 ** 20) for _ in range(20_000)})
    data = host.build_base([(no, 3) for no in numbers], 1, page_size=256)
    fs = CountingFs(Vfs(str(tmp_path)))
    put(fs, "/denylist.bin", data)
    index_bytes = page_count(data) * 9
    assert index_bytes > 4096
    d = Denylist(fs)
    for no in rng.sample(numbers, 300):
        fs.read = 0
        assert d.contains(no) == (True, 3)
        assert fs.read <= 32 + 256 + 16 * 9
    for no in unlisted(set(numbers), 300, 14):
        assert d.contains(no) == (False, 0)


# -- reasons, versions, missing and empty files ---------------------------------------------

def test_reasons_are_kept_per_card_including_changes_inside_a_page(fs):
    entries = [("310499000000%08d" % i, 1 + i % 7) for i in range(0, 3000, 3)]
    put(fs, "/denylist.bin", host.build_base(entries, 5))
    d = Denylist(fs)
    assert [d.contains(no) for no, _ in entries[:40]] == [(True, r) for _, r in entries[:40]]
    with fs.open("/denylist.bin", "rb") as f:
        assert host.read_base(f.read()) == (5, entries)


def test_base_version_is_reported(fs):
    put(fs, "/denylist.bin", host.build_base([("3" * 20, 1)], 17))
    assert Denylist(fs).version == 17


def test_missing_file_denies_nothing_and_reports_version_0(fs):
    d = Denylist(fs)
    assert d.contains("31049900000012345678") == (False, 0)
    assert d.version == 0
    assert len(d) == 0


def test_empty_list_denies_nothing_and_reports_its_version(fs):
    put(fs, "/denylist.bin", host.build_base([], 3))
    d = Denylist(fs)
    assert d.contains("31049900000012345678") == (False, 0)
    assert (d.version, len(d)) == (3, 0)


def test_malformed_card_number_is_a_value_error(fs):
    d = Denylist(fs)
    for bad in ("1234", "3104990000001234567X", "310499000000123456789"):
        with pytest.raises(ValueError):
            d.contains(bad)


def test_a_replaced_base_file_is_picked_up_by_a_live_denylist(fs):
    put(fs, "/denylist.bin", host.build_base([("1" * 20, 1)], 1))
    d = Denylist(fs)
    assert d.contains("1" * 20) == (True, 1)
    put(fs, "/denylist.bin", host.build_base([("2" * 20, 2)], 2))
    assert (d.contains("1" * 20), d.contains("2" * 20), d.version) == ((False, 0), (True, 2), 2)


def test_verify_detects_a_flipped_byte_in_a_page(fs):
    data = bytearray(host.build_base([("310499000000%08d" % i, 1) for i in range(500)], 1))
    put(fs, "/denylist.bin", bytes(data))
    Denylist(fs).verify()
    data[-5] ^= 0x01
    put(fs, "/denylist.bin", bytes(data))
    with pytest.raises(YktError):
        Denylist(fs).verify()


def test_a_file_that_is_not_a_denylist_is_an_error_not_an_empty_list(fs):
    put(fs, "/denylist.bin", b"not a denylist at all, but long enough to hold a header")
    with pytest.raises(YktError):
        Denylist(fs).contains("31049900000012345678")


# -- deltas ------------------------------------------------------------------------------

A, B, C, D = ("31049900000000000011", "31049900000000000022", "31049900000000000033",
              "31050100000000000044")


def test_delta_adds_and_removes_cards_on_top_of_its_base(fs):
    put(fs, "/denylist.bin", host.build_base([(A, 1), (B, 1)], 10))
    put(fs, "/denylist.delta", host.build_delta(10, 11, add=[(C, 2), (D, 6)], remove=[A]))
    d = Denylist(fs)
    assert [d.contains(n) for n in (A, B, C, D)] == [(False, 0), (True, 1), (True, 2), (True, 6)]


def test_delta_can_change_the_reason_of_a_listed_card(fs):
    put(fs, "/denylist.bin", host.build_base([(A, 1)], 10))
    put(fs, "/denylist.delta", host.build_delta(10, 11, add=[(A, 2)]))
    assert Denylist(fs).contains(A) == (True, 2)


def test_version_in_force_is_the_deltas(fs):
    put(fs, "/denylist.bin", host.build_base([(A, 1)], 10))
    put(fs, "/denylist.delta", host.build_delta(10, 14, add=[(B, 1)]))
    d = Denylist(fs)
    assert (d.version, d.base_version) == (14, 10)


def test_delta_for_another_base_is_ignored(fs):
    put(fs, "/denylist.bin", host.build_base([(A, 1)], 12))
    put(fs, "/denylist.delta", host.build_delta(10, 11, add=[(B, 1)], remove=[A]))
    d = Denylist(fs)
    assert (d.contains(A), d.contains(B), d.version) == ((True, 1), (False, 0), 12)


def test_delta_against_version_0_applies_without_a_base_file(fs):
    put(fs, "/denylist.delta", host.build_delta(0, 1, add=[(B, 4)]))
    d = Denylist(fs)
    assert (d.contains(B), d.contains(A), d.version) == ((True, 4), (False, 0), 1)


def test_merge_answers_like_base_plus_delta(fs, tmp_path):
    rng = random.Random(15)
    numbers = host.sample_numbers(5000, seed=16)
    base = host.build_base([(no, 1) for no in numbers], 20)
    removed = rng.sample(numbers, 300)
    added = [(no, 2) for no in unlisted(set(numbers), 300, 17)]
    delta = host.build_delta(20, 21, add=added, remove=removed)
    put(fs, "/denylist.bin", base)
    put(fs, "/denylist.delta", delta)
    layered = Denylist(fs)
    merged_fs = Vfs(str(tmp_path / "merged"))
    os.mkdir(str(tmp_path / "merged"))
    put(merged_fs, "/denylist.bin", host.merge(base, delta))
    merged = Denylist(merged_fs)
    probes = removed + [no for no, _ in added] + rng.sample(numbers, 300)
    assert [merged.contains(n) for n in probes] == [layered.contains(n) for n in probes]
    assert merged.version == 21


def test_delta_refuses_a_card_both_added_and_removed():
    with pytest.raises(ValueError, match="both added and removed"):
        host.build_delta(1, 2, add=[(A, 1)], remove=[A])


def test_delta_version_must_be_newer_than_its_base():
    with pytest.raises(ValueError, match="newer than its base"):
        host.build_delta(5, 5, add=[(A, 1)])


# -- input and the CLI ----------------------------------------------------------------------

def test_input_accepts_csv_reasons_by_name_or_code_comments_and_blank_lines():
    lines = ["# lost and stolen cards", "", "%s,stolen" % B, "%s ; 6" % A, "%s  # no reason" % C]
    assert host.parse_list(lines) == [(A, 6), (B, 2), (C, host.DEFAULT_REASON)]


def test_cli_bad_card_number_is_one_line_naming_the_line_and_exits_2(tmp_path, capsys):
    src = tmp_path / "cards.csv"
    src.write_text("%s,lost\n%s\n31049900000012345X78,stolen\n" % (A, B))
    rc = cli.main(["denylist", "build", "--in", str(src), "--version", "1",
                   "--out", str(tmp_path / "d.bin")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1
    assert "line 3" in err and "31049900000012345X78" in err
    assert not (tmp_path / "d.bin").exists()


def test_cli_bad_reason_is_one_line_naming_the_line_and_exits_2(tmp_path, capsys):
    src = tmp_path / "cards.csv"
    src.write_text("%s,misplaced\n" % A)
    rc = cli.main(["denylist", "build", "--in", str(src), "--version", "1",
                   "--out", str(tmp_path / "d.bin")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "line 1" in err and "misplaced" in err


def test_cli_build_and_delta_write_files_the_firmware_reads(tmp_path, capsys):
    (tmp_path / "all.txt").write_text("%s lost\n%s\n" % (A, B))
    (tmp_path / "add.txt").write_text("%s,fraud\n" % C)
    (tmp_path / "remove.txt").write_text("%s\n" % B)
    assert cli.main(["denylist", "build", "--in", str(tmp_path / "all.txt"), "--version", "4",
                     "--out", str(tmp_path / "denylist.bin")]) == 0
    assert cli.main(["denylist", "delta", "--base-version", "4", "--version", "5",
                     "--add", str(tmp_path / "add.txt"), "--remove",
                     str(tmp_path / "remove.txt"), "--out", str(tmp_path / "denylist.delta")]) == 0
    d = Denylist(Vfs(str(tmp_path)))
    assert [d.contains(n) for n in (A, B, C)] == [(True, 1), (False, 0), (True, 6)]
    assert d.version == 5


def test_cli_merge_writes_a_new_base(tmp_path, capsys):
    (tmp_path / "base").write_bytes(host.build_base([(A, 1), (B, 1)], 4))
    (tmp_path / "delta").write_bytes(host.build_delta(4, 6, add=[(C, 2)], remove=[A]))
    assert cli.main(["denylist", "merge", "--base", str(tmp_path / "base"), "--delta",
                     str(tmp_path / "delta"), "--out", str(tmp_path / "new")]) == 0
    assert host.read_base((tmp_path / "new").read_bytes()) == (6, [(B, 1), (C, 2)])


# -- LittleFS and the MicroPython VM ---------------------------------------------------------

def test_lookups_on_littlefs_match_the_list(tmp_path):
    fs = littlefs(blocks=64)
    numbers = host.sample_numbers(20_000, seed=18)
    put(fs, "/denylist.bin", host.build_base([(no, 1) for no in numbers], 2))
    d = Denylist(fs)
    rng = random.Random(19)
    assert all(d.contains(no) == (True, 1) for no in rng.sample(numbers, 300))
    assert not any(d.contains(no)[0] for no in unlisted(set(numbers), 300, 20))


def test_vm_lookups_equal_cpython(tmp_path):
    numbers = host.sample_numbers(30_000, seed=21)
    put(Vfs(str(tmp_path)), "/denylist.bin",
        host.build_base([(no, 1 + i % 3) for i, no in enumerate(numbers)], 8))
    put(Vfs(str(tmp_path)), "/denylist.delta",
        host.build_delta(8, 9, add=[(A, 2)], remove=numbers[:5]))
    rng = random.Random(22)
    probes = numbers[:10] + rng.sample(numbers, 200) + unlisted(set(numbers), 200, 23) + [A]
    (tmp_path / "probes.txt").write_text("".join(n + "\n" for n in probes))
    proc = vmscripts.run("denylist_contains", tmp_path, tmp_path / "probes.txt", timeout=120)
    assert proc.returncode == 0, proc.stderr
    d = Denylist(Vfs(str(tmp_path)))
    expected = [9] + [list(d.contains(n)) for n in probes]
    assert [json.loads(x) for x in proc.stdout.splitlines()] == expected
    assert [True, 2] in expected and [False, 0] in expected


def test_bench_reports_size_lookup_time_and_bytes_read():
    from bench import denylist as bench

    size, us, nread = bench.bench_denylist(n=5000, lookups=40)
    assert size == len(host.build_base(bench.bench_list(5000), 1))
    assert us > 0
    assert 32 < nread <= 32 + PAGE
