"""PN532 chip core: host frames in, ACK and response frames out (UM0701 §6-7).

Transport-independent: ``hw_sim.pn532_transports`` put the host's bytes in
with ``host_write`` and take the chip's frames out with ``peek``/``consume``
(one frame at a time, I2C and SPI) or ``take_ready`` (a byte stream, UART).
Time comes from the virtual clock only: every frame the chip emits carries
the virtual time at which it is ready; it stays invisible until the clock
passes it (timing table in ``hw_sim.pn532``).
"""

from hw_sim.pn532_frames import ACK, ERROR_FRAME, TFI_CHIP, TFI_HOST, FrameParser, build_frame
from hw_sim.pn532_rf import POLL_MISS_US, Initiator, RfError

ACK_US = 200          # ACK ready after a good command frame
CMD_US = 1000         # firmware time of every command, RF time comes on top
MAX_DATA_IN = 262     # InDataExchange DataIn per response frame; more -> MI bit
BAUD_RATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1288000)
RF_ITEM_LEN = {0x01: 1, 0x02: 3, 0x04: 1, 0x05: 3, 0x0A: 11, 0x0B: 8, 0x0C: 3, 0x0D: 9}
REG_TX_MODE, REG_RX_MODE, REG_TX_CONTROL = 0x6302, 0x6303, 0x6304
REG_FIFO_DATA, REG_BIT_FRAMING = 0x6339, 0x633D


class _SyntaxError(Exception):
    """Answered with the syntax error frame (UM0701 §6.2.1.5)."""


class _Out:
    __slots__ = ("ready_at", "data", "seq", "tag")

    def __init__(self, ready_at, data, seq, tag):
        self.ready_at, self.data, self.seq, self.tag = ready_at, data, seq, tag


