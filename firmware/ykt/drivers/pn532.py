"""NXP PN532 NFC reader: the UM0701 command set, independent of the host bus.

Section numbers refer to the PN532 User Manual UM0701-02: frames §6.2.1 (normal,
extended, ACK, NACK and error frames), the command/ACK/response dialog and the
host ACK that aborts a command §6.2.2, error codes §7.1, Diagnose §7.2.1,
GetFirmwareVersion §7.2.2, SetParameters §7.2.9, SAMConfiguration §7.2.10,
RFConfiguration §7.3.1, InListPassiveTarget §7.3.5, InDataExchange §7.3.8,
InDeselect §7.3.10, InRelease §7.3.11.

The bus is a transport object (``pn532_spi.PN532SPI``, ``pn532_i2c.PN532I2C``,
``pn532_uart.PN532UART``) with four methods:

* ``wakeup()``: bring the chip out of power-down / HSU low-battery mode;
* ``write(frame)``: send one complete frame;
* ``ready() -> bool``: a frame (ACK or response) is waiting;
* ``read(n)``: read the waiting frame in one bus transaction and return it from
  its first byte (``00 00 FF ...``), or None if it was not ready after all.
  Transports that can see the frame length in its header (SPI, UART) read
  exactly the frame; I2C cannot, and reads ``n`` bytes.

Usage::

    from machine import SPI, Pin
    from ykt.drivers.pn532 import PN532
    from ykt.drivers.pn532_spi import PN532SPI

    spi = SPI(1, 1000000, firstbit=SPI.LSB, sck=Pin(18), mosi=Pin(23), miso=Pin(19))
    nfc = PN532(PN532SPI(spi, Pin(5, Pin.OUT, value=1), lsb_first=True))
    # or, with the chip's IRQ wired: PN532(bus, doze=fn), fn(ms, wake) light-sleeping until the
    # IRQ falls (ykt.board builds it for nfc.wait "irq"); waits then doze instead of polling
    nfc.sam_configuration()
    print(nfc.firmware_version())            # (0x32, 1, 6, 7)
    for card in nfc.list_passive_targets(timeout_ms=500):
        print(card.uid, card.ats)
        rapdu = nfc.data_exchange(card.tg, b"\\x00\\xa4\\x04\\x00\\x00")
    nfc.release()

Errors: no ACK or no response in time -> ReaderTimeout (after an ACK frame that
aborts the command); a frame failing its checksums -> one NACK asking for a resend,
then BadFrame; the chip's error frame -> ReaderError; the card not answering,
released or gone during InDataExchange -> CardGone.
"""

import time

from micropython import const

from ykt.errors import BadFrame, CardGone, ReaderError, ReaderTimeout

# Frames (§6.2.1)
_TFI_HOST = const(0xD4)
_TFI_CHIP = const(0xD5)
_TFI_ERROR = const(0x7F)
_LEN_MAX = const(265)  # TFI + PD0..PDn the PN532 accepts (extended frame)
FRAME_MAX = const(275)  # the longest frame on the wire: extended, LEN 265

ACK = b"\x00\x00\xff\x00\xff\x00"
NACK = b"\x00\x00\xff\xff\x00\x00"

# Command codes (§7.2, §7.3); the response code is the command code + 1
_DIAGNOSE = const(0x00)
_GET_FIRMWARE_VERSION = const(0x02)
_SET_PARAMETERS = const(0x12)
_SAM_CONFIGURATION = const(0x14)
_RF_CONFIGURATION = const(0x32)
_IN_DATA_EXCHANGE = const(0x40)
_IN_DESELECT = const(0x44)
_IN_LIST_PASSIVE_TARGET = const(0x4A)
_IN_RELEASE = const(0x52)

# Diagnose NumTst (§7.2.1)
_TEST_PRESENCE = const(0x06)  # ISO 14443-4 card presence: R(NAK) out, R(ACK) or I-block back

