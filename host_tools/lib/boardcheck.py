"""Check a board file against what the chip can do, before anything is flashed.

Each finding is one line: ``error:`` for what would fail on the chip (a pin
used twice, an input-only pin driven as output, a flash pin, a pin or bus the
chip does not have, a partition that does not fit), ``warning:`` for what works
but bites (strapping pins, UART0 which carries the REPL console). Which pins and
buses a board uses, and each pin's direction, come from ``host_tools.lib.peripherals``.
"""

from host_tools.lib import peripherals as P
from host_tools.lib.boards import BoardError, load  # noqa: F401  (re-exported for the CLI)

# ESP32 datasheet §2.2 (pin list) and ESP32-S3 datasheet §2.3; MicroPython esp32 port bus ids.
CHIPS: dict[str, dict[str, set[int]]] = {
    "esp32": {
        "gpio": set(range(0, 20)) | {21, 22, 23, 25, 26, 27} | set(range(32, 40)),
        "flash": set(range(6, 12)),
        "input_only": set(range(34, 40)),
        "strapping": {0, 2, 5, 12, 15},
        "uart": {0, 1, 2}, "i2c": {0, 1}, "spi": {1, 2},
        "console": {1, 3},
        "psram": {16, 17},  # WROVER: PSRAM chip select and clock
        # RTC GPIOs: the only pads that can wake a light sleep as ext0/ext1 (datasheet §4.1.3)
        "rtc": {0, 2, 4, 12, 13, 14, 15, 25, 26, 27} | set(range(32, 40)),
    },
    "esp32s3": {
        "gpio": set(range(0, 22)) | set(range(26, 49)),
        "flash": set(range(26, 33)),
        "input_only": set(),
        "strapping": {0, 3, 45, 46},
        "uart": {0, 1, 2}, "i2c": {0, 1}, "spi": {1, 2},
        "console": {43, 44},
        "psram": set(range(33, 38)),  # octal PSRAM (N8R8 / N16R8 modules)
        "rtc": set(range(0, 22)),
    },
}

PinUse = tuple[str, object, str, tuple[str, object] | None]
BusUse = tuple[str, str, object]


def uses(board: dict) -> tuple[list[PinUse], list[BusUse]]:
    """Every pin use: (what, pin, direction, bus key or None) and every bus: (what, kind, id),
    as host_tools.lib.peripherals declares them. Pins of one bus share its key, so that a
    shared bus is not a conflict; a pin that may be null and is null is not wired."""
    pins: list[PinUse] = []
    buses: list[BusUse] = []

    def bus(what: str, kind: str, spec: dict) -> None:
        buses.append((what, kind, spec.get("id")))
        key = (kind, spec.get("id"))
        for pin in P.BUSES[kind].pins:
            pins.append(("%s.%s" % (what, pin.key), spec.get(pin.key), pin.direction, key))

    for k in P.KINDS:
        if k.name not in board:
            continue
        spec = board[k.name]
        if k.shape == "pin":
            if spec is not None and k.pin is not None:
                pins.append((k.name, spec, k.pin.direction, None))
            continue
        if k.shape == "pins":
            for name, pin in sorted(spec.items()):
                if pin is not None and k.pin is not None:
                    pins.append(("%s.%s" % (k.name, name), pin, k.pin.direction, None))
            continue
        for f in k.fields:
            if isinstance(f, P.Select):
                chosen = f.slot(spec.get(f.key))
                if chosen is not None:
                    bus(k.name, chosen.bus, spec.get(chosen.bus, {}))
            elif isinstance(f, P.Slot):
                if f.bus in spec:
                    bus(k.name, f.bus, spec[f.bus])
            elif isinstance(f, P.Pin):
                if f.key in spec and not (f.null and spec[f.key] is None):
                    pins.append(("%s.%s" % (k.name, f.key), spec[f.key], f.direction, None))
            elif isinstance(f, P.PinList):
                for i, pin in enumerate(spec.get(f.key, [])):
                    pins.append(("%s.%s%d" % (k.name, f.item, i), pin, f.direction, None))
    return pins, buses


