"""The terminal transaction sequence never repeats, across reboots and power cuts
(docs/purse.md section 7, docs/stores.md "SAM sequence counter").

The SAM leases sequence numbers in blocks of ``LEASE``: before it hands out the first
number of a block it saves the block's end (the high-water mark) in ``/sam.seq``.
"""

import pytest
from simrun import events, journal, records, scenario

from hw_sim.flash import NorFlash, PowerCut
from hw_sim.issuer import IssuerKeys, issue_card
from hw_sim.lfs import LfsVfs, format_flash
from hw_sim.scenario import Run
from ykt import errors
from ykt.card.purse import PurseCard
from ykt.iso7816 import Iso7816
from ykt.payment import Payments
from ykt.sam import LEASE, SoftSam
from ykt.store.counter import PATH, Counter
from ykt.store.journal import Journal

KEYS = IssuerKeys.from_seed(b"sequence-test")
TERMINAL = bytes.fromhex("290000000001")
CARD_NO = "31012300000000000001"
DT = bytes.fromhex("20261129070000")


def fresh_fs():
    flash = NorFlash(16 * 4096)
    format_flash(flash)
    return LfsVfs(flash)


def reboot(fs):
    """The same flash after the power went off and came back (a new mount)."""
    fs.flash.power_on()
    return LfsVfs(fs.flash)


def write(fs, path, data):
    with fs.open(path, "wb") as f:
        f.write(data)


class CountingLease:
    """A Counter that counts the times the mark is saved."""

    def __init__(self, fs):
        self.counter = Counter(fs)
        self.stores = []

    def load(self):
        return self.counter.load()

    def store(self, v):
        self.stores.append(v)
        self.counter.store(v)


class FailingLease:
    """A lease whose flash refuses writes (``errno``), like a full or failing filesystem."""

    def __init__(self, errno=28):
        self.errno = errno

    def load(self):
        return 0

    def store(self, v):
        if self.errno:
            raise OSError(self.errno)


def sam(lease=None):
    return SoftSam(KEYS.sam_keys(), TERMINAL, lease=lease)


# -- the counter file ------------------------------------------------------------------------


def test_counter_without_a_file_is_zero():
    assert Counter(fresh_fs()).load() == 0


def test_counter_reads_back_the_stored_value_after_a_reboot():
    fs = fresh_fs()
    Counter(fs).store(123456789)
    assert Counter(reboot(fs)).load() == 123456789


def test_counter_file_is_the_value_and_a_crc():
    fs = fresh_fs()
    Counter(fs).store(0x01020304)
    with fs.open(PATH, "rb") as f:
        data = f.read()
    assert len(data) == 8 and data[:4] == bytes.fromhex("01020304")


def test_damaged_counter_file_is_an_error_not_zero():
    fs = fresh_fs()
    Counter(fs).store(512)
    with fs.open(PATH, "rb") as f:
        data = bytearray(f.read())
    data[3] ^= 0x01
    write(fs, PATH, data)
    with pytest.raises(errors.SequenceError, match="sequence counter damaged"):
        Counter(fs).load()


@pytest.mark.parametrize("data", [b"", b"\x00\x00\x02\x00", bytes(12), b"\xff" * 8])
def test_counter_file_of_the_wrong_size_or_blank_is_an_error(data):
    fs = fresh_fs()
    write(fs, PATH, data)
    with pytest.raises(errors.SequenceError):
        Counter(fs).load()


def test_a_power_cut_while_the_counter_is_saved_leaves_the_old_or_the_new_value():
    fs = fresh_fs()
    Counter(fs).store(256)
    base = fs.flash.image()
    probe = NorFlash.from_image(base)
    Counter(LfsVfs(probe)).store(512)
    seen = set()
    for n in range(1, probe.ops + 1):
        flash = NorFlash.from_image(base)
        counter = Counter(LfsVfs(flash))
        flash.cut_at(n)
        with pytest.raises(PowerCut):
            counter.store(512)
        flash.power_on()
        seen.add(Counter(LfsVfs(flash)).load())
    assert seen <= {256, 512} and 256 in seen


