"""CPython stand-in for MicroPython's ``esp32`` module: the light-sleep wake-up sources.

``wake_on_ext0(pin, level)`` and ``wake_on_ext1(pins, level)`` record on the active board's
:class:`~hw_sim.wiring.Wiring` which pins end a ``machine.lightsleep`` (ports/esp32
modesp32.c; the ESP32 and the S3 have both). Only what the firmware uses is provided.
"""

from hw_sim import wiring as _wiring

WAKEUP_ALL_LOW = False
WAKEUP_ANY_HIGH = True


def _id(pin):
    return pin if isinstance(pin, int) else pin.id


def wake_on_ext0(pin, level, /):
    """``pin`` (None: off) wakes a light sleep while it reads ``level`` (WAKEUP_ALL_LOW: 0)."""
    _wiring.active().ext0 = None if pin is None else (_id(pin), 1 if level else 0)


def wake_on_ext1(pins, level, /):
    """``pins`` (None or empty: off) wake a light sleep: all low (WAKEUP_ALL_LOW) or any
    high (WAKEUP_ANY_HIGH)."""
    _wiring.active().ext1 = (tuple(_id(p) for p in pins), bool(level)) if pins else None
