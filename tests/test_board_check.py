"""`ykt board check`: one clear line per problem that would fail on the chip."""

import copy
import json
import os
import subprocess
import sys

import pytest

from host_tools.lib.boardcheck import check, load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _errors(board):
    return [m for level, m in check(board) if level == "error"]


def _warnings(board):
    return [m for level, m in check(board) if level == "warning"]


@pytest.mark.parametrize("name", ["devkitc-turnstile", "s3-canteen-pos", "bus-validator"])
def test_shipped_boards_have_no_errors(name):
    assert _errors(load(name)) == []


def _turnstile(**changes):
    board = copy.deepcopy(load("devkitc-turnstile"))
    for path, value in changes.items():
        node = board
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return board


def test_pin_used_twice_is_an_error():
    assert _errors(_turnstile(buzzer=25)) == [
        "devkitc-turnstile: GPIO 25 is used by both leds.green and buzzer"]


def test_input_only_pin_as_output_is_an_error():
    assert _errors(_turnstile(gate__open=36)) == [
        "devkitc-turnstile: gate.open drives GPIO 36, which is input-only on esp32"]


def test_input_only_pin_as_input_is_fine():
    assert _errors(_turnstile(gate__emergency=36)) == []


def test_flash_pin_is_an_error():
    assert _errors(_turnstile(leds__red=7)) == [
        "devkitc-turnstile: leds.red uses GPIO 7, wired to the SPI flash"]


def test_missing_gpio_is_an_error():
    assert _errors(_turnstile(leds__red=24)) == [
        "devkitc-turnstile: leds.red uses GPIO 24, which esp32 does not have"]


def test_bus_id_the_chip_lacks_is_an_error():
    assert "nfc uses SPI(3), which esp32 does not have" in _errors(_turnstile(nfc__spi__id=3))[0]


def test_strapping_pin_is_a_warning_not_an_error():
    board = _turnstile(buzzer=12)
    assert _errors(board) == []
    assert "buzzer uses strapping pin GPIO 12 (boot mode may change)" in " ".join(_warnings(board))


def test_shared_i2c_bus_is_not_a_conflict():
    assert _errors(load("s3-canteen-pos")) == []  # PN532 and LCD on the same I2C pins


def test_partition_past_the_flash_end_is_an_error():
    errors = _errors(_turnstile(partitions__vfs__size=4194304))
    assert errors == ["devkitc-turnstile: partitions.vfs ends at 0x600000, past the 4 MB flash"]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "host_tools.cli", "board", "check", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_cli_exits_non_zero_with_one_line_per_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_turnstile(gate__open=36, leds__red=7)))
    r = _cli(str(path))
    assert r.returncode == 1
    errors = [x for x in r.stdout.splitlines() if x.startswith("error: ")]
    assert len(errors) == 2


def test_cli_unknown_board_is_one_clear_line():
    r = _cli("no-such-board")
    assert r.returncode == 2
    assert r.stderr.strip().startswith("ykt: error: unknown board 'no-such-board' (known: ")
    assert len(r.stderr.strip().splitlines()) == 1