# -- SoftSam with a lease --------------------------------------------------------------------


def test_sam_with_a_lease_on_a_new_terminal_starts_at_zero():
    s = sam(Counter(fresh_fs()))
    assert [s.next_sequence() for _ in range(3)] == [0, 1, 2]


@pytest.mark.parametrize("used", [1, LEASE - 1, LEASE, LEASE + 1, 3 * LEASE])
def test_sam_numbers_keep_increasing_across_a_reboot_skipping_less_than_a_lease(used):
    fs = fresh_fs()
    s = sam(Counter(fs))
    before = [s.next_sequence() for _ in range(used)]
    after = sam(Counter(reboot(fs))).next_sequence()
    assert after > before[-1]
    assert after - before[-1] - 1 < LEASE  # numbers never handed out, at most LEASE - 1


def test_sam_saves_the_mark_once_per_lease_block():
    lease = CountingLease(fresh_fs())
    s = sam(lease)
    for _ in range(2 * LEASE + 1):
        s.next_sequence()
    assert lease.stores == [LEASE, 2 * LEASE, 3 * LEASE]


def test_sam_saves_the_mark_before_handing_out_the_first_number():
    lease = CountingLease(fresh_fs())
    s = sam(lease)
    assert lease.stores == []
    s.next_sequence()
    assert lease.stores == [LEASE]


def test_power_cut_while_the_mark_is_saved_never_brings_a_number_back():
    fs = fresh_fs()
    s = sam(Counter(fs))
    handed = [s.next_sequence() for _ in range(LEASE)]  # mark LEASE is on flash
    base = fs.flash.image()
    probe = NorFlash.from_image(base)
    sam(Counter(LfsVfs(probe))).next_sequence()  # after a boot: saves the mark 2 * LEASE
    assert probe.ops > 0
    for n in range(1, probe.ops + 1):
        flash = NorFlash.from_image(base)
        s = sam(Counter(LfsVfs(flash)))
        flash.cut_at(n)
        with pytest.raises(PowerCut):
            s.next_sequence()
        flash.power_on()
        assert sam(Counter(LfsVfs(flash))).next_sequence() > handed[-1], "cut at op %d" % n


def test_sam_refuses_a_number_when_the_mark_cannot_be_saved():
    lease = FailingLease(errno=28)
    s = sam(lease)
    with pytest.raises(errors.SequenceError, match="sequence counter I/O error 28"):
        s.next_sequence()
    lease.errno = 0  # the fault is gone: the next purchase gets a number again
    assert s.next_sequence() == 0


def test_sam_with_a_damaged_counter_hands_out_no_number():
    fs = fresh_fs()
    write(fs, PATH, b"garbage!")
    s = sam(Counter(fs))
    for _ in range(2):
        with pytest.raises(errors.SequenceError, match="damaged"):
            s.next_sequence()


def test_sam_advanced_past_the_mark_saves_a_new_one_first():
    fs = fresh_fs()
    lease = CountingLease(fs)
    s = sam(lease)
    s.next_sequence()
    s.advance_to(1000)
    assert s.next_sequence() == 1000
    assert lease.stores == [LEASE, 1000 + LEASE]
    assert sam(Counter(reboot(fs))).next_sequence() == 1000 + LEASE


def test_sam_advanced_inside_its_lease_saves_nothing_more():
    lease = CountingLease(fresh_fs())
    s = sam(lease)
    s.next_sequence()
    s.advance_to(100)
    assert [s.next_sequence() for _ in range(LEASE - 100)][-1] == LEASE - 1
    assert lease.stores == [LEASE]


