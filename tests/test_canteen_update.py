"""Canteen rules and menu as a signed update (kind 7 ``canteen``, docs/stores.md "Update
files"): `ykt update sign --kind canteen` signs a rule set for one terminal; the terminal
installs it from /inbox/ at boot as /canteen.bin (MAC, version, the POS's own rule check,
atomic install) and the POS prices with it in place of the configuration's rule set.

Lunch in the example rule set costs 15.00; the updates here raise it, so the fen a card
pays tells which rule set was in force.
"""

import copy
import json
import os

import pytest
from poskit import EXAMPLE, Day, canteen

from host_tools import cli
from host_tools.lib import updates as host
from hw_sim.flash import NorFlash, PowerCut
from hw_sim.lfs import LfsVfs, format_flash
from hw_sim.scenario import Run, ScenarioError
from ykt.store import updates as fw
from ykt.store.vfs import Vfs

BOB = "31012300000000000002"
TID = "290031000102"
MASTER = bytes.fromhex("00112233445566778899aabbccddeeff")


def lunch_at(price, version):
    """The example rule set with lunch at ``price`` fen, as rule set ``version``."""
    rules = copy.deepcopy(canteen())
    rules["version"] = version
    for p in rules["periods"]:
        if p["name"] == "lunch":
            p["price"] = price
    return rules


def lunch_day(*updates):
    """Wang signs in at 11:30 and Bob (no discount) pays one fixed-price lunch."""
    d = Day(start="2025-03-05T11:30:00")
    for kw in updates:
        d.canteen_update(**kw)
    d.card("bob", BOB, balance=5000).staff_card("wang")
    return d.sign_in("wang").tap("bob")


def paid(res):
    return 5000 - res.balance("bob")


def refusals(res):
    return [e["reason"] for e in res.events("update-refused")]


def test_host_and_firmware_agree_on_every_kind_code():
    assert {name: code for code, (name, _) in fw.KINDS.items()} == host.KINDS
    assert fw.KINDS[host.KINDS["canteen"]] == ("canteen", "/canteen.bin")


def test_installed_canteen_update_prices_the_sale_instead_of_the_config_rules(tmp_path):
    res = lunch_day(dict(rules=lunch_at(1800, 2))).run(tmp_path)
    assert [(e["kind"], e["version"]) for e in res.events("update")] == [("canteen", 2)]
    assert paid(res) == 1800


def test_installed_canteen_update_is_journaled_with_kind_7_and_its_version(tmp_path):
    res = lunch_day(dict(rules=lunch_at(1800, 2))).run(tmp_path)
    assert [(x["tx_type"], x["tseq"]) for x in res.kinds("update-installed")] == [(7, 2)]


def test_older_canteen_update_is_refused_and_the_newer_stays_in_force(tmp_path):
    res = lunch_day(dict(rules=lunch_at(1800, 3), name="a.upd"),
                    dict(rules=lunch_at(1600, 2), name="b.upd")).run(tmp_path)
    assert refusals(res) == ["older than installed (v2 <= v3)"]
    assert paid(res) == 1800


def test_forged_canteen_update_is_refused_and_the_config_rules_stay(tmp_path):
    res = lunch_day(dict(rules=lunch_at(1800, 2), master=bytes(16))).run(tmp_path)
    assert refusals(res) == ["corrupt (MAC mismatch)"]
    assert paid(res) == 1500


def test_rule_set_the_pos_would_refuse_is_refused_before_it_is_installed(tmp_path):
    bad = lunch_at(1800, 2)
    bad["periods"][1]["start"] = "08:00"  # overlaps breakfast
    res = lunch_day(dict(rules=bad)).run(tmp_path)
    assert refusals(res) == ["bad payload (periods[1] 'lunch': 08:00-13:30 overlaps "
                             "'breakfast' 06:30-09:00)"]
    assert paid(res) == 1500


def test_canteen_update_whose_rule_set_version_differs_is_refused(tmp_path):
    res = lunch_day(dict(rules=lunch_at(1800, 1), version=2)).run(tmp_path)
    assert refusals(res) == ["bad payload (rule set v1, not v2)"]
    assert paid(res) == 1500


def test_canteen_update_that_is_not_json_is_refused(tmp_path):
    res = lunch_day(dict(rules=None, version=2, payload=b"lunch: 18.00")).run(tmp_path)
    assert refusals(res)[0].startswith("bad payload (")
    assert paid(res) == 1500


def test_installed_rule_set_stays_in_force_after_a_reboot(tmp_path):
    d = Day(start="2025-03-05T11:30:00").canteen_update(lunch_at(1800, 2))
    d.card("bob", BOB, balance=5000).staff_card("wang")
    d.sign_in("wang").tap("bob").power_cut(after_ops=1, boot_s=3).sign_in("wang").tap("bob")
    res = d.run(tmp_path)
    assert len(res.events("boot")) == 2
    assert paid(res) == 2 * 1800


def test_unreadable_installed_rule_set_stops_the_pos_naming_the_file():
    d = Day(start="2025-03-05T11:30:00").staff_card("wang").sign_in("wang")
    r = Run(d.scenario(), "poskit")
    with r.sim.filesystem().open("/canteen.bin", "wb") as f:
        f.write(b"{")  # what a damaged install could leave (none does: the MAC is re-read)
    with pytest.raises(ScenarioError, match="/canteen.bin: not JSON"):
        r.run()


