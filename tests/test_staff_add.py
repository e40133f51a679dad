"""`ykt staff add`: a staff member's entry with the PIN as sha256(salt || PIN), salted from
os.urandom, in the staff file the POS reads (docs/canteen.md §9); nobody hashes by hand."""

import json
import os
import stat

import pytest
from poskit import Day

from host_tools import cli
from host_tools.lib import staff as host_staff
from ykt.pos import staff as fw_staff

WANG = "31012300000000009001"
LI = "31012300000000009002"
BOB = "31012300000000000002"


def add(path, card, name, role="cashier", pin="1357"):
    """Run `ykt staff add` with the PIN on standard input."""
    import io
    import sys

    old = sys.stdin
    sys.stdin = io.StringIO(pin + "\n")
    try:
        return cli.main(["staff", "add", str(path), "--card", card, "--name", name,
                         "--role", role, "--pin-file", "-"])
    finally:
        sys.stdin = old


def entries(path):
    return json.loads(path.read_text())


def test_entry_is_accepted_by_the_pos_and_checks_the_pin_it_was_made_with(tmp_path):
    f = tmp_path / "staff.json"
    assert add(f, WANG, "WANG", "supervisor", "8080") == 0
    members = fw_staff.StaffList.load(entries(f))
    wang = members.find(WANG)
    assert (wang.number, wang.name, wang.role) == (1, "WANG", "supervisor")
    assert members.check(wang, b"8080", 0) == fw_staff.OK


def test_entry_does_not_check_another_pin(tmp_path):
    f = tmp_path / "staff.json"
    add(f, WANG, "WANG", pin="8080")
    members = fw_staff.StaffList.load(entries(f))
    assert members.check(members.find(WANG), b"8081", 0) == fw_staff.WRONG


def test_the_salt_comes_from_os_urandom(tmp_path, monkeypatch):
    asked = []

    def urandom(n):
        asked.append(n)
        return bytes(range(n))

    monkeypatch.setattr(os, "urandom", urandom)
    f = tmp_path / "staff.json"
    add(f, WANG, "WANG")
    assert asked == [16]
    assert entries(f)[0]["salt"] == bytes(range(16)).hex()


def test_the_same_pin_gets_a_different_salt_and_hash_for_each_member(tmp_path):
    f = tmp_path / "staff.json"
    add(f, WANG, "WANG", pin="1357")
    add(f, LI, "LI", pin="1357")
    a, b = entries(f)
    assert a["salt"] != b["salt"] and a["pin_sha256"] != b["pin_sha256"]


def test_the_pin_itself_is_not_in_the_file(tmp_path):
    f = tmp_path / "staff.json"
    add(f, WANG, "WANG", pin="97531")
    assert "97531" not in f.read_text()


def test_new_members_go_to_the_end_so_staff_numbers_stay(tmp_path):
    f = tmp_path / "staff.json"
    add(f, WANG, "WANG")
    first = entries(f)[0]
    add(f, LI, "LI", "supervisor")
    assert entries(f)[0] == first
    assert [(e["name"], e["role"]) for e in entries(f)] == [("WANG", "cashier"),
                                                            ("LI", "supervisor")]


def test_staff_file_is_readable_by_its_owner_only(tmp_path):
    f = tmp_path / "staff.json"
    add(f, WANG, "WANG")
    assert stat.S_IMODE(f.stat().st_mode) == 0o600


def test_a_card_already_listed_is_refused_in_one_line_and_the_file_is_unchanged(tmp_path,
                                                                                 capsys):
    f = tmp_path / "staff.json"
    add(f, WANG, "WANG")
    before = f.read_bytes()
    capsys.readouterr()
    assert add(f, WANG, "LI") == 2
    assert capsys.readouterr().err == \
        "ykt: error: card %s is already listed (staff 1, WANG)\n" % WANG
    assert f.read_bytes() == before


def test_a_name_already_listed_is_refused_in_one_line(tmp_path, capsys):
    f = tmp_path / "staff.json"
    add(f, WANG, "WANG")
    capsys.readouterr()
    assert add(f, LI, "WANG") == 2
    assert capsys.readouterr().err == \
        "ykt: error: name WANG is already listed (staff 1, card %s)\n" % WANG


