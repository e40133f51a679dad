"""The compiled tariff's integrity: a CRC-32 over the payload (format 2), checked when the
firmware opens it and before the installer installs it, and a reader that meets nothing but
``TariffError`` whatever the file holds (fuzzed on CPython and on the MicroPython VM)."""

import io
import json
import random
import struct
import zlib
from pathlib import Path

import farekit
import pytest
import vmscripts
from simrun import events, journal

from host_tools import cli
from host_tools.lib import tariff as ht
from host_tools.lib import updates as host
from host_tools.lib.tariff_payload import PayloadError, read_payload
from hw_sim.lfs import LfsVfs
from ykt.fare.tariff import Tariff, TariffError
from ykt.store import updates as fw
from ykt.store.vfs import Vfs

ROOT = Path(__file__).resolve().parents[1]

MASTER = bytes.fromhex("00112233445566778899aabbccddeeff")
TID = bytes.fromhex("000000000101")


def small_source(lines=("1", "5")):
    """The shipped tariff cut down to the stations of ``lines`` (3 KB compiled: fast to fuzz,
    and Line 5 keeps a line exception)."""
    keep = set(lines)
    src = farekit.source()
    src["stations"] = [dict(s, lines=sorted(keep & set(s["lines"]))) for s in src["stations"]
                       if keep & set(s["lines"])]
    src["edges"] = [e for e in src["edges"] if e["line"] in keep]
    src["lines"] = [line for line in src["lines"] if line["id"] in keep]
    src["line_exceptions"] = [x for x in src["line_exceptions"] if x["line"] in keep]
    return src


def small_payload(version=1, base_fen=300):
    src = small_source()
    src["metro_fare"]["base_fen"] = base_fen
    return ht.compile_payload(ht.validate(src), version)


def with_crc(data):
    """``data`` with its header length and CRC-32 made right again."""
    data = bytearray(data)
    if len(data) >= 24:
        struct.pack_into(">I", data, 12, len(data))
        struct.pack_into(">I", data, 20, zlib.crc32(bytes(data[:20]) + bytes(data[24:])))
    return bytes(data)


def flip(data, bit):
    data = bytearray(data)
    data[bit >> 3] ^= 0x80 >> (bit & 7)
    return bytes(data)


# -- the reader refuses a damaged file -----------------------------------------------------------

def test_a_good_payload_opens():
    t = Tariff(io.BytesIO(farekit.payload()))
    assert (t.n, t.version) == (302, 1)


def test_one_flipped_bit_anywhere_in_the_shipped_tariff_is_refused():
    data = farekit.payload()
    rng = random.Random(10)
    bits = list(range(0, 24 * 8 + 12 * 12 * 8)) + rng.sample(range(len(data) * 8), 400)
    for bit in bits:
        with pytest.raises(TariffError):
            Tariff(io.BytesIO(flip(data, bit)))


def test_a_flipped_bit_in_the_distance_table_is_a_checksum_mismatch():
    data = farekit.payload()
    dist = read_payload(data)  # the good one reads back
    assert dist["stations"]
    off = data.index(b"DIST") + 4
    dist_off = struct.unpack_from(">I", data, off)[0]
    with pytest.raises(TariffError) as e:
        Tariff(io.BytesIO(flip(data, (dist_off + 1000) * 8 + 3)))
    assert str(e.value) == "tariff file damaged: checksum mismatch"


def test_format_1_payload_is_refused_by_name():
    data = bytearray(farekit.payload())
    data[4] = 1
    with pytest.raises(TariffError, match="tariff format 1 not supported"):
        Tariff(io.BytesIO(bytes(data)))


def test_host_reader_refuses_a_damaged_payload_too():
    with pytest.raises(PayloadError, match="checksum mismatch"):
        read_payload(flip(farekit.payload(), 30000 * 8))


@pytest.mark.parametrize("cut", [0, 3, 4, 23, 24, 100, 3000])
def test_a_short_file_is_one_tariff_error(cut):
    with pytest.raises(TariffError):
        Tariff(io.BytesIO(small_payload()[:cut]))


# -- fuzzing: valid checksum, inconsistent contents ----------------------------------------------

# The same code runs under CPython and on the MicroPython VM (tests/vm/tariff_exercise.py):
# open a file and use every reader call and the fare engine on it; each step's outcome is the
# class name of what it raised.
exercise = vmscripts.load("tariff_exercise").exercise


def _sections(data):
    nsec = struct.unpack_from(">H", data, 6)[0]
    return {struct.unpack_from(">4s", data, 24 + 12 * i)[0]:
            struct.unpack_from(">II", data, 28 + 12 * i) for i in range(nsec)}


