"""Boot: board file and configuration -> drivers, SAM, records -> the role's loop.

On the board ``main.py`` calls ``start()``, which reads ``/board.json`` and
``/config.json``; the simulator calls ``run(board, config)`` with the same
dictionaries.
"""

import binascii
import json

from ykt import board as boards
from ykt import report
from ykt.payment import Payments
from ykt.reader import Reader
from ykt.sam import SoftSam
from ykt.store.recordlog import RecordLog


def _sam(config):
    keys = {}
    for name, value in config["keys"].items():
        keys[name] = binascii.unhexlify(value)
    return SoftSam(keys, binascii.unhexlify(config["terminal_id"]))


def _role(name):
    if name == "fixed_fare":
        from ykt.roles.fixed_fare import FixedFareTerminal

        return FixedFareTerminal
    raise ValueError("unknown role %r" % name)


def run(board, config, fs=None):
    """Build everything from the board file and configuration and serve forever.

    ``fs`` is the filesystem the stores use (``ykt.store.vfs.Vfs`` over the
    mounted flash unless given, e.g. by the simulator under CPython).
    """
    if fs is None:
        from ykt.store.vfs import Vfs

        fs = Vfs(config.get("data_dir", "/"))
    role = _role(config["role"])
    ui = boards.ui(board)
    reader = Reader(boards.nfc_reader(board), poll_ms=int(config.get("poll_ms", 100)))
    log = RecordLog(fs, config.get("records", "/records.csv"))
    payments = Payments(_sam(config), log)
    report.emit("boot", ("terminal", config.get("name", "")), ("role", config["role"]),
                ("board", board.get("name", "")))
    role(reader, payments, ui, config).run()


def start():
    with open("/board.json") as f:
        board = json.load(f)
    with open("/config.json") as f:
        config = json.load(f)
    run(board, config)
