"""Every role the firmware has, the way an operator brings it up (issue 11): `ykt provision`
(with the role's settings) -> `ykt image` -> `ykt flash` (the real esptool writes and verifies
the image on a virtual board of the role's board file: ESP32 or ESP32-S3) -> the board boots
the firmware from its own flash -> scenario taps (and keypad keys for the canteen POS) on a
CPython PN532 model -> `ykt collect` -> `ykt journal verify` of the collected journal, with the
fen charged on the card and the records the back office gets checked.

One test per role; each gets its own board on its own port and its own directory, so pytest
-n runs them side by side."""

import json
import os
import subprocess
import sys
import time

import pytest
from boardtaps import collected_rows
from hostkit import ROOT, ykt

from host_tools.lib import tariff, updates
from host_tools.lib.provision import journal_key
from hw_sim.board.server import load_board_file, make_board
from hw_sim.board.taps import TapHooks, issuer_keys
from hw_sim.issuer import issue_card

TARIFF = os.path.join(ROOT, "tariffs", "shanghai-2017.json")
CANTEEN = os.path.join(ROOT, "canteens", "putuo-example.json")
RIDER = "31010000000000001234"
CASHIER = "31012300000000009001"  # WANG, PIN 1357 (scenarios/demo-canteen-pos.json)


class Rig:
    """A virtual board of ``board`` with TapHooks, flashed through the real `ykt` commands."""

    def __init__(self, w, board, cards, taps, master=None):
        self.w, self.board_name = w, board
        w.mkdir(parents=True, exist_ok=True)
        self.master = master or w / "master.json"
        if master is None:
            run = ykt("provision", "--new-master-key-file", self.master)
            assert run.returncode == 0, run.stderr
        self.firmware = w / "micropython.bin"
        spec = load_board_file(board)
        # an app image header (magic 0xE9) whose extended header names the chip (esptool
        # refuses to write another chip's image): ESP32 0, ESP32-S3 9
        chip_id = {"esp32": 0, "esp32s3": 9}[spec["chip"]]
        self.firmware.write_bytes(b"\xe9" + bytes(11) + chip_id.to_bytes(2, "little")
                                  + bytes(4096 - 14))
        keys = issuer_keys(str(self.master))
        apps = {name: c if not isinstance(c, tuple) else
                issue_card(c[0], balance_fen=c[1], issuer_keys=keys)
                for name, c in cards.items()}
        self.hooks = TapHooks(spec, apps, taps, armed=True)
        self.board = make_board(spec, hooks=self.hooks, heap=self.hooks.heap)
        self._uart = bytearray()
        send = self.board._send
        self.board._send = lambda data: (self._uart.extend(data or b""), send(data))
        from hw_sim.board.server import BoardServer

        self.server = BoardServer(self.board)
        self.board.power_on("rom")
        self.server.start(max_seconds=120)
        self.url = self.server.url

    def provision(self, tid, *args):
        out = self.w / "config.json"
        run = ykt("provision", "--board", self.board_name, "--terminal-id", tid, *args,
                  "--master-key-file", self.master, "--out", out)
        assert run.returncode == 0, run.stderr
        self.tid = tid
        return out

    def flash(self, config, tariff_for=None):
        image = self.w / "vfs.img"
        extra = []
        if tariff_for:
            upd = self.w / "tariff.upd"
            upd.write_bytes(updates.sign("tariff", 1, bytes.fromhex(tariff_for),
                                         _tariff_payload(), _update_master(self.master)))
            extra = ["--tariff", upd]
        run = ykt("image", "--board", self.board_name, "--config", config, *extra,
                  "--out", image)
        assert run.returncode == 0, run.stderr
        return ykt("flash", "--board", self.board_name, "--port", self.url,
                   "--firmware", self.firmware, "--image", image)

    def events(self):
        out = []
        text = bytes(self._uart).decode("utf-8", "replace").replace("\r\n", "\n")
        for line in text.splitlines():
            at = line.find('{"event"')
            if at >= 0:
                try:
                    out.append(json.loads(line[at:]))
                except ValueError:
                    pass
        return out

    def wait(self, done, seconds=30):
        end = time.monotonic() + seconds
        while not done() and time.monotonic() < end:
            time.sleep(0.1)
        return done()

    def collect(self):
        out = self.w / "collected"
        run = ykt("collect", "--port", self.url, "--key-file", self.master, "--out", out)
        return run, out

    def stop(self):
        self.server.stop()


_PAYLOAD = []


def _tariff_payload():
    if not _PAYLOAD:
        _PAYLOAD.append(tariff.build(TARIFF, 1))
    return _PAYLOAD[0]


