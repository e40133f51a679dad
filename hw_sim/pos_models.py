"""The canteen POS peripherals of a simulated terminal, attached as the board file names them.

``WIRE`` maps the peripheral kinds ``keypad``, ``lcd`` and ``printer``
(``host_tools.lib.peripherals``) to a function ``fn(sim, spec)`` that gives ``sim`` (a
:class:`hw_sim.terminal.SimTerminal`, where each is None until wired) a ``keypad``
(:class:`~hw_sim.keypad.KeypadModel`), an ``lcd`` (:class:`~hw_sim.lcd.LcdModel`, on the
board's I2C bus) and a ``printer`` (:class:`~hw_sim.escpos.PrinterModel`, on its UART);
``spec`` is the board's entry with its declared defaults filled in. The terminal calls them
whenever its wiring is (re)built: after a power cycle the same models are attached again
(presses already scheduled still happen, the receipts printed so far are kept), and the
LCD controller resets.
"""

from hw_sim.escpos import PrinterModel
from hw_sim.keypad import KeypadModel
from hw_sim.lcd import LcdModel


def wire_keypad(sim, spec):
    if sim.keypad is None:
        sim.keypad = KeypadModel(sim.wiring, spec["rows"], spec["cols"], spec["keys"])
    else:
        sim.keypad.attach(sim.wiring)


def wire_lcd(sim, spec):
    bus = spec["i2c"]
    if sim.lcd is None:
        sim.lcd = LcdModel(sim.clock, spec["address"], spec["cols"], spec["rows"], bus["freq"])
    else:
        sim.lcd.power_on()
    sim.wiring.attach_i2c(bus["id"], sim.lcd)


def wire_printer(sim, spec):
    if sim.printer is None:
        sim.printer = PrinterModel()
    sim.wiring.attach_uart(spec["uart"]["id"], sim.printer)


WIRE = {"keypad": wire_keypad, "lcd": wire_lcd, "printer": wire_printer}