# SetParameters flags (§7.2.9)
_PARAM_AUTO_RATS = const(0x10)

# RFConfiguration items (§7.3.1)
_CFG_RF_FIELD = const(0x01)
_CFG_MAX_RETRIES = const(0x05)

# InListPassiveTarget (§7.3.5)
_BRTY_106A = const(0x00)
_SAK_ISO14443_4 = const(0x20)

# Status byte of In* responses (§7.1, §7.3.8)
_STATUS_ERR = const(0x3F)
_MI = const(0x40)  # more information: in Tg (host sends more) and in Status (chip has more)
_ERR_TIMEOUT = const(0x01)
_ERR_RELEASED = const(0x29)
_ERR_GONE = const(0x2B)
_DATA_MAX = const(262)  # InDataExchange DataOut per frame: LEN 265 - TFI, 40, Tg

# Host timing
_ACK_MS = const(100)  # the chip ACKs a good frame within a few ms
_POLL_MAX_MS = const(10)  # polling back-off ceiling (starts at 1 ms)
_READ_HINT = const(64)  # bytes read for a response when the bus cannot see its length


def frame_size(head):
    """Length of the frame starting ``00 00 FF`` whose first bytes are ``head``.

    Returns how long the frame is as far as ``head`` tells: 5 (or 8, extended
    frame) means "read that many bytes to learn more"; 0 means ``head`` does not
    start a frame. Used by the transports that read a frame by its header.
    """
    n = len(head)
    if n < 5:
        return 5
    if head[0] != 0 or head[1] != 0 or head[2] != 0xFF:
        return 0
    ln = head[3]
    lcs = head[4]
    if ln == 0xFF and lcs == 0xFF:  # extended: 00 00 FF FF FF LENM LENL LCS ...
        if n < 8:
            return 8
        return 10 + (head[5] << 8 | head[6])
    if (ln == 0 and lcs == 0xFF) or (ln == 0xFF and lcs == 0):  # ACK, NACK
        return 6
    return 7 + ln


class Target:
    """A card found by InListPassiveTarget, 106 kbps type A.

    ``tg`` target number, ``atqa`` SENS_RES as an int (as the chip sends it, MSB
    first: 0x0004, 0x0044), ``sak`` SEL_RES, ``uid`` NFCID1 bytes (4, 7 or 10),
    ``ats`` the ATS including its TL byte, or None (no ISO 14443-4 activation).
    """

    def __init__(self, tg, atqa, sak, uid, ats):
        self.tg = tg
        self.atqa = atqa
        self.sak = sak
        self.uid = uid
        self.ats = ats

    def __repr__(self):
        return "<Target %d uid=%s atqa=%04X sak=%02X>" % (
            self.tg, "".join("%02X" % b for b in self.uid), self.atqa, self.sak)


