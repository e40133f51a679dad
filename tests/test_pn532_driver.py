"""Byte-level tests of the firmware PN532 driver, its three transports and IsoDep.

A small scripted chip lives in this file, only to check the exact bytes the driver
puts on each bus (frames, LCS/DCS, SPI operation bytes and bit order, I2C status
bytes, UART wake-up) and how it reacts to ACK/NACK/error frames, bad checksums,
time-outs and InDataExchange status codes. The simulator's real chip model is
exercised in test_pn532_driver_sim.py.

Time is a fake ticks clock patched into ``time`` (only the driver's sleeps move it).
"""

import sys
import time
import types

import pytest

if "micropython" not in sys.modules:  # normally hw_sim.install() (conftest) provides it
    _mp = types.ModuleType("micropython")
    _mp.const = lambda x: x
    sys.modules["micropython"] = _mp

from ykt.drivers import pn532 as pn532_mod  # noqa: E402
from ykt.drivers.pn532 import PN532, Target, frame_size  # noqa: E402
from ykt.drivers.pn532_i2c import PN532I2C  # noqa: E402
from ykt.drivers.pn532_spi import PN532SPI, reverse_table  # noqa: E402
from ykt.drivers.pn532_uart import PN532UART  # noqa: E402
from ykt.errors import BadFrame, CardGone, CardRefused, ReaderError, ReaderTimeout  # noqa: E402
from ykt.isodep import IsoDep  # noqa: E402

ACK = bytes.fromhex("0000FF00FF00")
NACK = bytes.fromhex("0000FFFF0000")
ERROR_FRAME = bytes.fromhex("0000FF01FF7F8100")
FW_CMD = bytes.fromhex("0000FF02FED4022A00")  # UM0701 example
FW_RSP = bytes.fromhex("0000FF06FAD50332010607E800")


def rev8(b):
    return int("{:08b}".format(b)[::-1], 2)


def frame(payload):
    """Information frame around ``payload`` (TFI first), extended when longer than 255."""
    n = len(payload)
    if n <= 255:
        head = bytes([0, 0, 0xFF, n, -n & 0xFF])
    else:
        hi, lo = n >> 8, n & 0xFF
        head = bytes([0, 0, 0xFF, 0xFF, 0xFF, hi, lo, -(hi + lo) & 0xFF])
    return head + bytes(payload) + bytes([-sum(payload) & 0xFF, 0])


def rsp(cmd, data=b""):
    return frame(bytes([0xD5, cmd + 1]) + bytes(data))


# -- fake time -------------------------------------------------------------------

class FakeClock:
    MASK = (1 << 30) - 1

    def __init__(self):
        self.us = 0
        self.sleeps = []

    def ticks_ms(self):
        return self.us // 1000 & self.MASK

    def ticks_us(self):
        return self.us & self.MASK

    def ticks_add(self, t, d):
        return (t + d) & self.MASK

    def ticks_diff(self, a, b):
        half = (self.MASK + 1) // 2
        return ((a - b + half) & self.MASK) - half

    def sleep_ms(self, ms):
        assert ms >= 0
        self.sleeps.append(ms)
        self.us += int(ms) * 1000

    def sleep_us(self, us):
        self.us += int(us)


@pytest.fixture
def clock(monkeypatch):
    c = FakeClock()
    for name in ("ticks_ms", "ticks_us", "ticks_add", "ticks_diff", "sleep_ms", "sleep_us"):
        monkeypatch.setattr(time, name, getattr(c, name), raising=False)
    return c


# -- a scripted chip at the frame level ----------------------------------------------

NO_ACK = "no-ack"


