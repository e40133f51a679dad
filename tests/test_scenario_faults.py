"""Scenario events that inject what the world does to a terminal (docs/scenarios.md).

Faults on the card's answer at APDU n (garbled, dropped, late), attackers' cards (a wrong
MAC2, replayed answers), noise on the reader's line on every bus, a power cut during the
boot-time update install, and the subsidy purse in the card lines. The tests check what
the models did (the card committed, the reader got no good answer) and that the terminal
kept serving; how a terminal settles a debit it could not confirm is the payment tests'
business.
"""

import json
import subprocess
import sys

import pytest
from simrun import NUMBERS, events, records, scenario

from hw_sim.faults import ForgedMac2, ReplayCard, noise_on_reader
from hw_sim.flash import NorFlash
from hw_sim.iso14443 import Card14443, Field
from hw_sim.lfs import LfsVfs
from hw_sim.pn532_isodep import ERR_CRC, ERR_TIMEOUT, RfError
from hw_sim.pn532_rf import Initiator
from hw_sim.scenario import ROOT, Run, Scenario, ScenarioError

DEBIT = 3  # SELECT, INITIALIZE FOR PURCHASE, DEBIT FOR PURCHASE on a fixed-fare terminal
S = 1000000


def _before(r, kind, seconds, card="0001"):
    """Outcomes of ``kind`` for the card before ``seconds`` after the start."""
    out = []
    for e in events(r, kind):
        t = e["t"][11:]
        if t < "07:00:%06.3f" % seconds and e.get("card", "").endswith(card):
            out.append(e)
    return out


def _committed_once(r, name="alice", fen=350):
    app = r.apps[name]
    assert [c.amount for c in app.commits if c.kind == "debit"][:1] == [fen]
    assert app.commits[0].atc == 0


# -- the card and the reader, without firmware ----------------------------------------------------

class Echo:
    def __init__(self):
        self.seen = []

    def process(self, apdu):
        self.seen.append(bytes(apdu))
        return bytes(apdu) + b"\x90\x00"


def _link():
    field, app = Field(), Echo()
    card = Card14443(bytes.fromhex("04112233445566"), app)
    rf = Initiator(field)
    field.place(card)
    assert rf.poll(1)
    rf.us = 0
    return rf, card, app


def _exchange(rf, apdu):
    try:
        return rf.exchange(1, apdu)
    except RfError as e:
        return e.code


def test_garbled_answer_is_a_crc_error_for_the_reader_and_the_card_ran_the_command():
    rf, card, app = _link()
    card.garble_at_apdu = 1
    assert _exchange(rf, b"\x00\x01") == ERR_CRC
    assert app.seen == [b"\x00\x01"]
    assert card in rf.field.cards


def test_dropped_answer_is_a_time_out_and_the_card_stays_in_the_field():
    rf, card, app = _link()
    card.drop_at_apdu = 1
    assert _exchange(rf, b"\x00\x01") == ERR_TIMEOUT
    assert app.seen == [b"\x00\x01"]
    assert card in rf.field.cards and card.state == "PROTOCOL"


def test_after_a_garbled_answer_the_card_answers_again_once_reactivated():
    rf, card, app = _link()
    card.garble_at_apdu = 1
    _exchange(rf, b"\x00\x01")
    assert rf.poll(1)  # the reader re-polls: the card is still there
    assert _exchange(rf, b"\x00\x02") == b"\x00\x02\x90\x00"


@pytest.mark.parametrize("delay_ms", [30, 80])
def test_late_answer_within_the_readers_retries_is_received(delay_ms):
    rf, card, app = _link()
    card.delay_at_apdu, card.delay_us = 1, delay_ms * 1000
    assert _exchange(rf, b"\x00\x01") == b"\x00\x01\x90\x00"
    assert rf.us > delay_ms * 1000  # the exchange took that long


def test_answer_later_than_the_reader_waits_is_a_time_out_though_the_card_ran_it():
    rf, card, app = _link()
    card.delay_at_apdu, card.delay_us = 1, 200 * 1000
    assert _exchange(rf, b"\x00\x01") == ERR_TIMEOUT
    assert app.seen == [b"\x00\x01"]


def test_a_late_answer_can_arrive_as_the_answer_to_the_next_command():
    rf, card, app = _link()
    card.delay_at_apdu, card.delay_us = 1, 150 * 1000
    assert _exchange(rf, b"\x00\x01") == ERR_TIMEOUT
    rf.t0, rf.us = rf.t0 + rf.us + 1000, 0  # the next command, 1 ms later
    assert _exchange(rf, b"\x00\x02") == b"\x00\x01\x90\x00"  # stale: the card was busy
    assert app.seen == [b"\x00\x01"]