class PN532:
    """The PN532 behind ``transport`` (see the module docstring)."""

    def __init__(self, transport, doze=None):
        self._t = transport
        self._doze = doze
        self._frame = bytearray(FRAME_MAX)
        self._awake = False
        self._auto_rats = True  # power-on default of SetParameters

    # -- commands ----------------------------------------------------------
    def wakeup(self):
        """Wake the chip (done before the first command; again after PowerDown)."""
        self._t.wakeup()
        self._awake = True

    def firmware_version(self):
        """GetFirmwareVersion -> ``(ic, ver, rev, support)``, e.g. ``(0x32, 1, 6, 7)``."""
        r = self.call(_GET_FIRMWARE_VERSION)
        if len(r) < 4:
            raise BadFrame("short GetFirmwareVersion response")
        return r[0], r[1], r[2], r[3]

    def sam_configuration(self, mode=1, timeout=0x14, irq=1):
        """SAMConfiguration: mode 1 = normal (no SAM); irq 1 = drive P70_IRQ.

        Send it first: on HSU the chip leaves its low-battery mode with it.
        """
        self.call(_SAM_CONFIGURATION, bytes((mode, timeout, irq)))

    def set_parameters(self, flags):
        """SetParameters; the driver follows the fAutomaticRATS bit (0x10)."""
        self.call(_SET_PARAMETERS, bytes((flags,)))
        self._auto_rats = bool(flags & _PARAM_AUTO_RATS)

    def set_max_retries(self, atr=0xFF, psl=0x01, passive=0xFF):
        """RFConfiguration item 5: MxRtyATR, MxRtyPSL, MxRtyPassiveActivation.

        ``passive=0xFF`` (power-on default) makes InListPassiveTarget wait for a card.
        """
        self.call(_RF_CONFIGURATION, bytes((_CFG_MAX_RETRIES, atr, psl, passive)))

    def rf_field(self, on):
        """RFConfiguration item 1: switch the RF field on or off."""
        self.call(_RF_CONFIGURATION, bytes((_CFG_RF_FIELD, 1 if on else 0)))

    def list_passive_targets(self, max_targets=1, timeout_ms=500):
        """InListPassiveTarget, 106 kbps type A -> list of :class:`Target`.

        Returns ``[]`` when no card answered: either the chip said so (finite
        retries) or nothing came within ``timeout_ms`` (retries 0xFF: the chip
        waits for a card; the command is then aborted with an ACK frame).
        """
        if max_targets not in (1, 2):
            raise ValueError("max_targets must be 1 or 2")
        r = self._command(_IN_LIST_PASSIVE_TARGET, -1, bytes((max_targets, _BRTY_106A)),
                          timeout_ms)
        if r is None:
            return []
        return self._targets(r)

    def start_list(self, max_targets=1):
        """InListPassiveTarget sent and ACKed; its answer is left for :meth:`targets_found`.
        With MxRtyPassiveActivation 0xFF the chip answers when a card arrives, and IRQ falls."""
        if max_targets not in (1, 2):
            raise ValueError("max_targets must be 1 or 2")
        self._send(_IN_LIST_PASSIVE_TARGET, -1, bytes((max_targets, _BRTY_106A)))

    def targets_found(self, timeout_ms=500):
        """The answer to :meth:`start_list` -> list of :class:`Target`; ``[]`` if it did not
        come within ``timeout_ms`` (the command is then aborted)."""
        r = self._response(_IN_LIST_PASSIVE_TARGET,
                           time.ticks_add(time.ticks_ms(), timeout_ms), True)
        return [] if r is None else self._targets(r)

    def doze(self, ms, wake=None):
        """Light-sleep until the chip has a frame for the host (IRQ low) or ``ms`` pass (or
        ``wake``, ``(pins, level)``, holds: see ``ykt.clock.light_sleep``) -> whether a
        frame waits. Only with a ``doze`` function (board option ``nfc.wait`` "irq")."""
        if not self._t.ready():
            self._doze(ms, wake)
        return self._t.ready()

    @property
    def dozes(self):
        """True when waits sleep until the chip's IRQ instead of polling its status."""
        return self._doze is not None

    def abort(self):
        """Abort the command in progress with an ACK frame (§6.2.2)."""
        self._t.write(ACK)

    def data_exchange(self, tg, data, timeout_ms=1000):
        """InDataExchange with target ``tg`` -> the data the card answered.

        For an ISO 14443-4 card the chip does the block framing: ``data`` is a
        C-APDU and the answer the R-APDU. Longer than 262 bytes -> sent in parts
        with the MI bit; an answer with MI set is fetched with ``40 Tg`` and joined.
        Status 0x01 (no answer), 0x29 (released), 0x2B (gone) -> CardGone;
        other non-zero codes -> ReaderError.
        """
        mv = memoryview(data)
        while len(mv) > _DATA_MAX:
            self._exchange(tg | _MI, mv[:_DATA_MAX], timeout_ms)
            mv = mv[_DATA_MAX:]
        r = self._exchange(tg, mv, timeout_ms)
        out = r[1:]
        while r[0] & _MI:
            r = self._exchange(tg, b"", timeout_ms)
            out += r[1:]
        return out

    def check_presence(self, timeout_ms=500):
        """Diagnose test 6: is the ISO 14443-4 card still answering? -> bool.

        The chip sends R(NAK) and expects R(ACK) or the card's last I-block; the
        card's protocol state is left alone. Any non-zero status -> False.
        """
        r = self.call(_DIAGNOSE, bytes((_TEST_PRESENCE,)), timeout_ms)
        if not r:
            raise BadFrame("empty Diagnose response")
        return r[0] == 0

    def deselect(self, tg=0):
        """InDeselect (0 = all targets) -> the status byte (0 = done)."""
        r = self.call(_IN_DESELECT, bytes((tg,)))
        return r[0] & _STATUS_ERR if r else 0

    def release(self, tg=0):
        """InRelease (0 = all targets): ends the session -> the status byte."""
        r = self.call(_IN_RELEASE, bytes((tg,)))
        return r[0] & _STATUS_ERR if r else 0

    def call(self, cmd, params=b"", timeout_ms=1000):
        """Run command ``cmd`` -> the response payload after the response code."""
        r = self._command(cmd, -1, params, timeout_ms)
        if r is None:
            raise ReaderTimeout("PN532: no response to command %02X" % cmd)
        return r

    # -- helpers -----------------------------------------------------------
    def _exchange(self, tg, data, timeout_ms):
        r = self._command(_IN_DATA_EXCHANGE, tg, data, timeout_ms)
        if r is None:
            raise ReaderTimeout("PN532: no response to InDataExchange")
        if not r:
            raise BadFrame("InDataExchange response without status")
        err = r[0] & _STATUS_ERR
        if err == _ERR_TIMEOUT or err == _ERR_RELEASED or err == _ERR_GONE:
            raise CardGone("card gone (PN532 status %02X)" % err)
        if err:
            raise ReaderError("PN532 InDataExchange error %02X" % err)
        return r

    def _targets(self, r):
        if not r:
            raise BadFrame("empty InListPassiveTarget response")
        n = len(r)
        i = 1
        found = []
        for _ in range(r[0]):
            if i + 5 > n:
                raise BadFrame("short InListPassiveTarget response")
            tg = r[i]
            atqa = r[i + 1] << 8 | r[i + 2]
            sak = r[i + 3]
            end = i + 5 + r[i + 4]
            if end > n:
                raise BadFrame("short NFCID1 in InListPassiveTarget response")
            uid = r[i + 5:end]
            i = end
            ats = None
            if sak & _SAK_ISO14443_4 and self._auto_rats and i < n:
                end = i + r[i]  # TL counts itself
                if end <= i or end > n:
                    raise BadFrame("bad ATS length in InListPassiveTarget response")
                ats = r[i:end]
                i = end
            found.append(Target(tg, atqa, sak, uid, ats))
        return found

    def _command(self, cmd, tg, params, timeout_ms):
        """Send a command, take its ACK, return its payload (None: no response)."""
        self._send(cmd, tg, params)
        return self._response(cmd, time.ticks_add(time.ticks_ms(), timeout_ms), True)

    def _send(self, cmd, tg, params):
        """Write the command frame and take its ACK."""
        if not self._awake:
            self.wakeup()
        t = self._t
        t.write(memoryview(self._frame)[:self._build(cmd, tg, params)])
        f = self._wait(6, time.ticks_add(time.ticks_ms(), _ACK_MS))
        if f is None:
            t.write(ACK)
            raise ReaderTimeout("PN532: no ACK for command %02X" % cmd)
        if bytes(f[:6]) != ACK:
            t.write(ACK)
            raise BadFrame("PN532: expected ACK for command %02X" % cmd)

    def _response(self, cmd, deadline, abort):
        """The payload of ``cmd``'s response frame; None if none came by ``deadline`` (the
        command is then aborted when ``abort``, else left running)."""
        t = self._t
        want = _READ_HINT
        grown = False
        nacked = False
        while True:
            f = self._wait(want, deadline)
            if f is None:
                if abort:
                    t.write(ACK)  # abort the command (§6.2.2)
                return None
            need = frame_size(f)
            if need > len(f) >= want and not grown and need <= FRAME_MAX:
                # the bus read stopped short of a long frame: have it sent again, whole
                grown = True
                want = need
                t.write(NACK)
                continue
            try:
                return self._parse(f, cmd)
            except BadFrame:
                if nacked:
                    raise
                nacked = True
                t.write(NACK)  # ask for the response again

    def _wait(self, n, deadline):
        """Poll (or doze) until a frame is read (-> it) or ``deadline`` passes (-> None)."""
        t = self._t
        delay = 1
        doze = self._doze
        if doze is not None:
            # the chip takes a while to answer a frame just written: sleep first (a light
            # sleep on a level that holds already ends at once), then look
            left = time.ticks_diff(deadline, time.ticks_ms())
            if left > 0:
                doze(left, None)
        while True:
            if t.ready():
                f = t.read(n)
                if f is not None:
                    return f
            left = time.ticks_diff(deadline, time.ticks_ms())
            if left <= 0:
                return None
            if doze is not None:
                doze(left, None)
                continue
            time.sleep_ms(delay if delay < left else left)
            if delay < _POLL_MAX_MS:
                delay = min(2 * delay, _POLL_MAX_MS)

    def _build(self, cmd, tg, params):
        """Frame ``D4 cmd [tg] params`` into the frame buffer -> its length."""
        np = len(params)
        ln = 2 + np if tg < 0 else 3 + np
        if ln > _LEN_MAX:
            raise ValueError("PN532 command too long")
        f = self._frame
        f[0] = 0
        f[1] = 0
        f[2] = 0xFF
        if ln <= 255:
            f[3] = ln
            f[4] = -ln & 0xFF
            i = 5
        else:
            f[3] = 0xFF
            f[4] = 0xFF
            f[5] = ln >> 8
            f[6] = ln & 0xFF
            f[7] = -(f[5] + f[6]) & 0xFF
            i = 8
        f[i] = _TFI_HOST
        f[i + 1] = cmd
        s = _TFI_HOST + cmd
        i += 2
        if tg >= 0:
            f[i] = tg
            s += tg
            i += 1
        f[i:i + np] = params
        s += sum(params)
        i += np
        f[i] = -s & 0xFF
        f[i + 1] = 0
        return i + 2

    def _parse(self, f, cmd):
        """Check a response frame -> the payload after the response code."""
        n = len(f)
        if n < 6 or f[0] != 0 or f[1] != 0 or f[2] != 0xFF:
            raise BadFrame("PN532: no frame start")
        ln = f[3]
        if ln == 0xFF and f[4] == 0xFF:
            if n < 8 or (f[5] + f[6] + f[7]) & 0xFF:
                raise BadFrame("PN532: bad extended length checksum")
            ln = f[5] << 8 | f[6]
            i = 8
        else:
            if (ln + f[4]) & 0xFF or ln == 0:
                raise BadFrame("PN532: bad length checksum")
            i = 5
        if i + ln + 1 > n:  # TFI..PDn and DCS (the postamble is not checked)
            raise BadFrame("PN532: truncated frame")
        if sum(f[i:i + ln + 1]) & 0xFF:
            raise BadFrame("PN532: bad data checksum")
        if f[i] == _TFI_ERROR:
            raise ReaderError("PN532 error frame: command %02X refused" % cmd)
        if f[i] != _TFI_CHIP or ln < 2 or f[i + 1] != cmd + 1:
            raise BadFrame("PN532: unexpected response to command %02X" % cmd)
        return bytes(f[i + 2:i + ln])
