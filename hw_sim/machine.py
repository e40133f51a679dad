"""CPython stand-in for MicroPython's ``machine`` module (ESP32 flavour).

Every object routes to the active :mod:`hw_sim.wiring`, so the firmware's
``machine.SPI(...)``, ``machine.Pin(...)`` and friends reach the chip models.
Only what the ESP32 port offers is provided, with its argument names.
"""

import datetime as _dt

from hw_sim import wiring as _wiring

_EPOCH = _dt.datetime(2000, 1, 1)

_REVERSE = bytes(int("{:08b}".format(i)[::-1], 2) for i in range(256))


def _clock():
    return _wiring.active().clock


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_FALLING = 2
    IRQ_RISING = 1

    def __init__(self, id, mode=-1, pull=-1, *, value=None):
        self.id = id
        self._mode = mode
        self._pull = pull
        self._pull_level = 0 if pull == Pin.PULL_DOWN else None
        self._w = _wiring.active()  # the board this pin belongs to: the one whose firmware made it
        if value is not None:
            self.value(value)

    def init(self, mode=-1, pull=-1, *, value=None):
        self.__init__(self.id, mode, pull, value=value)

    def value(self, v=None):
        if v is None:
            return self._w.read_pin(self.id, self._pull_level)
        self._w.write_pin(self.id, v)
        return None

    __call__ = value

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3):
        return None

    def __repr__(self):
        return "Pin(%d)" % self.id


