"""Board file -> ``machine`` buses and pins -> drivers.

A board file (JSON, see boards/) names every peripheral with its bus and pins;
this is the only module that creates ``machine`` objects, so drivers receive
their buses ready-made and the same code runs on every board. The keys and the
defaults read here are those host_tools/lib/peripherals.py declares (docs/boards.md;
tests/test_board_description.py holds this module and ``ykt.pos_board`` to them).
"""

import json

import machine

from ykt.ui import Ui


def load(path):
    with open(path) as f:
        return json.load(f)


def _pin(no, mode, pull=-1):
    return machine.Pin(no, mode, pull) if no is not None else None


def _uart(spec):
    return machine.UART(spec["id"], spec.get("baudrate", 115200), tx=spec["tx"], rx=spec["rx"],
                        timeout=spec.get("timeout", 0))


def _irq_doze(irq):
    """``doze(ms, wake)`` for the PN532 driver: light sleep until the chip's IRQ falls, ``ms``
    pass or ``wake`` (ext1 ``(pins, high)``) holds. ESP-IDF leaves a pad that woke the chip in
    RTC mode: the pins are made digital inputs again afterwards."""
    from ykt import clock

    def doze(ms, wake=None):
        clock.light_sleep(ms, irq, wake)
        irq.init(machine.Pin.IN, machine.Pin.PULL_UP)
        if wake:
            for p in wake[0]:
                p.init(machine.Pin.IN)

    return doze


def nfc_reader(board):
    """The PN532 driver for the board's reader, on its bus (``nfc.wait`` "irq": its waits
    light-sleep until the chip's IRQ pin falls instead of polling the chip)."""
    from ykt.drivers.pn532 import PN532

    nfc = board["nfc"]
    irq = _pin(nfc.get("irq"), machine.Pin.IN, machine.Pin.PULL_UP)
    doze = _irq_doze(irq) if nfc.get("wait", "poll") == "irq" else None
    return PN532(_nfc_bus(nfc, irq), doze)


def _nfc_bus(nfc, irq):
    bus = nfc["bus"]
    if bus == "spi":
        from ykt.drivers.pn532_spi import PN532SPI

        s = nfc["spi"]
        lsb = s.get("lsb_first", False)
        spi = machine.SPI(s["id"], s.get("baudrate", 1000000), polarity=0, phase=0,
                          firstbit=machine.SPI.LSB if lsb else machine.SPI.MSB,
                          sck=machine.Pin(s["sck"]), mosi=machine.Pin(s["mosi"]),
                          miso=machine.Pin(s["miso"]))
        cs = machine.Pin(nfc["cs"], machine.Pin.OUT, value=1)
        return PN532SPI(spi, cs, irq=irq, lsb_first=lsb)
    if bus == "i2c":
        from ykt.drivers.pn532_i2c import PN532I2C

        s = nfc["i2c"]
        i2c = machine.I2C(s["id"], scl=machine.Pin(s["scl"]), sda=machine.Pin(s["sda"]),
                          freq=s.get("freq", 400000))
        return PN532I2C(i2c, address=nfc.get("address", 0x24), irq=irq)
    if bus == "uart":
        from ykt.drivers.pn532_uart import PN532UART

        return PN532UART(_uart(nfc["uart"]), irq=irq)
    raise ValueError("unknown NFC bus %r" % bus)


def ui(board):
    """Display, LEDs and buzzer as fitted on the board."""
    display = None
    spec = board.get("display")
    if spec and spec.get("kind") == "pole":
        from ykt.drivers.pole_display import PoleDisplay

        display = PoleDisplay(_uart(spec["uart"]), spec.get("width", 20))
    leds = board.get("leds", {})
    return Ui(display, _pin(leds.get("green"), machine.Pin.OUT),
              _pin(leds.get("red"), machine.Pin.OUT), _pin(board.get("buzzer"), machine.Pin.OUT))


def gate(board):
    """The gate's actuator, passage sensor and emergency input, or None if not fitted."""
    spec = board.get("gate")
    if not spec:
        return None
    from ykt.drivers.gate import Gate

    return Gate(machine.Pin(spec["open"], machine.Pin.OUT),
                machine.Pin(spec["passage"], machine.Pin.IN),
                emergency=_pin(spec.get("emergency"), machine.Pin.IN))


def qr(board):
    """The QR scanner's driver on its UART (``configure()`` it before use), or None if not
    fitted."""
    spec = board.get("qr")
    if not spec:
        return None
    from ykt.drivers.gm65 import CONTINUOUS, GM65, TRIGGER

    s = spec["uart"]
    # rxbuf: the UART's receive buffer holds a whole code between two polls (an RSA code is
    # 1,234 bytes; the ESP32 port's default buffer is 256)
    uart = machine.UART(s["id"], s.get("baudrate", 9600), tx=s["tx"], rx=s["rx"],
                        timeout=s.get("timeout", 0), rxbuf=s.get("rxbuf", 2048))
    mode = CONTINUOUS if spec.get("mode", "trigger") == "continuous" else TRIGGER
    return GM65(uart, mode, spec.get("read_ms", 5000), spec.get("max_len", 1536))