def test_sam_never_goes_back_when_advanced_below_its_sequence():
    s = sam(Counter(fresh_fs()))
    s.next_sequence()
    s.next_sequence()
    s.advance_to(1)
    assert s.next_sequence() == 2


def test_sam_without_a_lease_keeps_the_sequence_in_ram_only():
    s = SoftSam(KEYS.sam_keys(), TERMINAL, sequence=41)
    assert [s.next_sequence(), s.next_sequence()] == [41, 42]


def test_restore_starts_the_sam_above_the_unresolved_intents():
    fs = fresh_fs()
    j = Journal(fs, bytes(16), TERMINAL)
    j.open()
    j.append("purchase-intent", time=0, card=CARD_NO, atc=3, amount=350, balance=1000,
             tx_type=6, random=b"\x01\x02\x03\x04", tseq=700)
    s = sam(Counter(fs))
    assert Payments(s, j).restore() == 1
    assert s.next_sequence() == 701


# -- a purchase when the mark cannot be saved -------------------------------------------------


class Link:
    def __init__(self, app):
        self.app = app
        self.sent = []

    def transceive(self, capdu):
        self.sent.append(bytes(capdu))
        return self.app.process(bytes(capdu))


def test_purchase_is_refused_before_debit_when_the_mark_cannot_be_saved():
    app = issue_card(CARD_NO, balance_fen=1000, issuer_keys=KEYS)
    app.power_on()
    link = Link(app)
    card = PurseCard(Iso7816(link))
    card.select()
    with pytest.raises(errors.SequenceError):
        card.purchase(sam(FailingLease()), 200, 0x06, DT)
    assert (app.balance, app.offline_atc, app.log) == (1000, 0, [])
    assert [c for c in link.sent if c[1] == 0x54] == []  # no DEBIT FOR PURCHASE


# -- whole terminals ---------------------------------------------------------------------------

TAPS = ["alice", "bob", "carol", "alice", "bob"]


def _reboot_run():
    """Three purchases, a power cut at the next flash write (the next purchase's intent),
    then the terminal boots from its flash and sells again."""
    ev = [{"at": 1 + 3 * i, "tap": n} for i, n in enumerate(TAPS[:3])]
    ev.append({"at": 9.5, "terminal": "T1", "power_cut": {"after_ops": 1}})
    ev += [{"at": 10 + 3 * i, "tap": n} for i, n in enumerate(TAPS)]
    return scenario(ev, fare=100)


def _intent_tseqs(r):
    return [x["tseq"] for x in records(r) if x["kind"] == "purchase-intent"]


def test_purchases_before_and_after_a_power_cut_never_share_a_sequence_number(tmp_path):
    r = Run(_reboot_run()).run()
    assert r.power_cuts
    tseqs = _intent_tseqs(r)
    purchases = [x["tseq"] for x in records(r) if x["kind"] == "purchase"]
    assert len(purchases) == 8 and len(set(purchases)) == 8
    assert len(set(tseqs)) == len(tseqs)
    assert tseqs[:3] == [0, 1, 2] and tseqs[3] == LEASE  # the reboot skipped the rest


def test_power_cut_run_on_the_micropython_vm_matches_cpython(tmp_path):
    data = _reboot_run()
    cp = Run(data).run()
    mp = Run(data).run("micropython")
    assert mp.power_cuts
    assert mp.lines == cp.lines
    assert records(mp) == records(cp)
    assert len(set(_intent_tseqs(mp))) == len(_intent_tseqs(mp))


def _blocked_counter_run(tmp_path, runtime="cpython", damage=False):
    """A terminal whose counter cannot be saved (a directory sits where the new
    counter file must be written), or whose counter file is damaged."""
    data = scenario([{"at": 1, "tap": "alice"}, {"at": 4, "tap": "bob"}])
    r = Run(data, "test")
    fs = LfsVfs(r.sim.flash)
    if damage:
        write(fs, PATH, b"\x00\x00\x01\x00\xde\xad\xbe\xef")
    else:
        fs.mkdir(PATH + ".new")
    r.run(runtime)
    return r


