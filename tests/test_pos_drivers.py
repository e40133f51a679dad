"""Canteen POS peripherals: each firmware driver against its simulator model.

Keypad (ykt.drivers.keypad / hw_sim.keypad), HD44780 LCD on a PCF8574 backpack
(ykt.drivers.lcd / hw_sim.lcd) and ESC/POS printer with GB18030 text
(ykt.drivers.escpos / hw_sim.escpos), on one simulated board with a virtual clock.
"""

import time

import machine
import pytest

from hw_sim.clock import VirtualClock
from hw_sim.escpos import PrinterModel
from hw_sim.keypad import KeypadModel
from hw_sim.lcd import LcdModel
from hw_sim.wiring import Wiring
from ykt.drivers import escpos
from ykt.drivers.escpos import Printer
from ykt.drivers.keypad import Keypad
from ykt.drivers.lcd import Lcd

ROWS, COLS = [4, 5, 6, 7], [15, 16, 21, 47]


@pytest.fixture
def board():
    clock = VirtualClock()
    w = Wiring(clock).activate()
    return w


class Recorder:
    """An I2C or UART device that keeps every byte it is sent."""

    i2c_address = 0x27

    def __init__(self):
        self.writes = []

    def i2c_write(self, data):
        self.writes.append(bytes(data))

    def uart_write(self, data):
        self.writes.append(bytes(data))

    def uart_read(self):
        return b""


# -- keypad -------------------------------------------------------------------------------------

def _keypad(board):
    model = KeypadModel(board, ROWS, COLS)
    pins = [machine.Pin(n, machine.Pin.OPEN_DRAIN, value=0) for n in ROWS]
    cols = [machine.Pin(n, machine.Pin.IN, machine.Pin.PULL_UP) for n in COLS]
    return model, Keypad(pins, cols)