def check(board: dict) -> list[tuple[str, str]]:
    """Findings as ``(level, message)``, errors first."""
    chip_name = board.get("chip")
    chip = CHIPS.get(chip_name) if isinstance(chip_name, str) else None
    name = board.get("name", "?")
    if chip is None:
        return [("error", "%s: unknown chip %r (known: %s)" % (name, board.get("chip"),
                                                              ", ".join(sorted(CHIPS))))]
    errors: list[str] = []
    warnings: list[str] = []
    pins, buses = uses(board)
    for what, kind, bus_id in buses:
        if bus_id not in chip[kind]:
            errors.append("%s: %s uses %s(%r), which %s does not have (ids %s)" % (
                name, what, kind.upper(), bus_id, board["chip"], sorted(chip[kind])))
        if kind == "uart" and bus_id == 0:
            warnings.append("%s: %s uses UART0, which carries the REPL console" % (name, what))
    owner: dict[int, tuple[str, object]] = {}
    for what, pin, direction, key in pins:
        if not isinstance(pin, int) or isinstance(pin, bool):
            errors.append("%s: %s has no pin number (%r)" % (name, what, pin))
            continue
        if pin not in chip["gpio"]:
            errors.append("%s: %s uses GPIO %d, which %s does not have" % (
                name, what, pin, board["chip"]))
        elif pin in chip["flash"]:
            errors.append("%s: %s uses GPIO %d, wired to the SPI flash" % (name, what, pin))
        elif pin in chip["psram"] and _psram(board):
            errors.append("%s: %s uses GPIO %d, wired to the module's PSRAM" % (name, what, pin))
        elif direction != P.IN and pin in chip["input_only"]:
            errors.append("%s: %s drives GPIO %d, which is input-only on %s" % (
                name, what, pin, board["chip"]))
        if pin in chip["strapping"]:
            warnings.append("%s: %s uses strapping pin GPIO %d (boot mode may change)" % (
                name, what, pin))
        if pin in chip["console"] and not (key and key[0] == "uart" and key[1] == 0):
            warnings.append("%s: %s uses GPIO %d, the UART0 console pin" % (name, what, pin))
        if pin in owner:
            other, other_key = owner[pin]
            if key is None or key != other_key:
                errors.append("%s: GPIO %d is used by both %s and %s" % (name, pin, other, what))
        else:
            owner[pin] = (what, key)
    errors += _partitions(board, name)
    errors += _ram(board, name)
    errors += _irq_wait(board, name, chip)
    return [("error", m) for m in errors] + [("warning", m) for m in warnings]


def _irq_wait(board: dict, name: str, chip: dict[str, set[int]]) -> list[str]:
    """``nfc.wait`` "irq": the reader's IRQ (ext0) and the gate's emergency input (ext1)
    must be RTC GPIOs to wake a light sleep, and HSU cannot be used (the chip sends its
    frame on the UART at once, into a sleeping CPU)."""
    nfc = board.get("nfc")
    if not isinstance(nfc, dict) or nfc.get("wait") != "irq":
        return []
    out: list[str] = []
    if nfc.get("bus") == "uart":
        out.append("%s: nfc.wait \"irq\" needs the reader on SPI or I2C (on the UART the "
                   "chip sends its answer into a sleeping CPU)" % name)
    gate = board.get("gate")
    wake = [("nfc.irq", nfc.get("irq"))]
    if isinstance(gate, dict) and gate.get("emergency") is not None:
        wake.append(("gate.emergency", gate.get("emergency")))
    for what, pin in wake:
        if pin is None:
            out.append("%s: nfc.wait \"irq\" needs %s wired" % (name, what))
        elif isinstance(pin, int) and pin in chip["gpio"] and pin not in chip["rtc"]:
            out.append("%s: %s is GPIO %d, which cannot wake a light sleep (not an RTC GPIO "
                       "of %s; nfc.wait \"irq\")" % (name, what, pin, board["chip"]))
    return out


def _psram(board: dict) -> bool:
    ram = board.get("ram")
    return isinstance(ram, dict) and bool(ram.get("psram_mb"))


