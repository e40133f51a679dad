"""Attach the canteen POS peripherals the board file names to a simulated terminal.

``wire_pos(sim)`` gives ``sim`` (a :class:`hw_sim.terminal.SimTerminal`) a
``keypad`` (:class:`~hw_sim.keypad.KeypadModel`), an ``lcd``
(:class:`~hw_sim.lcd.LcdModel`, on the board's I2C bus) and a ``printer``
(:class:`~hw_sim.escpos.PrinterModel`, on its UART), each None when the board has
no such part. Call it whenever the terminal's wiring is (re)built: after a power
cycle the same models are attached again (presses already scheduled still
happen, the receipts printed so far are kept), and the LCD controller resets.
"""

from hw_sim.escpos import PrinterModel
from hw_sim.keypad import KeypadModel
from hw_sim.lcd import LcdModel


def wire_pos(sim):
    board, w = sim.board, sim.wiring
    spec = board.get("keypad")
    if spec:
        if getattr(sim, "keypad", None) is None:
            sim.keypad = KeypadModel(w, spec["rows"], spec["cols"])
        else:
            sim.keypad.attach(w)
    elif not hasattr(sim, "keypad"):
        sim.keypad = None
    spec = board.get("lcd")
    if spec:
        bus = spec["i2c"]
        if getattr(sim, "lcd", None) is None:
            sim.lcd = LcdModel(sim.clock, spec.get("address", 0x27), spec.get("cols", 20),
                               spec.get("rows", 4), bus.get("freq", 400000))
        else:
            sim.lcd.power_on()
        w.attach_i2c(bus["id"], sim.lcd)
    elif not hasattr(sim, "lcd"):
        sim.lcd = None
    spec = board.get("printer")
    if spec:
        if getattr(sim, "printer", None) is None:
            sim.printer = PrinterModel()
        w.attach_uart(spec["uart"]["id"], sim.printer)
    elif not hasattr(sim, "printer"):
        sim.printer = None
    return sim
