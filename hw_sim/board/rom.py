"""The ESP32 and ESP32-S3 ROM serial bootloader ("download mode"), as esptool v5 drives it.

:class:`RomLoader` is a byte-stream state machine: :meth:`RomLoader.feed`
takes the bytes the host sent and returns the bytes the ROM answers, plus an
event when the host told it to leave the loader. It speaks what the real
``esptool --before no-reset --no-stub`` sends to an ESP32 (see
docs/virtual-board.md and ../shared/reference/tooling.md section 1):

* SLIP framing (0xC0 delimits, 0xDB escapes); bytes outside a frame are
  ignored, as the ROM ignores line noise before a SYNC.
* Request ``<BBHI`` (0x00, op, length, checksum) + data; response ``<BBHI``
  (0x01, op, length, value) + data, where the ROM puts 4 status bytes at the
  end of the data: ``00 00 00 00`` or ``01 <error> 00 00``.
* SYNC gets 8 replies with a non-zero value (so esptool knows this is the ROM,
  not its stub). GET_SECURITY_INFO fails with error 0x05 on the ESP32 ROM, which
  does not know it (esptool then reads the chip magic register); the ESP32-S3 ROM
  answers it with 20 bytes: flags, flash_crypt_cnt, 7 key purposes (all 0: no
  secure boot, no flash encryption), chip id 9 (esptool's ``ESP32S3ROM.IMAGE_CHIP_ID``,
  which is how it tells an S3: ``USES_MAGIC_VALUE`` is False) and API version 0.
  Every stub-only or RAM-loading command fails with error 0x05.
* READ_REG / WRITE_REG over a small register map: chip magic, eFuse words
  (MAC, package, revision), UART clock divider, RTC calibration, and the SPI0
  "user command" engine through which esptool reads the flash JEDEC id
  (0x9F), SFDP (0x5A) and resets the flash (0x66, 0x99). The S3's registers are
  elsewhere (``esptool/targets/esp32s3.py``): eFuse BLOCK1 at 0x60007044 (MAC words
  0 and 1, then package/revision/flash and PSRAM capability), SPI0 at 0x60002000
  with USR2 at +0x20 and W0 at +0x58; see :data:`CHIPS`.
* SPI_ATTACH, SPI_SET_PARAMS, CHANGE_BAUDRATE: acknowledged.
* FLASH_BEGIN/DATA (erase at begin, 0x400 blocks, 0xEF-XOR checksum, sequence
  numbers), FLASH_DEFL_BEGIN/DATA (a zlib stream written as it inflates),
  SPI_FLASH_MD5 (32 lowercase hex digits), READ_FLASH_SLOW (64-byte blocks).
* FLASH_END / FLASH_DEFL_END: acknowledged, then the ROM leaves download mode
  (flag 1 "run user code", flag 0 "reboot": with no strapping pin held both
  end in the application). ``feed`` reports it as the event ``"run"``.

ROM error codes: 0x05 bad message/parameters, 0x06 failed to act, 0x07 bad
checksum, 0x08 flash write error, 0x09 flash read error, 0x0B inflate error.
"""

import hashlib
import struct
import zlib

ESP32_MAGIC = 0x00F01D83
S3_CHIP_ID = 9  # esptool targets/esp32s3.py IMAGE_CHIP_ID
SYNC_VALUE = 0x20120707
SECTOR = 4096

OP_FLASH_BEGIN, OP_FLASH_DATA, OP_FLASH_END = 0x02, 0x03, 0x04
OP_SYNC, OP_WRITE_REG, OP_READ_REG = 0x08, 0x09, 0x0A
OP_SPI_SET_PARAMS, OP_SPI_ATTACH, OP_READ_FLASH_SLOW = 0x0B, 0x0D, 0x0E
OP_CHANGE_BAUDRATE = 0x0F
OP_DEFL_BEGIN, OP_DEFL_DATA, OP_DEFL_END = 0x10, 0x11, 0x12
OP_SPI_FLASH_MD5 = 0x13

ERR_BAD_PARAM, ERR_FAILED, ERR_CHECKSUM = 0x05, 0x06, 0x07
ERR_FLASH_WRITE, ERR_FLASH_READ, ERR_INFLATE = 0x08, 0x09, 0x0B

SPI0 = 0x3FF42000  # SPI0 registers: CMD +0, ADDR +4, USR +0x1C, USR1 +0x20, USR2 +0x24, W0 +0x80
SPI_CMD_USR = 1 << 18
OP_GET_SECURITY_INFO = 0x14

# Per chip: where the SPI0 user-command engine's registers are (base, USR1, USR2, W0
# offsets), and whether GET_SECURITY_INFO answers (with the chip id) or fails (ESP32).
CHIPS = {
    "esp32": {"spi": (SPI0, 0x20, 0x24, 0x80), "chip_id": None},
    "esp32s3": {"spi": (0x60002000, 0x1C, 0x20, 0x58), "chip_id": S3_CHIP_ID},
}
S3_EFUSE_BLOCK1 = 0x60007044  # MAC word 0, MAC word 1, then words 2..5 of BLOCK1
S3_EFUSE_BLOCK2 = 0x6000705C