@pytest.mark.parametrize("pin", ["123", "123456789", "12a4", "", "１２３４"])
def test_a_pin_not_of_4_to_8_digits_is_refused_in_one_line_and_nothing_written(tmp_path,
                                                                              capsys, pin):
    f = tmp_path / "staff.json"
    assert add(f, WANG, "WANG", pin=pin) == 2
    err = capsys.readouterr().err
    assert err.startswith("ykt: error: a PIN must be 4 to 8 digits (0-9)")
    assert err.count("\n") == 1
    assert not f.exists()


def test_a_card_number_not_of_20_digits_is_refused_before_the_pin_is_asked(tmp_path,
                                                                          monkeypatch, capsys):
    monkeypatch.setattr("getpass.getpass", lambda prompt: pytest.fail("PIN asked"))
    rc = cli.main(["staff", "add", str(tmp_path / "s.json"), "--card", "123", "--name", "X",
                   "--role", "cashier"])
    assert rc == 2
    assert capsys.readouterr().err == \
        "ykt: error: card must be the card's 20 digits, got '123'\n"


@pytest.mark.parametrize("name", ["", "THIRTEEN-CHAR", "王"])
def test_a_name_the_lcd_cannot_show_is_refused_in_one_line(tmp_path, capsys, name):
    assert add(tmp_path / "staff.json", WANG, name) == 2
    assert capsys.readouterr().err == ("ykt: error: name must be 1 to 12 ASCII characters "
                                       "(the LCD and the receipts print it), got %r\n" % name)


def test_without_a_pin_file_the_pin_is_asked_twice_without_echo(tmp_path, monkeypatch):
    prompts = []

    def getpass(prompt):
        prompts.append(prompt)
        return "2468"

    monkeypatch.setattr("getpass.getpass", getpass)
    f = tmp_path / "staff.json"
    assert cli.main(["staff", "add", str(f), "--card", LI, "--name", "LI",
                     "--role", "cashier"]) == 0
    assert prompts == ["PIN for LI: ", "PIN again: "]
    members = fw_staff.StaffList.load(entries(f))
    assert members.check(members.find(LI), b"2468", 0) == fw_staff.OK


def test_two_different_pins_typed_are_refused_and_nothing_written(tmp_path, monkeypatch,
                                                                   capsys):
    typed = iter(["2468", "2469"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(typed))
    f = tmp_path / "staff.json"
    assert cli.main(["staff", "add", str(f), "--card", LI, "--name", "LI",
                     "--role", "cashier"]) == 2
    assert capsys.readouterr().err == "ykt: error: the two PINs differ: nothing written\n"
    assert not f.exists()


def test_the_pin_can_come_from_a_files_first_line(tmp_path):
    pin = tmp_path / "pin.txt"
    pin.write_text("4321\nnot read\n")
    f = tmp_path / "staff.json"
    assert cli.main(["staff", "add", str(f), "--card", LI, "--name", "LI",
                     "--role", "cashier", "--pin-file", str(pin)]) == 0
    members = fw_staff.StaffList.load(entries(f))
    assert members.check(members.find(LI), b"4321", 0) == fw_staff.OK


def test_a_file_that_is_not_a_staff_list_is_refused_in_one_line(tmp_path, capsys):
    f = tmp_path / "staff.json"
    f.write_text('{"card": "1"}')
    assert add(f, WANG, "WANG") == 2
    assert capsys.readouterr().err == \
        "ykt: error: %s: not a staff file (a JSON list of entries)\n" % f


def test_library_digest_is_the_firmwares():
    salt = bytes(range(16))
    assert host_staff.pin_digest(salt, "1357") == fw_staff.pin_digest(salt, b"1357")


def test_a_cashier_added_with_ykt_staff_add_signs_in_on_the_pos_and_sells(tmp_path):
    f = tmp_path / "staff.json"
    add(f, WANG, "WANG", pin="5790")
    add(f, "31012300000000009003", "ZHAO", "supervisor", pin="8080")
    d = Day(start="2025-03-05T11:30:00", staff=(), config={"staff": entries(f)})
    d.card("bob", BOB, balance=5000).staff_card("wang")
    d.sign_in("wang", pin="5790").tap("bob")
    res = d.run(tmp_path)
    assert [e["name"] for e in res.events("signin")] == ["WANG"]
    assert res.balance("bob") == 5000 - 1500
