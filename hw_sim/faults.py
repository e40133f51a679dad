"""Faults the world does to a terminal: a noisy reader line, an attacker's card.

``NoisyLine`` sits between a bus and a device (it speaks the UART, I2C and
SPI device protocols) and corrupts every byte the device sends during a
window of virtual time, like an EMI burst on the wire. The device itself is
untouched: it still believes it sent a good frame. ``noise_on_reader`` puts
one on the line of a terminal's PN532, whatever bus its board uses.

``ForgedMac2`` and ``ReplayCard`` wrap a card application (anything with
``process(apdu)`` and ``power_on()``, e.g. ``hw_sim.purse_app
.PurseApplication``): the application underneath is genuine and commits
every transaction; only the answers the reader gets are forged.
``forged(app, kind)`` picks one by the scenario's name (``"mac2"``,
``"replay"``).
"""

from host_tools.lib import peripherals

INS_DEBIT = 0x54           # DEBIT FOR PURCHASE (docs/purse.md 3.7): TAC (4) | MAC2 (4)
INS_PROVE = 0x5A           # GET TRANSACTION PROVE (3.8): MAC (4) | TAC (4)
INS_CREDIT = 0x52          # CREDIT FOR LOAD (3.10): TAC (4)
CLA_PURSE = 0x80
SW_OK = b"\x90\x00"


class NoisyLine:
    """``NoisyLine(dev, clock, start_us, end_us, xor=0x5A)``: what ``dev`` sends
    while ``start_us <= now < end_us`` arrives with every byte XORed with ``xor``."""

    def __init__(self, dev, clock, start_us, end_us, xor=0x5A):
        self._dev = dev
        self._clock = clock
        self.window = (start_us, end_us)
        self._xor = xor
        self.corrupted = 0
        self.i2c_address = getattr(dev, "i2c_address", None)
        self.spi_firstbit = getattr(dev, "spi_firstbit", None)

    def _noise(self, data):
        start, end = self.window
        if not start <= self._clock.now_us() < end or not data:
            return data
        self.corrupted += len(data)
        return bytes(b ^ self._xor for b in data)

    def uart_write(self, data):
        self._dev.uart_write(data)

    def uart_read(self):
        return self._noise(self._dev.uart_read())

    def i2c_write(self, data):
        self._dev.i2c_write(data)

    def i2c_read(self, n):
        return self._noise(self._dev.i2c_read(n))

    def spi_select(self, active):
        self._dev.spi_select(active)

    def spi_transfer(self, mosi):
        return self._noise(self._dev.spi_transfer(mosi))  # MISO: what the chip clocks out

    def irq_level(self):
        return self._dev.irq_level()


def noise_on_reader(sim, start_us, end_us, xor=0x5A):
    """Put a ``NoisyLine`` on the bus between ``sim``'s firmware and its PN532
    (``hw_sim.terminal.SimTerminal``; UART, I2C or SPI as its board says)."""
    w, nfc = sim.wiring, sim.board["nfc"]
    bus = nfc["bus"]
    if bus == "uart":
        uid = nfc["uart"]["id"]
        line = w.uart[uid] = NoisyLine(w.uart[uid], sim.clock, start_us, end_us, xor)
    elif bus == "i2c":
        devs = w.i2c[nfc["i2c"]["id"]]
        addr = peripherals.with_defaults(peripherals.kind("nfc"), nfc)["address"]
        line = devs[addr] = NoisyLine(devs[addr], sim.clock, start_us, end_us, xor)
    elif bus == "spi":
        devs, cs = w.spi[nfc["spi"]["id"]], nfc["cs"]
        i = [pin for pin, _ in devs].index(cs)
        line = NoisyLine(devs[i][1], sim.clock, start_us, end_us, xor)
        devs[i] = (cs, line)  # chip select still reaches the chip (wiring.attach_spi)
    else:
        raise ValueError("board %s: unknown NFC bus %r" % (sim.board.get("name"), bus))
    return line


class _CardWrapper:
    def __init__(self, app):
        self.app = app

    def power_on(self):
        power_on = getattr(self.app, "power_on", None)
        if power_on is not None:
            power_on()

    def process(self, apdu):
        apdu = bytes(apdu)
        answer = bytes(self.app.process(apdu))
        if len(apdu) < 2 or apdu[0] != CLA_PURSE or answer[-2:] != SW_OK:
            return answer
        return self.forge(apdu[1], answer)

    def forge(self, ins, answer):
        return answer

    def __getattr__(self, name):  # balance, offline_atc, ... of the genuine application
        if name == "app":
            raise AttributeError(name)
        return getattr(self.app, name)


class ForgedMac2(_CardWrapper):
    """A genuine card that commits debits but answers a wrong MAC2: to DEBIT
    (``TAC | MAC2``) and to GET TRANSACTION PROVE (``MAC | TAC``)."""

    def forge(self, ins, answer):
        if ins == INS_DEBIT and len(answer) == 10:
            return answer[:4] + _flip(answer[4:8]) + SW_OK
        if ins == INS_PROVE and len(answer) == 10:
            return _flip(answer[:4]) + answer[4:8] + SW_OK
        return answer


class ReplayCard(_CardWrapper):
    """A card that commits DEBIT, GET TRANSACTION PROVE and CREDIT, then answers
    each with the answer it gave the same instruction in its previous transaction
    (as recorded by an attacker). The first time it has nothing recorded and
    answers genuinely."""

    REPLAYED = (INS_DEBIT, INS_PROVE, INS_CREDIT)

    def __init__(self, app):
        super().__init__(app)
        self.recorded = {}  # instruction -> its previous answer
        self.replayed = 0

    def forge(self, ins, answer):
        if ins not in self.REPLAYED:
            return answer
        old = self.recorded.get(ins)
        self.recorded[ins] = answer
        if old is None:
            return answer
        self.replayed += 1
        return old


def _flip(mac):
    return bytes(b ^ 0xFF for b in mac)


FORGERIES = {"mac2": ForgedMac2, "replay": ReplayCard}


def forged(app, kind):
    """The card application of an attacker's card of ``kind`` around ``app``."""
    return FORGERIES[kind](app)