# -- attackers' cards, as card applications ---------------------------------------------------

class Canned:
    """A card application answering each purse instruction with a fresh answer."""

    def __init__(self):
        self.n = 0
        self.powered = 0

    def power_on(self):
        self.powered += 1

    def process(self, apdu):
        self.n += 1
        size = {0x54: 8, 0x5A: 8, 0x52: 4}.get(apdu[1], 0)
        return bytes([self.n]) * size + b"\x90\x00"


def test_forged_mac2_card_changes_only_the_mac2_of_debit_and_prove():
    card = ForgedMac2(Canned())
    debit = card.process(b"\x80\x54\x01\x00\x0f" + bytes(15))
    prove = card.process(b"\x80\x5a\x00\x06\x02\x00\x01")
    assert debit[:4] == b"\x01" * 4 and debit[4:8] != b"\x01" * 4 and debit[8:] == b"\x90\x00"
    assert prove[:4] != b"\x02" * 4 and prove[4:] == b"\x02" * 4 + b"\x90\x00"


def test_replay_card_answers_with_its_previous_answer_to_the_same_instruction():
    app = Canned()
    card = ReplayCard(app)
    answers = [card.process(b"\x80\x52\x00\x00\x0b" + bytes(11)) for _ in range(3)]
    assert answers == [b"\x01" * 4 + b"\x90\x00", b"\x01" * 4 + b"\x90\x00",
                       b"\x02" * 4 + b"\x90\x00"]
    assert app.n == 3 and card.replayed == 2


def test_forged_card_powers_its_application_and_reads_like_it():
    app = Canned()
    card = ReplayCard(app)
    card.power_on()
    assert app.powered == 1 and card.n == app.n


# -- scenario validation -------------------------------------------------------------------------

def _bad(events=None, cards=None):
    data = scenario(events or [{"at": 1, "tap": "alice"}])
    if cards is not None:
        data["cards"] = cards
    return data


CARD = {"name": "alice", "number": NUMBERS["alice"]}


@pytest.mark.parametrize("data,words", [
    (_bad([{"at": 1, "tap": "alice", "garble_at_apud": 3}]),
     "events[0].garble_at_apud: unknown key; did you mean garble_at_apdu?"),
    (_bad([{"at": 1, "tap": "alice", "drop_at_apdu": 0}]),
     "events[0]: 'drop_at_apdu' must be a positive whole number"),
    (_bad([{"at": 1, "tap": "alice", "delay_at_apdu": 3}]),
     "events[0]: 'delay_at_apdu' and 'delay_ms' go together"),
    (_bad([{"at": 1, "tap": "alice", "delay_ms": 50}]),
     "events[0]: 'delay_at_apdu' and 'delay_ms' go together"),
    (_bad([{"at": 1, "tap": "alice"}, {"at": 2, "tap": "alice", "garble_at_apdu": 3,
                                       "tear_at_apdu": 3}]),
     "events[1]: 'tear_at_apdu' and 'garble_at_apdu' both at APDU 3: one fault per APDU"),
    (_bad([{"at": 1, "tap": "alice", "power_cut": {}}]),
     "events[0]: 'tap' and 'power_cut' in one event"),
    (_bad([{"at": 1, "noise": {}}]), "events[0]: 'noise' needs 'ms' > 0"),
    (_bad([{"at": 1, "noise": {"ms": 4, "xor": 256}}]),
     "events[0]: 'xor' must be a whole number 1..255"),
    (_bad([{"at": 1, "noise": {"ms": 4, "when": 1}}]),
     "events[0].noise.when: unknown key; known keys: ms, xor"),
    (_bad([{"at": 1, "power_cut": {"at_boot": 1}}]),
     "events[0]: 'at_boot' must be true or false"),
    (_bad([{"at": 1, "power_cut": {"after": 1}}]),
     "events[0].power_cut.after: unknown key; did you mean after_ops?"),
    (_bad(cards=[dict(CARD, forge="mac1")]),
     "cards[0]: 'forge' must be one of \"mac2\", \"replay\""),
    (_bad(cards=[dict(CARD, issuer_seed=7)]), "cards[0]: 'issuer_seed' must be a string"),
    (_bad(cards=[dict(CARD, records={"2": "00"})]), "cards[0]: 'records' must map"),
])
def test_a_bad_fault_key_is_one_error_naming_the_event(data, words):
    with pytest.raises(ScenarioError) as e:
        Scenario(data, "test")
    assert words in str(e.value)
    assert "\n" not in str(e.value)


