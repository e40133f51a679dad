"""One description of the board peripherals (host_tools/lib/peripherals.py), and everything
that reads a board file held to it.

The firmware's readers (ykt/board.py, ykt/pos_board.py) stay plain MicroPython: they run here
under the simulator on a board file that notes every key they read, how (indexed: the key must
be there; ``get``: with which default), and which function read it. Every key they read is
declared, with the same default; every declared kind, field and bus option they are meant to
read is read, by the function the description names. The simulator wires a model for each
kind that has one; docs/boards.md carries the description's table.
"""

import copy
import importlib
import os

import pytest

from host_tools.lib import peripherals as P
from host_tools.lib.boardcheck import check
from host_tools.lib.boards import BoardError, load, validate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

INDEXED = "indexed"


class Reads(dict):
    """A board file (or a part of it) that logs every key read: path -> [(how, default, by)]."""

    def __init__(self, data, path, log, by):
        super().__init__(data)
        self.path, self.log, self.by = path, log, by

    def _note(self, key, how, default=None):
        self.log.setdefault(self.path + (key,), []).append((how, default, self.by[0]))

    def _wrap(self, key, value):
        return Reads(value, self.path + (key,), self.log, self.by) if isinstance(value, dict) \
            else value

    def __getitem__(self, key):
        self._note(key, INDEXED)
        return self._wrap(key, super().__getitem__(key))

    def get(self, key, default=None):
        self._note(key, "get", default)
        return self._wrap(key, super().__getitem__(key)) if key in self else default


def _boards():
    """The shipped boards (one per PN532 bus), the POS board with a gate as well, and the venue
    gate (its QR scanner): together every kind on every bus."""
    full = copy.deepcopy(load("s3-canteen-pos"))
    full["name"] = "everything"
    full["gate"] = {"open": 11, "passage": 12, "emergency": 13}
    return [load("devkitc-turnstile"), load("bus-validator"), load("s3-canteen-pos"), full,
            load("devkitc-venue-gate")]


def _readers():
    return sorted({k.firmware for k in P.KINDS})


def _call(name, board):
    module, fn = name.rsplit(".", 1)
    return getattr(importlib.import_module(module), fn)(board)


@pytest.fixture(scope="module")
def reads():
    """Every read of every firmware reader on every test board: path -> [(how, default, by)]."""
    from hw_sim.terminal import SimTerminal

    log, by = {}, [None]
    for board in _boards():
        validate(board)
        SimTerminal(board).activate()  # the buses and pins the drivers are built on
        for name in _readers():
            by[0] = name
            _call(name, Reads(board, (), log, by))
    return log


def _declared(path):
    """What the description says of ``path`` (a key the firmware read): (required, default,
    what) with ``what`` naming the declaration; None when it declares no such key."""
    k = P.BY_NAME.get(path[0])
    if k is None:
        return None
    if len(path) == 1:
        return k.required, ({} if k.shape == "pins" else None), k
    if k.shape == "pin":
        return None
    field = k.get(path[1])
    if field is None:
        select = k.select()
        field = select and select.slot(path[1])
    if field is None:
        return None
    if len(path) == 2:
        if isinstance(field, P.Option):
            return False, field.default, field
        if isinstance(field, P.Pin):
            return field.required, None, field
        return True, None, field  # a Select, a Slot (when in use), a PinList
    if not isinstance(field, P.Slot) or len(path) != 3:
        return None
    bus = P.BUSES[field.bus]
    if path[2] == "id" or path[2] in [p.key for p in bus.pins]:
        return True, None, bus
    if path[2] in field.defaults:
        return False, field.defaults[path[2]], field
    return None


def test_every_key_the_firmware_reads_is_declared_with_its_default(reads):
    problems = []
    for path, uses in sorted(reads.items()):
        where = ".".join(path)
        said = _declared(path)
        if said is None:
            problems.append("%s: read by %s, not declared" % (where, uses[0][2]))
            continue
        required, default, _ = said
        for how, fw_default, by in uses:
            if how == INDEXED and not required:
                problems.append("%s: %s indexes it, the description makes it optional"
                                % (where, by))
            if how == "get" and required:
                problems.append("%s: %s reads it with get(), the description requires it"
                                % (where, by))
            if how == "get" and not required and fw_default != default:
                problems.append("%s: %s assumes %r, the description %r"
                                % (where, by, fw_default, default))
    assert problems == []


def _expected_paths():
    """(path, the reader meant to read it) for every kind, field and bus key the description
    declares that the firmware reads (notes are for people)."""
    out = []
    for k in P.KINDS:
        out.append(((k.name,), k.firmware))
        for f in k.fields:
            if isinstance(f, P.Option) and f.type == "note":
                continue
            out.append(((k.name, f.key), k.firmware))
            slots = f.slots if isinstance(f, P.Select) else [f] if isinstance(f, P.Slot) else []
            for s in slots:
                bus = P.BUSES[s.bus]
                out.append(((k.name, s.bus), k.firmware))
                for key in ["id"] + [p.key for p in bus.pins] + list(s.defaults):
                    out.append(((k.name, s.bus, key), k.firmware))
    return out