class Chip:
    """Answers each command frame with the next script entry.

    An entry is a list of raw frames: the first is sent after the ACK, each host NACK
    sends the next one (or the last again); ``[]`` = ACK but no response; NO_ACK =
    silence. ``respond`` (a function of the command payload) is used when the script
    is empty.
    """

    def __init__(self, clock, ack_us=500, rsp_us=2000):
        self.clock = clock
        self.ack_us = ack_us
        self.rsp_us = rsp_us
        self.writes = []  # every frame the host wrote, exactly
        self.commands = []  # payloads of command frames (D4 ...)
        self.script = []
        self.respond = None
        self.queue = []  # [ready_at_us, frame]
        self.entry = None
        self.pos = 0
        self.aborts = 0
        self.nacks = 0

    # host -> chip
    def host_write(self, raw):
        raw = bytes(raw)
        self.writes.append(raw)
        kind, payload = parse_host_frame(raw)
        now = self.clock.us
        if kind == "ack":
            self.aborts += 1
            self.queue = []
        elif kind == "nack":
            self.nacks += 1
            if self.entry:
                self.pos = min(self.pos + 1, len(self.entry) - 1)
                self.queue = [[now + 200, self.entry[self.pos]]]
        elif kind == "cmd":
            self.commands.append(payload)
            entry = self.script.pop(0) if self.script else self.respond(payload)
            if entry == NO_ACK:
                self.queue = []
                return
            if isinstance(entry, tuple):  # ("instead-of-ack", frame)
                self.queue = [[now + self.ack_us, entry[1]]]
                self.entry = None
                return
            self.queue = [[now + self.ack_us, ACK]]
            self.entry, self.pos = entry, 0
            if entry:
                self.queue.append([now + self.ack_us + self.rsp_us, entry[0]])

    # chip -> host
    def ready(self):
        return bool(self.queue) and self.queue[0][0] <= self.clock.us

    def take(self):
        return self.queue.pop(0)[1]


def parse_host_frame(raw):
    """Independent parser for what the host sends: skips any preamble."""
    i = raw.find(b"\x00\xff")
    if i < 0:
        return "none", b""
    body = raw[i + 2:]
    if body[:3] == b"\x00\xff\x00":
        return "ack", b""
    if body[:3] == b"\xff\x00\x00":
        return "nack", b""
    if body[0] == 0xFF and body[1] == 0xFF:
        n = body[2] << 8 | body[3]
        assert (body[2] + body[3] + body[4]) & 0xFF == 0, "extended LCS"
        data = body[5:5 + n]
        dcs = body[5 + n]
        assert body[6 + n] == 0, "postamble"
    else:
        n = body[0]
        assert (body[0] + body[1]) & 0xFF == 0, "LCS"
        data = body[2:2 + n]
        dcs = body[2 + n]
        assert body[3 + n] == 0, "postamble"
    assert len(data) == n
    assert (sum(data) + dcs) & 0xFF == 0, "DCS"
    assert data[0] == 0xD4, "TFI"
    return "cmd", data


# -- fake buses ------------------------------------------------------------------------

class Pin:
    """Output pin (CS) or the chip's IRQ output (``chip`` given)."""

    def __init__(self, value=1, chip=None, on_change=None):
        self._v = value
        self._chip = chip
        self._on_change = on_change
        self.reads = 0

    def value(self, v=None):
        if v is None:
            self.reads += 1
            if self._chip is not None:
                return 0 if self._chip.ready() else 1
            return self._v
        self._v = 1 if v else 0
        if self._on_change:
            self._on_change(self._v)
        return None

    __call__ = value


class FakeSPI:
    """A PN532 SPI slave (LSB first) behind a master with bit order ``lsb_master``."""

    def __init__(self, chip, lsb_master):
        self.chip = chip
        self.lsb_master = lsb_master
        self.cs = Pin(1, on_change=self._select)
        self.selected = False
        self.transactions = []  # raw MOSI bytes on the wire, one entry per CS window
        self.op = None
        self.dw = bytearray()
        self.frame = None
        self.ptr = 0

    def _to_chip(self, b):
        return b if self.lsb_master else rev8(b)

    _from_chip = _to_chip

    def _select(self, level):
        if level == 0:
            self.selected = True
            self.op = None
            self.dw = bytearray()
            self.transactions.append(bytearray())
        else:
            self.selected = False
            if self.op == 0x01:
                self.chip.host_write(bytes(self.dw))
            if self.op == 0x03 and self.frame is not None and self.ptr >= len(self.frame):
                self.frame = None

    def _transfer(self, out):
        assert self.selected, "SPI transfer with CS high"
        self.chip.clock.us += 8 * len(out)  # 1 MHz
        self.transactions[-1] += bytes(out)
        back = bytearray()
        for w in out:
            b = self._to_chip(w)
            r = 0
            if self.op is None:
                self.op = b
            elif self.op == 0x01:
                self.dw.append(b)
            elif self.op == 0x02:
                r = 0x01 if (self.frame is not None or self.chip.ready()) else 0x00
            elif self.op == 0x03:
                if self.frame is None and self.chip.ready():
                    self.frame, self.ptr = self.chip.take(), 0
                if self.frame is not None and self.ptr < len(self.frame):
                    r = self.frame[self.ptr]
                    self.ptr += 1
            back.append(self._from_chip(r))
        return bytes(back)

    def write(self, buf):
        self._transfer(bytes(buf))

    def readinto(self, buf, write=0x00):
        buf[:] = self._transfer(bytes([write]) * len(buf))

    def read(self, n, write=0x00):
        return self._transfer(bytes([write]) * n)

    def write_readinto(self, wbuf, rbuf):
        rbuf[:] = self._transfer(bytes(wbuf))


