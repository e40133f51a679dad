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
        self.changes = {}  # pin -> callable: the virtual time its level may next change, or None
        self.watchers = {}  # pin -> [callable(level)] notified on firmware writes
        self.console = []  # lines the firmware printed to its console (report.emit)
        self.resets = 0
        self._selected = {}  # bus id -> the device spi_devices would give first (None: none)
        self.rtc_base_s = 0  # RTC seconds since 2000-01-01 at virtual time 0
        # light-sleep wake-up sources (esp32.wake_on_ext0 / wake_on_ext1): (pins, level) or None
        self.ext0 = None
        self.ext1 = None
        self.light_sleeps = 0  # machine.lightsleep calls, and the legs they slept in
        self.light_legs = 0
        self._wake_at = None  # the running light sleep's deadline (virtual us; None: none)
        # WiFi (the network.WLAN stand-in, hw_sim/network.py): ``link`` is whether the access
        # point is in reach (a scenario's "link" event drops and restores it); the station
        # interface's own state: active, and the network it was asked to join (None: none)
        self.link = True
        self.wlan_active = False
        self.wlan_ssid = None
        # while the link is up, the terminal's virtual clock runs at most this many times
        # faster than the wall clock the broker answers on (hw_sim/network.py; 0: unpaced)
        self.link_pace = 100

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
        self.watch_pin(cs_pin, lambda level: self._selected.clear())

    def attach_i2c(self, bus_id, dev):
        self.i2c.setdefault(bus_id, {})[dev.i2c_address] = dev

    def attach_uart(self, uart_id, dev):
        self.uart[uart_id] = dev

    # -- pins ---------------------------------------------------------------
    def drive_pin(self, pin, fn, changes=None):
        """A device drives ``pin``: the firmware reads ``fn()``. The level changes only when the
        clock fires one of its scheduled events, or at ``changes()`` (virtual us; None: not
        before an event), which a light sleep needs to wake at the right instant."""
        self.drivers[pin] = fn
        if changes is not None:
            self.changes[pin] = changes

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

    # -- light sleep (machine.lightsleep with esp32.wake_on_ext0/ext1) -------------------
    def woken(self):
        """Whether a configured wake-up source holds its level now (ext0: its pin at the
        level; ext1: all pins low, or any pin high)."""
        if self.ext0 is not None and self.read_pin(self.ext0[0]) == self.ext0[1]:
            return True
        if self.ext1 is not None:
            pins, high = self.ext1
            levels = [self.read_pin(p) for p in pins]
            if (any(levels) if high else not any(levels)):
                return True
        return False

    def lightsleep_begin(self, time_ms):
        """Start a light sleep of at most ``time_ms`` (None: until woken): the first leg's
        length in us, or 0 when a wake-up source holds already (nothing to sleep)."""
        self.light_sleeps += 1
        now = self.clock.now_us()
        self._wake_at = None if time_ms is None else now + max(0, int(time_ms)) * 1000
        return self.lightsleep_leg()

    def lightsleep_leg(self):
        """The next leg of the light sleep: how long (us) until its deadline, the clock's next
        event or a driven wake pin's next change, whichever is first; 0 when it is over (a
        wake-up source holds, or the deadline has come). Sleeping leg by leg, the sleeper
        wakes at the very instant a source changes, whatever it waited on in between."""
        now = self.clock.now_us()
        until = self._wake_at
        if self.woken() or (until is not None and now >= until):
            self._wake_at = None
            return 0
        for at in (self.clock.next_event_us(), *self._pin_changes()):
            if at is not None and at > now and (until is None or at < until):
                until = at
        if until is None:  # nothing will ever wake it: sleep as long as a run can last
            until = now + (1 << 62)
        self.light_legs += 1
        return until - now

    def _pin_changes(self):
        pins = ()
        if self.ext0 is not None:
            pins = (self.ext0[0],)
        if self.ext1 is not None:
            pins += tuple(self.ext1[0])
        return [fn() for fn in (self.changes.get(p) for p in pins) if fn is not None]

    # -- bus lookup for the machine shim -------------------------------------
    def spi_devices(self, bus_id):
        """Devices on the SPI bus whose chip select is low right now."""
        return [dev for cs, dev in self.spi.get(bus_id, ()) if self.levels.get(cs, 1) == 0]

    def spi_selected(self, bus_id):
        """The first of ``spi_devices(bus_id)`` (None: none), kept until a chip select moves."""
        try:
            return self._selected[bus_id]
        except KeyError:
            devs = self.spi_devices(bus_id)
            dev = self._selected[bus_id] = devs[0] if devs else None
            return dev

    def i2c_device(self, bus_id, addr):
        dev = self.i2c.get(bus_id, {}).get(addr)
        if dev is None:
            raise OSError(19)  # ENODEV: no ACK for this address, as MicroPython raises
        return dev

    def uart_device(self, uart_id):
        return self.uart.get(uart_id)
