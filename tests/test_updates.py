"""Update files: host-signed envelopes checked and installed atomically by the firmware."""

import json
import random

import pytest
import vmscripts

from host_tools import cli
from host_tools.lib import denylist as hostdl
from host_tools.lib import updates as host
from hw_sim.flash import NorFlash, PowerCut
from hw_sim.lfs import LfsVfs, format_flash
from ykt import crypto
from ykt.store import updates as fw
from ykt.store.denylist import Denylist
from ykt.store.updates import UpdateRefused, Updates
from ykt.store.vfs import Vfs

MASTER = bytes.fromhex("00112233445566778899aabbccddeeff")
TID = bytes.fromhex("000000000101")
OTHER = bytes.fromhex("000000000202")


def small_tariff(version, base_fen=300):
    """A compiled tariff of the Line 1 stations alone (2 KB): the installer checks payloads."""
    import farekit

    from host_tools.lib import tariff as ht

    src = farekit.source()
    src["stations"] = [dict(s, lines=["1"]) for s in src["stations"] if "1" in s["lines"]]
    src["edges"] = [e for e in src["edges"] if e["line"] == "1"]
    src["lines"] = [line for line in src["lines"] if line["id"] == "1"]
    src["line_exceptions"] = []
    src["metro_fare"]["base_fen"] = base_fen
    return ht.compile_payload(ht.validate(src), version)


OLD_TARIFF = small_tariff(5, 200)
NEW_TARIFF = small_tariff(6, 250)


def put(fs, path, data):
    with fs.open(path, "wb") as f:
        f.write(data)


def get(fs, path):
    with fs.open(path, "rb") as f:
        return f.read()


def exists(fs, path):
    try:
        fs.stat(path)
    except OSError:
        return False
    return True


def formatted(blocks=64):
    flash = NorFlash(blocks * 4096)
    format_flash(flash)
    return flash


@pytest.fixture(params=["dir", "littlefs"])
def fs(request, tmp_path):
    fs = Vfs(str(tmp_path)) if request.param == "dir" else LfsVfs(formatted())
    fs.mkdir("/inbox")
    return fs


def updates(fs, tid=TID):
    return Updates(fs, fw.device_key(MASTER, tid), tid)


def sign(kind, version, payload, tid=TID, master=MASTER):
    return host.sign(kind, version, tid, payload, master)


def installed_tariff_v5(fs):
    """A terminal with tariff v5 in force, installed the ordinary way."""
    put(fs, "/inbox/t5", sign("tariff", 5, OLD_TARIFF))
    assert updates(fs).scan_inbox()[0].installed
    return fs


# -- keys and envelopes --------------------------------------------------------------------

def test_host_and_firmware_derive_the_same_device_key():
    assert host.device_key(MASTER, TID) == fw.device_key(MASTER, TID)
    assert fw.device_key(MASTER, TID) == crypto.diversify(MASTER, b"\xff\xff" + TID)


def test_each_device_has_its_own_update_key():
    assert fw.device_key(MASTER, TID) != fw.device_key(MASTER, OTHER)


def test_streamed_cmac_equals_one_shot_cmac_for_any_chunking():
    rng = random.Random(1)
    key = bytes(range(16))
    for length in list(range(0, 70)) + [511, 512, 513, 4096, 5000]:
        msg = rng.randbytes(length)
        mac = fw._Cmac(key, length)
        i = 0
        while i < length:
            k = rng.choice((1, 3, 15, 16, 17, 100, 600))
            mac.update(msg[i:i + k])
            i += k
        assert mac.digest() == crypto.cmac(key, msg), length


def test_check_returns_kind_version_and_payload(fs):
    assert updates(fs).check(sign("config", 2, b'{"fare_fen": 200}')) == (
        fw.KIND_CONFIG, 2, b'{"fare_fen": 200}')


def test_check_of_a_file_gives_the_payload_offset_and_length(fs):
    put(fs, "/inbox/c", sign("config", 2, b'{"fare_fen": 200}'))
    assert updates(fs).check("/inbox/c") == (fw.KIND_CONFIG, 2, (20, 17))


# -- installing ---------------------------------------------------------------------------