def test_every_declared_key_is_read_by_the_reader_the_description_names(reads):
    missing = ["%s (%s)" % (".".join(path), by) for path, by in _expected_paths()
               if by not in {u[2] for u in reads.get(path, [])}]
    assert missing == []


def test_the_readers_read_nothing_else_of_another_kind(reads):
    strays = sorted("%s by %s" % (".".join(path), u[2]) for path, uses in reads.items()
                    for u in uses if getattr(P.BY_NAME.get(path[0]), "firmware", None) != u[2])
    assert strays == []


def test_notes_are_read_by_no_program(reads):
    notes = [(k.name, f.key) for k in P.KINDS for f in k.fields
             if isinstance(f, P.Option) and f.type == "note"]
    assert notes and [n for n in notes if n in reads] == []


def test_every_bus_option_a_slot_names_is_an_option_of_its_bus():
    for k in P.KINDS:
        for s in k.slots():
            assert set(s.defaults) <= set(P.BUSES[s.bus].options), (k.name, s.bus)


# -- the simulator -------------------------------------------------------------------------------

def test_the_simulator_wires_a_model_for_every_kind_that_declares_one():
    from hw_sim.terminal import WIRE

    assert sorted(WIRE) == sorted(k.name for k in P.KINDS if k.sim)
    for k in P.KINDS:
        if k.sim:
            module, name = k.sim.rsplit(".", 1)
            assert hasattr(importlib.import_module(module), name), k.sim


def test_the_simulator_uses_the_declared_defaults():
    from hw_sim.terminal import SimTerminal

    board = copy.deepcopy(load("s3-canteen-pos"))
    for key in ("address", "cols", "rows"):
        del board["lcd"][key]
    del board["lcd"]["i2c"]["freq"]
    board["keypad"]["keys"] = "ABCDEFGHIJKLMNOP"
    sim = SimTerminal(validate(board))
    lcd = P.kind("lcd")
    assert (sim.lcd.i2c_address, sim.lcd.cols, sim.lcd.rows) == tuple(
        lcd.get(key).default for key in ("address", "cols", "rows"))
    assert sim.wiring.i2c[0][0x27] is sim.lcd
    assert sim.keypad.layout == "ABCDEFGHIJKLMNOP"


def test_fitted_lists_the_board_s_peripherals_with_their_defaults():
    fitted = dict((k.name, spec) for k, spec in P.fitted(load("bus-validator")))
    assert list(fitted) == ["nfc", "display", "leds", "buzzer"]
    assert fitted["nfc"]["uart"]["timeout"] == 0 and fitted["nfc"]["irq"] is None
    assert fitted["nfc"]["address"] == 0x24 and fitted["display"]["width"] == 20
    assert "timeout" not in load("bus-validator")["nfc"]["uart"]  # a copy: the board is as read


# -- the host checks -------------------------------------------------------------------------------

def test_board_check_takes_every_pin_direction_from_the_description():
    from host_tools.lib.boardcheck import uses

    pins, buses = uses(load("s3-canteen-pos"))
    directions = {what: direction for what, _, direction, _ in pins}
    assert directions["nfc.scl"] == P.BIDIR and directions["nfc.irq"] == P.IN
    assert directions["keypad.row0"] == P.OUT and directions["keypad.col3"] == P.IN
    assert buses == [("nfc", "i2c", 0), ("display", "uart", 2), ("printer", "uart", 1),
                     ("lcd", "i2c", 0)]


def test_a_declared_option_of_the_wrong_type_is_one_line():
    board = copy.deepcopy(load("s3-canteen-pos"))
    board["keypad"]["keys"] = 1234
    with pytest.raises(BoardError, match=r"^b: keypad.keys must be text, got 1234$"):
        validate(board, "b")


def test_an_undeclared_peripheral_is_neither_checked_nor_wired():
    board = copy.deepcopy(load("s3-canteen-pos"))
    board["oled"] = {"i2c": "not a bus"}  # no kind 'oled': nothing reads it
    validate(board)
    assert [m for level, m in check(board) if level == "error"] == []


# -- the docs ----------------------------------------------------------------------------------

BEGIN = "<!-- peripherals: generated by `python -m host_tools.lib.peripherals`; "
END = "<!-- end of peripherals -->"


def test_docs_boards_md_has_the_description_s_table():
    with open(os.path.join(ROOT, "docs", "boards.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.index(BEGIN)
    start = text.index("\n", start) + 1
    table = text[start:text.index(END)]
    assert table.strip("\n") == P.markdown().strip("\n"), (
        "docs/boards.md is out of date: paste the output of "
        "`.venv/bin/python -m host_tools.lib.peripherals` between its markers")
