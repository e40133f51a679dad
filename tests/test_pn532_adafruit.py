"""A third-party driver, adafruit_pn532, against the PN532 model on UART, I2C and SPI.

Only ``micropython`` (const), ``digitalio`` and ``busio`` (the bus fakes) are stubbed
(nfc.md §2.1);
the buses are small busio-like fakes that forward to the transports' device
protocol methods. The SPI fake is an MSB-first master: it bit-reverses every byte
for the LSB-first PN532, as the wire does, so Adafruit's own reversal cancels out.
Adafruit's ``time.sleep``/``time.monotonic`` are replaced, in its modules only, by
the virtual clock.
"""

import importlib
import sys
import types

import pytest

from hw_sim.clock import VirtualClock
from hw_sim.iso14443 import Card14443, Field
from hw_sim.pn532 import PN532, PN532I2C, PN532SPI, PN532UART

UID = bytes.fromhex("04A1B2C3D4E5F6")
IN_DATA_EXCHANGE = 0x40


class Echo:
    """Card application: the APDU reversed + 90 00."""

    def __init__(self):
        self.seen = []

    def process(self, apdu):
        self.seen.append(apdu)
        return apdu[::-1] + b"\x90\x00"


def reverse_bits(data):
    return bytes(int("{:08b}".format(b)[::-1], 2) for b in data)


class FakeUART:
    def __init__(self, dev):
        self.dev = dev
        self.rx = bytearray()

    def _pull(self):
        self.rx += self.dev.uart_read()

    @property
    def in_waiting(self):
        self._pull()
        return len(self.rx)

    def read(self, n):
        self._pull()
        out = bytes(self.rx[:n])
        del self.rx[:n]
        return out or None

    def write(self, data):
        self.dev.uart_write(bytes(data))
        return len(data)

    def reset_input_buffer(self):
        self._pull()
        self.rx.clear()


class FakeLock:
    def try_lock(self):
        return True

    def unlock(self):
        pass

    def configure(self, **_settings):
        pass


class FakeI2C(FakeLock):
    def __init__(self, dev):
        self.dev = dev

    def _device(self, addr):
        if addr != self.dev.i2c_address:
            raise OSError(19)
        return self.dev

    def writeto(self, addr, buf, *, start=0, end=None):
        self._device(addr).i2c_write(bytes(buf[start:end]))

    def readfrom_into(self, addr, buf, *, start=0, end=None):
        end = len(buf) if end is None else end
        buf[start:end] = self._device(addr).i2c_read(end - start)


class FakeSPI(FakeLock):
    """MSB-first master; the device's ``spi_firstbit`` decides the reversal."""

    def __init__(self, dev):
        self.dev = dev

    def _transfer(self, out):
        flip = self.dev.spi_firstbit == "LSB"
        back = self.dev.spi_transfer(reverse_bits(out) if flip else out)
        return reverse_bits(back) if flip else back

    def write(self, buf, *, start=0, end=None):
        self._transfer(bytes(buf[start:end]))

    def write_readinto(self, out, into, **_slices):
        into[:] = self._transfer(bytes(out))


class FakeCS:
    """Chip-select pin: edges become ``spi_select`` calls."""

    def __init__(self, dev):
        self.dev = dev
        self._value = True

    def switch_to_output(self, value=False, **_kw):
        self.value = value

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, level):
        if bool(level) != self._value:
            self._value = bool(level)
            self.dev.spi_select(not self._value)


def _stub_modules(monkeypatch):
    micropython = types.ModuleType("micropython")
    micropython.const = lambda x: x
    digitalio = types.ModuleType("digitalio")
    digitalio.Direction = types.SimpleNamespace(INPUT="input", OUTPUT="output")
    digitalio.DigitalInOut = FakeCS
    busio = types.ModuleType("busio")  # the names its type hints need: the fakes
    busio.UART, busio.I2C, busio.SPI = FakeUART, FakeI2C, FakeSPI
    for name, module in (("micropython", micropython), ("digitalio", digitalio),
                         ("busio", busio)):
        monkeypatch.setitem(sys.modules, name, module)
    for name in [n for n in sys.modules if n.startswith("adafruit_pn532")]:
        monkeypatch.delitem(sys.modules, name)


class Bench:
    def __init__(self, kind, monkeypatch):
        self.clock = VirtualClock()
        self.field = Field()
        self.chip = PN532(self.clock, self.field)
        fake_time = types.SimpleNamespace(
            sleep=lambda s: self.clock.advance(int(s * 1_000_000)),
            monotonic=lambda: self.clock.now_us() / 1_000_000)
        _stub_modules(monkeypatch)
        modules = {}
        for name in ("adafruit_pn532.adafruit_pn532", "adafruit_pn532.uart",
                     "adafruit_pn532.i2c", "adafruit_pn532.spi"):
            modules[name] = importlib.import_module(name)
            monkeypatch.setattr(modules[name], "time", fake_time)
        self.base = modules["adafruit_pn532.adafruit_pn532"]
        if kind == "uart":
            self.pn532 = modules["adafruit_pn532.uart"].PN532_UART(FakeUART(PN532UART(self.chip)))
        elif kind == "i2c":
            self.pn532 = modules["adafruit_pn532.i2c"].PN532_I2C(FakeI2C(PN532I2C(self.chip)))
        else:
            dev = PN532SPI(self.chip)
            self.pn532 = modules["adafruit_pn532.spi"].PN532_SPI(FakeSPI(dev), FakeCS(dev))

    def place(self, app=None):
        card = Card14443(UID, app or Echo())
        self.field.place(card)
        return card


@pytest.fixture(params=["uart", "i2c", "spi"])
def bench(request, monkeypatch):
    yield Bench(request.param, monkeypatch)
    for name in [n for n in sys.modules if n.startswith("adafruit_pn532")]:
        del sys.modules[name]


def test_adafruit_detects_the_chip_firmware(bench):
    assert bench.pn532.firmware_version == (0x32, 0x01, 0x06, 0x07)


def test_adafruit_reads_the_card_uid(bench):
    bench.place()
    assert bytes(bench.pn532.read_passive_target(timeout=0.5)) == UID


def test_adafruit_exchanges_an_apdu(bench):
    app = Echo()
    bench.place(app)
    bench.pn532.read_passive_target(timeout=0.5)
    apdu = bytes.fromhex("00A4040007A0000000031010")
    out = bench.pn532.call_function(IN_DATA_EXCHANGE, response_length=32,
                                    params=b"\x01" + apdu)
    assert bytes(out) == b"\x00" + apdu[::-1] + b"\x90\x00"
    assert app.seen == [apdu]


def test_adafruit_read_times_out_without_a_card_then_finds_one(bench):
    assert bench.pn532.read_passive_target(timeout=0.2) is None
    bench.place()
    assert bytes(bench.pn532.read_passive_target(timeout=0.5)) == UID


def test_adafruit_sees_a_card_still_lying_on_the_reader_again(bench):
    bench.place()
    bench.pn532.read_passive_target(timeout=0.5)
    assert bytes(bench.pn532.read_passive_target(timeout=0.5)) == UID