def test_good_file_is_installed_with_its_version_and_leaves_the_inbox(fs):
    installed_tariff_v5(fs)
    put(fs, "/inbox/t6", sign("tariff", 6, NEW_TARIFF))
    out = updates(fs).scan_inbox()
    assert out == [fw.Outcome("t6", "tariff", 6, True, "")]
    assert get(fs, "/tariff.bin") == NEW_TARIFF
    assert updates(fs).installed_version("tariff") == 6
    assert fs.listdir("/inbox") == []


def test_installed_versions_survive_a_new_updates_object(fs):
    installed_tariff_v5(fs)
    put(fs, "/inbox/c", sign("config", 9, b"{}"))
    updates(fs).scan_inbox()
    u = updates(fs)
    assert (u.installed_version(fw.KIND_TARIFF), u.installed_version("config"),
            u.installed_version("staff")) == (5, 9, 0)


def test_every_kind_installs_to_its_target(fs):
    payloads = {"tariff": small_tariff(1), "config": b"{}", "staff": b"S",
                "denylist": hostdl.build_base([("3" * 20, 1)], 4),
                "denylist-delta": hostdl.build_delta(4, 5, add=[("4" * 20, 2)])}
    for i, (kind, payload) in enumerate(payloads.items()):
        version = {"denylist": 4, "denylist-delta": 5}.get(kind, 1)
        put(fs, "/inbox/%02d" % i, sign(kind, version, payload))
    assert all(o.installed for o in updates(fs).scan_inbox())
    for kind, payload in payloads.items():
        assert get(fs, fw.KINDS[host.KINDS[kind]][1]) == payload


def test_installed_denylist_and_delta_are_in_force(fs):
    put(fs, "/inbox/1", sign("denylist", 4, hostdl.build_base([("3" * 20, 1)], 4)))
    put(fs, "/inbox/2", sign("denylist-delta", 5, hostdl.build_delta(4, 5, add=[("4" * 20, 2)])))
    updates(fs).scan_inbox()
    d = Denylist(fs)
    assert (d.contains("3" * 20), d.contains("4" * 20), d.version) == ((True, 1), (True, 2), 5)


def test_the_same_envelope_again_is_reported_already_installed(fs):
    installed_tariff_v5(fs)
    put(fs, "/inbox/again", sign("tariff", 5, OLD_TARIFF))
    assert updates(fs).scan_inbox() == [
        fw.Outcome("again", "tariff", 5, True, "already installed")]
    assert fs.listdir("/inbox") == []


def test_inbox_is_processed_in_name_order_with_one_outcome_per_file(fs):
    put(fs, "/inbox/b-garbage", b"hello")
    put(fs, "/inbox/c-config", sign("config", 1, b"{}"))
    put(fs, "/inbox/a-tariff", sign("tariff", 1, small_tariff(1)))
    out = updates(fs).scan_inbox()
    assert [(o.name, o.installed, o.reason) for o in out] == [
        ("a-tariff", True, ""), ("b-garbage", False, "bad magic"), ("c-config", True, "")]
    assert fs.listdir("/inbox") == []


def test_missing_inbox_gives_no_outcomes(tmp_path):
    assert updates(Vfs(str(tmp_path))).scan_inbox() == []


# -- refusals: each with its reason, the installed file untouched ---------------------------

def _forged(fs):
    return sign("tariff", 6, NEW_TARIFF, master=bytes(16))


def _payload_flipped(fs):
    data = bytearray(sign("tariff", 6, NEW_TARIFF))
    data[30] ^= 0x01
    return bytes(data)


def _for_other_device(fs):
    return sign("tariff", 6, NEW_TARIFF, tid=OTHER)


def _header_retargeted(fs):
    data = bytearray(sign("tariff", 6, NEW_TARIFF, tid=OTHER))
    data[6:12] = TID  # names this device, but MACed with the other device's key
    return bytes(data)


