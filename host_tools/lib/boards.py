"""Board files (boards/NAME.json): found by name or path, read as JSON, shape checked.

``load`` refuses a file that is not a board — not a JSON object, a peripheral that is not an
object, a pin or bus id that is not a number, a required key missing — with one
``BoardError`` line naming the file and the key (``validate``), so every command that reads
board files (``ykt board check``, ``ykt sim run``, ``ykt image``, ``ykt flash``) reports it
the same way. Whether the pins and buses suit the chip is ``host_tools.lib.boardcheck``'s job.
"""

import json
import os

from host_tools.lib.errors import BadInput

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOARDS = os.path.join(ROOT, "boards")

NFC_BUSES = {"spi": ("sck", "mosi", "miso"), "i2c": ("scl", "sda"), "uart": ("tx", "rx")}


class BoardError(BadInput):
    """A board that cannot be found or read, or is not a board; the message names it."""


def names():
    return sorted(f[:-5] for f in os.listdir(BOARDS) if f.endswith(".json"))


def load(name_or_path):
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

def _what(v):
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
    def __init__(self, source):
        self.source = source

    def fail(self, where, msg):
        raise BoardError("%s: %s %s" % (self.source, where, msg))

    def obj(self, v, where):
        if not isinstance(v, dict):
            self.fail(where, "must be an object, got %s" % _what(v))
        return v

    def get(self, d, key, where, required=False):
        if key not in d:
            if required:
                self.fail("%s.%s" % (where, key) if where else key, "is missing")
            return None
        return d[key]

    def int(self, v, where, low=0, null=False):
        if v is None and null:
            return
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            self.fail(where, "must be a whole number%s, got %s"
                      % (" >= %d" % low if low else "", _what(v)))

    def pin(self, v, where, null=False):
        if v is None and null:
            return
        if not isinstance(v, int) or isinstance(v, bool):
            self.fail(where, "must be a GPIO number, got %s" % _what(v))

    def text(self, v, where):
        if not isinstance(v, str):
            self.fail(where, "must be text, got %s" % _what(v))

    def bus(self, spec, where, kind):
        """An SPI/I2C/UART spec: an object with an ``id`` and its pins."""
        self.obj(spec, where)
        self.int(self.get(spec, "id", where, True), where + ".id")
        for role in NFC_BUSES[kind]:
            self.pin(self.get(spec, role, where, True), "%s.%s" % (where, role))
        for key in ("baudrate", "freq", "timeout"):
            if key in spec:
                self.int(spec[key], "%s.%s" % (where, key), low=1 if key != "timeout" else 0)
        if "lsb_first" in spec and not isinstance(spec["lsb_first"], bool):
            self.fail(where + ".lsb_first", "must be true or false, got %s" % _what(spec["lsb_first"]))


def validate(board, source="board"):
    """Raise BoardError (one line: ``source: key problem``) unless ``board`` has the shape
    of a board file: the keys the firmware and the simulator read, of the right types."""
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

    nfc = c.obj(c.get(board, "nfc", "", True), "nfc")
    bus = c.get(nfc, "bus", "nfc", True)
    if bus not in NFC_BUSES:
        c.fail("nfc.bus", "must be one of %s, got %s" % (", ".join(sorted(NFC_BUSES)), _what(bus)))
    c.bus(c.get(nfc, bus, "nfc", True), "nfc." + bus, bus)
    if bus == "spi":
        c.pin(c.get(nfc, "cs", "nfc", True), "nfc.cs")
    if "irq" in nfc:
        c.pin(nfc["irq"], "nfc.irq", null=True)
    if "address" in nfc:
        c.int(nfc["address"], "nfc.address")

    if "gate" in board:
        gate = c.obj(board["gate"], "gate")
        c.pin(c.get(gate, "open", "gate", True), "gate.open")
        c.pin(c.get(gate, "passage", "gate", True), "gate.passage")
        if "emergency" in gate:
            c.pin(gate["emergency"], "gate.emergency", null=True)
    if "display" in board:
        spec = c.obj(board["display"], "display")
        if "kind" in spec:
            c.text(spec["kind"], "display.kind")
        if spec.get("kind") == "pole" or "uart" in spec:
            c.bus(c.get(spec, "uart", "display", True), "display.uart", "uart")
        if "width" in spec:
            c.int(spec["width"], "display.width", low=1)
    if "printer" in board:
        spec = c.obj(board["printer"], "printer")
        c.bus(c.get(spec, "uart", "printer", True), "printer.uart", "uart")
        if "width" in spec:
            c.int(spec["width"], "printer.width", low=1)
    for what in ("lcd", "oled"):
        if what in board:
            spec = c.obj(board[what], what)
            c.bus(c.get(spec, "i2c", what, True), what + ".i2c", "i2c")
            for key in ("address", "cols", "rows"):
                if key in spec:
                    c.int(spec[key], "%s.%s" % (what, key))
    if "keypad" in board:
        spec = c.obj(board["keypad"], "keypad")
        for key in ("rows", "cols"):
            pins = c.get(spec, key, "keypad", True)
            if not isinstance(pins, list) or not pins:
                c.fail("keypad." + key, "must be a list of GPIO numbers, got %s" % _what(pins))
            for i, pin in enumerate(pins):
                c.pin(pin, "keypad.%s[%d]" % (key, i))
        if "debounce_ms" in spec:
            c.int(spec["debounce_ms"], "keypad.debounce_ms")
    if "leds" in board:
        for name, pin in c.obj(board["leds"], "leds").items():
            c.pin(pin, "leds." + name, null=True)
    if "buzzer" in board:
        c.pin(board["buzzer"], "buzzer", null=True)
    return board
