# MicroPython-side `esp32` for the simulator: the light-sleep wake-up sources, recorded by the
# host (hw_sim/esp32.py) where machine.lightsleep looks for them.
from _rpc import rpc

WAKEUP_ALL_LOW = False
WAKEUP_ANY_HIGH = True


def _id(pin):
    return pin if isinstance(pin, int) else pin.id


def wake_on_ext0(pin, level):
    rpc("fn", "wake_on_ext0", [None if pin is None else _id(pin), level])


def wake_on_ext1(pins, level):
    rpc("fn", "wake_on_ext1", [[_id(p) for p in pins] if pins else None, level])