def _collect(kp, ms):
    got = ""
    for _ in range(ms // 10):
        k = kp.poll()
        if k is not None:
            got += k
        time.sleep_ms(10)
    return got


def test_keypad_reads_all_16_keys_at_their_rows_and_columns(board):
    model, kp = _keypad(board)
    model.type("123A456B789C*0#D", at_us=1000)
    assert _collect(kp, 5000) == "123A456B789C*0#D"


def test_keypad_ignores_a_bounce_shorter_than_the_debounce_time(board):
    model, kp = _keypad(board)
    model.press("5", hold_ms=5, at_us=1000)
    assert _collect(kp, 500) == ""


def test_held_key_is_reported_once(board):
    model, kp = _keypad(board)
    model.press("7", hold_ms=1500, at_us=1000)
    assert _collect(kp, 3000) == "7"


def test_same_key_pressed_twice_is_two_keys(board):
    model, kp = _keypad(board)
    model.type("11", at_us=1000)
    assert _collect(kp, 1500) == "11"


def test_idle_keypad_scan_only_reads_the_columns(board):
    model, kp = _keypad(board)
    writes = []
    for pin in ROWS:
        board.watch_pin(pin, lambda level, pin=pin: writes.append((pin, level)))
    _collect(kp, 200)
    assert writes == []
    assert all(board.levels[pin] == 0 for pin in ROWS)


# -- LCD ----------------------------------------------------------------------------------------

def _lcd(board):
    model = LcdModel(board.clock)
    board.attach_i2c(0, model)
    return model, Lcd(machine.I2C(0), 0x27)


def test_lcd_init_follows_the_datasheet_sequence_and_timing(board):
    model, lcd = _lcd(board)
    lcd.init()
    assert model.init_ok
    assert model.violations == []
    assert (model.eight_bit, model.two_line, model.display_on, model.cursor) == (
        False, True, True, False)


def test_lcd_model_rejects_an_init_without_the_waits(board):
    model = LcdModel(board.clock)
    board.clock.advance(50000)
    for nib in (0x3, 0x3, 0x3, 0x2):
        model.i2c_write(bytes((nib << 4 | 0x0C, nib << 4 | 0x08)))
    assert not model.eight_bit
    assert not model.init_ok


def test_lcd_rows_land_at_the_20x4_ddram_addresses(board):
    model, lcd = _lcd(board)
    lcd.init()
    lcd.show(("ROW ZERO", "ROW ONE", "ROW TWO", "ROW THREE"))
    assert model.text() == "ROW ZERO\nROW ONE\nROW TWO\nROW THREE"
    assert bytes(model.ddram[0x14:0x1B]) == b"ROW TWO"
    assert bytes(model.ddram[0x54:0x5D]) == b"ROW THREE"


def test_lcd_character_is_two_nibbles_each_latched_by_an_enable_pulse(board):
    rec = Recorder()
    board.attach_i2c(0, rec)
    Lcd(machine.I2C(0), 0x27, cols=1, rows=1).write_row(0, "A")
    # set DDRAM 0x00 (0x80), then 'A' (0x41) with RS: P0 RS, P2 E, P3 backlight, P4-7 data
    assert rec.writes == [bytes([0x8C, 0x88, 0x0C, 0x08, 0x4D, 0x49, 0x1D, 0x19])]


def test_lcd_shows_the_yen_sign_and_a_question_mark_for_what_rom_a00_lacks(board):
    model, lcd = _lcd(board)
    lcd.init()
    lcd.show(("\u00a5 5.00 \u996d", "", "", ""))
    assert model.lines()[0].rstrip() == "\u00a5 5.00 ?"


def test_lcd_writes_only_the_rows_that_changed(board):
    model, lcd = _lcd(board)
    lcd.init()
    lcd.show(("A", "B", "C", "D"))
    before = len(model.history)
    lcd.show(("A", "B", "C", "E"))
    assert len(model.history) == before + 1
    assert model.lines()[3].rstrip() == "E"


# -- ESC/POS printer ----------------------------------------------------------------------------

def _printer(board, paper="ok"):
    model = PrinterModel(paper)
    board.attach_uart(1, model)
    return model, Printer(machine.UART(1, 9600))


def test_printer_begin_is_initialise_then_chinese_mode(board):
    rec = Recorder()
    board.attach_uart(1, rec)
    Printer(machine.UART(1, 9600)).begin()
    assert b"".join(rec.writes) == b"\x1b\x40\x1c\x26"


def test_chinese_text_goes_out_as_gb18030_bytes(board):
    rec = Recorder()
    board.attach_uart(1, rec)
    Printer(machine.UART(1, 9600)).line("合计 12.00")
    assert b"".join(rec.writes) == b"\xba\xcf\xbc\xc6 12.00\n"


def test_bold_and_cut_are_their_escpos_commands(board):
    rec = Recorder()
    board.attach_uart(1, rec)
    p = Printer(machine.UART(1, 9600))
    p.line("X", bold=True)
    p.cut()
    assert b"".join(rec.writes) == b"\x1b\x45\x01X\n\x1b\x45\x00\x1b\x64\x03\x1d\x56\x01"


def test_every_table_character_is_its_gb18030_encoding():
    uni, codes = escpos._GB_UNI, escpos._GB_CODES
    assert len(uni) == len(codes)
    for i in range(0, len(uni), 2):
        ch = chr(int.from_bytes(uni[i:i + 2], "big"))
        assert escpos.gb18030(ord(ch)) == ch.encode("gb18030"), ch


def test_receipt_round_trips_through_the_printer_model(board):
    model, p = _printer(board)
    p.begin()
    p.line("CANTEEN", bold=True, align=1)
    p.pair("红烧肉 x1", "8.00")
    p.pair("余额", "96.00", bold=True)
    p.cut()
    assert model.receipts == ["CANTEEN\n红烧肉 x1                   8.00\n"
                              "余额                       96.00"]
    assert model.bold_lines() == ["CANTEEN", "余额                       96.00"]
    assert model.errors == []


def test_character_missing_from_the_table_prints_as_question_marks(board):
    model, p = _printer(board)
    p.begin()
    p.line("饭菜品")
    p.cut()
    assert model.receipts == ["饭菜??"]
    assert not escpos.encodable("菜品") and escpos.encodable("红烧肉 x1")


def test_line_is_cut_at_the_paper_width_counting_chinese_as_two_columns(board):
    model, p = _printer(board)
    p.begin()
    p.line("米饭" * 20)
    p.cut()
    assert model.receipts == ["米饭" * 8]
    assert escpos.columns(model.receipts[0]) == 32


@pytest.mark.parametrize("paper", ["ok", "near-end", "out"])
def test_paper_sensor_status_is_read_back(board, paper):
    _, p = _printer(board, paper)
    assert p.paper() == paper


def test_no_printer_on_the_uart_answers_no_status(board):
    assert Printer(machine.UART(1, 9600)).paper() is None
