"""A simulated terminal: the board's hardware, wired from the same board file.

Builds the virtual clock, the RF field, a :class:`~hw_sim.wiring.Wiring` that the
``machine`` shim routes the firmware to, and a model of every peripheral the board
file names (``host_tools.lib.peripherals`` lists them, with their defaults): the
PN532 chip model on its bus, the gate, the pole display, and the canteen POS parts
(``hw_sim.pos_models``). LEDs and the buzzer are the pin levels the firmware drives.
"""

import datetime
import hashlib

from host_tools.lib import peripherals
from hw_sim import pos_models
from hw_sim.clock import VirtualClock
from hw_sim.flash import NorFlash
from hw_sim.gate import GateModel
from hw_sim.gm65 import GM65Model
from hw_sim.iso14443 import Card14443, Field
from hw_sim.pn532 import PN532, PN532I2C, PN532SPI, PN532UART
from hw_sim.pole_display import PoleDisplayModel
from hw_sim.wiring import Wiring

EPOCH = datetime.datetime(2000, 1, 1)
DEFAULT_VFS_SIZE = 2 * 1024 * 1024


def card_uid(number):
    """A 7-byte NXP-style UID (first byte 0x04) derived from the card number."""
    return b"\x04" + hashlib.sha256(str(number).encode()).digest()[:6]


class SimTerminal:
    """The hardware of one terminal around its firmware."""

    def __init__(self, board, start=None, clock=None):
        self.board = board
        self.clock = clock or VirtualClock()
        self.field = Field()
        self.display = None
        self.gate = None
        self.scanner = None  # hw_sim.gm65.GM65Model when the board has a QR scanner
        self.keypad = self.lcd = self.printer = None  # hw_sim.pos_models
        vfs = board.get("partitions", {}).get("vfs", {})
        self.flash = NorFlash(vfs.get("size", DEFAULT_VFS_SIZE))
        self.boots = 0
        # virtual time at which the supply fails, whatever the firmware is doing then
        # (the runtimes cut it at the firmware's next sleep at or after it; None: never)
        self.power_off_at_us = None
        self._power_up(int((start - EPOCH).total_seconds()) if start is not None else 0)

    def power_off_due(self, until_us):
        """If the supply fails before ``until_us``: advance the clock to that instant,
        forget it, and return True (the runtime then stops the firmware there)."""
        at = self.power_off_at_us
        if at is None or at > until_us:
            return False
        self.power_off_at_us = None
        self.clock.advance(max(0, at - self.clock.now_us()))
        return True

    def power_cycle(self):
        """Power came back after a cut: every chip resets; the flash keeps its
        contents, the RTC (battery-backed) its time, the cards stay where they are."""
        self.flash.power_on()
        link = self.wiring.link  # the access point does not go with the terminal's power
        self._power_up(self.wiring.rtc_base_s)
        self.wiring.link = link

    def _power_up(self, rtc_base_s):
        self.boots += 1
        self.chip = PN532(self.clock, self.field)
        self.wiring = Wiring(self.clock)
        self.wiring.rtc_base_s = rtc_base_s
        self._wire()

    def _wire(self):
        """Attach the peripherals the board has, with their declared defaults (the models
        that outlive a power cut are attached again)."""
        for kind, spec in peripherals.fitted(self.board):
            wire = WIRE.get(kind.name)
            if wire is not None:
                wire(self, spec)

    def activate(self):
        self.wiring.activate()
        return self

    def pin(self, name):
        """Level of a named output (``green``, ``red``, ``buzzer``) as driven now."""
        leds = self.board.get("leds", {})
        no = leds.get(name, self.board.get(name))
        return self.wiring.levels.get(no, 0)

    def wall_time(self):
        """Virtual wall-clock time (what the terminal's RTC reads)."""
        return EPOCH + datetime.timedelta(
            seconds=self.wiring.rtc_base_s, microseconds=self.clock.now_us())

    def filesystem(self):
        """The terminal's LittleFS as CPython firmware sees it (formatted on first use,
        as the ESP32 port does on first boot; mounted as is after a power cut)."""
        from hw_sim.lfs import mount_or_format

        return mount_or_format(self.flash)

    def new_card(self, app, number):
        return Card14443(card_uid(number), app)


def _wire_nfc(sim, nfc):
    w, bus = sim.wiring, nfc["bus"]
    if bus == "spi":
        w.attach_spi(nfc["spi"]["id"], nfc["cs"], PN532SPI(sim.chip))
    elif bus == "i2c":
        w.attach_i2c(nfc["i2c"]["id"], PN532I2C(sim.chip, address=nfc["address"]))
    elif bus == "uart":
        w.attach_uart(nfc["uart"]["id"], PN532UART(sim.chip))
    else:
        raise ValueError("board %s: unknown NFC bus %r" % (sim.board.get("name"), bus))
    if nfc["irq"] is not None:
        w.drive_pin(nfc["irq"], sim.chip.irq_level, sim.chip.irq_changes)


def _wire_gate(sim, gate):
    sim.gate = GateModel(sim.wiring, gate["open"], gate["passage"], gate["emergency"])


def _wire_display(sim, spec):
    if spec["kind"] == "pole":
        if sim.display is None:
            sim.display = PoleDisplayModel(spec["width"])
        sim.wiring.attach_uart(spec["uart"]["id"], sim.display)


def _wire_qr(sim, spec):
    if sim.scanner is None:  # the module set to the board's serial speed when it was built
        sim.scanner = GM65Model(sim.clock, baud=spec["uart"].get("baudrate", 9600))
    else:
        sim.scanner.power_on()  # a power cut: the module restarts from its EEPROM
    sim.wiring.attach_uart(spec["uart"]["id"], sim.scanner)


# peripheral kind -> fn(sim, spec with defaults): the models behind the board's parts
WIRE = {"nfc": _wire_nfc, "gate": _wire_gate, "display": _wire_display, "qr": _wire_qr,
        **pos_models.WIRE}