def _partitions(board: dict, name: str) -> list[str]:
    out: list[str] = []
    size = board.get("flash_size")
    parts = board.get("partitions", {})
    if not isinstance(size, int) or size <= 0:
        return ["%s: flash_size must be a whole number of bytes" % name]
    for part in ("firmware", "vfs"):
        spec = parts.get(part)
        if not spec:
            out.append("%s: partitions.%s is missing" % (name, part))
            continue
        if spec["offset"] % 4096:
            out.append("%s: partitions.%s offset 0x%x is not 4 KB aligned" % (name, part,
                                                                              spec["offset"]))
        if spec["offset"] + spec["size"] > size:
            out.append("%s: partitions.%s ends at 0x%x, past the %d MB flash" % (
                name, part, spec["offset"] + spec["size"], size // 1048576))
    return out


# -- memory: the RAM MicroPython has on the board's module, and what each role needs ----------
# The 64-bit unix VM (the simulator's `--runtime micropython`, the virtual board) needs more
# heap than a 32-bit ESP32 for the same objects. Measured (`python -m bench.heapfactor`,
# docs/boards.md "Memory"): each role's firmware modules loaded from the same .mpy files take
# 1.142 (pos) to 1.163 (fixed fare, gate) times the heap on the 64-bit unix port as on a
# 32-bit MicroPython (the webassembly port, 16-byte GC blocks as the ESP32); plain lists and
# tuples take 2x. The rule uses the smallest factor measured, rounded down, which errs on the
# safe side both ways: the VM gets less heap than the board has, and a role's need on the
# chip is estimated high.
VM_FACTOR = 1.14
# A PSRAM board's megabytes are not given to the VM whole (every collection would sweep
# them): every role's need is below this.
VM_CAP_KB = 512
# The smallest firmware heap (KB) each role's tap loop runs in on the 64-bit VM, with the
# same output as at its declared heap: `make bench` (bench.tap, bench.fare, bench.pos,
# bench.venue), 4 KB bisection (pos, venue: 8 KB).
ROLE_VM_NEED_KB = {"fixed_fare": 112, "gate": 164, "entry_gate": 164, "exit_gate": 164,
                   "validator": 160, "pos": 240, "venue": 208}


def heap_kb(board: dict) -> int | None:
    """The MicroPython GC heap (KB) on the board's module (``ram.heap_kb``), or None."""
    ram = board.get("ram")
    if not isinstance(ram, dict):
        return None
    kb = ram.get("heap_kb")
    return kb if isinstance(kb, int) and not isinstance(kb, bool) and kb > 0 else None


def vm_heap_kb(board: dict, default: int = 128) -> int:
    """The firmware heap the 64-bit VM gets for this board: its heap times VM_FACTOR,
    at most VM_CAP_KB (``default`` for a board file that states no RAM)."""
    kb = heap_kb(board)
    if kb is None:
        return default
    return min(int(kb * VM_FACTOR), VM_CAP_KB)


def role_need_kb(role: str) -> int | None:
    """A role's heap need on the 32-bit chip (KB): its measured VM need / VM_FACTOR."""
    vm = ROLE_VM_NEED_KB.get(role)
    return None if vm is None else -(-vm * 100 // round(VM_FACTOR * 100))


def role_fit(board: dict, role: str) -> str | None:
    """One line saying why ``role`` does not fit the board's RAM, or None when it fits."""
    need, have = role_need_kb(role), heap_kb(board)
    if need is None or have is None or need <= have:
        return None
    ram = board.get("ram", {})
    return ("role %s needs about %d KB of MicroPython heap (make bench), but %s (%s) has %d KB:"
            " use a board with PSRAM" % (role, need, board.get("name", "?"),
                                         ram.get("module", board.get("chip")), have))


def _ram(board: dict, name: str) -> list[str]:
    if "ram" not in board:
        return []
    ram = board["ram"]
    if not isinstance(ram, dict) or heap_kb(board) is None:
        return ["%s: ram.heap_kb must be a whole number of KB (the MicroPython heap on the "
                "module)" % name]
    if not isinstance(ram.get("psram_mb", 0), int) or isinstance(ram.get("psram_mb"), bool):
        return ["%s: ram.psram_mb must be a whole number of MB" % name]
    return []
