"""The POS staff list from an authenticated staff update (/staff.bin) instead of config.

Each case leaves a signed staff update in the terminal's /inbox; the firmware installs
it at boot (MAC and version checked) and the POS role reads its staff from it.
"""

import pytest
from poskit import Day

from hw_sim.scenario import ScenarioError

BOB = "31012300000000000002"


def signins(res):
    return [e["name"] for e in res.events("signin")]


def test_cashier_only_in_the_staff_update_signs_in_and_sells(tmp_path):
    d = Day(start="2025-03-05T11:30:00", staff=("wang", "zhao")).staff_update(("li", "zhao"))
    d.card("bob", BOB, balance=5000).staff_card("li")
    d.sign_in("li").tap("bob")
    res = d.run(tmp_path)
    assert [(e["kind"], e["version"]) for e in res.events("update")] == [("staff", 1)]
    assert signins(res) == ["LI"]
    assert res.balance("bob") == 5000 - 1500


def test_cashier_only_in_config_cannot_sign_in_once_a_staff_update_is_installed(tmp_path):
    d = Day(start="2025-03-05T11:30:00", staff=("wang", "zhao")).staff_update(("li", "zhao"))
    d.card("bob", BOB, balance=5000).staff_card("wang")
    d.sign_in("wang").tap("bob")
    res = d.run(tmp_path)
    assert signins(res) == []
    assert [e["reason"] for e in res.events("refused")] == ["no cashier signed in"] * 2
    assert res.balance("bob") == 5000


def test_forged_staff_update_is_refused_and_the_config_staff_stays(tmp_path):
    d = Day(start="2025-03-05T11:30:00", staff=("wang", "zhao"))
    d.staff_update(("li",), master=bytes(16))
    d.card("bob", BOB, balance=5000).staff_card("wang").staff_card("li")
    d.sign_in("li").sign_in("wang").tap("bob")
    res = d.run(tmp_path)
    assert [e["reason"] for e in res.events("update-refused")] == ["corrupt (MAC mismatch)"]
    assert signins(res) == ["WANG"]
    assert res.balance("bob") == 5000 - 1500


def test_staff_update_is_read_the_same_on_the_micropython_vm(tmp_path):
    d = Day(start="2025-03-05T11:30:00", staff=("wang", "zhao")).staff_update(("li", "zhao"))
    d.card("bob", BOB, balance=5000).staff_card("li").staff_card("wang")
    d.sign_in("wang").sign_in("li").tap("bob")
    cp = d.run(tmp_path / "cp")
    mp = d.run(tmp_path / "mp", runtime="micropython")
    assert signins(mp) == ["LI"]
    assert mp.run.lines == cp.run.lines


def test_staff_update_that_is_not_a_list_stops_the_pos_instead_of_using_config(tmp_path):
    d = Day(start="2025-03-05T11:30:00").staff_update((), payload=b'{"card": "1"}')
    d.staff_card("wang").sign_in("wang")
    with pytest.raises(ScenarioError, match="/staff.bin: not a JSON list"):
        d.run(tmp_path)


def test_staff_update_with_a_bad_entry_stops_the_pos_naming_the_file(tmp_path):
    d = Day(start="2025-03-05T11:30:00").staff_update((), payload=b'[{"card": "1"}]')
    d.staff_card("wang").sign_in("wang")
    with pytest.raises(ScenarioError, match=r"/staff.bin: staff\[0\]: card must be 20 digits"):
        d.run(tmp_path)
