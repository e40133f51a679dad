"""A venue's bookings (docs/venue.md §4): the source checked and made a payload by the host
library and ``ykt venue``, signed as an update of kind 10 ``bookings``, installed by the
firmware's installer and read by the gate's ``Bookings``; ``ykt provision --role venue``."""

import json

import pytest
from hostkit import ykt

from host_tools.lib import updates as host
from host_tools.lib import venue
from host_tools.lib.errors import BadInput
from host_tools.lib.qr import match_key
from ykt.store import updates as fw
from ykt.store.updates import Updates
from ykt.store.vfs import Vfs
from ykt.venue import prices
from ykt.venue.bookings import Bookings

MASTER = bytes.fromhex("00112233445566778899aabbccddeeff")
TID = bytes.fromhex("290060000001")
SECRET = b"match secret for tests"
ALICE = "310104198510104441"
DAY = {"date": "2026-12-05",
       "slots": [{"start": "09:00", "end": "10:00", "capacity": 6},
                 {"start": "10:00", "end": "11:00", "capacity": 4}],
       "bookings": [{"id": 7, "id_number": ALICE, "slot": "10:00", "people": 2, "paid_fen": 80},
                    {"id": 8, "match_key": "00" * 16, "slot": "09:00", "due_fen": 5000}]}


@pytest.fixture
def fs(tmp_path):
    fs = Vfs(str(tmp_path))
    fs.mkdir("/inbox")
    return fs


def install(fs, version, payload):
    with fs.open("/inbox/b.upd", "wb") as f:
        f.write(host.sign("bookings", version, TID, payload, MASTER, False))
    return [(o.kind, o.version, o.installed, o.reason)
            for o in Updates(fs, fw.device_key(MASTER, TID), TID).scan_inbox()]


def test_the_kind_is_10_on_host_and_firmware_after_the_others():
    assert host.KINDS["bookings"] == fw.KIND_BOOKINGS == 10 == max(fw.KINDS)
    assert fw.KINDS[10] == ("bookings", "/bookings.bin")


def test_an_installed_day_is_what_the_gate_reads(fs):
    assert install(fs, 3, venue.bookings_payload(DAY, 3, SECRET)) == [("bookings", 3, True, "")]
    b = Bookings(fs)
    assert (b.version, b.date, b.slots, b.booked) == (3, 20261205, [(540, 600, 6), (600, 660, 4)],
                                                      [1, 2])
    [alice] = b.find(match_key(SECRET, ALICE))
    assert (alice.id, alice.slot, alice.people, alice.paid, alice.due) == (7, 1, 2, 80, 0)
    assert b.find(bytes(16))[0].id == 8 and b.find(b"x" * 16) == []


def test_no_file_is_a_day_without_slots(fs):
    b = Bookings(fs)
    assert (b.slots, b.find(bytes(16))) == ([], [])


def test_the_installer_refuses_a_payload_of_another_version(fs):
    [(kind, version, installed, reason)] = install(fs, 4, venue.bookings_payload(DAY, 3, SECRET))
    assert (installed, reason) == (False, "bad payload (bookings v3, not v4)")


def test_the_installer_refuses_a_cut_payload(fs):
    [(_, _, installed, reason)] = install(fs, 3, venue.bookings_payload(DAY, 3, SECRET)[:-5])
    assert not installed and reason.startswith("bad payload (bookings of 2 slots")


def test_signing_checks_the_version_too():
    with pytest.raises(BadInput, match="bookings v3, not v4"):
        host.sign("bookings", 4, TID, venue.bookings_payload(DAY, 3, SECRET), MASTER)


@pytest.mark.parametrize("change, message", [
    (lambda d: d["bookings"][0].update(slot="11:00"), r"bookings\[0\].slot: no slot starts"),
    (lambda d: d["bookings"][0].update(people=7), "slot 10:00 has 7 people booked, capacity 4"),
    (lambda d: d["bookings"][1].update(id=7), "booking id 7 twice"),
    (lambda d: d["bookings"][0].update(id_number=ALICE[:-1] + "2"), "check character"),
    (lambda d: d["bookings"][1].update(id_number=ALICE), "one of 'id_number' and 'match_key'"),
    (lambda d: d["slots"][0].update(end="08:00"), "ends before it starts"),
    (lambda d: d.update(date="05/12/2026"), "not a date like 2026-12-05"),
    (lambda d: d["bookings"][0].update(name="x"), r"bookings\[0\].name: unknown key"),
])
def test_a_wrong_source_is_one_clear_error(change, message):
    d = json.loads(json.dumps(DAY))
    change(d)
    with pytest.raises(BadInput, match=message):
        venue.bookings_payload(d, 1, SECRET)