class FakeI2C:
    """PN532 at 0x24: reads begin with the status byte; a longer read consumes the frame."""

    def __init__(self, chip, asleep=0):
        self.chip = chip
        self.asleep = asleep  # transfers to NACK (OSError) before it is awake
        self.reads = []  # lengths of read transactions
        self.probes = 0

    def _nak(self):
        if self.asleep:
            self.asleep -= 1
            raise OSError(19)

    def writeto(self, addr, buf, stop=True):
        assert addr == 0x24
        self._nak()
        if len(buf) == 0:
            self.probes += 1
            return 0
        self.chip.host_write(bytes(buf))
        return len(buf)

    def readfrom_into(self, addr, buf, stop=True):
        assert addr == 0x24
        self._nak()
        n = len(buf)
        self.reads.append(n)
        self.chip.clock.us += 25 * (n + 1)
        if not self.chip.ready():
            buf[:] = bytes(n)
            return
        if n == 1:
            buf[:] = b"\x01"
            return
        f = self.chip.take()
        buf[:] = (b"\x01" + f + bytes(n))[:n]


class FakeUART:
    def __init__(self, chip, noise=b""):
        self.chip = chip
        self.rx = bytearray(noise)  # chip -> host bytes not read yet
        self.raw = []  # every host write, exactly

    def _pull(self):
        while self.chip.ready():
            self.rx += self.chip.take()

    def write(self, buf):
        buf = bytes(buf)
        self.raw.append(buf)
        if buf.startswith(b"\x55"):
            return len(buf)  # wake-up preamble
        self.chip.host_write(buf)
        return len(buf)

    def any(self):
        self._pull()
        return len(self.rx)

    def read(self, n=None):
        self._pull()
        if not self.rx:
            return None
        n = len(self.rx) if n is None else min(n, len(self.rx))
        out = bytes(self.rx[:n])
        del self.rx[:n]
        return out

    def readinto(self, buf, nbytes=None):
        data = self.read(len(buf) if nbytes is None else nbytes)
        if not data:
            return None
        buf[:len(data)] = data
        return len(data)


def make(kind, chip, irq=False, lsb_first=False):
    """A driver on bus ``kind`` talking to ``chip`` -> (PN532, bus fake, transport)."""
    pin = Pin(chip=chip) if irq else None
    if kind == "spi":
        bus = FakeSPI(chip, lsb_master=lsb_first)
        t = PN532SPI(bus, bus.cs, irq=pin, lsb_first=lsb_first)
    elif kind == "spi-lsb":
        bus = FakeSPI(chip, lsb_master=True)
        t = PN532SPI(bus, bus.cs, irq=pin, lsb_first=True)
    elif kind == "i2c":
        bus = FakeI2C(chip)
        t = PN532I2C(bus, irq=pin)
    else:
        bus = FakeUART(chip)
        t = PN532UART(bus, irq=pin)
    bus.irq = pin
    return PN532(t), bus, t


BUSES = ["spi", "spi-lsb", "i2c", "uart"]


# -- frames -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", BUSES)
def test_firmware_version_exact_frames(clock, kind):
    chip = Chip(clock)
    chip.script = [[FW_RSP]]
    nfc, bus, _ = make(kind, chip)
    assert nfc.firmware_version() == (0x32, 0x01, 0x06, 0x07)
    assert chip.writes == [FW_CMD]


@pytest.mark.parametrize("kind", BUSES)
def test_sam_configuration_and_rf_commands(clock, kind):
    chip = Chip(clock)
    chip.script = [[rsp(0x14)], [rsp(0x32)], [rsp(0x32)], [rsp(0x32)], [rsp(0x12)]]
    nfc, _, _ = make(kind, chip)
    nfc.sam_configuration()
    nfc.set_max_retries(passive=0x10)
    nfc.rf_field(False)
    nfc.rf_field(True)
    nfc.set_parameters(0x14)
    assert chip.writes[0] == bytes.fromhex("0000FF05FBD414011401" "0200")  # UM0701 / Adafruit
    assert [c.hex() for c in chip.commands] == [
        "d414011401", "d43205ff0110", "d4320100", "d4320101", "d41214"]


