"""Board peripherals, declared once: every kind a board file (boards/NAME.json) may name, with
its bus, its pins and their directions, its options and their defaults.

This is data, in the spirit of ESPHome's component schemas (``pn532_spi`` declares its pins
and options once): ``host_tools.lib.boards`` checks a board file's shape from it,
``host_tools.lib.boardcheck`` (``ykt board check``) takes every pin's direction and every bus
from it, the simulator (``hw_sim.terminal``, ``hw_sim.pos_models``) wires the peripherals it
lists with the defaults it gives (``fitted``), and docs/boards.md has its table
(``markdown``). The firmware's readers (``ykt/board.py``, ``ykt/pos_board.py``) stay plain
MicroPython; tests/test_board_description.py holds every key they read, and every default
they assume, to this description.

A kind's ``fields`` are in the order a board file is checked (the first problem is the one
reported): a :class:`Select` (the key naming which of its buses the part is on), a
:class:`Slot` (a bus spec under the bus's name, e.g. ``"uart": {...}``), a :class:`Pin`, a
:class:`PinList` or an :class:`Option`. A bus spec has an ``id`` and the pins of its
:class:`Bus`.
"""

from dataclasses import dataclass, field

OUT, IN, BIDIR = "output", "input", "in/out"


@dataclass(frozen=True)
class Pin:
    """One GPIO. ``null``: the file may say null (not wired, not fitted; the board check skips
    it). ``bus``: only on that bus (checked, and required, only there)."""

    key: str
    direction: str
    required: bool = True
    null: bool = False
    bus: str | None = None
    doc: str = ""


@dataclass(frozen=True)
class PinList:
    """A non-empty list of GPIOs; the board check names pin i ``KIND.<item><i>``."""

    key: str
    direction: str
    item: str
    doc: str = ""


@dataclass(frozen=True)
class Option:
    """A setting: ``type`` is "int" (whole number >= ``low``), "text" (one of ``choices`` when
    given), "bool" or "note" (for people: free-form, read by no program and not checked)."""

    key: str
    type: str
    default: object = None
    low: int = 0
    doc: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bus:
    """A bus type: a spec of it is ``{"id": N, <pins>, <options>}``."""

    name: str
    pins: tuple[Pin, ...]
    options: tuple[str, ...]  # the BUS_OPTIONS it uses


@dataclass(frozen=True)
class Slot:
    """A peripheral on a bus: its spec sits under the bus's name. ``defaults``: the bus options
    this peripheral's driver reads, with the values it assumes. ``when``: required only while
    that option has that value (otherwise checked only if present)."""

    bus: str
    defaults: dict[str, object] = field(default_factory=dict, hash=False, compare=False)
    required: bool = True
    when: tuple[str, object] | None = None

    @property
    def key(self) -> str:
        return self.bus


@dataclass(frozen=True)
class Select:
    """The key whose value names the slot in use (the PN532's ``"bus": "spi"``)."""

    key: str
    slots: tuple[Slot, ...]
    doc: str = ""

    def slot(self, name: object) -> Slot | None:
        return next((s for s in self.slots if s.bus == name), None)


Field = Select | Slot | Pin | PinList | Option


@dataclass(frozen=True)
class Kind:
    """One peripheral kind, under its own key in the board file.

    ``shape``: "object" (``fields``), "pin" (the value is one GPIO, as ``pin`` says) or "pins"
    (an object of named GPIOs, each as ``pin`` says; ``fields`` are the names the firmware
    drives, other names are allowed). ``firmware`` / ``sim``: what reads it on the device and
    what stands in for it in the simulator (names, for the docs and the tests)."""

    name: str
    summary: str
    fields: tuple[Field, ...] = ()
    shape: str = "object"
    required: bool = False
    pin: Pin | None = None
    firmware: str = ""
    sim: str = ""

    def select(self) -> Select | None:
        return next((f for f in self.fields if isinstance(f, Select)), None)

    def slots(self) -> tuple[Slot, ...]:
        """Every bus slot it may use (a Select's and its own)."""
        out: list[Slot] = []
        for f in self.fields:
            out += f.slots if isinstance(f, Select) else [f] if isinstance(f, Slot) else []
        return tuple(out)

    def get(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.key == key), None)


# -- buses ---------------------------------------------------------------------------------------

# options a bus spec may carry; each is checked wherever it is written
BUS_OPTIONS: dict[str, Option] = {o.key: o for o in (
    Option("baudrate", "int", low=1, doc="SPI clock (Hz), UART rate (baud)"),
    Option("freq", "int", low=1, doc="I2C clock (Hz)"),
    Option("timeout", "int", doc="UART read timeout (ms)"),
    Option("rxbuf", "int", low=64, doc="UART receive buffer (bytes; the ESP32 port's default "
                                       "is 256)"),
    Option("lsb_first", "bool", doc="SPI: least significant bit first"),
)}