class PN532:
    """The chip: ``PN532(clock, field)``; state is readable for tests."""

    FIRMWARE = bytes([0x32, 0x01, 0x06, 0x07])  # IC PN532, v1.6, ISO14443A/B + 18092

    def __init__(self, clock, field):
        self.clock = clock
        self.field = field
        self.rf = Initiator(field)
        self.registers = {REG_TX_MODE: 0x80, REG_RX_MODE: 0x80}
        self.flags = 0x14            # SetParameters: fAutomaticRATS | fAutomaticATR_RES
        self.sam_irq = True
        self.baudrate = 115200
        self.max_retries = [0xFF, 0x01, 0xFF]  # MxRtyATR, MxRtyPSL, MxRtyPassiveActivation
        self.rf_settings = {}
        self.last_error = 0
        self.powered_down = False
        self.commands = []           # every command body received (TFI onwards)
        self._parser = FrameParser()
        self._out = []
        self._seq = 0
        self._last_response = None
        self._poll = None            # (max_tg, uid, deadline_us or None)
        self._pending_baud = None
        self._mi_in = None           # InDataExchange data the host chained (Tg bit 6)
        self._mi_rest = None         # DataIn not yet given to the host (Status bit 6)
        self._extra_us = 0
        field.set_rf(False)          # the carrier is off at power-on
        field.listeners.append(self._on_field)

    # -- host side ------------------------------------------------------------------
    def host_write(self, data):
        """Bytes from the host (UART stream, or the payload of a DW / I2C write)."""
        for kind, body in self._parser.feed(bytes(data)):
            self.powered_down = False
            if kind == "ack":
                self._abort()
                if self._pending_baud:
                    self.baudrate, self._pending_baud = self._pending_baud, None
            elif kind == "nack":
                if self._last_response is not None:
                    self._emit(self._last_response, self.clock.now_us() + ACK_US, "response")
            elif kind == "oversize":
                self._abort()
                self._emit(ERROR_FRAME, self.clock.now_us() + ACK_US, "response")
            else:
                self._command(body)

    def host_end_of_transfer(self):
        """I2C STOP / SPI CS high: a frame cut short is dropped."""
        self._parser.reset()

    def peek(self):
        """``(seq, frame)`` of the frame the host can read now, or None."""
        if self._out and self._out[0].ready_at <= self.clock.now_us():
            return self._out[0].seq, self._out[0].data
        return None

    def consume(self, seq):
        if self._out and self._out[0].seq == seq:
            self._out.pop(0)

    def take_ready(self):
        """All frames ready by now, concatenated and consumed (UART)."""
        out = b""
        while self.peek() is not None:
            out += self._out.pop(0).data
        return out

    def irq_level(self):
        """P70_IRQ: 0 while a frame is ready (SAMConfiguration IRQ=1), else 1."""
        return 0 if self.sam_irq and self.peek() is not None else 1

    def irq_changes(self):
        """When P70_IRQ will next fall by itself: the time the first queued frame is ready
        (None: nothing queued, or ready already; a card placed may queue one)."""
        if self.sam_irq and self._out and self._out[0].ready_at > self.clock.now_us():
            return self._out[0].ready_at
        return None

    # -- command handling --------------------------------------------------------------
    def _abort(self):
        self._out = []
        self._poll = None

    def _emit(self, frame, at, tag):
        self._seq += 1
        self._out.append(_Out(at, frame, self._seq, tag))
        if tag == "response":
            self._last_response = frame

    def _respond(self, cmd, payload, at):
        self._emit(build_frame(bytes([TFI_CHIP, cmd + 1]) + payload), at, "response")

    def _command(self, body):
        now = self.clock.now_us()
        self._abort()
        self._emit(ACK, now + ACK_US, "ack")
        self.commands.append(body)
        cmd = body[1] if len(body) > 1 else -1
        handler = self._HANDLERS.get(cmd) if body[0] == TFI_HOST else None
        if cmd != 0x40:
            self._mi_in = self._mi_rest = None
        self.rf.us = 0
        self.rf.t0 = now
        self._extra_us = 0
        try:
            if handler is None:
                raise _SyntaxError()
            payload = handler(self, body[2:])
        except _SyntaxError:
            self._emit(ERROR_FRAME, now + CMD_US, "response")
            return
        if payload is not None:
            self._respond(cmd, payload, now + CMD_US + self.rf.us + self._extra_us)

    # -- general commands (UM0701 §7.2) ---------------------------------------------------
    def _diagnose(self, p):
        if not p:
            raise _SyntaxError()
        if p[0] == 0x00:
            return bytes(p)           # communication line test: echo NumTst + InParam
        if p[0] in (0x01, 0x02):
            return b"\x00"            # ROM / RAM test: OK
        if p[0] == 0x06:              # ISO 14443-4 card presence (R(NAK) -> answer)
            try:
                self.rf.presence()
            except RfError as err:
                return bytes([err.code])
            return b"\x00"
        raise _SyntaxError()

    def _get_firmware_version(self, p):
        return self.FIRMWARE

    def _get_general_status(self, p):
        targets = b"".join(bytes([tg, 0, 0, 0]) for tg in sorted(self.rf.targets))
        return bytes([self.last_error, 0, len(self.rf.targets)]) + targets + b"\x00"

    def _read_register(self, p):
        if not p or len(p) % 2:
            raise _SyntaxError()
        return bytes(self._reg(p[i] << 8 | p[i + 1]) for i in range(0, len(p), 2))

    def _reg(self, addr):
        if addr == REG_FIFO_DATA:
            return self.rf.fifo
        if addr == REG_TX_CONTROL:
            return 0x80 | (0x03 if self.field.rf_on else 0x00)
        return self.registers.get(addr, 0x00)

    def _write_register(self, p):
        if not p or len(p) % 3:
            raise _SyntaxError()
        for i in range(0, len(p), 3):
            self.registers[p[i] << 8 | p[i + 1]] = p[i + 2]
        return b""

    def _set_serial_baudrate(self, p):
        if len(p) != 1 or p[0] >= len(BAUD_RATES):
            raise _SyntaxError()
        self._pending_baud = BAUD_RATES[p[0]]   # switched when the host ACKs
        return b""

    def _set_parameters(self, p):
        if len(p) != 1:
            raise _SyntaxError()
        self.flags = p[0]
        self.rf.auto_rats = bool(p[0] & 0x10)
        return b""

    def _sam_configuration(self, p):
        if not p or not 1 <= p[0] <= 4:
            raise _SyntaxError()
        self.sam_irq = p[2] != 0 if len(p) > 2 else True
        return b""

    def _power_down(self, p):
        if not p:
            raise _SyntaxError()
        self.rf.rf_switch(False)
        self.powered_down = True
        return b"\x00"

    def _rf_configuration(self, p):
        if not p or RF_ITEM_LEN.get(p[0]) != len(p) - 1:
            raise _SyntaxError()
        item, data = p[0], bytes(p[1:])
        self.rf_settings[item] = data
        if item == 0x01:
            self.rf.rf_switch(bool(data[0] & 0x01))
        elif item == 0x02:
            self.rf.thru_timeout_idx = data[2]
        elif item == 0x05:
            self.max_retries = list(data)
        return b""

    # -- initiator commands (UM0701 §7.3) -------------------------------------------------
    def _in_list_passive_target(self, p):
        if len(p) < 2 or p[0] not in (1, 2) or p[1] > 4:
            raise _SyntaxError()
        max_tg, uid = p[0], self._initiator_uid(p[1], bytes(p[2:]))
        targets = self.rf.poll(max_tg, uid) if p[1] == 0 else []
        if p[1] != 0:
            self.rf.us = POLL_MISS_US  # only type A cards are modelled: nobody answers
        if targets:
            return self._targets_payload(targets)
        retries = self.max_retries[2]
        if retries == 0xFF:
            self._poll = (max_tg, uid, None) if p[1] == 0 else None
            return None                                    # pending: ACK only
        self._extra_us = retries * POLL_MISS_US            # retries + 1 attempts in all
        deadline = self.clock.now_us() + CMD_US + self.rf.us + self._extra_us
        self._poll = (max_tg, uid, deadline)
        self._respond(0x4A, b"\x00", deadline)
        return None

    @staticmethod
    def _initiator_uid(brty, data):
        if brty != 0 or not data:
            return None
        if len(data) in (4, 7, 10):
            return data
        if len(data) == 8 and data[0] == 0x88:
            return data[1:]
        if len(data) == 12 and data[0] == 0x88 and data[4] == 0x88:
            return data[1:4] + data[5:]
        raise _SyntaxError()

    @staticmethod
    def _targets_payload(targets):
        return bytes([len(targets)]) + b"".join(t.target_data() for t in targets)

    def _on_field(self, event, card):
        """A card arrived: a pending or still-running poll may now find it."""
        if event != "place" or self._poll is None:
            return
        max_tg, uid, deadline = self._poll
        now = self.clock.now_us()
        if deadline is not None and now >= deadline:
            self._poll = None
            return
        self.rf.us = 0
        self.rf.t0 = now
        targets = self.rf.poll(max_tg, uid)
        if not targets:
            return
        self._poll = None
        self._out = [o for o in self._out if o.tag != "response"]
        self._respond(0x4A, self._targets_payload(targets), now + CMD_US + self.rf.us)

    def _in_data_exchange(self, p):
        if not p:
            raise _SyntaxError()
        tg, data = p[0], bytes(p[1:])
        if tg & 0x40:
            self._mi_in = (self._mi_in or b"") + data
            return b"\x00"
        if not data and self._mi_rest:
            return self._next_data_in()
        data, self._mi_in, self._mi_rest = (self._mi_in or b"") + data, None, None
        try:
            self._mi_rest = self.rf.exchange(tg & 0x3F, data)
        except RfError as err:
            self.last_error = err.code
            return bytes([err.code])
        self.last_error = 0
        return self._next_data_in()

    def _next_data_in(self):
        part, rest = self._mi_rest[:MAX_DATA_IN], self._mi_rest[MAX_DATA_IN:]
        self._mi_rest = rest or None
        return bytes([0x40 if rest else 0x00]) + part

    def _in_communicate_thru(self, p):
        if not p:
            raise _SyntaxError()
        bits = self.registers.get(REG_BIT_FRAMING, 0) & 0x07 or 8
        try:
            data = self.rf.thru(bytes(p), self._reg(REG_TX_MODE) & 0x80,
                                self._reg(REG_RX_MODE) & 0x80, bits)
        except RfError as err:
            self.last_error = err.code
            return bytes([err.code])
        self.last_error = 0
        return b"\x00" + data

    def _target_command(self, p, action):
        if len(p) != 1:
            raise _SyntaxError()
        try:
            action(p[0])
        except RfError as err:
            return bytes([err.code])
        return b"\x00"

    def _in_deselect(self, p):
        return self._target_command(p, self.rf.deselect)

    def _in_release(self, p):
        return self._target_command(p, lambda tg: self.rf.deselect(tg, forget=True))

    def _in_select(self, p):
        return self._target_command(p, self.rf.make_current)

    _HANDLERS = {
        0x00: _diagnose, 0x02: _get_firmware_version, 0x04: _get_general_status,
        0x06: _read_register, 0x08: _write_register, 0x10: _set_serial_baudrate,
        0x12: _set_parameters, 0x14: _sam_configuration, 0x16: _power_down,
        0x32: _rf_configuration, 0x40: _in_data_exchange, 0x42: _in_communicate_thru,
        0x44: _in_deselect, 0x4A: _in_list_passive_target, 0x52: _in_release,
        0x54: _in_select,
    }