def test_lcs_dcs_on_every_length(clock):
    chip = Chip(clock)
    chip.respond = lambda payload: [rsp(payload[1])]
    nfc, _, _ = make("spi-lsb", chip)
    for n in (0, 1, 2, 100, 252, 253, 254, 263):
        params = bytes((7 * i + n) & 0xFF for i in range(n))
        assert nfc.call(0x00, params) == b""
        raw = chip.writes[-1]
        assert parse_host_frame(raw) == ("cmd", b"\xd4\x00" + params)  # checks LCS/DCS
        ext = n + 2 > 255
        assert raw[3:5] == (b"\xff\xff" if ext else bytes([n + 2, -(n + 2) & 0xFF]))
        assert len(raw) == n + 2 + (10 if ext else 7)


def test_extended_frame_out_and_in(clock):
    chip = Chip(clock)
    apdu = bytes(range(256)) + b"\x01\x02"  # 258 bytes: LEN = 1 + 1 + 1 + 258 = 261
    answer = bytes((i * 3) & 0xFF for i in range(258)) + b"\x90\x00"
    chip.script = [[rsp(0x40, b"\x00" + answer)]]  # response LEN 263: extended too
    nfc, _, _ = make("spi-lsb", chip)
    assert nfc.data_exchange(1, apdu) == answer
    raw = chip.writes[0]
    assert raw[:8] == bytes([0, 0, 0xFF, 0xFF, 0xFF, 0x01, 0x05, -(0x01 + 0x05) & 0xFF])
    assert raw[8:11] == b"\xd4\x40\x01" and raw[11:-2] == apdu
    assert (sum(raw[8:-2]) + raw[-2]) & 0xFF == 0 and raw[-1] == 0


@pytest.mark.parametrize("kind", ["spi", "i2c", "uart"])
def test_extended_response_on_every_bus(clock, kind):
    chip = Chip(clock)
    answer = bytes(range(256)) + b"\x90\x00"
    chip.script = [[rsp(0x40, b"\x00" + answer)]]
    nfc, _, _ = make(kind, chip)
    assert nfc.data_exchange(1, b"\x00\xb0\x00\x00\x00") == answer


def test_command_too_long_is_refused(clock):
    nfc, _, _ = make("spi", Chip(clock))
    with pytest.raises(ValueError):
        nfc.call(0x00, bytes(264))


def test_frame_size():
    assert frame_size(b"\x00\x00") == 5
    assert frame_size(ACK[:5]) == 6
    assert frame_size(NACK[:5]) == 6
    assert frame_size(FW_RSP[:5]) == len(FW_RSP)
    assert frame_size(ERROR_FRAME[:5]) == 8
    ext = frame(bytes(300))
    assert frame_size(ext[:5]) == 8 and frame_size(ext[:8]) == len(ext)
    assert frame_size(b"\x12\x00\xff\x02\xfe") == 0


# -- SPI bit order -------------------------------------------------------------------------

def test_reverse_table_is_bit_reversal():
    t = reverse_table()
    assert len(t) == 256
    assert all(t[i] == rev8(i) for i in range(256))
    assert t[0x01] == 0x80 and t[0x02] == 0x40 and t[0x03] == 0xC0 and t[0xD4] == 0x2B


def test_spi_msb_master_bit_reverses_every_byte(clock):
    chip = Chip(clock)
    chip.script = [[FW_RSP]]
    nfc, bus, _ = make("spi", chip)
    assert nfc.firmware_version() == (0x32, 1, 6, 7)
    wire = [bytes(t) for t in bus.transactions if t]
    writes = [t for t in wire if t[0] == 0x80]  # DW 0x01 reversed
    assert writes == [bytes(rev8(b) for b in b"\x01" + FW_CMD)]
    assert any(t[:2] == b"\x40\x00" for t in wire)  # SR 0x02 reversed
    reads = [t for t in wire if t[0] == 0xC0]  # DR 0x03 reversed
    assert [len(t) for t in reads] == [1 + 6, 1 + len(FW_RSP)]  # ACK, response: one window each
    assert {t[0] for t in wire} <= {0x80, 0x40, 0xC0}


