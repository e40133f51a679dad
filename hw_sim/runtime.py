"""Make CPython look like MicroPython on an ESP32 to the firmware.

``install()`` registers the ``machine``, ``esp32``, ``network``, ``micropython`` and
``cryptolib`` stand-ins in ``sys.modules`` and adds MicroPython's ``time`` ticks and sleep
functions to CPython's ``time`` module, all on the active board's virtual
clock. CPython's own ``time.time``/``time.sleep`` are left untouched (the
firmware does not use them).
"""

import os
import sys
import time
import types

from hw_sim.wiring import active as _active

_TICKS_PERIOD = 1 << 30
_TICKS_MAX = _TICKS_PERIOD - 1
_TICKS_HALF = _TICKS_PERIOD // 2


def _clock():
    return _active().clock


def ticks_ms():
    return _clock().now_us() // 1000 & _TICKS_MAX


def ticks_us():
    return _clock().now_us() & _TICKS_MAX


def ticks_cpu():
    return ticks_us()


def ticks_add(ticks, delta):
    return (ticks + delta) & _TICKS_MAX


def ticks_diff(a, b):
    """Signed difference a - b, as MicroPython's time.ticks_diff."""
    return ((a - b + _TICKS_HALF) & _TICKS_MAX) - _TICKS_HALF


def sleep_ms(ms):
    _clock().sleep_us(int(ms) * 1000)


def sleep_us(us):
    _clock().sleep_us(int(us))


def _micropython_module():
    mod = types.ModuleType("micropython")
    mod.const = lambda x: x
    mod.native = mod.viper = lambda f: f
    mod.opt_level = lambda *a: 0
    mod.alloc_emergency_exception_buf = lambda n: None
    mod.schedule = lambda fn, arg: fn(arg)
    mod.mem_info = lambda *a: None
    mod.kbd_intr = lambda chr: None
    return mod


FIRMWARE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware")


def firmware_on_path():
    """Idempotent: make the firmware package importable (enough for its modules that use no
    MicroPython module, e.g. ``ykt.report``)."""
    if FIRMWARE not in sys.path:
        sys.path.insert(0, FIRMWARE)


def install():
    """Idempotent: make the firmware importable and its imports resolve to the simulator."""
    from hw_sim import cryptolib, esp32, machine, network

    firmware_on_path()

    sys.modules["micropython"] = _micropython_module()
    sys.modules["machine"] = machine
    sys.modules["cryptolib"] = cryptolib
    sys.modules["esp32"] = esp32
    sys.modules["network"] = network
    for fn in (ticks_ms, ticks_us, ticks_cpu, ticks_add, ticks_diff, sleep_ms, sleep_us):
        setattr(time, fn.__name__, fn)