def mutants(base, count, seed):
    """``count`` payloads made from ``base`` by random byte edits (mostly in the header,
    directory and rule sections), truncations, extensions and directory edits, each with its
    length and CRC-32 made right again: inconsistent contents behind a good checksum."""
    rng = random.Random(seed)
    secs = _sections(base)
    small = [(off, size) for tag, (off, size) in secs.items() if tag != b"DIST"]
    for _ in range(count):
        data = bytearray(base)
        how = rng.randrange(10)
        if how < 6:
            for _ in range(rng.randint(1, 4)):
                region = rng.randrange(4)
                if region == 0:
                    pos = rng.choice([p for p in range(20) if p not in (12, 13, 14, 15)])
                elif region == 1:
                    pos = 24 + rng.randrange(12 * len(secs))
                elif region == 2:
                    off, size = rng.choice(small)
                    pos = off + rng.randrange(max(1, size))
                else:
                    pos = 24 + rng.randrange(len(data) - 24)
                pos = min(pos, len(data) - 1)
                data[pos] = rng.choice((0, 0xFF, rng.randrange(256), (data[pos] + 1) & 0xFF,
                                        (data[pos] - 1) & 0xFF))
        elif how < 8:
            cut = rng.choice((rng.randrange(24, len(data)), len(data) - rng.randrange(1, 40)))
            data = data[:cut] + (bytes(rng.randrange(1, 30)) if rng.random() < 0.3 else b"")
        else:
            i = rng.randrange(len(secs))
            field = 28 + 12 * i + rng.choice((0, 4))
            value = rng.choice((0, 1, 0xFFFFFFFF, len(data), len(data) - 1,
                                struct.unpack_from(">I", data, field)[0] + rng.randint(-3, 3)))
            struct.pack_into(">I", data, field, value & 0xFFFFFFFF)
        yield with_crc(data)


def _unexpected(outcomes):
    return [o for o in outcomes if o not in ("ok", "TariffError", "CardRefused")]


def test_fuzzed_payloads_with_a_good_checksum_raise_only_tariff_error():
    base = small_payload()
    assert exercise(io.BytesIO(base)).count("ok") > 30  # the good file serves every call
    seen = set()
    for n, data in enumerate(mutants(base, 5000, seed=2026)):
        outcomes = exercise(io.BytesIO(data))
        assert not _unexpected(outcomes), (n, outcomes)
        seen.add(outcomes[0])
    assert seen == {"ok", "TariffError"}  # both kinds of mutant were met


def test_fuzzed_shipped_tariff_raises_only_tariff_error():
    base = farekit.payload()
    for n, data in enumerate(mutants(base, 300, seed=7)):
        outcomes = exercise(io.BytesIO(data))
        assert not _unexpected(outcomes), (n, outcomes)