def test_noise_needs_a_terminal_when_there_are_several():
    data = scenario([{"at": 1, "noise": {"ms": 4}}])
    data["terminals"].append(dict(data["terminals"][0], id="T2"))
    with pytest.raises(ScenarioError, match=r"events\[0\]: say which 'terminal'"):
        Scenario(data, "test")


def test_ykt_sim_run_reports_a_bad_fault_key_in_one_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_bad([{"at": 1, "tap": "alice", "delay_at_apdu": 3}])))
    r = subprocess.run([sys.executable, "-m", "host_tools.cli", "sim", "run", str(path)],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "ykt: error: %s: events[0]: 'delay_at_apdu' and 'delay_ms' go together" % path]


# -- faults on the card's answer, through the firmware ------------------------------------------

def _tap_fault(**fault):
    return scenario([dict({"at": 1, "tap": "alice"}, **fault), {"at": 5, "tap": "bob"}])


def test_garbled_debit_answer_the_card_committed_and_the_terminal_did_not_see_it(tmp_path):
    r = Run(_tap_fault(garble_at_apdu=DEBIT)).run()
    _committed_once(r)
    assert (r.apps["alice"].balance, r.apps["alice"].offline_atc) == (650, 1)
    assert _before(r, "debit", 5) == []


def test_garbled_debit_answer_does_not_stop_the_terminal(tmp_path):
    r = Run(_tap_fault(garble_at_apdu=DEBIT)).run()
    assert not events(r, "fault")
    assert [e["fen"] for e in events(r, "debit") if e["card"].endswith("0002")] == [350]
    assert r.apps["bob"].balance == 650


def test_garbled_initialize_answer_leaves_nothing_committed_unknown(tmp_path):
    r = Run(_tap_fault(garble_at_apdu=2)).run()  # INITIALIZE commits nothing
    known = [e for e in events(r, "debit") if e["card"].endswith("0001")]
    assert len(r.apps["alice"].commits) == len(known)
    assert r.apps["alice"].balance == 1000 - sum(e["fen"] for e in known)


def test_dropped_debit_answer_the_card_committed_and_the_terminal_did_not_see_it(tmp_path):
    r = Run(_tap_fault(drop_at_apdu=DEBIT)).run()
    _committed_once(r)
    assert r.apps["alice"].balance == 650
    assert _before(r, "debit", 5) == []
    assert r.apps["bob"].balance == 650


def test_dropped_answer_does_not_tear_the_card_away(tmp_path):
    data = _tap_fault(drop_at_apdu=DEBIT)
    r = Run(data, "test")
    card = r.cards["alice"]
    left = []
    r.sim.field.listeners.append(lambda ev, c: left.append(r.sim.clock.now_us())
                                 if ev == "remove" and c is card else None)
    r.run()
    assert left and left[0] == (1000 + 1500) * 1000  # taken away when the hold ended


def test_debit_answer_late_within_the_readers_retries_is_a_normal_sale(tmp_path):
    r = Run(_tap_fault(delay_at_apdu=DEBIT, delay_ms=60)).run()
    [sale] = _before(r, "debit", 5)
    assert (sale["fen"], sale["atc"]) == (350, 0)
    assert r.apps["alice"].balance == 650


def test_debit_answer_later_than_the_reader_waits_is_lost_though_the_card_committed(tmp_path):
    r = Run(_tap_fault(delay_at_apdu=DEBIT, delay_ms=200)).run()
    _committed_once(r)
    assert _before(r, "debit", 5) == []
    assert r.apps["bob"].balance == 650


def test_garbled_debit_answer_on_the_micropython_vm_matches_cpython(tmp_path):
    data = scenario([{"at": 1, "tap": "alice", "garble_at_apdu": DEBIT}, {"at": 4, "tap": "bob"},
                     {"at": 8, "tap": "alice", "delay_at_apdu": 2, "delay_ms": 60}])
    cp = Run(data).run()
    mp = Run(data).run("micropython")
    assert mp.lines == cp.lines
    assert records(mp) == records(cp)
    _committed_once(mp)


# -- attackers' cards through the firmware ------------------------------------------------------

def _attacker(kind, taps=(1, 5, 9)):
    cards = [dict(CARD, balance_fen=1000, forge=kind),
             {"name": "bob", "number": NUMBERS["bob"], "balance_fen": 1000}]
    evs = [{"at": t, "tap": "alice"} for t in taps] + [{"at": taps[-1] + 4, "tap": "bob"}]
    return scenario(evs, cards=cards)