def test_spi_lsb_master_sends_bytes_as_is(clock):
    chip = Chip(clock)
    chip.script = [[FW_RSP]]
    nfc, bus, _ = make("spi-lsb", chip)
    nfc.firmware_version()
    wire = [bytes(t) for t in bus.transactions if t]
    assert [t for t in wire if t[0] == 0x01] == [b"\x01" + FW_CMD]
    assert {t[0] for t in wire} <= {0x01, 0x02, 0x03}


def test_spi_wakeup_pulses_cs_without_data(clock):
    chip = Chip(clock)
    chip.script = [[FW_RSP]]
    nfc, bus, _ = make("spi", chip)
    nfc.firmware_version()
    assert bytes(bus.transactions[0]) == b""  # CS low, no clock, CS high
    assert bus.cs.value() == 1


# -- ACK / NACK / error frame / time-outs -------------------------------------------------

@pytest.mark.parametrize("kind", BUSES)
def test_error_frame_raises_reader_error(clock, kind):
    chip = Chip(clock)
    chip.script = [[ERROR_FRAME]]
    nfc, _, _ = make(kind, chip)
    with pytest.raises(ReaderError) as e:
        nfc.call(0x4C, b"\x01")
    assert not isinstance(e.value, BadFrame)
    assert chip.nacks == 0


@pytest.mark.parametrize("kind", BUSES)
def test_bad_checksum_nacks_once_then_succeeds(clock, kind):
    chip = Chip(clock)
    bad = bytearray(FW_RSP)
    bad[-2] ^= 0x55  # DCS
    chip.script = [[bytes(bad), FW_RSP]]
    nfc, _, _ = make(kind, chip)
    assert nfc.firmware_version() == (0x32, 1, 6, 7)
    assert chip.nacks == 1
    assert chip.writes == [FW_CMD, NACK]


@pytest.mark.parametrize("kind", BUSES)
def test_bad_checksum_twice_is_bad_frame(clock, kind):
    chip = Chip(clock)
    bad_dcs = bytearray(FW_RSP)
    bad_dcs[-2] ^= 1
    bad_lcs = bytearray(FW_RSP)
    bad_lcs[4] ^= 1
    chip.script = [[bytes(bad_dcs), bytes(bad_lcs)]]
    nfc, _, _ = make(kind, chip)
    with pytest.raises(BadFrame):
        nfc.firmware_version()
    assert chip.nacks == 1


def test_wrong_response_code_is_bad_frame(clock):
    chip = Chip(clock)
    chip.script = [[rsp(0x14), rsp(0x14)]]  # answers SAMConfiguration to GetFirmwareVersion
    nfc, _, _ = make("spi", chip)
    with pytest.raises(BadFrame):
        nfc.firmware_version()


@pytest.mark.parametrize("kind", BUSES)
def test_missing_ack_times_out_and_aborts(clock, kind):
    chip = Chip(clock)
    chip.script = [NO_ACK]
    nfc, _, _ = make(kind, chip)
    t0 = clock.us
    with pytest.raises(ReaderTimeout):
        nfc.firmware_version()
    assert chip.writes == [FW_CMD, ACK]
    assert 100000 <= clock.us - t0 < 130000


@pytest.mark.parametrize("kind", BUSES)
@pytest.mark.parametrize("irq", [False, True])
def test_missing_response_times_out_aborts_and_polls_gently(clock, kind, irq):
    chip = Chip(clock)
    chip.script = [[]]
    nfc, bus, _ = make(kind, chip, irq=irq)
    t0 = clock.us
    with pytest.raises(ReaderTimeout):
        nfc.call(0x02, b"", timeout_ms=300)
    assert chip.writes == [FW_CMD, ACK]  # ACK frame aborts the pending command
    assert 300000 <= clock.us - t0 < 320000
    assert clock.sleeps and max(clock.sleeps) <= 10 and min(clock.sleeps) >= 1
    assert len(clock.sleeps) < 300 // 10 + 15  # backs off to 10 ms, not a busy loop
    if irq:
        assert bus.irq.reads > 0
        if kind == "i2c":
            assert set(bus.reads) == {7}  # no status polling on the bus, only the ACK read
        if kind.startswith("spi"):
            assert not any(bytes(t)[:1] in (b"\x02", b"\x40") for t in bus.transactions)


