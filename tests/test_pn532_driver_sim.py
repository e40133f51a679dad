"""The firmware PN532 driver end to end through the simulator's chip and card models.

hw_sim.pn532 (chip + bus adapters) and hw_sim.iso14443 (Field, Card14443) sit behind
the ``machine`` shim exactly as on a board; the driver runs unmodified on each bus:
SPI with an MSB-first master (software bit reversal) and an LSB-first master, I2C,
UART, each polled and with the IRQ pin.
"""

import pytest

import hw_sim  # noqa: E402

hw_sim.install()

import machine  # noqa: E402  (hw_sim.machine once installed)

from hw_sim import pn532 as chip_model  # noqa: E402
from hw_sim.clock import VirtualClock  # noqa: E402
from hw_sim.iso14443 import Card14443, Field  # noqa: E402
from hw_sim.wiring import Wiring  # noqa: E402
from ykt.drivers.pn532 import PN532  # noqa: E402
from ykt.drivers.pn532_i2c import PN532I2C  # noqa: E402
from ykt.drivers.pn532_spi import PN532SPI  # noqa: E402
from ykt.drivers.pn532_uart import PN532UART  # noqa: E402
from ykt.errors import CardGone  # noqa: E402
from ykt.isodep import IsoDep  # noqa: E402

CS_PIN = 5
IRQ_PIN = 4
UID_A = bytes.fromhex("04A1B2C3D4E5F6")
UID_B = bytes.fromhex("08112233")


class Echo:
    """Card application: answers every C-APDU with itself + 9000."""

    def __init__(self):
        self.seen = []

    def process(self, apdu):
        self.seen.append(bytes(apdu))
        return bytes(apdu) + b"\x90\x00"


class Rig:
    def __init__(self, kind, irq):
        self.clock = VirtualClock()
        self.field = Field()
        self.chip = chip_model.PN532(self.clock, self.field)
        self.wiring = Wiring(self.clock).activate()
        pin = None
        if irq:
            self.wiring.drive_pin(IRQ_PIN, self.chip.irq_level)
            pin = machine.Pin(IRQ_PIN, machine.Pin.IN, machine.Pin.PULL_UP)
        if kind.startswith("spi"):
            lsb = kind == "spi-lsb"
            self.wiring.attach_spi(1, CS_PIN, chip_model.PN532SPI(self.chip))
            spi = machine.SPI(1, 1000000, polarity=0, phase=0,
                              firstbit=machine.SPI.LSB if lsb else machine.SPI.MSB)
            cs = machine.Pin(CS_PIN, machine.Pin.OUT, value=1)
            transport = PN532SPI(spi, cs, irq=pin, lsb_first=lsb)
        elif kind == "i2c":
            self.wiring.attach_i2c(0, chip_model.PN532I2C(self.chip))
            transport = PN532I2C(machine.I2C(0, freq=400000), irq=pin)
        else:
            self.wiring.attach_uart(1, chip_model.PN532UART(self.chip))
            transport = PN532UART(machine.UART(1, 115200), irq=pin)
        self.nfc = PN532(transport)

    def card(self, uid=UID_A, app=None):
        card = Card14443(uid, app or Echo())
        self.field.place(card)
        return card

    def start(self, passive=0xFF):
        self.nfc.sam_configuration()
        if passive != 0xFF:
            self.nfc.set_max_retries(passive=passive)


@pytest.fixture(params=["spi-msb", "spi-lsb", "i2c", "uart"])
def kind(request):
    return request.param


@pytest.fixture(params=[False, True], ids=["poll", "irq"])
def rig(request, kind):
    return Rig(kind, request.param)


def test_firmware_version(rig):
    rig.start()
    ic, ver, rev, support = rig.nfc.firmware_version()
    assert ic == 0x32 and ver == 1 and support & 0x01  # PN532, ISO 14443A


def test_lists_the_card_uid(rig):
    card = rig.card()
    rig.start()
    (t,) = rig.nfc.list_passive_targets()
    assert t.tg == 1 and t.uid == UID_A
    assert t.sak & 0x20 and t.ats == card.ats
    assert t.atqa == int.from_bytes(card.atqa, "big")


def test_exchanges_apdus_with_an_echo_app(rig):
    app = Echo()
    rig.card(app=app)
    rig.start()
    (t,) = rig.nfc.list_passive_targets()
    link = IsoDep(rig.nfc, t)
    select = bytes.fromhex("00A404000AA0000000031010") + b"\x00"
    assert link.transceive(select) == select + b"\x90\x00"
    long_apdu = bytes.fromhex("80DC0104F0") + bytes(range(240))  # chained to the card's FSC
    assert link.transceive(long_apdu) == long_apdu + b"\x90\x00"
    assert app.seen == [select, long_apdu]
    assert link.present() is True
    link.release()


def test_card_removed_raises_card_gone(rig):
    card = rig.card()
    rig.start()
    (t,) = rig.nfc.list_passive_targets()
    link = IsoDep(rig.nfc, t)
    card.remove_after_apdu = 1
    assert link.transceive(b"\x00\xb0\x00\x00\x04") == b"\x00\xb0\x00\x00\x04\x90\x00"
    with pytest.raises(CardGone):
        link.transceive(b"\x00\xb0\x00\x00\x04")
    with pytest.raises(CardGone):  # and it stays gone
        link.transceive(b"\x00\xb0\x00\x00\x04")


def test_presence_check_sees_the_card_leave(rig):
    card = rig.card()
    rig.start()
    (t,) = rig.nfc.list_passive_targets()
    link = IsoDep(rig.nfc, t)
    assert link.present() is True
    rig.field.remove(card)
    assert link.present() is False
    with pytest.raises(CardGone):
        link.transceive(b"\x00\xb0\x00\x00\x04")


def test_two_cards_two_targets(rig):
    rig.card(UID_A)
    rig.card(UID_B)
    rig.start()
    targets = rig.nfc.list_passive_targets(max_targets=2)
    assert len(targets) == 2
    assert sorted(t.uid for t in targets) == sorted([UID_A, UID_B])
    assert sorted(t.tg for t in targets) == [1, 2]


def test_no_card_returns_empty(kind):
    rig = Rig(kind, irq=False)
    rig.start(passive=0x01)  # finite retries: the chip answers NbTg = 0
    assert rig.nfc.list_passive_targets() == []
    rig.nfc.set_max_retries(passive=0xFF)  # wait for a card: the driver gives up and aborts
    t0 = rig.clock.now_ms()
    assert rig.nfc.list_passive_targets(timeout_ms=300) == []
    assert 300 <= rig.clock.now_ms() - t0 < 400
    assert rig.nfc.firmware_version()[0] == 0x32  # the chip took the abort and goes on


def test_card_arriving_during_a_poll_is_found(kind):
    rig = Rig(kind, irq=True)
    rig.start()
    card = Card14443(UID_A, Echo())
    rig.clock.schedule(rig.clock.now_us() + 150000, lambda: rig.field.place(card))
    t0 = rig.clock.now_ms()
    (t,) = rig.nfc.list_passive_targets(timeout_ms=1000)
    assert t.uid == UID_A
    assert 150 <= rig.clock.now_ms() - t0 < 200
