"""A way back for a clock that ran ahead: the signed `clock` update (and `Context.set_clock`
for the POS supervisor menu) sets the RTC and journals `clock-set`, and the boot clock check
takes that record as its new baseline (docs/architecture.md "A clock that lost its time")."""

import json
import os

import pytest
from simrun import events, journal, scenario

from host_tools import cli
from host_tools.lib import updates as host
from hw_sim.flash import NorFlash
from hw_sim.scenario import Run, Scenario
from ykt import caltime
from ykt.store import updates as fw

MASTER = bytes.fromhex("00112233445566778899aabbccddeeff")
TID = bytes.fromhex("000000000101")
CARDS = [{"name": n, "number": "310123000000000000%02d" % i, "balance_fen": 1000}
         for i, n in enumerate(("alice", "bob", "carol", "dave", "erin"), 1)]
AHEAD = "2027-11-29T07:00:01"  # the typo: a year ahead


def _phase(tmp_path, name, evts, start, flash=None, clock_updates=(), runtime="cpython"):
    """One run of the fixed-fare terminal T1, booting from ``flash`` (a NorFlash image of an
    earlier phase) with the signed clock updates ``(version, time)`` left in its inbox."""
    data = scenario(evts, cards=CARDS, start=start)
    # the update installer on top of the fixed-fare loop needs about 120K on the VM, more
    # than its default 128K
    data["terminals"][0]["vm_heap"] = "160K"
    os.makedirs(str(tmp_path / name))
    r = Run(data, "test")
    if flash is not None:
        r.sim.flash = NorFlash.from_image(flash.image())
    fs = r.sim.filesystem()
    tid = bytes.fromhex(r.scenario.terminal_config()["terminal_id"])
    for version, when in clock_updates:
        with fs.open("/inbox/clock-%d.upd" % version, "wb") as f:
            f.write(host.sign("clock", version, tid, when.encode(), r.scenario.update_master()))
    r.run(runtime)
    return r


def _stuck(tmp_path):
    """The clock is set a year ahead, alice pays (a record in 2027), the clock is set back,
    the power fails during bob's tap and the terminal boots from its flash: bob and carol are
    refused, "clock not set"."""
    return _phase(tmp_path, "stuck", [
        {"at": 1, "set_clock": AHEAD}, {"at": 3, "tap": "alice"},
        {"at": 10, "set_clock": "2026-11-29T07:00:10"},
        {"at": 15, "power_cut": {"after_ops": 1}}, {"at": 16, "tap": "bob"},
        {"at": 25, "tap": "carol"}], "2026-11-29T07:00:00")


@pytest.fixture(scope="module")
def stuck(tmp_path_factory):
    return _stuck(tmp_path_factory.mktemp("clock"))


@pytest.fixture(scope="module")
def fixed(tmp_path_factory, stuck):
    """The back office sends a clock update (v1, the time it signs it): at the next boot the
    terminal sets its clock, dave pays; the power fails during erin's tap, and after that
    boot erin pays too."""
    return _phase(tmp_path_factory.mktemp("clock"), "fixed", [
        {"at": 5, "tap": "dave"},
        {"at": 15, "power_cut": {"after_ops": 1}}, {"at": 16, "tap": "erin", "hold_ms": 400},
        {"at": 25, "tap": "erin"}], "2026-11-29T08:00:00", flash=stuck.sim.flash,
        clock_updates=[(1, "2026-11-29T08:00:00")])


# -- the problem -------------------------------------------------------------------------------

def test_a_clock_set_back_below_its_own_records_refuses_every_card_after_a_reboot(stuck):
    out = events(stuck)
    assert [e["reason"] for e in out if e["event"] == "warning"] == [
        "clock behind the records: set the clock"]
    assert [e["reason"] for e in out if e["event"] == "refused"][-1] == "clock not set"
    assert [e["balance"] for e in out if e["event"] == "card"] == [650, 1000, 1000, 1000, 1000]
    assert [x["time"] for x in journal(stuck) if x["kind"] == "purchase"] == [
        "2027-11-29T07:00:03"]


# -- the clock update ----------------------------------------------------------------------------

def test_a_signed_clock_update_brings_the_terminal_back_into_service(fixed):
    out = events(fixed)
    assert [e["event"] for e in out if e["event"] in ("warning", "clock-set", "update")][:3] == [
        "warning", "clock-set", "update"]
    [update] = [e for e in out if e["event"] == "update"][:1]
    assert (update["kind"], update["version"]) == ("clock", 1)
    assert fixed.apps["dave"].balance == 650


def test_the_clock_set_record_carries_the_new_time_and_the_change(fixed):
    [rec] = [x for x in journal(fixed) if x["kind"] == "clock-set"]
    assert rec["time"] == "2026-11-29T08:00:00"
    assert (rec["amount"], rec["tx_type"]) == (0, 1)  # the RTC was right: no change; by update
    installed = [x for x in journal(fixed) if x["kind"] == "update-installed"]
    assert [(x["tx_type"], x["tseq"]) for x in installed] == [(6, 1)]
    assert installed[0]["seq"] == rec["seq"] + 1