def test_an_id_number_needs_the_match_secret():
    with pytest.raises(BadInput, match="needs the match secret"):
        venue.bookings_payload(DAY, 1, None)


def test_the_payload_never_holds_the_id_number():
    data = venue.bookings_payload(DAY, 1, SECRET)
    assert ALICE.encode() not in data and ALICE[:14].encode() not in data


def test_the_41_cities_are_the_same_on_host_and_firmware():
    assert len(venue.YRD_CITIES) == len(prices.YRD) == 41
    assert sorted(int(c) for c in venue.YRD_CITIES) == sorted(prices.YRD)


@pytest.mark.parametrize("region, resident", [
    (310104, True), (310228, True), (320505, True), (330106, True), (341802, True),
    (341402, False), (110105, False), (440305, False), (370202, False)])
def test_residence_is_the_region_code_of_the_id_number(region, resident):
    assert prices.resident("yrd", region) is resident


def test_the_lowest_price_that_applies_is_paid():
    rules = venue.rules({"price_fen": 5000, "ages": [[70, 0], [60, 50]]})
    assert prices.price(rules, 40, 440305) == (5000, [("full", 5000)])
    assert prices.price(rules, 40, 320505)[0] == 4000
    assert prices.price(rules, 65, 320505) == (2500, [("full", 5000), ("resident", 4000),
                                                      ("age 60+", 2500)])
    assert prices.price(rules, 70, 440305)[0] == 0


def test_the_cli_writes_the_payload_and_shows_it_without_id_numbers(tmp_path):
    src = tmp_path / "day.json"
    src.write_text(json.dumps(DAY))
    r = ykt("venue", "bookings", src, "--version", 2, "--issuer-seed", "demo", "-o",
            tmp_path / "day.bin")
    assert r.returncode == 0, r.stderr
    assert "2 slots, 2 bookings" in r.stdout
    r = ykt("venue", "show", tmp_path / "day.bin", "--json")
    got = json.loads(r.stdout)
    assert [b["id"] for b in got["bookings"]] == [7, 8] and ALICE not in r.stdout


def test_the_cli_refuses_a_full_slot_in_one_line_and_writes_nothing(tmp_path):
    d = json.loads(json.dumps(DAY))
    d["bookings"][0]["people"] = 9
    src = tmp_path / "day.json"
    src.write_text(json.dumps(d))
    r = ykt("venue", "bookings", src, "--version", 2, "--issuer-seed", "demo", "-o",
            tmp_path / "day.bin")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("ykt: error: bookings: slot 10:00 has 9 people")
    assert not (tmp_path / "day.bin").exists()


def test_provision_venue_puts_the_rules_and_the_match_secret_in_the_config(tmp_path):
    m = tmp_path / "m.json"
    assert ykt("provision", "--new-master-key-file", m).returncode == 0
    (tmp_path / "rules.json").write_text('{"price_fen": 3000}')
    (tmp_path / "match.key").write_bytes(SECRET)
    r = ykt("provision", "--board", "devkitc-venue-gate", "--terminal-id", "290060000001",
            "--role", "venue", "--venue", tmp_path / "rules.json", "--match-secret-file",
            tmp_path / "match.key", "--master-key-file", m, "--out", tmp_path / "v.json")
    assert r.returncode == 0, r.stderr
    cfg = json.loads((tmp_path / "v.json").read_text())
    assert cfg["role"] == "venue" and cfg["venue"]["price_fen"] == 3000
    assert cfg["venue"]["residents"] == "yrd" and bytes.fromhex(cfg["keys"]["match"]) == SECRET


def test_provision_venue_without_the_match_secret_is_refused(tmp_path):
    m = tmp_path / "m.json"
    ykt("provision", "--new-master-key-file", m)
    (tmp_path / "rules.json").write_text("{}")
    r = ykt("provision", "--board", "devkitc-venue-gate", "--terminal-id", "290060000001",
            "--role", "venue", "--venue", tmp_path / "rules.json", "--master-key-file", m,
            "--out", tmp_path / "v.json")
    assert (r.returncode, r.stderr) == (2, "ykt: error: role venue needs --match-secret-file\n")