def _update_master(path):
    with open(path) as f:
        return bytes.fromhex(json.load(f)["update"])


def bring_up(tmp_path, board, role_args, cards, taps, done, tid, tariff=False, master=None,
             collect=True):
    """Provision, image, flash; wait until ``done(rig)``; collect and verify: (the rig, its
    console events, the collected records, the `ykt journal verify` run). ``cards``: {name:
    (number, balance) or an issued PurseApplication}."""
    rig = Rig(tmp_path, board, cards, taps, master)
    try:
        config = rig.provision(tid, *role_args)
        flashed = rig.flash(config, tariff_for=tid if tariff else None)
        assert flashed.returncode == 0, flashed.stdout + flashed.stderr
        ok = rig.wait(lambda: done(rig))
        events = rig.events()
        assert ok, "did not happen; console events: %s" % events
        if not collect:
            return rig, events, [], None
        collected, out = rig.collect()
        assert collected.returncode == 0, collected.stdout + collected.stderr
    finally:
        rig.stop()
    # the board's whole flash, as `esptool read-flash` would save it: its journal verified
    dump = tmp_path / "flash.bin"
    dump.write_bytes(rig.board.flash.read(0, rig.board.flash.size))
    with open(rig.master) as f:
        device_master = bytes.fromhex(json.load(f)["device"])
    verified = ykt("journal", "verify", dump, "--board", board, "--key",
                   journal_key(device_master, bytes.fromhex(tid)).hex())
    return rig, events, collected_rows(out), verified


def _done_when(event, n=1):
    return lambda rig: sum(1 for e in rig.events() if e.get("event") == event) >= n


def _kinds(rows):
    return [r["kind"] for r in rows]


def _verified(run):
    assert run.returncode == 0, run.stdout + run.stderr


def test_fixed_fare_on_a_wroom32_without_psram(tmp_path):
    rig, events, rows, verified = bring_up(
        tmp_path, "wroom32-fare-reader", ["--role", "fixed_fare", "--fare-fen", "350"],
        {"rider": (RIDER, 5000)}, [{"at": 2, "tap": "rider"}], _done_when("debit"),
        "290031000301")
    _verified(verified)
    assert rig.hooks.balance("rider") == 5000 - 350
    buys = [r for r in rows if r["kind"] == "purchase"]
    assert [(b["amount"], b["card"], b["terminal"]) for b in buys] == [(350, RIDER, rig.tid)]


@pytest.mark.parametrize("role,station,event", [("entry_gate", "2025", "entry"),
                                                ("gate", "2025", "entry")])
def test_gate_lets_the_rider_in(tmp_path, role, station, event):
    rig, events, rows, verified = bring_up(
        tmp_path, "devkitc-turnstile", ["--role", role, "--station", station],
        {"rider": (RIDER, 3000)}, [{"at": 2, "tap": "rider"}], _done_when(event),
        "290010202501", tariff=True)
    _verified(verified)
    assert "update-installed" in _kinds(rows)  # the signed tariff left in the inbox
    assert any(e["event"] == event for e in events)
    assert [r["card"] for r in rows if r["kind"] == "entry"] == [RIDER]
    assert rig.hooks.balance("rider") == 3000  # entry charges nothing


def test_exit_gate_charges_the_ride(tmp_path):
    """In at Xujiahui (2025) on one turnstile, out at People's Square (2035) on another: the
    same card, each gate its own board, terminal id and journal."""
    rig_in, _, _, _ = bring_up(
        tmp_path / "in", "devkitc-turnstile", ["--role", "entry_gate", "--station", "2025"],
        {"rider": (RIDER, 3000)}, [{"at": 2, "tap": "rider"}], _done_when("entry"),
        "290010202501", tariff=True, collect=False)
    card = rig_in.hooks.apps["rider"]
    rig, events, rows, verified = bring_up(
        tmp_path / "out", "devkitc-turnstile", ["--role", "exit_gate", "--station", "2035"],
        {"rider": card}, [{"at": 2, "tap": "rider"}], _done_when("exit"),
        "290010203501", tariff=True, master=rig_in.master)
    _verified(verified)
    ride = [e for e in events if e["event"] == "exit"][0]
    assert ride["fen"] > 0 and card.balance == 3000 - ride["fen"]
    assert [r["amount"] for r in rows if r["kind"] == "exit"] == [ride["fen"]]
    assert [r["card"] for r in rows if r["kind"] == "exit"] == [RIDER]


