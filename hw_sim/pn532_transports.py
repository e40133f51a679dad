"""PN532 host interfaces (UM0701 §6.2.5 SPI, §6.2.4 I2C, §6.2.3 HSU).

Each wraps the one chip core and implements a bus device protocol of
docs/architecture.md "Bus device protocols". All three expose
``irq_level()`` (the chip's P70_IRQ).
"""

SPI_DW, SPI_SR, SPI_DR = 0x01, 0x02, 0x03
I2C_ADDRESS = 0x24


class PN532UART:
    """HSU: a byte stream each way.

    The chip skips anything before a frame's start code, so the wake-up
    preamble ``55 55 00 00 ...`` is harmless. ``uart_read`` returns every
    byte of the frames that are ready by now (all at once: the line time of
    the bytes is not modelled). ``baudrate`` follows SetSerialBaudrate once the
    host has ACKed the answer.
    """

    def __init__(self, chip):
        self.chip = chip

    @property
    def baudrate(self):
        return self.chip.baudrate

    def uart_write(self, data):
        self.chip.host_write(data)

    def uart_read(self):
        return self.chip.take_ready()

    def irq_level(self):
        return self.chip.irq_level()


class PN532I2C:
    """I2C slave at 0x24: every read starts with the status byte.

    Status 0x01 = a frame is ready, followed by the frame from its start (and
    0x00 after its end); 0x00 = busy, followed by 0x00s. A 1-byte read (status
    only) leaves the frame pending; a longer read consumes it. Each write is
    one frame (a cut frame is dropped at STOP); an empty write is a probe.
    """

    def __init__(self, chip, address=I2C_ADDRESS):
        self.chip = chip
        self.i2c_address = address

    def i2c_write(self, data):
        if data:
            self.chip.host_write(data)
            self.chip.host_end_of_transfer()

    def i2c_read(self, n):
        if n <= 0:
            return b""
        ready = self.chip.peek()
        if ready is None:
            return bytes(n)
        seq, frame = ready
        out = (b"\x01" + frame + bytes(n))[:n]
        if n > 1:
            self.chip.consume(seq)
        return out

    def irq_level(self):
        return self.chip.irq_level()


class PN532SPI:
    """SPI slave, mode 0, LSB first; the first byte after CS falls is the op.

    ``01`` DW: the rest is a host frame. ``02`` SR: every following byte
    clocked out is the status (bit 0 RDY). ``03`` DR: the following bytes are
    the ready frame from the read pointer, 0x00 past its end; the frame is
    consumed when its last byte has gone out.

    The read pointer survives across DR transactions and restarts at 0 when
    a new frame becomes ready. Once a frame has been partly read, the byte
    clocked out while the host sends the op byte is the frame byte at the
    pointer; a ``03`` then moves the pointer past it, any other op byte leaves
    it (the chip only shifts on DR). This serves both Adafruit (one DR per
    frame) and libnfc (chunked DRs: pn532_spi.c ``receive_next_chunk``).
    """

    spi_firstbit = "LSB"

    def __init__(self, chip):
        self.chip = chip
        self._op = None
        self._seq = None
        self._ptr = 0
        self._done = False

    def spi_select(self, active):
        if not active and self._op == SPI_DW:
            self.chip.host_end_of_transfer()
        self._op = None
        self._done = False

    def spi_transfer(self, mosi):
        n = len(mosi)
        if not n:
            return b""
        pos = 0
        head = b""
        if self._op is None:
            head = bytes((self._op_byte(mosi[0]),))
            pos = 1
        rest = n - pos
        if not rest:
            return head
        op = self._op
        if op == SPI_DW:
            self.chip.host_write(bytes(mosi[pos:]))
            return head + bytes(rest)
        if op == SPI_SR:  # the clock stands still during a transfer: one status throughout
            return head + bytes((self._status(),)) * rest
        if op == SPI_DR:
            return head + self._data_bytes(rest)
        return head + bytes(rest)

    def irq_level(self):
        return self.chip.irq_level()

    # -- internals ----------------------------------------------------------------
    def _frame(self):
        ready = self.chip.peek()
        if ready is None:
            return None
        if ready[0] != self._seq:
            self._seq, self._ptr = ready[0], 0
        return ready[1]

    def _status(self):
        return 0x01 if self.chip.peek() is not None else 0x00

    def _op_byte(self, op):
        self._op = op
        frame = self._frame()
        if frame is None or self._ptr == 0:
            return self._status()
        out = frame[self._ptr]
        if op == SPI_DR:
            self._advance(frame)
        return out

    def _data_bytes(self, n):
        """``n`` bytes of the ready frame from the read pointer, 0x00 past its end."""
        frame = None if self._done else self._frame()
        if frame is None:
            return bytes(n)
        ptr = self._ptr
        chunk = frame[ptr:ptr + n]
        self._ptr = ptr + len(chunk) - 1
        self._advance(frame)
        return chunk + bytes(n - len(chunk))

    def _advance(self, frame):
        self._ptr += 1
        if self._ptr >= len(frame):
            self.chip.consume(self._seq)
            self._done = True