def test_forged_mac2_card_pays_but_no_sale_is_recorded_for_it(tmp_path):
    r = Run(_attacker("mac2")).run()
    _committed_once(r)
    assert [e for e in events(r, "debit") if e["card"].endswith("0001")] == []
    assert [x for x in records(r)
            if x["card"] == NUMBERS["alice"] and x["kind"] == "purchase"] == []


def test_forged_mac2_card_does_not_stop_the_terminal(tmp_path):
    r = Run(_attacker("mac2")).run()
    assert not events(r, "fault")
    assert r.apps["bob"].balance == 650


def test_replayed_answers_are_never_recorded_as_a_sale(tmp_path):
    r = Run(_attacker("replay")).run()
    assert r.cards["alice"].app.replayed >= 1
    sales = [x for x in records(r) if x["card"] == NUMBERS["alice"] and x["kind"] == "purchase"]
    assert len({x["tac"] for x in sales}) == len(sales)  # no TAC taken twice
    assert len({x["atc"] for x in sales}) == len(sales)
    tacs = {c.atc: c for c in r.apps["alice"].commits}
    assert all(x["atc"] in tacs for x in sales)  # every recorded sale the card committed


def test_replay_card_commits_every_debit_it_accepts(tmp_path):
    r = Run(_attacker("replay")).run()
    app = r.apps["alice"]
    debits = [c for c in app.commits if c.kind == "debit"]
    assert len(debits) >= 2
    assert app.balance == 1000 - sum(c.amount for c in debits)


# -- noise on the reader's line ------------------------------------------------------------------

# a window over the first tap's exchanges with the PN532 on each bus (seconds, ms)
NOISE_AT = {"devkitc-turnstile": (1.108, 4), "bus-validator": (1.095, 10),
            "s3-canteen-pos": (1.09, 10)}


@pytest.mark.parametrize("board", sorted(NOISE_AT))
def test_noise_on_the_readers_line_is_reported_and_the_terminal_keeps_serving(tmp_path, board):
    at, ms = NOISE_AT[board]
    data = scenario([{"at": 1, "tap": "alice"}, {"at": at, "noise": {"ms": ms}},
                     {"at": 5, "tap": "bob"}], board=board)
    r = Run(data).run()
    assert r.noise_lines["T1"][0].corrupted > 0
    assert events(r, "error") or _before(r, "pending", 5)
    assert r.apps["bob"].balance == 650 and not events(r, "fault")


def test_noise_window_ends_after_its_milliseconds(tmp_path):
    data = scenario([{"at": 1, "noise": {"ms": 4, "xor": 255}}, {"at": 3, "tap": "alice"}],
                    board="bus-validator")
    r = Run(data).run()
    line = r.noise_lines["T1"][0]
    assert line.window == (1 * S, 1 * S + 4000)
    assert [e["fen"] for e in events(r, "debit")] == [350]


def test_noise_reaches_the_pn532_on_spi_without_touching_chip_select():
    from host_tools.lib.boards import load
    from hw_sim.terminal import SimTerminal

    sim = SimTerminal(load("devkitc-turnstile"))
    chip_dev = sim.wiring.spi[2][0][1]
    line = noise_on_reader(sim, 0, 10, xor=0xFF)
    assert sim.wiring.spi[2][0] == (5, line)
    assert line.spi_firstbit == chip_dev.spi_firstbit == "LSB"
    sim.wiring.write_pin(5, 0)  # CS low: the chip sees it directly
    noisy = line.spi_transfer(b"\x02\x00")  # through the line first, then the chip directly
    assert noisy == bytes(b ^ 0xFF for b in chip_dev.spi_transfer(b"\x02\x00"))


def test_noise_on_i2c_leaves_the_lcd_on_the_same_bus_alone():
    from host_tools.lib.boards import load
    from hw_sim.terminal import SimTerminal

    sim = SimTerminal(load("s3-canteen-pos"))
    lcd = sim.wiring.i2c[0][39]
    line = noise_on_reader(sim, 0, 10)
    assert sim.wiring.i2c[0][36] is line and sim.wiring.i2c[0][39] is lcd


# -- a power cut during the boot-time update install --------------------------------------------

def _payload(r):
    [(name, data)] = r.scenario.deliveries(r.scenario.terminal)
    return name, data[20:-16]


def _files(flash):
    fs = LfsVfs(flash)
    out = {"inbox": sorted(fs.listdir("/inbox")), "root": sorted(fs.listdir("/"))}
    for path in ("/denylist.bin", "/versions"):
        try:
            with fs.open(path, "rb") as f:
                out[path] = f.read()
        except OSError:
            out[path] = None
    return out


