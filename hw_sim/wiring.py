"""One simulated board: its clock, its pins and what is attached to its buses.

The ``machine`` shim looks up the active wiring when the firmware creates a bus
or a pin, so the firmware code is the same as on the chip. See
docs/architecture.md "Bus device protocols" for what a device implements.
"""

import threading

_active = None  # the process-wide default
_local = threading.local()  # per firmware thread (several terminals in one run)


def active():
    """The wiring the firmware running in this thread is talking to."""
    w = getattr(_local, "wiring", None) or _active
    if w is None:
        raise RuntimeError("no simulated board is active (hw_sim.wiring.Wiring.activate)")
    return w


class Wiring:
    def __init__(self, clock):
        self.clock = clock
        self.spi = {}  # bus id -> list of (cs pin, device)
        self.i2c = {}  # bus id -> {address: device}
        self.uart = {}  # uart id -> device
        self.levels = {}  # pin -> level the firmware drove (outputs)
        self.drivers = {}  # pin -> callable returning the level a device drives
        self.watchers = {}  # pin -> [callable(level)] notified on firmware writes
        self.console = []  # lines the firmware printed to its console (report.emit)
        self.resets = 0
        self.rtc_base_s = 0  # RTC seconds since 2000-01-01 at virtual time 0

    def activate(self):
        """Route this thread's ``machine`` calls here (and make it the default)."""
        global _active
        _active = self
        _local.wiring = self
        return self

    # -- attaching devices -------------------------------------------------
    def attach_spi(self, bus_id, cs_pin, dev):
        self.spi.setdefault(bus_id, []).append((cs_pin, dev))
        self.watch_pin(cs_pin, lambda level, dev=dev: dev.spi_select(not level))

    def attach_i2c(self, bus_id, dev):
        self.i2c.setdefault(bus_id, {})[dev.i2c_address] = dev

    def attach_uart(self, uart_id, dev):
        self.uart[uart_id] = dev

    # -- pins ---------------------------------------------------------------
    def drive_pin(self, pin, fn):
        """A device drives ``pin``: the firmware reads ``fn()``."""
        self.drivers[pin] = fn

    def watch_pin(self, pin, fn):
        """Call ``fn(level)`` whenever the firmware writes ``pin``."""
        self.watchers.setdefault(pin, []).append(fn)

    def read_pin(self, pin, pull_level=None):
        fn = self.drivers.get(pin)
        if fn is not None:
            return 1 if fn() else 0
        if pin in self.levels:
            return self.levels[pin]
        return 1 if pull_level is None else pull_level

    def write_pin(self, pin, level):
        level = 1 if level else 0
        changed = self.levels.get(pin) != level
        self.levels[pin] = level
        if changed:
            for fn in self.watchers.get(pin, ()):
                fn(level)

    # -- bus lookup for the machine shim -------------------------------------
    def spi_devices(self, bus_id):
        """Devices on the SPI bus whose chip select is low right now."""
        return [dev for cs, dev in self.spi.get(bus_id, ()) if self.levels.get(cs, 1) == 0]

    def i2c_device(self, bus_id, addr):
        dev = self.i2c.get(bus_id, {}).get(addr)
        if dev is None:
            raise OSError(19)  # ENODEV: no ACK for this address, as MicroPython raises
        return dev

    def uart_device(self, uart_id):
        return self.uart.get(uart_id)