def test_validator_bus_charges_the_route_fare(tmp_path):
    rig, events, rows, verified = bring_up(
        tmp_path, "bus-validator", ["--role", "validator", "--route", "926", "--mode", "bus"],
        {"rider": (RIDER, 3000)}, [{"at": 2, "tap": "rider"}], _done_when("ride"),
        "290020092601", tariff=True)
    _verified(verified)
    ride = [e for e in events if e["event"] == "ride"][0]
    assert ride["fen"] > 0 and rig.hooks.balance("rider") == 3000 - ride["fen"]
    assert [r["amount"] for r in rows if r["kind"] == "purchase"] == [ride["fen"]]


def test_validator_ferry_charges_the_route_fare(tmp_path):
    rig, events, rows, verified = bring_up(
        tmp_path, "bus-validator",
        ["--role", "validator", "--route", "DONGJIN", "--mode", "ferry"],
        {"rider": (RIDER, 3000)}, [{"at": 2, "tap": "rider"}], _done_when("ride"),
        "290020000201", tariff=True)
    _verified(verified)
    ride = [e for e in events if e["event"] == "ride"][0]
    assert ride["fen"] == 200 and rig.hooks.balance("rider") == 2800


def test_canteen_pos_on_the_s3(tmp_path):
    staff = tmp_path / "staff.json"
    with open(os.path.join(ROOT, "scenarios", "demo-canteen-pos.json")) as f:
        staff.write_text(json.dumps(json.load(f)["terminals"][0]["config"]["staff"]))
    rig, events, rows, verified = bring_up(
        tmp_path, "s3-canteen-pos",
        ["--role", "pos", "--canteen", CANTEEN, "--mode", "fixed", "--staff", staff],
        {"wang": (CASHIER, 0), "diner": (RIDER, 5000)},
        [{"at": 2, "tap": "wang"}, {"at": 5, "keys": "1357#"}, {"at": 10, "tap": "diner"}],
        _done_when("sale"), "290031000102")
    _verified(verified)
    sale = [e for e in events if e["event"] == "sale"][0]
    assert sale["fen"] > 0 and rig.hooks.balance("diner") == 5000 - sale["fen"]
    assert "purchase" in _kinds(rows)


# -- refusals, before anything is written or flashed --------------------------------------------
def _one_line(run, code=2):
    lines = run.stderr.strip().splitlines()
    assert run.returncode == code and len(lines) == 1, run.stdout + run.stderr
    return lines[0]


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    path = tmp_path_factory.mktemp("refusals") / "master.json"
    assert ykt("provision", "--new-master-key-file", path).returncode == 0
    return path


def test_provision_refuses_a_role_the_board_has_no_ram_for(tmp_path, master):
    out = tmp_path / "bus.json"
    line = _one_line(ykt("provision", "--board", "wroom32-fare-reader", "--terminal-id",
                         "290020092601", "--role", "validator", "--route", "926",
                         "--master-key-file", master, "--out", out))
    assert "role validator needs about 141 KB" in line and "has 108 KB" in line, line
    assert not out.exists()


def test_board_check_role_says_whether_it_fits():
    run = ykt("board", "check", "wroom32-fare-reader", "--role", "pos")
    assert run.returncode == 1 and run.stdout.startswith("error: role pos needs about"), run.stdout
    assert ykt("board", "check", "wroom32-fare-reader", "--role", "fixed_fare").returncode == 0
    for board, role in (("devkitc-turnstile", "gate"), ("bus-validator", "validator"),
                        ("s3-canteen-pos", "pos")):
        run = ykt("board", "check", board, "--role", role)
        assert run.returncode == 0 and "error" not in run.stdout, run.stdout


@pytest.mark.parametrize("args,expect", [
    (["--board", "devkitc-turnstile", "--role", "pos", "--canteen", CANTEEN],
     "role pos needs a board with a keypad"),
    (["--board", "s3-canteen-pos", "--role", "pos"], "role pos needs --canteen"),
    (["--board", "s3-canteen-pos", "--role", "pos", "--canteen", CANTEEN, "--mode", "bus"],
     "--mode must be fixed or menu or amount"),
    (["--board", "bus-validator", "--role", "validator", "--route", "926", "--staff", "x.json"],
     "role validator takes no --staff"),
    (["--board", "s3-canteen-pos", "--role", "pos", "--canteen", "tariffs/shanghai-2017.json"],
     "not a canteen rule set"),
])
def test_provision_role_settings_are_checked(tmp_path, master, args, expect):
    out = tmp_path / "c.json"
    line = _one_line(ykt("provision", "--terminal-id", "290031000102", *args,
                         "--master-key-file", master, "--out", out))
    assert expect in line, line
    assert not out.exists()