def test_purchase_is_refused_and_nothing_charged_when_the_counter_cannot_be_saved(tmp_path):
    r = _blocked_counter_run(tmp_path)
    assert [(e["card"][-4:], e["reason"]) for e in events(r, "refused")] == [
        ("0001", "sequence counter I/O error 21"),
        ("0002", "sequence counter I/O error 21")]  # the terminal kept serving
    for name in ("alice", "bob"):
        assert (r.apps[name].balance, r.apps[name].offline_atc) == (1000, 0)
    assert records(r) == []
    assert ("SAM FAULT", "SALES STOPPED") in r.sim.display.history


def test_damaged_counter_stops_sales_instead_of_restarting_at_zero(tmp_path):
    r = _blocked_counter_run(tmp_path, damage=True)
    assert [e["reason"] for e in events(r, "refused")] == ["sequence counter damaged"] * 2
    assert r.apps["alice"].balance == 1000 and records(r) == []
    assert [x["kind"] for x in journal(r)] == ["boot"]


def test_damaged_counter_is_reported_at_boot_and_on_the_idle_screen(tmp_path):
    r = _blocked_counter_run(tmp_path, damage=True)
    warnings = [e["reason"] for e in events(r, "warning")]
    assert warnings == ["sequence counter damaged: sales refused"]
    assert "TAP CARD | SAM FAULT" in [e["text"] for e in events(r, "display")]


def test_refusal_for_an_unsaved_counter_on_the_micropython_vm_matches_cpython(tmp_path):
    cp = _blocked_counter_run(tmp_path / "cp")
    mp = _blocked_counter_run(tmp_path / "mp", runtime="micropython")
    assert mp.lines == cp.lines
    assert mp.apps["alice"].balance == 1000 and records(mp) == []


# -- a floor for re-imaged terminals -------------------------------------------------------


def test_configured_sequence_floor_is_the_first_number_a_new_flash_hands_out(tmp_path):
    ev = [{"at": 1, "tap": "alice"}, {"at": 4, "tap": "bob"}]
    r = Run(scenario(ev, config={"sequence_floor": 70000})).run()
    assert _intent_tseqs(r) == [70000, 70001]


def test_sequence_floor_below_the_saved_mark_changes_nothing(tmp_path):
    data = _reboot_run()
    data["terminals"][0]["config"]["sequence_floor"] = 2
    r = Run(data).run()
    assert _intent_tseqs(r)[:4] == [2, 3, 4, LEASE + 2]


def test_provision_writes_the_sequence_floor_into_the_config(tmp_path):
    import json

    from hostkit import ykt

    master, out = tmp_path / "master.json", tmp_path / "config.json"
    assert ykt("provision", "--new-master-key-file", master).returncode == 0
    p = ykt("provision", "--board", "devkitc-turnstile", "--terminal-id", "290031000102",
            "--role", "fixed_fare", "--fare-fen", 300, "--sequence-floor", 70000,
            "--master-key-file", master, "--out", out)
    assert p.returncode == 0, p.stderr
    assert json.loads(out.read_text())["sequence_floor"] == 70000


def test_provision_refuses_a_negative_sequence_floor(tmp_path):
    from hostkit import ykt

    master = tmp_path / "master.json"
    assert ykt("provision", "--new-master-key-file", master).returncode == 0
    p = ykt("provision", "--board", "devkitc-turnstile", "--terminal-id", "290031000102",
            "--role", "fixed_fare", "--fare-fen", 300, "--sequence-floor", -1,
            "--master-key-file", master, "--out", tmp_path / "c.json")
    assert p.returncode != 0
    assert p.stderr.strip() == "ykt: error: --sequence-floor must be 0 to 4294967295"
    assert not (tmp_path / "c.json").exists()