def test_after_the_clock_update_the_terminal_serves_across_reboots(fixed):
    out = events(fixed)
    assert [e["event"] for e in out].count("boot") == 2
    assert not [e for e in out if e["event"] == "refused"]
    assert [e["reason"] for e in out if e["event"] == "warning"] == [
        "clock behind the records: set the clock"]  # the first boot only
    assert fixed.apps["erin"].balance == 650


def test_a_clock_update_that_moves_the_clock_says_by_how_much(tmp_path):
    r = _phase(tmp_path, "moved", [{"at": 5, "tap": "alice"}], "2026-11-29T07:00:00",
               clock_updates=[(3, "2026-11-29T06:30:00")])
    [line] = events(r, "clock-set")
    assert (line["clock"], line["was"], line["source"]) == (
        "2026-11-29T06:30:00", "2026-11-29T07:00:00", "update")
    [rec] = [x for x in journal(r) if x["kind"] == "clock-set"]
    assert rec["amount"] == -1800
    [sale] = [x for x in journal(r) if x["kind"] == "purchase"]
    assert sale["time"].startswith("2026-11-29T06:30:0")


def test_the_same_clock_update_again_does_not_set_the_clock_again(tmp_path, fixed):
    r = _phase(tmp_path, "again", [{"at": 5, "tap": "alice"}], "2026-11-29T09:00:00",
               flash=fixed.sim.flash, clock_updates=[(1, "2026-11-29T08:00:00")])
    assert not events(r, "clock-set")
    assert [x["kind"] for x in journal(r)].count("clock-set") == 1
    [sale] = [x for x in journal(r) if x["kind"] == "purchase" and x["card"].endswith("01")][-1:]
    assert sale["time"].startswith("2026-11-29T09:00:0")


def test_an_older_clock_update_is_refused_as_a_replay(tmp_path):
    r = _phase(tmp_path, "replay", [], "2026-11-29T07:00:00",
               clock_updates=[(2, "2026-11-29T07:00:00"), (1, "2026-11-29T06:00:00")])
    # name order: clock-1.upd first, then clock-2.upd; then v1 again would be older
    assert [e["kind"] for e in events(r, "update")] == ["clock", "clock"]
    r2 = _phase(tmp_path, "replay2", [], "2026-11-29T07:30:00", flash=r.sim.flash,
                clock_updates=[(1, "2026-11-29T06:00:00")])
    assert [e["reason"] for e in events(r2, "update-refused")] == [
        "older than installed (v1 <= v2)"]
    assert not events(r2, "clock-set")


def test_a_clock_update_with_a_bad_time_is_refused():
    fs = _fs()
    data = host.sign("clock", 1, TID, b"2026-02-30T07:00:00", MASTER, check=False)
    with pytest.raises(fw.UpdateRefused, match=r"bad payload \(no such time 2026-02-30T07:00:00\)"):
        _updates(fs).check(data)
    data = host.sign("clock", 1, TID, b"2023-12-31T23:59:59", MASTER, check=False)
    with pytest.raises(fw.UpdateRefused, match=r"bad payload \(year 2023 outside 2024..2099\)"):
        _updates(fs).check(data)
    data = host.sign("clock", 1, TID, b"tomorrow", MASTER, check=False)
    with pytest.raises(fw.UpdateRefused, match="not a time like"):
        _updates(fs).check(data)


def test_the_installer_hands_the_time_to_the_terminal_and_records_the_version():
    fs = _fs()
    got = []
    with fs.open("/inbox/c", "wb") as f:
        f.write(host.sign("clock", 7, TID, b"2026-11-29T07:00:00\n", MASTER))
    u = fw.Updates(fs, fw.device_key(MASTER, TID), TID, set_clock=got.append)
    assert u.scan_inbox() == [fw.Outcome("c", "clock", 7, True, "")]
    assert got == [caltime.secs(2026, 11, 29, 7, 0, 0)]
    assert u.installed_version("clock") == 7
    assert fs.listdir("/inbox") == []


def test_a_clock_update_the_terminal_cannot_journal_stays_in_the_inbox():
    from ykt.store.journal import JournalFull

    def full(secs):
        raise JournalFull("journal full: upload records")

    fs = _fs()
    with fs.open("/inbox/c", "wb") as f:
        f.write(host.sign("clock", 7, TID, b"2026-11-29T07:00:00", MASTER))
    u = fw.Updates(fs, fw.device_key(MASTER, TID), TID, set_clock=full)
    assert u.scan_inbox() == [
        fw.Outcome("c", "clock", 7, False, "clock not set: journal full: upload records")]
    assert fs.listdir("/inbox") == ["c"]
    assert u.installed_version("clock") == 0


def _fs():
    from hw_sim.lfs import LfsVfs, format_flash

    flash = NorFlash(32 * 4096)
    format_flash(flash)
    fs = LfsVfs(flash)
    fs.mkdir("/inbox")
    return fs


def _updates(fs):
    return fw.Updates(fs, fw.device_key(MASTER, TID), TID)