def test_pos_config_carries_rules_menu_staff_and_mode(tmp_path, master):
    staff = tmp_path / "staff.json"
    staff.write_text(json.dumps([{"card": CASHIER, "name": "WANG", "role": "cashier",
                                  "salt": "00" * 16, "pin_sha256": "11" * 32}]))
    out = tmp_path / "pos.json"
    run = ykt("provision", "--board", "s3-canteen-pos", "--terminal-id", "290031000102",
              "--role", "pos", "--canteen", CANTEEN, "--mode", "menu", "--staff", staff,
              "--master-key-file", master, "--out", out)
    assert run.returncode == 0, run.stderr
    cfg = json.loads(out.read_text())
    with open(CANTEEN) as f:
        assert cfg["canteen"] == json.load(f)  # the rule set, its menu (items, set meals) in it
    assert cfg["mode"] == "menu" and cfg["staff"][0]["name"] == "WANG"


# -- the S3 as esptool meets it ---------------------------------------------------------------
def test_esptool_detects_flashes_and_verifies_an_s3(tmp_path):
    spec = load_board_file("s3-canteen-pos")
    board = make_board(spec)
    from hw_sim.board.server import BoardServer

    server = BoardServer(board)
    board.power_on("rom")
    server.start(max_seconds=60)
    data = tmp_path / "blob.bin"
    data.write_bytes(os.urandom(20000))
    base = [sys.executable, "-m", "esptool", "--port", server.url, "--before", "no-reset",
            "--no-stub", "--after", "no-reset"]
    try:
        ident = subprocess.run(base + ["flash-id"], capture_output=True, text=True, timeout=60)
        wrote = subprocess.run(base + ["write-flash", "0x300000", str(data)],
                               capture_output=True, text=True, timeout=60)
        checked = subprocess.run(base + ["verify-flash", "0x300000", str(data)],
                                 capture_output=True, text=True, timeout=60)
    finally:
        server.stop()
    assert "Detecting chip type... ESP32-S3" in ident.stdout, ident.stdout + ident.stderr
    assert "Chip type:          ESP32-S3" in ident.stdout
    assert "Detected flash size: 8MB" in ident.stdout
    assert wrote.returncode == 0 and "Hash of data verified" in wrote.stdout, wrote.stdout
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert board.flash.read(0x300000, 20000) == data.read_bytes()


def test_the_virtual_board_refuses_a_chip_it_has_no_rom_for(tmp_path):
    path = tmp_path / "c3.json"
    path.write_text(json.dumps({"name": "c3", "chip": "esp32c3"}))
    with pytest.raises(ValueError, match="emulates the ROM of esp32 and esp32s3 only"):
        load_board_file(str(path))


# -- the board files' memory ------------------------------------------------------------------
def test_every_shipped_role_fits_a_shipped_board_and_the_vm_heap_follows_the_board():
    from host_tools.lib import boardcheck
    from host_tools.lib.boards import load

    boards = {n: load(n) for n in ("wroom32-fare-reader", "devkitc-turnstile",
                                   "bus-validator", "s3-canteen-pos")}
    for role in boardcheck.ROLE_VM_NEED_KB:
        assert any(boardcheck.role_fit(b, role) is None for b in boards.values()), role
    assert boardcheck.heap_kb(boards["wroom32-fare-reader"]) == 108
    assert boardcheck.vm_heap_kb(boards["wroom32-fare-reader"]) == 123  # 108 x 1.14
    assert boardcheck.vm_heap_kb(boards["s3-canteen-pos"]) == boardcheck.VM_CAP_KB
    from hw_sim.board.taps import board_vm_heap
    from hw_sim.vm_bridge import board_heap

    assert board_heap(boards["wroom32-fare-reader"]) == "123K"
    assert board_vm_heap(boards["wroom32-fare-reader"]) == "159K"


def test_board_check_refuses_psram_pins_and_a_bad_ram_entry():
    from host_tools.lib.boardcheck import check
    from host_tools.lib.boards import load

    board = load("devkitc-turnstile")
    board["leds"] = {"green": 16, "red": 26}
    errors = [m for level, m in check(board) if level == "error"]
    assert errors == ["devkitc-turnstile: leds.green uses GPIO 16, wired to the module's PSRAM"]
    board = load("wroom32-fare-reader")
    board["leds"] = {"green": 16, "red": 26}
    board["display"]["uart"] = {"id": 2, "tx": 14, "rx": 13}
    assert [m for level, m in check(board) if level == "error"] == []  # no PSRAM: free pin
    board["ram"] = {"heap_kb": "lots"}
    assert [m for level, m in check(board) if level == "error"] == [
        "wroom32-fare-reader: ram.heap_kb must be a whole number of KB (the MicroPython heap "
        "on the module)"]