class Signal:
    def __init__(self, pin, invert=False):
        self._pin = pin
        self._invert = invert

    def value(self, v=None):
        if v is None:
            return self._pin.value() ^ self._invert
        self._pin.value((1 if v else 0) ^ self._invert)
        return None

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class SPI:
    MSB = 0
    LSB = 1

    def __init__(self, id, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=0,
                 sck=None, mosi=None, miso=None):
        self.id = id
        self._w = _wiring.active()  # the board this bus belongs to: the one whose firmware made it
        self.init(baudrate, polarity=polarity, phase=phase, bits=bits, firstbit=firstbit)

    def init(self, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=0, **_pins):
        self.baudrate = baudrate
        self.firstbit = firstbit
        self._bits_us = 8 * 1000000

    def deinit(self):
        pass

    def _transfer(self, out):
        out = bytes(out)
        w = self._w
        w.clock.advance(len(out) * self._bits_us // max(1, self.baudrate))
        dev = w.spi_selected(self.id)
        if dev is None:
            return b"\xff" * len(out)  # nobody drives MISO: pulled high
        flip = (dev.spi_firstbit == "LSB") != (self.firstbit == SPI.LSB)
        if flip:
            out = out.translate(_REVERSE)
        back = bytes(dev.spi_transfer(out))
        return back.translate(_REVERSE) if flip else back

    def write(self, buf):
        self._transfer(buf)

    def read(self, nbytes, write=0x00):
        return self._transfer(bytes((write,)) * nbytes)

    def readinto(self, buf, write=0x00):
        buf[:] = self._transfer(bytes((write,)) * len(buf))

    def write_readinto(self, write_buf, read_buf):
        read_buf[:] = self._transfer(write_buf)


class SoftSPI(SPI):
    def __init__(self, baudrate=500000, *, polarity=0, phase=0, bits=8, firstbit=0,
                 sck=None, mosi=None, miso=None):
        if firstbit != SPI.MSB:
            raise ValueError("firstbit must be MSB")  # as extmod/machine_spi.c says
        super().__init__(-1, baudrate, polarity=polarity, phase=phase, bits=bits)


class I2C:
    def __init__(self, id=0, *, scl=None, sda=None, freq=400000, timeout=50000):
        self.id = id
        self.freq = freq

    def _charge(self, nbytes):
        _clock().advance((nbytes + 1) * 9 * 1000000 // max(1, self.freq))

    def scan(self):
        return sorted(_wiring.active().i2c.get(self.id, {}))

    def writeto(self, addr, buf, stop=True):
        self._charge(len(buf))
        _wiring.active().i2c_device(self.id, addr).i2c_write(bytes(buf))
        return len(buf)

    def readfrom(self, addr, nbytes, stop=True):
        self._charge(nbytes)
        return bytes(_wiring.active().i2c_device(self.id, addr).i2c_read(nbytes))

    def readfrom_into(self, addr, buf, stop=True):
        buf[:] = self.readfrom(addr, len(buf))


class SoftI2C(I2C):
    def __init__(self, scl=None, sda=None, *, freq=400000, timeout=50000):
        super().__init__(-1, scl=scl, sda=sda, freq=freq, timeout=timeout)


class UART:
    def __init__(self, id, baudrate=115200, bits=8, parity=None, stop=1, *, tx=None, rx=None,
                 timeout=0, timeout_char=0, rxbuf=256):
        self.id = id
        self.baudrate = baudrate
        self.timeout = timeout
        self._rx = bytearray()

    def init(self, baudrate=115200, bits=8, parity=None, stop=1, **kw):
        self.baudrate = baudrate
        self.timeout = kw.get("timeout", self.timeout)

    def deinit(self):
        pass

    def _byte_us(self, n):
        return n * 10 * 1000000 // max(1, self.baudrate)

    def _pull(self):
        dev = _wiring.active().uart_device(self.id)
        if dev is not None:
            self._rx += dev.uart_read()

    def write(self, buf):
        buf = bytes(buf)
        clock = _clock()
        clock.advance(self._byte_us(len(buf)))
        dev = _wiring.active().uart_device(self.id)
        if dev is not None:
            dev.uart_write(buf)
        return len(buf)

    def any(self):
        self._pull()
        return len(self._rx)

    def read(self, nbytes=None):
        self._pull()
        waited = 0
        want = 1 if nbytes is None else nbytes
        while len(self._rx) < want and waited < self.timeout:
            _clock().advance(1000)
            waited += 1
            self._pull()
        if not self._rx:
            return None
        n = len(self._rx) if nbytes is None else min(nbytes, len(self._rx))
        out = bytes(self._rx[:n])
        del self._rx[:n]
        _clock().advance(self._byte_us(n))
        return out

    def readinto(self, buf, nbytes=None):
        data = self.read(len(buf) if nbytes is None else nbytes)
        if not data:
            return None
        buf[: len(data)] = data
        return len(data)

    def flush(self):
        pass


class RTC:
    """Wall clock: ``wiring.rtc_base_s`` (seconds since 2000-01-01, the ESP32
    epoch) at virtual time zero, plus the virtual time elapsed since."""

    def __init__(self):  # the ESP32's RTC() takes no argument (ports/esp32/machine_rtc.c)
        pass

    def datetime(self, datetimetuple=None):
        w = _wiring.active()
        now_s = w.clock.now_us() // 1000000
        if datetimetuple is None:
            t = _EPOCH + _dt.timedelta(seconds=w.rtc_base_s + now_s)
            return (t.year, t.month, t.day, t.weekday(), t.hour, t.minute, t.second, 0)
        year, month, day, _wd, hour, minute, second = datetimetuple[:7]
        t = _dt.datetime(year, month, day, hour, minute, second)
        w.rtc_base_s = int((t - _EPOCH).total_seconds()) - now_s
        return None


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.fed_at = _clock().now_ms()

    def feed(self):
        self.fed_at = _clock().now_ms()


def unique_id():
    return getattr(_wiring.active(), "unique_id", b"\x24\x0a\xc4\x00\x00\x01")


def reset():
    w = _wiring.active()
    w.resets += 1
    raise SystemExit("machine.reset()")


def soft_reset():
    reset()


_freq = [160000000]


def freq(hz=None):
    if hz is None:
        return _freq[0]
    _freq[0] = hz
    return None


def idle():
    _clock().advance(1000)


def lightsleep(time_ms=None):
    """Sleep until ``time_ms`` has passed or a wake-up source set with ``esp32.wake_on_ext0`` /
    ``wake_on_ext1`` holds its level (``Wiring.lightsleep_begin``): leg by leg on the virtual
    clock, waking the instant a source changes."""
    w = _wiring.active()
    us = w.lightsleep_begin(time_ms)
    while us:
        w.clock.sleep_us(us)
        us = w.lightsleep_leg()


def reset_cause():
    return 1  # PWRON_RESET


PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