BUSES: dict[str, Bus] = {b.name: b for b in (
    Bus("spi", (Pin("sck", OUT), Pin("mosi", OUT), Pin("miso", IN)), ("baudrate", "lsb_first")),
    Bus("i2c", (Pin("scl", BIDIR), Pin("sda", BIDIR)), ("freq",)),
    Bus("uart", (Pin("tx", OUT), Pin("rx", IN)), ("baudrate", "timeout", "rxbuf")),
)}

# -- the peripheral kinds, in the order boards are checked -----------------------------------------

KINDS: tuple[Kind, ...] = (
    Kind("nfc", "PN532 contactless reader", required=True, fields=(
        Select("bus", (
            Slot("spi", {"baudrate": 1000000, "lsb_first": False}),
            Slot("i2c", {"freq": 400000}),
            Slot("uart", {"baudrate": 115200, "timeout": 0}),
        ), doc="the PN532's host interface"),
        Pin("cs", OUT, bus="spi", doc="chip select"),
        Pin("irq", IN, required=False, null=True, doc="ready, active low (null: the driver polls)"),
        Option("wait", "text", "poll", choices=("poll", "irq"),
               doc='"irq": light-sleep until the IRQ pin falls (SPI or I2C, an RTC GPIO) '
                   'instead of polling the chip'),
        Option("address", "int", 0x24, doc="I2C address"),
        Option("chip", "note", "pn532", doc="the reader chip"),
    ), firmware="ykt.board.nfc_reader", sim="hw_sim.pn532.PN532"),
    Kind("gate", "turnstile or flap gate", fields=(
        Pin("open", OUT, doc="actuator: unlock for one passage"),
        Pin("passage", IN, doc="passage sensor (beam)"),
        Pin("emergency", IN, required=False, null=True, doc="fire-alarm input: hold open"),
    ), firmware="ykt.board.gate", sim="hw_sim.gate.GateModel"),
    Kind("display", "customer display", fields=(
        Option("kind", "text", None, doc='"pole", a VFD pole display on a UART '
                                         '(any other kind is not driven)'),
        Slot("uart", {"baudrate": 115200, "timeout": 0}, when=("kind", "pole")),
        Option("width", "int", 20, low=1, doc="characters per line"),
    ), firmware="ykt.board.ui", sim="hw_sim.pole_display.PoleDisplayModel"),
    Kind("qr", "GM65/GM8xx serial QR scanner module", fields=(
        Slot("uart", {"baudrate": 9600, "timeout": 0, "rxbuf": 2048}),
        Option("mode", "text", "trigger", choices=("trigger", "continuous"),
               doc='"trigger": a scan when the firmware asks (command mode); "continuous": '
                   'the module scans by itself'),
        Option("read_ms", "int", 5000, doc="trigger mode: a scan gives up after this long "
                                           "(zone 0x0006, 100 ms steps; 0: no limit)"),
        Option("max_len", "int", 1536, low=16,
               doc="the longest payload the driver keeps (an RSA e-card code is 1,234 "
                   "characters); longer ones are dropped"),
    ), firmware="ykt.board.qr", sim="hw_sim.gm65.GM65Model"),
    Kind("printer", "ESC/POS receipt printer", fields=(
        Slot("uart", {"baudrate": 9600}),
        Option("width", "int", 32, low=1, doc="characters per line"),
    ), firmware="ykt.pos_board.printer", sim="hw_sim.escpos.PrinterModel"),
    Kind("lcd", "HD44780 character LCD on a PCF8574 I2C backpack", fields=(
        Slot("i2c", {"freq": 400000}),
        Option("address", "int", 0x27, doc="the backpack's I2C address"),
        Option("cols", "int", 20, doc="characters per row"),
        Option("rows", "int", 4, doc="rows"),
        Option("kind", "note", "hd44780-pcf8574", doc="controller and backpack"),
    ), firmware="ykt.pos_board.lcd", sim="hw_sim.lcd.LcdModel"),
    Kind("keypad", "matrix keypad", fields=(
        PinList("rows", OUT, "row", doc="driven low one at a time (open drain)"),
        PinList("cols", IN, "col", doc="read with pull-ups"),
        Option("debounce_ms", "int", 20, doc="a key counts once it reads the same this long"),
        Option("keys", "text", "123A456B789C*0#D", doc="the key labels, row by row"),
    ), firmware="ykt.pos_board.keypad", sim="hw_sim.keypad.KeypadModel"),
    Kind("leds", "status LEDs", shape="pins", fields=(
        Pin("green", OUT, required=False, null=True, doc="accepted"),
        Pin("red", OUT, required=False, null=True, doc="refused"),
    ), pin=Pin("*", OUT, required=False, null=True), firmware="ykt.board.ui"),
    Kind("buzzer", "buzzer", shape="pin", pin=Pin("buzzer", OUT, required=False, null=True),
         firmware="ykt.board.ui"),
)