def test_ack_arriving_late_still_works(clock):
    chip = Chip(clock, ack_us=30000, rsp_us=250000)
    chip.script = [[FW_RSP]]
    nfc, _, _ = make("i2c", chip)
    assert nfc.firmware_version() == (0x32, 1, 6, 7)


def test_garbage_instead_of_ack_is_bad_frame(clock):
    chip = Chip(clock)
    chip.script = [("instead-of-ack", FW_RSP)]
    nfc, _, _ = make("i2c", chip)
    with pytest.raises(BadFrame):
        nfc.firmware_version()
    assert chip.writes == [FW_CMD, ACK]


# -- I2C specifics -----------------------------------------------------------------------------

def test_i2c_polls_status_byte_then_reads_frame(clock):
    chip = Chip(clock)
    chip.script = [[FW_RSP]]
    bus = FakeI2C(chip)
    nfc = PN532(PN532I2C(bus))
    assert nfc.firmware_version() == (0x32, 1, 6, 7)
    assert bus.probes == 1  # wake-up: empty write
    assert 1 in bus.reads  # status-only polls
    big = [n for n in bus.reads if n > 1]
    assert big == [1 + 6, 1 + 64]  # ACK, then the response with the default read size


def test_i2c_long_response_is_fetched_again_whole(clock):
    chip = Chip(clock)
    answer = bytes(range(100)) + b"\x90\x00"
    full = rsp(0x40, b"\x00" + answer)
    chip.script = [[full, full]]
    bus = FakeI2C(chip)
    nfc = PN532(PN532I2C(bus))
    assert nfc.data_exchange(1, b"\x00\xb0\x00\x00\x66") == answer
    assert chip.nacks == 1  # the 64-byte read was short: one NACK, then the exact length
    assert [n for n in bus.reads if n > 1] == [7, 65, 1 + len(full)]


def test_i2c_asleep_chip_nacking_address_is_not_a_crash(clock):
    chip = Chip(clock)
    chip.script = [[FW_RSP]]
    bus = FakeI2C(chip, asleep=2)  # probe and first write go unacknowledged
    nfc = PN532(PN532I2C(bus))
    assert nfc.firmware_version() == (0x32, 1, 6, 7)

    chip.script = [[FW_RSP]]
    chip.ack_us = 5000
    real = bus.readfrom_into
    fails = [3]

    def flaky(addr, buf, stop=True):  # status polls NACKed for a while
        if fails[0]:
            fails[0] -= 1
            raise OSError(116)
        real(addr, buf, stop)

    bus.readfrom_into = flaky
    assert nfc.firmware_version() == (0x32, 1, 6, 7)


def test_i2c_absent_chip_is_reader_error(clock):
    chip = Chip(clock)
    bus = FakeI2C(chip, asleep=10 ** 6)
    nfc = PN532(PN532I2C(bus))
    with pytest.raises(ReaderError):
        nfc.firmware_version()


# -- UART specifics ----------------------------------------------------------------------------

def test_uart_wakeup_once_before_first_command(clock):
    chip = Chip(clock)
    chip.script = [[FW_RSP], [FW_RSP]]
    bus = FakeUART(chip)
    nfc = PN532(PN532UART(bus))
    nfc.firmware_version()
    nfc.firmware_version()
    assert bus.raw[0] == b"\x55\x55" + bytes(14)
    assert bus.raw[1:] == [FW_CMD, FW_CMD]


def test_uart_skips_noise_before_start_code_and_drains_stale_input(clock):
    chip = Chip(clock)
    chip.script = [[b"\x00\x00\x00" + FW_RSP]]  # long preamble before the response
    bus = FakeUART(chip, noise=b"\x13\x37stale")
    nfc = PN532(PN532UART(bus))
    assert nfc.firmware_version() == (0x32, 1, 6, 7)
    assert not bus.rx


def test_uart_frame_cut_short_is_nacked(clock):
    chip = Chip(clock)
    chip.script = [[FW_RSP[:9], FW_RSP]]  # first copy stops mid-frame
    bus = FakeUART(chip)
    nfc = PN532(PN532UART(bus))
    assert nfc.firmware_version() == (0x32, 1, 6, 7)
    assert chip.nacks == 1


def test_uart_irq_with_ack_and_response_already_received(clock):
    chip = Chip(clock, ack_us=0, rsp_us=0)  # both frames out before the host looks
    chip.script = [[FW_RSP]]
    bus = FakeUART(chip)
    irq = Pin(chip=chip)
    nfc = PN532(PN532UART(bus, irq=irq))
    assert nfc.firmware_version() == (0x32, 1, 6, 7)  # IRQ went high, bytes still count