REFUSALS = {
    "forged_mac": (_forged, "corrupt (MAC mismatch)"),
    "payload_tampered": (_payload_flipped, "corrupt (MAC mismatch)"),
    "wrong_device": (_for_other_device, "not for this device"),
    "retargeted_header": (_header_retargeted, "corrupt (MAC mismatch)"),
    "older": (lambda fs: sign("tariff", 3, NEW_TARIFF), "older than installed (v3 <= v5)"),
    "same_version": (lambda fs: sign("tariff", 5, NEW_TARIFF), "older than installed (v5 <= v5)"),
    "truncated": (lambda fs: sign("tariff", 6, NEW_TARIFF)[:-7], "truncated"),
    "truncated_header": (lambda fs: sign("tariff", 6, NEW_TARIFF)[:11], "truncated"),
    "empty": (lambda fs: b"", "truncated"),
    "trailing_bytes": (lambda fs: sign("tariff", 6, NEW_TARIFF) + b"\0",
                       "corrupt (trailing bytes)"),
    "garbage": (lambda fs: random.Random(2).randbytes(300), "bad magic"),
    "unknown_kind": (lambda fs: host.sign(99, 6, TID, NEW_TARIFF, MASTER), "unknown kind"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_file_leaves_the_installed_file_in_force(fs, case):
    make, reason = REFUSALS[case]
    installed_tariff_v5(fs)
    versions = get(fs, "/versions")
    put(fs, "/inbox/bad", make(fs))
    out = updates(fs).scan_inbox()
    assert [(o.installed, o.reason) for o in out] == [(False, reason)]
    assert get(fs, "/tariff.bin") == OLD_TARIFF
    assert get(fs, "/versions") == versions
    assert fs.listdir("/inbox") == []  # refused files are deleted, not retried
    assert not exists(fs, "/tariff.bin.new")


@pytest.mark.parametrize("case", list(REFUSALS))
def test_check_raises_update_refused_with_the_reason(fs, case):
    make, reason = REFUSALS[case]
    installed_tariff_v5(fs)
    with pytest.raises(UpdateRefused) as e:
        updates(fs).check(make(fs))
    assert e.value.reason == reason == str(e.value)


def test_refused_outcome_names_kind_and_version_when_the_header_is_readable(fs):
    installed_tariff_v5(fs)
    put(fs, "/inbox/old", sign("tariff", 4, b"x"))
    assert updates(fs).scan_inbox() == [
        fw.Outcome("old", "tariff", 4, False, "older than installed (v4 <= v5)")]


def test_denylist_payload_of_another_version_is_refused(fs):
    payload = hostdl.build_base([("3" * 20, 1)], 7)
    put(fs, "/inbox/d", host.sign("denylist", 8, TID, payload, MASTER, check=False))
    out = updates(fs).scan_inbox()
    assert (out[0].installed, out[0].reason) == (False, "bad payload (not a denylist file of v8)")
    assert not exists(fs, "/denylist.bin")


def test_delta_for_another_base_is_refused(fs):
    put(fs, "/inbox/1", sign("denylist", 4, hostdl.build_base([("3" * 20, 1)], 4)))
    put(fs, "/inbox/2", sign("denylist-delta", 7, hostdl.build_delta(6, 7, add=[("4" * 20, 2)])))
    out = updates(fs).scan_inbox()
    assert (out[1].installed, out[1].reason) == (False, "delta for denylist v6, installed is v4")
    assert not exists(fs, "/denylist.delta")


# -- atomicity ------------------------------------------------------------------------------

def test_leftover_new_file_is_ignored_and_cleaned_by_the_next_scan(fs):
    put(fs, "/denylist.bin", hostdl.build_base([("3" * 20, 1)], 4))
    put(fs, "/denylist.bin.new", b"half-written denylist from a power cut")
    assert Denylist(fs).contains("3" * 20) == (True, 1)
    assert updates(fs).scan_inbox() == []
    assert not exists(fs, "/denylist.bin.new")
    assert get(fs, "/denylist.bin") == hostdl.build_base([("3" * 20, 1)], 4)


def test_io_error_keeps_the_inbox_file_for_a_retry_and_the_old_file_in_force(fs):
    installed_tariff_v5(fs)

    class FailingWrite:
        def __getattr__(self, name):
            return getattr(fs, name)

        def open(self, path, mode="rb"):
            if path.endswith(".new") and mode == "wb":
                raise OSError(5)
            return fs.open(path, mode)

    put(fs, "/inbox/t6", sign("tariff", 6, NEW_TARIFF))
    out = Updates(FailingWrite(), fw.device_key(MASTER, TID), TID).scan_inbox()
    assert [(o.installed, o.reason) for o in out] == [(False, "I/O error 5")]
    assert get(fs, "/tariff.bin") == OLD_TARIFF
    assert fs.listdir("/inbox") == ["t6"]
    assert updates(fs).scan_inbox()[0].installed


def test_update_too_big_for_the_flash_left_is_refused_and_its_room_given_back():
    fs = LfsVfs(formatted(blocks=24))  # 96 KB of flash
    fs.mkdir("/inbox")
    installed_tariff_v5(fs)
    big = bytes(random.Random(6).randbytes(40 * 1024))
    put(fs, "/inbox/t6", sign("config", 6, big))
    free_before = fs.statvfs("/")[3]
    out = updates(fs).scan_inbox()
    assert [(o.installed, o.reason) for o in out] == [
        (False, "no room on flash to install it (%d bytes)" % len(sign("config", 6, big)))]
    assert get(fs, "/tariff.bin") == OLD_TARIFF
    assert fs.listdir("/inbox") == []
    assert fs.statvfs("/")[3] > free_before  # the journal has its room back


def test_install_cut_before_the_inbox_file_went_completes_as_already_installed(fs):
    installed_tariff_v5(fs)
    envelope = sign("tariff", 6, NEW_TARIFF)
    put(fs, "/inbox/t6", envelope)
    updates(fs).scan_inbox()
    put(fs, "/inbox/t6", envelope)  # as if the power died just before the remove
    out = updates(fs).scan_inbox()
    assert [(o.installed, o.reason) for o in out] == [(True, "already installed")]
    assert fs.listdir("/inbox") == []


def _terminal(old_image):
    flash = NorFlash.from_image(old_image)
    return flash, LfsVfs(flash)


def test_power_cut_at_every_flash_operation_leaves_the_old_or_the_new_file():
    flash = formatted(32)
    fs = LfsVfs(flash)
    fs.mkdir("/inbox")
    installed_tariff_v5(fs)
    put(fs, "/inbox/t6", sign("tariff", 6, NEW_TARIFF))
    before = flash.image()

    flash, fs = _terminal(before)
    start = flash.ops
    updates(fs).scan_inbox()
    total = flash.ops - start
    assert total > 5

    seen = set()
    for n, partial in [(n, p) for n in range(1, total + 1) for p in (None, 7)]:
        flash, fs = _terminal(before)
        flash.cut_at(n, partial)
        with pytest.raises(PowerCut):
            updates(fs).scan_inbox()
        flash.power_on()
        fs = LfsVfs(NorFlash.from_image(flash.image()))
        tariff = get(fs, "/tariff.bin")
        assert tariff in (OLD_TARIFF, NEW_TARIFF), n
        version = updates(fs).installed_version("tariff")
        pending = fs.listdir("/inbox") == ["t6"]
        # the recorded version never runs ahead of the file, and a finished install
        # never leaves its inbox file behind unrecorded
        assert (tariff, version) in ((OLD_TARIFF, 5), (NEW_TARIFF, 5), (NEW_TARIFF, 6)), n
        assert pending or (tariff, version) == (NEW_TARIFF, 6), n
        seen.add((tariff, version, pending))
        out = updates(fs).scan_inbox()  # the next boot finishes the job
        assert [o.installed for o in out] == ([True] if pending else [])
        assert (get(fs, "/tariff.bin"), updates(fs).installed_version("tariff")) == (NEW_TARIFF, 6)
        assert not exists(fs, "/tariff.bin.new") and not exists(fs, "/versions.new")
    assert (OLD_TARIFF, 5, True) in seen and (NEW_TARIFF, 6, True) in seen


# -- host command -------------------------------------------------------------------------

def test_cli_signed_file_installs_on_the_terminal(tmp_path, capsys):
    (tmp_path / "master.hex").write_text(MASTER.hex() + "\n")
    (tmp_path / "tariff.bin").write_bytes(NEW_TARIFF)
    assert cli.main(["update", "sign", "--kind", "tariff", "--version", "6", "--device",
                     TID.hex(), "--master-key-file", str(tmp_path / "master.hex"),
                     str(tmp_path / "tariff.bin"), "-o", str(tmp_path / "t6.ykup")]) == 0
    fs = Vfs(str(tmp_path))
    assert updates(fs).check("/t6.ykup") == (fw.KIND_TARIFF, 6, (20, len(NEW_TARIFF)))


def test_cli_bad_device_id_is_one_line_and_exits_2(tmp_path, capsys):
    (tmp_path / "master.hex").write_text(MASTER.hex())
    (tmp_path / "p").write_bytes(b"x")
    rc = cli.main(["update", "sign", "--kind", "tariff", "--version", "1", "--device", "0101",
                   "--master-key-file", str(tmp_path / "master.hex"), str(tmp_path / "p"),
                   "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "terminal id" in err


def test_cli_refuses_a_denylist_payload_whose_version_differs(tmp_path, capsys):
    (tmp_path / "master.hex").write_text(MASTER.hex())
    (tmp_path / "d.bin").write_bytes(hostdl.build_base([("3" * 20, 1)], 7))
    rc = cli.main(["update", "sign", "--kind", "denylist", "--version", "8", "--device",
                   TID.hex(), "--master-key-file", str(tmp_path / "master.hex"),
                   str(tmp_path / "d.bin"), "-o", str(tmp_path / "out")])
    assert rc == 2 and "v7, not v8" in capsys.readouterr().err


def _sign_staff(tmp_path, payload):
    """`ykt update sign --kind staff` as an operator runs it (a subprocess)."""
    from hostkit import ykt

    (tmp_path / "master.hex").write_text(MASTER.hex())
    (tmp_path / "staff.json").write_bytes(payload)
    return ykt("update", "sign", "--kind", "staff", "--version", "2", "--device", TID.hex(),
               "--master-key-file", tmp_path / "master.hex", tmp_path / "staff.json",
               "-o", tmp_path / "out")


def test_cli_signs_a_staff_list_the_pos_accepts(tmp_path):
    entry = {"card": "31012399000000000001", "name": "WANG", "role": "cashier",
             "salt": "00" * 16, "pin_sha256": "11" * 32}
    run = _sign_staff(tmp_path, json.dumps([entry]).encode())
    assert run.returncode == 0, run.stderr
    fs = Vfs(str(tmp_path))
    assert updates(fs).check("/out")[:2] == (fw.KIND_STAFF, 2)


@pytest.mark.parametrize("payload, says", [
    (b"S", "not JSON"),
    (b'{"card": "1"}', "must be a list"),
    (b'[{"card": "31012399000000000001", "name": "WANG", "role": "boss"}]',
     "staff[0]: role must be cashier or supervisor"),
])
def test_cli_refuses_a_staff_list_the_pos_would_refuse(tmp_path, payload, says):
    run = _sign_staff(tmp_path, payload)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and says in run.stderr
    assert not (tmp_path / "out").exists()


def test_cli_show_prints_the_header_and_checks_the_mac(tmp_path, capsys):
    (tmp_path / "master.hex").write_text(MASTER.hex())
    (tmp_path / "u").write_bytes(sign("config", 3, b"{}"))
    assert cli.main(["update", "show", str(tmp_path / "u"), "--master-key-file",
                     str(tmp_path / "master.hex")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["kind"], info["version"], info["terminal"], info["mac_ok"]) == (
        "config", 3, TID.hex(), True)


# -- the MicroPython VM ---------------------------------------------------------------------

def run_vm(tmp_path, *args):
    """tests/vm/updates_inbox.py on the VM over the host directory ``tmp_path``."""
    proc = vmscripts.run("updates_inbox", tmp_path, MASTER.hex(), TID.hex(), *args,
                         timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [json.loads(x) for x in proc.stdout.splitlines()]


def test_vm_verifies_the_same_envelopes(tmp_path):
    fs = Vfs(str(tmp_path))
    put(fs, "/good", sign("config", 3, b'{"fare_fen": 200}' * 40))
    put(fs, "/forged", _forged(fs))
    put(fs, "/other", _for_other_device(fs))
    out = run_vm(tmp_path, "check", "good", "forged", "other", "--data", tmp_path / "good")
    assert out == [[4, 3, [20, 680]], "corrupt (MAC mismatch)", "not for this device", [4, 3, 680]]


def test_vm_installs_a_denylist_far_larger_than_its_heap(tmp_path):
    numbers = hostdl.sample_numbers(250_000, seed=3)
    payload = hostdl.build_base([(no, 1) for no in numbers], 11)
    assert len(payload) > 2 * 96 * 1024
    fs = Vfs(str(tmp_path))
    fs.mkdir("/inbox")
    put(fs, "/inbox/d11", sign("denylist", 11, payload))
    out = run_vm(tmp_path, "scan", numbers[777])
    assert out == [["d11", "denylist", 11, True, ""], [11, [True, 1], [False, 0]]]
    assert get(fs, "/denylist.bin") == payload
