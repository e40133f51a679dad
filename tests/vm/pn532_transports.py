"""The PN532 driver over all three transports on the MicroPython VM
(tests/test_pn532_driver_mpy.py): a tiny chip fake written for MicroPython answers
GetFirmwareVersion, InListPassiveTarget and InDataExchange (MI chaining, status 0x2B), so the
memoryview/bytearray idioms the driver uses are checked where they must work.

``micropython pn532_transports.py`` (firmware on MICROPYPATH) prints ``NAME ok NACKS`` for
spi, i2c and uart.
"""

from ykt.drivers.pn532 import PN532
from ykt.drivers.pn532_i2c import PN532I2C
from ykt.drivers.pn532_spi import PN532SPI, reverse_table
from ykt.drivers.pn532_uart import PN532UART
from ykt.errors import CardGone
from ykt.isodep import IsoDep

ACK = b"\x00\x00\xff\x00\xff\x00"


def frame(payload):
    n = len(payload)
    if n <= 255:
        head = bytes([0, 0, 0xFF, n, -n & 0xFF])
    else:
        head = bytes([0, 0, 0xFF, 0xFF, 0xFF, n >> 8, n & 0xFF, -((n >> 8) + (n & 0xFF)) & 0xFF])
    return head + payload + bytes([-sum(payload) & 0xFF, 0])


UID = b"\x04\x11\x22\x33\x44\x55\x66"
ATS = b"\x05\x78\x80\x70\x02"


class Chip:
    def __init__(self):
        self.out = []
        self.gone = False
        self.parts = 0
        self.nacks = 0
        self.last = None

    def host(self, raw):
        i = 0
        while raw[i] != 0xFF:
            i += 1
        if raw[i + 1] == 0 and raw[i + 2] == 0xFF:  # ACK: abort
            self.out = []
            return
        if raw[i + 1] == 0xFF and raw[i + 2] == 0:  # NACK: send the response again
            self.nacks += 1
            self.out = [self.last]
            return
        if raw[i + 1] == 0xFF and raw[i + 2] == 0xFF:
            n = raw[i + 3] << 8 | raw[i + 4]
            data = raw[i + 6:i + 6 + n]
        else:
            n = raw[i + 1]
            data = raw[i + 3:i + 3 + n]
        assert data[0] == 0xD4
        cmd = data[1]
        if cmd == 0x02:
            r = b"\x32\x01\x06\x07"
        elif cmd == 0x4A:
            r = b"\x01\x01\x00\x44\x20\x07" + UID + ATS
        elif cmd == 0x40 and self.gone:
            r = b"\x2b"
        elif cmd == 0x40 and len(data) == 3 and self.parts:
            self.parts -= 1
            last = not self.parts
            r = (b"\x00" if last else b"\x40") + bytes(200) + (b"\x90\x00" if last else b"")
        elif cmd == 0x40 and len(data) > 200:
            r = b"\x00" + bytes(data[3:]) + b"\x90\x00"
        elif cmd == 0x40:
            self.parts = 2
            r = b"\x40" + bytes(200)
        else:
            r = b""
        self.last = frame(bytes([0xD5, cmd + 1]) + r)
        self.out = [ACK, self.last]


class SPI:
    def __init__(self, chip):
        self.chip = chip
        self.rev = reverse_table()
        self.tx = None
        self.rd = None

    def cs(self, v):
        if v and self.tx is not None and len(self.tx) > 1 and self.tx[0] == 0x01:
            self.chip.host(bytes(self.tx[1:]))
        if v and self.rd is not None and self.out_pos >= len(self.rd):
            self.chip.out.pop(0)
        self.tx = None if v else bytearray()
        self.rd = None

    def _xfer(self, out):
        back = bytearray(len(out))
        for k in range(len(out)):
            b = self.rev[out[k]]
            if len(self.tx) == 0:
                self.tx.append(b)
                if b == 0x03:
                    self.rd = self.chip.out[0]
                    self.out_pos = 0
                continue
            self.tx.append(b)
            r = 0
            if self.tx[0] == 0x02:
                r = 1 if self.chip.out else 0
            elif self.tx[0] == 0x03 and self.out_pos < len(self.rd):
                r = self.rd[self.out_pos]
                self.out_pos += 1
            back[k] = self.rev[r]
        return back

    def write(self, buf):
        self._xfer(bytes(buf))

    def readinto(self, buf, write=0):
        buf[:] = self._xfer(bytes(len(buf)))

    def write_readinto(self, wb, rb):
        rb[:] = self._xfer(bytes(wb))


class I2C:
    def __init__(self, chip):
        self.chip = chip

    def writeto(self, addr, buf):
        if len(buf):
            self.chip.host(bytes(buf))

    def readfrom_into(self, addr, buf):
        if not self.chip.out:
            buf[0] = 0
            return
        buf[0] = 1
        if len(buf) > 1:
            f = self.chip.out.pop(0)
            for k in range(1, len(buf)):
                buf[k] = f[k - 1] if k - 1 < len(f) else 0


class UART:
    def __init__(self, chip):
        self.chip = chip
        self.rx = bytearray()

    def _pull(self):
        while self.chip.out:
            self.rx.extend(self.chip.out.pop(0))

    def write(self, buf):
        if buf[0] != 0x55:
            self.chip.host(bytes(buf))

    def any(self):
        self._pull()
        return len(self.rx)

    def read(self, n=None):
        self._pull()
        n = len(self.rx) if n is None else min(n, len(self.rx))
        if not n:
            return None
        out = bytes(self.rx[:n])
        self.rx = self.rx[n:]
        return out

    def readinto(self, buf):
        data = self.read(len(buf))
        if not data:
            return None
        buf[:len(data)] = data
        return len(data)


def run(name, transport, chip):
    nfc = PN532(transport)
    assert nfc.firmware_version() == (0x32, 1, 6, 7)
    nfc.sam_configuration()
    (t,) = nfc.list_passive_targets()
    assert t.uid == UID and t.ats == ATS and t.atqa == 0x44 and t.sak == 0x20
    link = IsoDep(nfc, t)
    r = link.transceive(b"\x00\xb0\x00\x00\x00")
    assert len(r) == 602 and r[-2:] == b"\x90\x00", len(r)
    big = bytes(range(256)) + b"\x01\x02\x03"
    assert link.transceive(big) == big + b"\x90\x00"
    chip.gone = True
    try:
        link.transceive(b"\x00\xb0\x00\x00\x00")
        raise AssertionError("no CardGone")
    except CardGone:
        pass
    print(name, "ok", chip.nacks)


chip = Chip()
spi = SPI(chip)
run("spi", PN532SPI(spi, spi.cs), chip)
chip = Chip()
run("i2c", PN532I2C(I2C(chip)), chip)
chip = Chip()
run("uart", PN532UART(UART(chip)), chip)