# -- Context.set_clock (for the POS supervisor menu) ---------------------------------------------

@pytest.fixture
def ctx():
    """A Context on a simulated fixed-fare terminal (2026-11-29 07:00) whose journal holds a
    record a year ahead."""
    from hw_sim.runtime import install
    from hw_sim.terminal import SimTerminal

    install()
    sc = Scenario(scenario([], start="2026-11-29T07:00:00"), "test")
    t = sc.terminals[0]
    sim = SimTerminal(t["board_data"], start=sc.start).activate()
    from ykt.main import Context

    c = Context(t["board_data"], sc.terminal_config(t), sim.filesystem())
    c.journal.append("boot", time=caltime.secs(2027, 11, 29, 7, 0, 0))
    c.clock_floor = c.journal.last_time - 300  # as the boot check would find it
    return c


def test_set_clock_sets_the_rtc_and_journals_who_did_it(ctx, capsys):
    from ykt import clock

    assert not ctx.clock_ok()
    ctx.set_clock(caltime.secs(2026, 11, 29, 7, 5, 0), "staff", card="31012300000000000099")
    assert clock.iso() == "2026-11-29T07:05:00"
    assert ctx.clock_ok()
    rec = list(ctx.journal.records())[-1]
    assert (rec.kind, rec.time, rec.amount, rec.tx_type, rec.card) == (
        0x02, caltime.secs(2026, 11, 29, 7, 5, 0), 300, 2, "31012300000000000099")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["event"], line["clock"], line["source"]) == (
        "clock-set", "2026-11-29T07:05:00", "staff")


def test_set_clock_survives_a_reboot_as_the_new_baseline(ctx):
    from ykt.store.journal import Journal

    ctx.set_clock(caltime.secs(2026, 11, 29, 7, 5, 0))
    j = Journal(ctx.fs, bytes.fromhex(ctx.config["keys"]["device"]), ctx.terminal_id)
    j.open()
    assert j.last_time == caltime.secs(2026, 11, 29, 7, 5, 0)


@pytest.mark.parametrize("when", [(2023, 12, 31, 23, 59, 59), (2100, 1, 1, 0, 0, 0)])
def test_set_clock_outside_2024_to_2099_changes_nothing(ctx, when):
    from ykt import clock

    before = ctx.journal.last_seq
    with pytest.raises(ValueError, match="outside 2024..2099"):
        ctx.set_clock(caltime.secs(*when))
    assert ctx.journal.last_seq == before
    assert clock.iso().startswith("2026-11-29T07:00")


# -- the journal's baseline ----------------------------------------------------------------------

def test_journal_last_time_restarts_at_a_clock_set_record(tmp_path):
    from ykt.store.journal import Journal
    from ykt.store.vfs import Vfs

    key, tid = bytes(16), bytes(6)
    j = Journal(Vfs(str(tmp_path)), key, tid)
    j.open()
    j.append("boot", time=2000)
    j.append("clock-set", time=1000, amount=-1000)
    assert j.last_time == 1000
    j.append("boot", time=1500)
    j.append("boot", time=1200)
    assert j.last_time == 1500
    again = Journal(Vfs(str(tmp_path)), key, tid)
    again.open()
    assert again.last_time == 1500


# -- signing: ykt update sign --kind clock ------------------------------------------------------

def _sign(tmp_path, *args):
    (tmp_path / "key").write_text(MASTER.hex())
    return cli.main(["update", "sign", "--kind", "clock", "--version", "4", "--device",
                     TID.hex(), "--master-key-file", str(tmp_path / "key"),
                     "-o", str(tmp_path / "c.upd")] + list(args))


def test_cli_signs_a_clock_update_from_time(tmp_path):
    assert _sign(tmp_path, "--time", "2026-11-29 08:00") == 0
    data = (tmp_path / "c.upd").read_bytes()
    assert _updates(_fs()).check(data) == (fw.KIND_CLOCK, 4, b"2026-11-29T08:00:00")


@pytest.mark.parametrize("args, says", [
    (["--time", "2026-13-01T00:00:00"], "is not a time like 2026-11-29T07:00:00"),
    (["--time", "2019-01-01T00:00:00"], "year 2019 outside 2024..2099"),
    ([], "give the payload file to sign (or --time for a clock update)"),
])
def test_cli_refuses_a_bad_clock_time_in_one_line(tmp_path, capsys, args, says):
    assert _sign(tmp_path, *args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert not (tmp_path / "c.upd").exists()


# -- the MicroPython VM --------------------------------------------------------------------------

def test_the_clock_update_gives_the_same_output_on_the_micropython_vm(tmp_path, stuck, fixed):
    evts = [{"at": 5, "tap": "dave"}, {"at": 15, "power_cut": {"after_ops": 1}},
            {"at": 16, "tap": "erin", "hold_ms": 400}, {"at": 25, "tap": "erin"}]
    vm = _phase(tmp_path, "vm", evts, "2026-11-29T08:00:00", flash=stuck.sim.flash,
                clock_updates=[(1, "2026-11-29T08:00:00")], runtime="micropython")
    assert vm.lines == fixed.lines