# -- InListPassiveTarget -----------------------------------------------------------------------

UID7 = bytes.fromhex("04112233445566")
ATS = bytes.fromhex("0578807002")


def test_list_one_iso_dep_target(clock):
    chip = Chip(clock)
    chip.script = [[rsp(0x4A, b"\x01" + b"\x01\x00\x44\x20\x07" + UID7 + ATS)]]
    nfc, _, _ = make("spi", chip)
    (t,) = nfc.list_passive_targets()
    assert chip.commands == [b"\xd4\x4a\x01\x00"]
    assert (t.tg, t.atqa, t.sak, t.uid, t.ats) == (1, 0x0044, 0x20, UID7, ATS)
    assert isinstance(t.uid, bytes) and "04112233445566" in repr(t)


def test_list_two_targets_with_and_without_ats(clock):
    chip = Chip(clock)
    uid4 = bytes.fromhex("DEADBEEF")
    data = (b"\x02" + b"\x01\x00\x44\x20\x07" + UID7 + ATS
            + b"\x02\x00\x04\x08\x04" + uid4)  # the second: MIFARE Classic, no ATS
    chip.script = [[rsp(0x4A, data)]]
    nfc, _, _ = make("uart", chip)
    a, b = nfc.list_passive_targets(max_targets=2)
    assert chip.commands == [b"\xd4\x4a\x02\x00"]
    assert (a.tg, a.uid, a.ats) == (1, UID7, ATS)
    assert (b.tg, b.atqa, b.sak, b.uid, b.ats) == (2, 0x0004, 0x08, uid4, None)


def test_list_without_auto_rats_reads_no_ats(clock):
    chip = Chip(clock)
    uid4 = bytes.fromhex("01020304")
    data = b"\x02" + b"\x01\x00\x04\x20\x07" + UID7 + b"\x02\x00\x04\x20\x04" + uid4
    chip.script = [[rsp(0x12)], [rsp(0x4A, data)]]
    nfc, _, _ = make("i2c", chip)
    nfc.set_parameters(0x00)
    a, b = nfc.list_passive_targets(max_targets=2)
    assert (a.uid, a.ats, b.uid, b.ats) == (UID7, None, uid4, None)


def test_list_none_found_and_timeout_return_empty(clock):
    chip = Chip(clock)
    chip.script = [[rsp(0x4A, b"\x00")], []]
    nfc, _, _ = make("spi", chip)
    assert nfc.list_passive_targets() == []
    t0 = clock.us
    assert nfc.list_passive_targets(timeout_ms=200) == []  # retries 0xFF and no card
    assert chip.writes[-1] == ACK and 200000 <= clock.us - t0 < 220000


def test_list_bad_layout_is_bad_frame(clock):
    chip = Chip(clock)
    chip.script = [[rsp(0x4A, b"\x01\x01\x00\x44\x20\x07\x04\x11")]]
    nfc, _, _ = make("spi", chip)
    with pytest.raises(BadFrame):
        nfc.list_passive_targets()
    with pytest.raises(ValueError):
        nfc.list_passive_targets(max_targets=3)


# -- InDataExchange ------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [0x01, 0x29, 0x2B, 0x41, 0x81])
def test_exchange_card_gone_codes(clock, status):
    chip = Chip(clock)
    chip.script = [[rsp(0x40, bytes([status]))]]
    nfc, _, _ = make("spi", chip)
    with pytest.raises(CardGone):
        nfc.data_exchange(1, b"\x00\x84\x00\x00\x08")


@pytest.mark.parametrize("status", [0x02, 0x13, 0x27, 0x14])
def test_exchange_other_codes_are_reader_errors_naming_the_code(clock, status):
    chip = Chip(clock)
    chip.script = [[rsp(0x40, bytes([status]))]]
    nfc, _, _ = make("i2c", chip)
    with pytest.raises(ReaderError) as e:
        nfc.data_exchange(1, b"\x00\x84\x00\x00\x08")
    assert not isinstance(e.value, CardGone)
    assert "%02X" % status in str(e.value)