BY_NAME: dict[str, Kind] = {k.name: k for k in KINDS}


def kind(name: str) -> Kind:
    return BY_NAME[name]


# -- what readers use ----------------------------------------------------------------------------

def _bus_spec(slot: Slot, spec: object) -> object:
    if not isinstance(spec, dict):
        return spec
    out = dict(slot.defaults)
    out.update(spec)
    return out


def with_defaults(k: Kind, spec: object) -> object:
    """``spec`` (a board file's entry for ``k``, already validated) with every declared key
    present: what the file leaves out takes its declared default (None for an optional pin),
    a bus spec its slot's defaults. A copy; a bare pin is returned as it is."""
    if k.shape == "pin" or not isinstance(spec, dict):
        return spec
    out = dict(spec)
    if k.shape == "pins":
        for f in k.fields:
            out.setdefault(f.key, None)
        return out
    chosen = None
    for f in k.fields:
        if isinstance(f, Select):
            chosen = f.slot(out.get(f.key))
            if chosen is not None and chosen.bus in out:
                out[chosen.bus] = _bus_spec(chosen, out[chosen.bus])
        elif isinstance(f, Slot):
            if f.bus in out:
                out[f.bus] = _bus_spec(f, out[f.bus])
        elif isinstance(f, Option) or (isinstance(f, Pin) and not f.required):
            out.setdefault(f.key, f.default if isinstance(f, Option) else None)
    return out


def fitted(board: dict) -> list[tuple[Kind, object]]:
    """The peripherals ``board`` has, in declaration order, each with its defaults filled in
    (``with_defaults``)."""
    return [(k, with_defaults(k, board[k.name])) for k in KINDS if k.name in board]


# -- the table in docs/boards.md -------------------------------------------------------------------

def _value(v: object, key: str = "") -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"%s"' % v
    if isinstance(v, int) and key == "address":
        return "%d (0x%02x)" % (v, v)
    return "null" if v is None else str(v)


def _pin_text(p: Pin | PinList) -> str:
    text = "`%s`%s %s" % (p.key, " (list)" if isinstance(p, PinList) else "", p.direction)
    notes = []
    if isinstance(p, Pin):
        if p.bus:
            notes.append("%s only" % p.bus.upper())
        if p.null:
            notes.append("may be null")
        elif not p.required:
            notes.append("optional")
    return text + (" (%s)" % ", ".join(notes) if notes else "")


def _slot_text(s: Slot) -> str:
    text = "`%s`" % s.bus
    if s.defaults:
        text += " (%s)" % ", ".join("%s %s" % (k, _value(v)) for k, v in s.defaults.items())
    if s.when:
        text += " when `%s` is %s" % (s.when[0], _value(s.when[1]))
    return text


def markdown() -> str:
    """The two tables of docs/boards.md: peripheral kinds, then buses."""
    rows = ["| kind | what | bus | pins | options (default) | device | simulator |",
            "|---|---|---|---|---|---|---|"]
    for k in KINDS:
        buses, pins, options = [], [], []
        if k.shape == "pin" and k.pin is not None:
            pins.append("the value itself: one GPIO, %s (may be null)" % k.pin.direction)
        for f in k.fields:
            if isinstance(f, Select):
                buses.append("`%s`: %s" % (f.key, " / ".join(_slot_text(s) for s in f.slots)))
            elif isinstance(f, Slot):
                buses.append(_slot_text(f))
            elif isinstance(f, (Pin, PinList)):
                pins.append(_pin_text(f))
            else:
                note = " (a note, read by nothing)" if f.type == "note" else ""
                if f.choices:
                    note = " (or %s)" % " / ".join('"%s"' % c for c in f.choices
                                                   if c != f.default)
                options.append("`%s` %s%s" % (f.key, _value(f.default, f.key), note))
        if k.shape == "pins" and k.pin is not None:
            pins.append("any other name: %s (may be null)" % k.pin.direction)
        rows.append("| `%s`%s | %s | %s | %s | %s | `%s` | %s |" % (
            k.name, " (required)" if k.required else "", k.summary, "; ".join(buses) or "-",
            ", ".join(pins) or "-", ", ".join(options) or "-", k.firmware,
            "`%s`" % k.sim if k.sim else "pin levels (`SimTerminal.pin`)"))
    rows.append("")
    for k in KINDS:
        notes = ["`%s` — %s" % (f.key, f.doc) for f in k.fields
                 if not isinstance(f, Slot) and f.doc]
        if notes:
            rows.append("- `%s`: %s" % (k.name, "; ".join(notes)))
    rows += ["", "| bus | pins | options |", "|---|---|---|"]
    for b in BUSES.values():
        rows.append("| `%s` | `id`, %s | %s |" % (
            b.name, ", ".join("`%s` %s" % (p.key, p.direction) for p in b.pins),
            ", ".join("`%s` (%s)" % (o, BUS_OPTIONS[o].doc) for o in b.options)))
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
