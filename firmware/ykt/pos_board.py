"""Board file -> the canteen POS peripherals: keypad, character LCD, receipt printer.

Kept apart from ``ykt.board`` so terminals without them never load these drivers.
Each function returns None when the board does not have the part. The board
entries (boards/s3-canteen-pos.json)::

    "keypad":  {"rows": [4, 5, 6, 7], "cols": [15, 16, 21, 47]}
    "lcd":     {"i2c": {"id": 0, "scl": 9, "sda": 8}, "address": 39, "cols": 20, "rows": 4}
    "printer": {"uart": {"id": 1, "tx": 41, "rx": 42, "baudrate": 9600}, "width": 32}

The LCD may share the reader's I2C bus (the PN532 answers at 0x24, the PCF8574
backpack at 0x27). Keys and defaults: host_tools/lib/peripherals.py (docs/boards.md).
"""

import machine


def keypad(board):
    spec = board.get("keypad")
    if not spec:
        return None
    from ykt.drivers.keypad import KEYS, Keypad

    rows = [machine.Pin(n, machine.Pin.OPEN_DRAIN, value=0) for n in spec["rows"]]
    cols = [machine.Pin(n, machine.Pin.IN, machine.Pin.PULL_UP) for n in spec["cols"]]
    return Keypad(rows, cols, spec.get("debounce_ms", 20), spec.get("keys", KEYS))


def lcd(board):
    spec = board.get("lcd")
    if not spec:
        return None
    from ykt.drivers.lcd import Lcd

    s = spec["i2c"]
    i2c = machine.I2C(s["id"], scl=machine.Pin(s["scl"]), sda=machine.Pin(s["sda"]),
                      freq=s.get("freq", 400000))
    return Lcd(i2c, spec.get("address", 0x27), spec.get("cols", 20), spec.get("rows", 4))


def printer(board):
    spec = board.get("printer")
    if not spec:
        return None
    from ykt.drivers.escpos import Printer

    u = spec["uart"]
    uart = machine.UART(u["id"], u.get("baudrate", 9600), tx=u["tx"], rx=u["rx"], timeout=0)
    return Printer(uart, spec.get("width", 32))
