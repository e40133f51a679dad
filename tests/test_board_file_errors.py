"""A malformed board file is one clear `ykt: error:` line (exit 2) in `ykt board check` and
`ykt sim run`, never a traceback."""

import copy
import json
import os
import subprocess
import sys

import pytest

from host_tools import cli
from host_tools.lib.boards import BoardError, load, validate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def turnstile():
    with open(os.path.join(ROOT, "boards", "devkitc-turnstile.json")) as f:
        return json.load(f)


def pos():
    with open(os.path.join(ROOT, "boards", "s3-canteen-pos.json")) as f:
        return json.load(f)


def changed(base, path, value, delete=False):
    board = copy.deepcopy(base)
    node = board
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[k]
    if delete:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return board


DELETE = object()

# (case, board JSON (or raw text), what the one line says)
CASES = [
    ("list", [], "not a board (the top level must be a JSON object, got a list)"),
    ("number", 42, "not a board (the top level must be a JSON object, got 42)"),
    ("null", None, "not a board (the top level must be a JSON object, got null)"),
    ("empty-object", {}, "chip is missing"),
    ("no-nfc", changed(turnstile(), "nfc", None, delete=True), "nfc is missing"),
    ("nfc-not-object", changed(turnstile(), "nfc", 5), "nfc must be an object, got 5"),
    ("nfc-list", changed(turnstile(), "nfc", ["spi"]), "nfc must be an object, got a list"),
    ("nfc-bus-unknown", changed(turnstile(), "nfc.bus", "usb"),
     "nfc.bus must be one of i2c, spi, uart, got the text 'usb'"),
    ("nfc-bus-missing", changed(turnstile(), "nfc.bus", None, delete=True), "nfc.bus is missing"),
    ("nfc-spi-missing", changed(turnstile(), "nfc.spi", None, delete=True), "nfc.spi is missing"),
    ("pin-string", changed(turnstile(), "nfc.spi.sck", "18"),
     "nfc.spi.sck must be a GPIO number, got the text '18'"),
    ("pin-bool", changed(turnstile(), "nfc.cs", True), "nfc.cs must be a GPIO number, got true"),
    ("pin-float", changed(turnstile(), "gate.open", 32.5),
     "gate.open must be a GPIO number, got 32.5"),
    ("pin-missing", changed(turnstile(), "gate.passage", None, delete=True),
     "gate.passage is missing"),
    ("bus-id-string", changed(turnstile(), "nfc.spi.id", "2"),
     "nfc.spi.id must be a whole number, got the text '2'"),
    ("gate-list", changed(turnstile(), "gate", [32, 34]), "gate must be an object, got a list"),
    ("display-text", changed(turnstile(), "display", "pole"),
     "display must be an object, got the text 'pole'"),
    ("display-uart-missing", changed(turnstile(), "display.uart", None, delete=True),
     "display.uart is missing"),
    ("leds-list", changed(turnstile(), "leds", [25, 26]), "leds must be an object, got a list"),
    ("led-string", changed(turnstile(), "leds.red", "26"),
     "leds.red must be a GPIO number, got the text '26'"),
    ("buzzer-object", changed(turnstile(), "buzzer", {"pin": 27}),
     "buzzer must be a GPIO number, got an object"),
    ("partitions-list", changed(turnstile(), "partitions", []),
     "partitions must be an object, got a list"),
    ("partition-size-missing", changed(turnstile(), "partitions.vfs.size", None, delete=True),
     "partitions.vfs.size is missing"),
    ("partition-offset-text", changed(turnstile(), "partitions.vfs.offset", "0x200000"),
     "partitions.vfs.offset must be a whole number, got the text '0x200000'"),
    ("flash-size-text", changed(turnstile(), "flash_size", "4MB"),
     "flash_size must be a whole number >= 1, got the text '4MB'"),
    ("chip-number", changed(turnstile(), "chip", 32), "chip must be text, got 32"),
    ("keypad-rows-text", changed(pos(), "keypad.rows", "4567"),
     "keypad.rows must be a list of GPIO numbers, got the text '4567'"),
    ("keypad-col-string", changed(pos(), "keypad.cols", [15, "16", 21, 47]),
     "keypad.cols[1] must be a GPIO number, got the text '16'"),
    ("lcd-i2c-list", changed(pos(), "lcd.i2c", [0, 9, 8]), "lcd.i2c must be an object, got a list"),
    ("printer-uart-missing", changed(pos(), "printer.uart", None, delete=True),
     "printer.uart is missing"),
    ("not-json", "{\"chip\": \"esp32\",", "not valid JSON (line 1: Expecting property name"),
    ("not-text", b"\xff\xfe\x00binary", "not a board file (not UTF-8 text)"),
]


def write(tmp_path, name, board):
    path = tmp_path / (name + ".json")
    if isinstance(board, bytes):
        path.write_bytes(board)
    elif isinstance(board, str):
        path.write_text(board)
    else:
        path.write_text(json.dumps(board))
    return path


def one_error_line(capsys):
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1, out.err
    assert "Traceback" not in out.err + out.out
    return lines[0]


@pytest.mark.parametrize("name, board, says", CASES, ids=[c[0] for c in CASES])
def test_board_check_gives_one_line_and_exit_2(tmp_path, capsys, name, board, says):
    path = write(tmp_path, name, board)
    assert cli.main(["board", "check", str(path)]) == 2
    line = one_error_line(capsys)
    assert line.startswith("ykt: error: %s: " % path), line
    assert says in line, line


@pytest.mark.parametrize("name, board, says", CASES, ids=[c[0] for c in CASES])
def test_sim_run_gives_one_line_and_exit_2(tmp_path, capsys, name, board, says):
    path = write(tmp_path, name, board)
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({
        "start": "2026-11-29T07:00:00",
        "terminals": [{"id": "T1", "role": "fixed_fare", "board": str(path),
                       "config": {"fare_fen": 350}}],
        "cards": [], "events": []}))
    assert cli.main(["sim", "run", str(scenario)]) == 2
    line = one_error_line(capsys)
    assert says in line, line
    assert str(path) in line, line


def test_the_shipped_boards_are_well_formed():
    for name in ("devkitc-turnstile", "s3-canteen-pos", "bus-validator"):
        assert load(name)["name"] == name


def test_an_unwired_irq_or_led_is_allowed_and_not_a_finding():
    from host_tools.lib.boardcheck import check

    board = changed(changed(turnstile(), "nfc.irq", None), "leds.red", None)
    validate(board)
    assert [m for level, m in check(board) if level == "error"] == []


def test_validate_names_the_source():
    with pytest.raises(BoardError, match=r"^my-board: nfc is missing$"):
        validate({"chip": "esp32"}, "my-board")


@pytest.mark.parametrize("cmd", [["board", "check"], ["sim", "run"]])
def test_no_traceback_from_the_installed_command(tmp_path, cmd):
    path = write(tmp_path, "list", [])
    arg = path
    if cmd[0] == "sim":
        arg = tmp_path / "scenario.json"
        arg.write_text(json.dumps({"start": "2026-11-29T07:00:00", "terminals": [
            {"id": "T1", "role": "fixed_fare", "board": str(path), "config": {}}],
            "cards": [], "events": []}))
    r = subprocess.run([sys.executable, "-m", "host_tools.cli"] + cmd + [str(arg)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        "ykt: error: %s: not a board (the top level must be a JSON object, got a list)" % path]