def _boot_cut_run(workdir, k, runtime="cpython"):
    data = scenario([{"at": 0, "power_cut": {"after_ops": k, "at_boot": True}},
                     {"at": 2, "tap": "bob"}], denylist=["bob"])
    data["terminals"][0]["vm_heap"] = "160K"  # the update installer on top of the tap loop
    r = Run(data, "test")
    at_cut = []
    cycle = r.sim.power_cycle

    def power_cycle():  # the flash as the cut left it, before the reboot
        at_cut.append(NorFlash.from_image(r.sim.flash.image()))
        cycle()

    r.sim.power_cycle = power_cycle
    r.run(runtime)
    return r, at_cut


def _whole_or_nothing(files, name, payload):
    installed = files["/denylist.bin"]
    assert installed in (None, payload)  # never a part of it
    if "denylist.upd" not in files["inbox"]:
        assert installed == payload and b'"denylist": [1,' in files["/versions"]


def test_a_power_cut_at_every_flash_operation_of_the_boot_install_never_half_installs(tmp_path):
    hits = 0
    for k in range(1, 25):
        r, at_cut = _boot_cut_run(tmp_path / str(k), k)
        name, payload = _payload(r)
        assert [t for _, t in r.power_cuts] == [0]  # during the first boot
        _whole_or_nothing(_files(at_cut[0]), name, payload)
        hits += "denylist.upd" in _files(at_cut[0])["inbox"]
        end = _files(r.sim.flash)
        assert end["inbox"] == [] and end["/denylist.bin"] == payload, k
        assert not [n for n in end["root"] if n.endswith(".new")]
        assert [e["reason"] for e in events(r, "refused")] == ["card blocked: lost"], k
    assert hits >= 15  # most cuts came before the install finished


def test_at_boot_cut_after_the_start_is_armed_for_the_reboot_after_the_next_cut(tmp_path):
    data = scenario([{"at": 2, "tap": "alice"},
                     {"at": 1, "power_cut": {"after_ops": 1}},
                     {"at": 1, "power_cut": {"after_ops": 2, "at_boot": True}}])
    r = Run(data).run()
    cuts = [t for _, t in r.power_cuts]
    assert len(cuts) == 2 and cuts[0] >= 2 * S
    assert cuts[1] == cuts[0] + 300 * 1000  # during the reboot, before the firmware slept
    assert r.apps["alice"].balance in (650, 1000)
    assert not events(r, "fault")


def test_a_power_cut_at_boot_on_the_micropython_vm_ends_installed(tmp_path):
    r, at_cut = _boot_cut_run(tmp_path / "mp", 8, runtime="micropython")
    cp, _ = _boot_cut_run(tmp_path / "cp", 8)
    assert r.lines == cp.lines
    name, payload = _payload(r)
    assert len(at_cut) == 1
    _whole_or_nothing(_files(at_cut[0]), name, payload)
    assert _files(r.sim.flash)["/denylist.bin"] == payload
    assert [e["reason"] for e in events(r, "refused")] == ["card blocked: lost"]


# -- the subsidy purse in the card lines ---------------------------------------------------------

def _canteen_record(subsidy):
    from ykt.pos.canteen_record import CanteenRecord

    return CanteenRecord(subsidy_balance=subsidy, subsidy_expiry=20271231).encode().hex()


def test_card_lines_show_the_subsidy_purse_of_the_canteen_record(tmp_path):
    cards = [dict(CARD, balance_fen=1000, records={"2": _canteen_record(800)}),
             {"name": "bob", "number": NUMBERS["bob"], "balance_fen": 500}]
    r = Run(scenario([{"at": 1, "tap": "alice"}], cards=cards)).run()
    lines = [json.loads(x) for x in r.lines[-2:]]
    assert lines == [
        {"event": "card", "name": "alice", "card": "****************0001", "balance": 650,
         "subsidy": 800, "atc": 1},
        {"event": "card", "name": "bob", "card": "****************0002", "balance": 500,
         "subsidy": 0, "atc": 0}]


def test_card_line_subsidy_follows_a_canteen_sale(tmp_path):
    from poskit import Day

    d = Day(start="2025-03-05T11:30:00", mode="amount")
    d.card("bob", NUMBERS["bob"], balance=5000, subsidy_balance=500, subsidy_expiry=20250331)
    d.staff_card("wang").sign_in("wang").type("300#").tap("bob")
    res = d.run(tmp_path)
    [line] = [e for e in events(res.run, "card") if e["name"] == "bob"]
    assert (line["balance"], line["subsidy"]) == (5000, 200)