@pytest.mark.parametrize("kind", BUSES)
def test_exchange_mi_chaining_fetches_and_joins(clock, kind):
    chip = Chip(clock)
    chip.script = [[rsp(0x40, b"\x40" + b"part1-")], [rsp(0x40, b"\x40" + b"part2-")],
                   [rsp(0x40, b"\x00" + b"end\x90\x00")]]
    nfc, _, _ = make(kind, chip)
    assert nfc.data_exchange(1, b"\x00\xb2\x01\x0c\x00") == b"part1-part2-end\x90\x00"
    assert chip.commands == [b"\xd4\x40\x01\x00\xb2\x01\x0c\x00", b"\xd4\x40\x01",
                             b"\xd4\x40\x01"]


def test_exchange_host_chaining_sets_mi_in_tg(clock):
    chip = Chip(clock)
    chip.script = [[rsp(0x40, b"\x00")], [rsp(0x40, b"\x00\x90\x00")]]
    nfc, _, _ = make("spi-lsb", chip)
    data = bytes(i & 0xFF for i in range(300))
    assert nfc.data_exchange(1, data) == b"\x90\x00"
    assert chip.commands == [b"\xd4\x40\x41" + data[:262], b"\xd4\x40\x01" + data[262:]]


def test_release_deselect_and_presence(clock):
    chip = Chip(clock)
    chip.script = [[rsp(0x52, b"\x00")], [rsp(0x44, b"\x27")], [rsp(0x00, b"\x00")],
                   [rsp(0x00, b"\x01")]]
    nfc, _, _ = make("spi", chip)
    assert nfc.release() == 0
    assert nfc.deselect(1) == 0x27
    assert nfc.check_presence() is True
    assert nfc.check_presence() is False
    assert chip.commands == [b"\xd4\x52\x00", b"\xd4\x44\x01", b"\xd4\x00\x06", b"\xd4\x00\x06"]


# -- IsoDep --------------------------------------------------------------------------------

def _target(ats=ATS):
    return Target(1, 0x0044, 0x20, UID7, ats)


def test_isodep_transceive_and_release(clock):
    chip = Chip(clock)
    chip.script = [[rsp(0x40, b"\x00\x6f\x00\x90\x00")], [rsp(0x52, b"\x00")]]
    nfc, _, _ = make("uart", chip)
    link = IsoDep(nfc, _target())
    assert link.transceive(b"\x00\xa4\x04\x00\x00") == b"\x6f\x00\x90\x00"
    link.release()
    assert chip.commands[-1] == b"\xd4\x52\x01"
    with pytest.raises(CardGone):
        link.transceive(b"\x00\xa4\x04\x00\x00")
    assert len(chip.commands) == 2


def test_isodep_card_gone_sticks_without_bus_traffic(clock):
    chip = Chip(clock)
    chip.script = [[rsp(0x40, b"\x01")]]
    nfc, _, _ = make("spi", chip)
    link = IsoDep(nfc, _target())
    with pytest.raises(CardGone):
        link.transceive(b"\x80\x5c\x00\x02\x04")
    with pytest.raises(CardGone):
        link.transceive(b"\x80\x5c\x00\x02\x04")
    assert link.present() is False
    assert len(chip.commands) == 1


def test_isodep_presence_check_uses_diagnose_6(clock):
    chip = Chip(clock)
    chip.script = [[rsp(0x00, b"\x00")], [rsp(0x00, b"\x01")]]
    nfc, _, _ = make("i2c", chip)
    link = IsoDep(nfc, _target())
    assert link.present() is True
    assert link.present() is False
    assert chip.commands == [b"\xd4\x00\x06", b"\xd4\x00\x06"]
    with pytest.raises(CardGone):
        link.transceive(b"\x00\xb0\x00\x00\x00")


def test_isodep_refuses_card_without_iso_dep(clock):
    nfc, _, _ = make("spi", Chip(clock))
    with pytest.raises(CardRefused):
        IsoDep(nfc, Target(1, 0x0004, 0x08, b"\x01\x02\x03\x04", None))


def test_isodep_short_answer_is_reader_error(clock):
    chip = Chip(clock)
    chip.script = [[rsp(0x40, b"\x00\x90")]]
    nfc, _, _ = make("spi", chip)
    with pytest.raises(ReaderError):
        IsoDep(nfc, _target()).transceive(b"\x00\xb0\x00\x00\x00")


def test_module_constants_match_um0701():
    assert pn532_mod.ACK == ACK and pn532_mod.NACK == NACK
    assert pn532_mod.FRAME_MAX == 8 + 265 + 2