def test_canteen_update_is_installed_the_same_on_the_micropython_vm(tmp_path):
    d = lunch_day(dict(rules=lunch_at(1800, 3), name="a.upd"),
                  dict(rules=lunch_at(1600, 2), name="b.upd"))
    cp = d.run(tmp_path / "cp")
    # the heap the S3 POS board's PSRAM gives the VM (docs/boards.md "Memory"): checking a
    # canteen update at boot needs more than a shift's 256K, and the margin depends on the
    # checkout's path (the VM interns it)
    mp = d.run(tmp_path / "mp", runtime="micropython", heap=None)
    assert paid(mp) == 1800
    assert mp.run.lines == cp.run.lines


def _lfs_with(image=None):
    if image is None:
        flash = NorFlash(32 * 4096)
        format_flash(flash)
    else:
        flash = NorFlash.from_image(image)
    return flash, LfsVfs(flash)


def _put(fs, path, data):
    with fs.open(path, "wb") as f:
        f.write(data)


def _get(fs, path):
    with fs.open(path, "rb") as f:
        return f.read()


def _updates(fs):
    return fw.Updates(fs, fw.device_key(MASTER, bytes.fromhex(TID)), bytes.fromhex(TID))


def test_power_cut_at_every_flash_operation_of_an_install_leaves_the_old_or_the_new_rules():
    old, new = (json.dumps(lunch_at(p, v)).encode() for p, v in ((1500, 1), (1800, 2)))
    flash, fs = _lfs_with()
    fs.mkdir("/inbox")
    _put(fs, "/inbox/c1", host.sign("canteen", 1, bytes.fromhex(TID), old, MASTER))
    _updates(fs).scan_inbox()
    _put(fs, "/inbox/c2", host.sign("canteen", 2, bytes.fromhex(TID), new, MASTER))
    before = flash.image()
    flash, fs = _lfs_with(before)
    start = flash.ops
    _updates(fs).scan_inbox()
    total = flash.ops - start
    for n in range(1, total + 1):
        flash, fs = _lfs_with(before)
        flash.cut_at(n, 7)
        with pytest.raises(PowerCut):
            _updates(fs).scan_inbox()
        flash.power_on()
        fs = LfsVfs(NorFlash.from_image(flash.image()))
        assert _get(fs, "/canteen.bin") in (old, new), n
        _updates(fs).scan_inbox()  # the next boot finishes the job
        assert _get(fs, "/canteen.bin") == new, n
        assert _updates(fs).installed_version("canteen") == 2, n


# -- ykt update sign --kind canteen ------------------------------------------------------------

def _sign(tmp_path, payload_path, version):
    key = tmp_path / "master.key"
    key.write_text("00112233445566778899aabbccddeeff\n")
    out = tmp_path / "canteen.upd"
    rc = cli.main(["update", "sign", "--kind", "canteen", "--version", str(version),
                   "--device", TID, "--master-key-file", str(key), str(payload_path),
                   "-o", str(out)])
    return rc, out


def test_cli_signs_the_example_rule_set_for_one_terminal(tmp_path):
    rc, out = _sign(tmp_path, EXAMPLE, 1)
    assert rc == 0
    info = host.parse(out.read_bytes())
    assert (info["kind"], info["kind_code"], info["version"], info["terminal"]) == \
        ("canteen", 7, 1, TID)
    assert host.verify(out.read_bytes(), bytes.fromhex("00112233445566778899aabbccddeeff"))


def test_cli_refuses_a_rule_set_the_pos_would_refuse_in_one_line(tmp_path, capsys):
    bad = lunch_at(1500, 1)
    bad["items"][0]["price"] = -5
    src = tmp_path / "bad.json"
    src.write_text(json.dumps(bad))
    rc, out = _sign(tmp_path, src, 1)
    err = capsys.readouterr().err
    assert rc == 2 and not out.exists()
    assert err.startswith("ykt: error: %s: items[0]" % src) and err.count("\n") == 1


def test_cli_refuses_a_file_that_is_not_json_text_in_one_line(tmp_path, capsys):
    src = tmp_path / "noise.json"
    src.write_bytes(bytes(range(128, 256)))
    rc, out = _sign(tmp_path, src, 1)
    assert rc == 2 and not out.exists()
    assert capsys.readouterr().err == ("ykt: error: %s: not a canteen rule set (not JSON text)\n"
                                       % src)


def test_cli_refuses_a_version_other_than_the_rule_sets_own(tmp_path, capsys):
    rc, out = _sign(tmp_path, EXAMPLE, 2)
    assert rc == 2 and not out.exists()
    assert capsys.readouterr().err == "ykt: error: payload is canteen v1, not v2\n"


def test_cli_signed_rule_set_installs_on_the_terminal_byte_for_byte(tmp_path):
    rc, out = _sign(tmp_path, EXAMPLE, 1)
    fs = Vfs(str(tmp_path / "flash"))
    os.makedirs(str(tmp_path / "flash" / "inbox"))
    _put(fs, "/inbox/canteen.upd", out.read_bytes())
    assert _updates(fs).scan_inbox() == [fw.Outcome("canteen.upd", "canteen", 1, True, "")]
    with open(EXAMPLE, "rb") as f:
        assert _get(fs, "/canteen.bin") == f.read()