class RomError(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


def slip_encode(packet):
    body = packet.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
    return b"\xc0" + body + b"\xc0"


def checksum(data, seed=0xEF):
    for b in data:
        seed ^= b
    return seed


def efuse_words(mac):
    """eFuse words 1 and 2 of an ESP32 holding ``mac`` (6 bytes)."""
    mac = bytes(mac)
    return struct.unpack(">I", mac[2:6])[0], struct.unpack(">H", mac[0:2])[0]


class RomLoader:
    """ESP32 ROM download mode over a flash with ``read(off, n)``, ``program(off, data)``,
    ``erase(block)`` and ``size`` (:class:`hw_sim.flash.NorFlash`)."""

    def __init__(self, flash, mac=b"\x24\x0a\xc4\x00\x00\x01", chip="esp32"):
        if chip not in CHIPS:
            raise ValueError("no ROM model for chip %r (known: %s)" % (chip, ", ".join(CHIPS)))
        self.flash = flash
        self.chip = chip
        self._spi, self._chip_id = CHIPS[chip]["spi"], CHIPS[chip]["chip_id"]
        w1, w2 = efuse_words(mac)
        if chip == "esp32s3":
            self.regs = {
                S3_EFUSE_BLOCK1: w1,           # MAC bytes 2..5
                S3_EFUSE_BLOCK1 + 4: w2,       # MAC bytes 0..1
                # word 3: package 0 (QFN56), minor revision 2 (bits 18-20), block minor 1
                S3_EFUSE_BLOCK1 + 12: 2 << 18 | 1 << 24,
                # word 4: PSRAM capability 1 (8 MB embedded, bits 3-4), vendor 1 (AP_3v3)
                S3_EFUSE_BLOCK1 + 16: 1 << 3 | 1 << 7,
                S3_EFUSE_BLOCK2 + 16: 1,       # block version major 1
            }
            self._init_link()
            return
        self.regs = {
            0x40001000: ESP32_MAGIC,
            0x3FF5A004: w1,            # eFuse word 1: MAC bytes 2..5
            0x3FF5A008: w2,            # eFuse word 2: MAC bytes 0..1 (CRC byte left 0)
            0x3FF5A00C: 0x00008200,    # word 3: package D0WD, revision bit 0
            0x3FF5A010: 100,           # word 4: 8 MHz clock calibration (baud maths)
            0x3FF5A014: 0x00100000,    # word 5: revision bit 1
            0x3FF6607C: 0x80000000,    # APB_CTL_DATE: revision bit 2 -> "v3.0"
            0x3FF40014: 347,           # UART_CLKDIV at 115200 -> 40 MHz crystal
            0x3FF5F06C: 1024 << 7,     # RTCCALICFG1
        }
        self._init_link()

    def _init_link(self):
        self._rx = bytearray()
        self._in_frame = False
        self._esc = False
        self._write = None  # (next_pos, next_seq, inflater or None)
        self.spi_params = None

    def reset_link(self):
        """Forget a half-received frame (a new host connection)."""
        self._rx.clear()
        self._in_frame = self._esc = False

    # -- framing -------------------------------------------------------------------
    def feed(self, data):
        """Host bytes in; returns (bytes to send back, event or None, unread bytes).

        After the event ``"run"`` the ROM has left: the bytes after that packet
        are returned unread (they belong to the application's UART).
        """
        out = bytearray()
        for i, b in enumerate(data):
            if not self._in_frame:
                self._in_frame = b == 0xC0
                continue
            if b == 0xC0:
                if self._rx:
                    reply, ev = self._packet(bytes(self._rx))
                    self._rx.clear()
                    self._in_frame = False
                    out += reply
                    if ev:
                        return bytes(out), ev, bytes(data[i + 1:])
                continue
            if self._esc:
                self._esc = False
                self._rx.append({0xDC: 0xC0, 0xDD: 0xDB}.get(b, b))
            elif b == 0xDB:
                self._esc = True
            else:
                self._rx.append(b)
        return bytes(out), None, b""

    def _packet(self, pkt):
        if len(pkt) < 8 or pkt[0] != 0x00:
            return b"", None
        _, op, size, chk = struct.unpack("<BBHI", pkt[:8])
        data = pkt[8:8 + size]
        if op == OP_SYNC:
            return b"".join(self._reply(op, b"", SYNC_VALUE) for _ in range(8)), None
        try:
            value, payload, event = self._command(op, data, chk)
        except RomError as e:
            return self._reply(op, b"", 0, e.code), None
        return self._reply(op, payload, value), event

    @staticmethod
    def _reply(op, payload, value, error=None):
        status = b"\x00\x00\x00\x00" if error is None else bytes([1, error, 0, 0])
        body = payload + status
        return slip_encode(struct.pack("<BBHI", 1, op, len(body), value) + body)

    # -- commands --------------------------------------------------------------------
    def _command(self, op, data, chk):
        if op == OP_READ_REG:
            (addr,) = self._unpack("<I", data)
            return self.read_reg(addr), b"", None
        if op == OP_WRITE_REG:
            if not data or len(data) % 16:
                raise RomError(ERR_BAD_PARAM)
            for i in range(0, len(data), 16):
                addr, value, mask, _delay = struct.unpack("<IIII", data[i:i + 16])
                self.write_reg(addr, value, mask)
            return 0, b"", None
        if op == OP_GET_SECURITY_INFO and self._chip_id is not None:
            return 0, struct.pack("<IB7BII", 0, 0, *bytes(7), self._chip_id, 0), None
        if op in (OP_SPI_ATTACH, OP_CHANGE_BAUDRATE):
            return 0, b"", None
        if op == OP_SPI_SET_PARAMS:
            self.spi_params = self._unpack("<IIIIII", data)
            return 0, b"", None
        if op in (OP_FLASH_BEGIN, OP_DEFL_BEGIN):
            self._begin(data, op == OP_DEFL_BEGIN)
            return 0, b"", None
        if op in (OP_FLASH_DATA, OP_DEFL_DATA):
            self._data(data, chk, op == OP_DEFL_DATA)
            return 0, b"", None
        if op in (OP_FLASH_END, OP_DEFL_END):
            self._unpack("<I", data)
            self._write = None
            return 0, b"", "run"
        if op == OP_SPI_FLASH_MD5:
            addr, size, _, _ = self._unpack("<IIII", data)
            digest = hashlib.md5(self._read(addr, size)).hexdigest()
            return 0, digest.encode("ascii"), None
        if op == OP_READ_FLASH_SLOW:
            addr, size = self._unpack("<II", data)
            if size > 64:
                raise RomError(ERR_BAD_PARAM)
            return 0, self._read(addr, size).ljust(64, b"\x00"), None
        raise RomError(ERR_BAD_PARAM)  # GET_SECURITY_INFO, MEM_*, stub-only commands

    @staticmethod
    def _unpack(fmt, data):
        if len(data) < struct.calcsize(fmt):
            raise RomError(ERR_BAD_PARAM)
        return struct.unpack(fmt, data[:struct.calcsize(fmt)])

    def _read(self, addr, size):
        if addr + size > self.flash.size:
            raise RomError(ERR_FLASH_READ)
        return self.flash.read(addr, size)

    def _begin(self, data, deflate):
        erase_size, _blocks, _block_size, offset = self._unpack("<IIII", data)
        if offset % SECTOR or offset + erase_size > self.flash.size:
            raise RomError(ERR_BAD_PARAM)
        first, end = offset // SECTOR, -(-(offset + erase_size) // SECTOR)
        for block in range(first, end):
            self.flash.erase(block)
        self._write = [offset, 0, zlib.decompressobj() if deflate else None]

    def _data(self, data, chk, deflate):
        size, seq, _, _ = self._unpack("<IIII", data)
        block = data[16:]
        if self._write is None or (self._write[2] is not None) != deflate:
            raise RomError(ERR_FAILED)
        if len(block) != size:
            raise RomError(ERR_BAD_PARAM)
        if checksum(block) != chk:
            raise RomError(ERR_CHECKSUM)
        if seq != self._write[1]:
            raise RomError(ERR_BAD_PARAM)
        if deflate:
            try:
                block = self._write[2].decompress(block)
            except zlib.error:
                raise RomError(ERR_INFLATE) from None
        pos = self._write[0]
        if pos + len(block) > self.flash.size:
            raise RomError(ERR_FLASH_WRITE)
        if block:
            self.flash.program(pos, block)
        self._write[0] = pos + len(block)
        self._write[1] = seq + 1

    # -- registers and the SPI0 user-command engine --------------------------------------
    def read_reg(self, addr):
        return self.regs.get(addr, 0)

    def write_reg(self, addr, value, mask=0xFFFFFFFF):
        value = (self.regs.get(addr, 0) & ~mask | value & mask) & 0xFFFFFFFF
        base, _, _, w0 = self._spi
        if addr == base and value & SPI_CMD_USR:
            self.regs[base + w0] = self._spi_command()
            value &= ~SPI_CMD_USR  # done at once: esptool's poll sees the bit clear
        self.regs[addr] = value

    def _spi_command(self):
        base, usr1, usr2, _ = self._spi
        cmd = self.regs.get(base + usr2, 0) & 0xFF
        addr_bits = (self.regs.get(base + usr1, 0) >> 26) + 1
        addr = self.regs.get(base + 0x04, 0) >> (32 - addr_bits) if addr_bits < 32 else 0
        if cmd == 0x9F:  # RDID: manufacturer, memory type, capacity = log2(size)
            return 0xEF | 0x40 << 8 | (self.flash.size.bit_length() - 1) << 16
        if cmd == 0x5A:  # RDSFDP: the "SFDP" signature at 0, nothing else
            return 0x50444653 if addr == 0 else 0
        return 0  # RDSR (0x05/0x35), reset (0x66/0x99), write enable ...: status 0