def test_micropython_reader_meets_the_same_mutants_the_same_way(tmp_path):
    from hw_sim.vm_bridge import vm_dir

    files = []
    for n, data in enumerate(mutants(small_payload(), 150, seed=99)):
        path = tmp_path / ("m%03d.bin" % n)
        path.write_bytes(data)
        files.append(str(path))
    proc = vmscripts.run("tariff_exercise", *files, path=vm_dir(), timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    vm = [json.loads(line) for line in proc.stdout.splitlines()]
    cp = []
    for p in files:
        with open(p, "rb") as f:
            cp.append(exercise(f))
    assert vm == cp
    assert not any(_unexpected(o) for o in vm)


# -- the installer refuses a damaged tariff ------------------------------------------------------

def _updates(fs):
    return fw.Updates(fs, fw.device_key(MASTER, TID), TID)


def _put(fs, path, data):
    with fs.open(path, "wb") as f:
        f.write(data)


def _get(fs, path):
    with fs.open(path, "rb") as f:
        return f.read()


@pytest.fixture
def fs(tmp_path):
    fs = Vfs(str(tmp_path))
    fs.mkdir("/inbox")
    _put(fs, "/inbox/t1", host.sign("tariff", 1, TID, small_payload(1), MASTER))
    assert _updates(fs).scan_inbox()[0].installed
    return fs


def test_installer_refuses_a_damaged_tariff_and_keeps_the_last_good(fs):
    good = _get(fs, "/tariff.bin")
    _put(fs, "/inbox/t2", host.sign("tariff", 2, TID, flip(small_payload(2), 9000), MASTER))
    assert _updates(fs).scan_inbox() == [
        fw.Outcome("t2", "tariff", 2, False,
                   "bad payload (tariff file damaged: checksum mismatch)")]
    assert _get(fs, "/tariff.bin") == good
    assert _updates(fs).installed_version("tariff") == 1
    assert fs.listdir("/inbox") == []


def test_installer_refuses_a_tariff_whose_contents_disagree_with_its_directory(fs):
    data = bytearray(small_payload(2))
    struct.pack_into(">I", data, 28 + 12 * 11 + 4, 9999)  # ROUT's size, past the end
    _put(fs, "/inbox/t2", host.sign("tariff", 2, TID, with_crc(data), MASTER))
    [o] = _updates(fs).scan_inbox()
    assert (o.installed, o.reason) == (False, "bad payload (tariff file damaged: section "
                                              "ROUT outside the file)")
    assert _updates(fs).installed_version("tariff") == 1


def test_check_of_envelope_bytes_refuses_a_damaged_tariff(fs):
    with pytest.raises(fw.UpdateRefused, match="checksum mismatch"):
        _updates(fs).check(host.sign("tariff", 2, TID, flip(small_payload(2), 2000 * 8), MASTER))


def test_installer_takes_a_good_tariff_from_a_littlefs_inbox():
    from hw_sim.flash import NorFlash
    from hw_sim.lfs import format_flash

    flash = NorFlash(64 * 4096)
    format_flash(flash)
    lfs = LfsVfs(flash)
    lfs.mkdir("/inbox")
    _put(lfs, "/inbox/t", host.sign("tariff", 4, TID, farekit.payload(version=4), MASTER))
    assert _updates(lfs).scan_inbox() == [fw.Outcome("t", "tariff", 4, True, "")]
    assert _get(lfs, "/tariff.bin") == farekit.payload(version=4)


def test_cli_refuses_to_sign_a_damaged_tariff_in_one_line(tmp_path, capsys):
    (tmp_path / "key").write_text(MASTER.hex())
    (tmp_path / "t.bin").write_bytes(flip(small_payload(2), 777))
    rc = cli.main(["update", "sign", "--kind", "tariff", "--version", "2", "--device",
                   TID.hex(), "--master-key-file", str(tmp_path / "key"),
                   str(tmp_path / "t.bin"), "-o", str(tmp_path / "t.upd")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err == ["ykt: error: %s: tariff file damaged: checksum mismatch" % (tmp_path / "t.bin")]
    assert not (tmp_path / "t.upd").exists()


# -- on the terminal -----------------------------------------------------------------------------

XJH = 2025


def _gate_run(tmp_path, damage=None, inbox=(), taps=("ann", "ben")):
    """An entry gate at Xujiahui with the shipped tariff installed (``damage``: a function
    making the installed /tariff.bin bytes), extra ``inbox`` files, and taps."""
    from hw_sim.scenario import Run

    data = {
        "start": "2026-11-29T07:00:00",
        "terminals": [{"id": "IN", "role": "entry_gate", "board": "devkitc-turnstile",
                       "config": {"station": XJH, "tariff": "tariffs/shanghai-2017.json"},
                       "vm_heap": "160K"}],
        "cards": [{"name": n, "number": "3101230000000000001%d" % i, "balance_fen": 2000}
                  for i, n in enumerate(("ann", "ben"))],
        "events": [{"at": 2 + 10 * i, "tap": n} for i, n in enumerate(taps)],
    }
    r = Run(data, "test")
    fs = r.sim.filesystem()
    if damage is not None:  # install the tariff, then damage it on flash
        fs.remove("/inbox/tariff.upd")
        _put(fs, "/tariff.bin", damage(ht.build(str(ROOT / "tariffs/shanghai-2017.json"), 1)))
    tid = bytes.fromhex(r.scenario.terminal_config()["terminal_id"])
    for name, make in inbox:
        _put(fs, "/inbox/" + name, host.sign("tariff", 2, tid, make(), r.scenario.update_master()))
    r.run()
    return r


def test_a_damaged_installed_tariff_refuses_each_tap_and_the_gate_keeps_serving(tmp_path):
    r = _gate_run(tmp_path, damage=lambda data: flip(data, 50000 * 8 + 1))
    out = events(r)
    assert [e["reason"] for e in out if e["event"] == "warning"] == [
        "tariff file damaged: checksum mismatch: fares refused"]
    refused = [e for e in out if e["event"] == "refused"]
    assert [e["reason"] for e in refused] == ["tariff damaged", "tariff damaged"]
    assert "REFUSED | tariff damaged" in [e["text"] for e in out if e["event"] == "display"]
    assert not [e for e in out if e["event"] in ("entry", "error", "fault")]
    assert [e["balance"] for e in out if e["event"] == "card"] == [2000, 2000]


def test_a_damaged_tariff_update_is_refused_and_the_gate_charges_by_the_last_good(tmp_path):
    r = _gate_run(tmp_path, inbox=[("zz-tariff", lambda: flip(farekit.payload(version=2), 800))])
    out = events(r)
    assert [(e["kind"], e["version"]) for e in out if e["event"] == "update"] == [("tariff", 1)]
    assert [e["reason"] for e in out if e["event"] == "update-refused"] == [
        "bad payload (tariff file damaged: checksum mismatch)"]
    assert len([e for e in out if e["event"] == "entry"]) == 2
    updates = [(x["kind"], x["tx_type"], x["tseq"]) for x in journal(r)
               if x["kind"].startswith("update-")]
    assert updates == [("update-installed", 1, 1), ("update-refused", 1, 2)]
