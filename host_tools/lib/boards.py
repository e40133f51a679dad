"""Board files (boards/NAME.json): found by name or path, read as JSON, shape checked.

``load`` refuses a file that is not a board — not a JSON object, a peripheral that is not an
object, a pin or bus id that is not a number, a required key missing — with one
``BoardError`` line naming the file and the key (``validate``), so every command that reads
board files (``ykt board check``, ``ykt sim run``, ``ykt image``, ``ykt flash``) reports it
the same way. Whether the pins and buses suit the chip is ``host_tools.lib.boardcheck``'s job.
"""

import json
import os
from typing import Any, NoReturn

from host_tools.lib import peripherals as P
from host_tools.lib.errors import BadInput

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOARDS = os.path.join(ROOT, "boards")


class BoardError(BadInput):
    """A board that cannot be found or read, or is not a board; the message names it."""


def names() -> list[str]:
    return sorted(f[:-5] for f in os.listdir(BOARDS) if f.endswith(".json"))


def load(name_or_path: str) -> dict:
    path = name_or_path
    if not os.path.exists(path):
        path = os.path.join(BOARDS, name_or_path + ".json")
    if not os.path.exists(path):
        raise BoardError("unknown board %r (known: %s)" % (name_or_path, ", ".join(names())))
    try:
        with open(path, encoding="utf-8") as f:
            board = json.load(f)
    except json.JSONDecodeError as e:
        raise BoardError("%s: not valid JSON (line %d: %s)" % (path, e.lineno, e.msg))
    except UnicodeDecodeError:
        raise BoardError("%s: not a board file (not UTF-8 text)" % path)
    validate(board, path)
    return board


# -- shape ---------------------------------------------------------------------------------------

def _what(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return "the text %r" % v if len(v) <= 40 else "text"
    return "a list" if isinstance(v, list) else "an object"


class _Check:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, msg: str) -> NoReturn:
        raise BoardError("%s: %s %s" % (self.source, where, msg))

    def obj(self, v: object, where: str) -> dict:
        if not isinstance(v, dict):
            self.fail(where, "must be an object, got %s" % _what(v))
        return v

    def get(self, d: dict, key: str, where: str, required: bool = False) -> Any:
        if key not in d:
            if required:
                self.fail("%s.%s" % (where, key) if where else key, "is missing")
            return None
        return d[key]

    def int(self, v: object, where: str, low: int = 0) -> None:
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            self.fail(where, "must be a whole number%s, got %s"
                      % (" >= %d" % low if low else "", _what(v)))

    def pin(self, v: object, where: str, null: bool = False) -> None:
        if v is None and null:
            return
        if not isinstance(v, int) or isinstance(v, bool):
            self.fail(where, "must be a GPIO number, got %s" % _what(v))

    def text(self, v: object, where: str) -> None:
        if not isinstance(v, str):
            self.fail(where, "must be text, got %s" % _what(v))

    def option(self, opt: P.Option, v: object, where: str) -> None:
        if opt.type == "note":
            return
        if opt.type == "int":
            self.int(v, where, opt.low)
        elif opt.type == "text":
            self.text(v, where)
            if opt.choices and isinstance(v, str) and v not in opt.choices:
                self.fail(where, "must be one of %s, got %r" % (", ".join(opt.choices), v))
        elif opt.type == "bool" and not isinstance(v, bool):
            self.fail(where, "must be true or false, got %s" % _what(v))

    def bus(self, spec: object, where: str, kind: str) -> None:
        """A bus spec (peripherals.BUSES): an object with an ``id`` and its pins; any bus
        option written in it is checked."""
        spec = self.obj(spec, where)
        self.int(self.get(spec, "id", where, True), where + ".id")
        for pin in P.BUSES[kind].pins:
            self.pin(self.get(spec, pin.key, where, True), "%s.%s" % (where, pin.key))
        for key, opt in P.BUS_OPTIONS.items():
            if key in spec:
                self.option(opt, spec[key], "%s.%s" % (where, key))

    def peripheral(self, k: P.Kind, spec: object) -> None:
        """One peripheral's entry, field by field in the description's order."""
        if k.shape == "pin":
            self.pin(spec, k.name, null=k.pin is not None and k.pin.null)
            return
        spec = self.obj(spec, k.name)
        if k.shape == "pins":
            for name, pin in spec.items():
                self.pin(pin, "%s.%s" % (k.name, name), null=k.pin is not None and k.pin.null)
            return
        chosen = None
        for f in k.fields:
            where = "%s.%s" % (k.name, f.key)
            if isinstance(f, P.Select):
                value = self.get(spec, f.key, k.name, True)
                chosen = f.slot(value)
                if chosen is None:
                    self.fail(where, "must be one of %s, got %s" % (
                        ", ".join(sorted(s.bus for s in f.slots)), _what(value)))
                self.bus(self.get(spec, chosen.bus, k.name, True), "%s.%s" % (k.name, chosen.bus),
                         chosen.bus)
            elif isinstance(f, P.Slot):
                needed = f.required and (f.when is None or spec.get(f.when[0]) == f.when[1])
                if needed or f.bus in spec:
                    self.bus(self.get(spec, f.bus, k.name, True), where, f.bus)
            elif isinstance(f, P.Pin):
                if f.bus is not None and (chosen is None or chosen.bus != f.bus):
                    continue
                if f.required:
                    self.pin(self.get(spec, f.key, k.name, True), where)
                elif f.key in spec:
                    self.pin(spec[f.key], where, null=f.null)
            elif isinstance(f, P.PinList):
                pins = self.get(spec, f.key, k.name, True)
                if not isinstance(pins, list) or not pins:
                    self.fail(where, "must be a list of GPIO numbers, got %s" % _what(pins))
                for i, pin in enumerate(pins):
                    self.pin(pin, "%s[%d]" % (where, i))
            elif f.key in spec:
                self.option(f, spec[f.key], where)


def validate(board: object, source: str = "board") -> dict:
    """Raise BoardError (one line: ``source: key problem``) unless ``board`` has the shape
    of a board file: the keys the firmware and the simulator read (host_tools.lib.peripherals
    declares every peripheral's), of the right types."""
    c = _Check(source)
    if not isinstance(board, dict):
        raise BoardError("%s: not a board (the top level must be a JSON object, got %s)"
                         % (source, _what(board)))
    for key in ("name", "description"):
        if key in board:
            c.text(board[key], key)
    c.text(c.get(board, "chip", "", True), "chip")
    if "flash_size" in board:
        c.int(board["flash_size"], "flash_size", low=1)
    if "partitions" in board:
        parts = c.obj(board["partitions"], "partitions")
        for name, spec in parts.items():
            where = "partitions." + name
            c.obj(spec, where)
            c.int(c.get(spec, "offset", where, True), where + ".offset")
            c.int(c.get(spec, "size", where, True), where + ".size", low=1)
    for k in P.KINDS:
        if k.required or k.name in board:
            c.peripheral(k, c.get(board, k.name, "", k.required))
    return board
