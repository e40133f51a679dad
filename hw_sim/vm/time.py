# MicroPython-side `time` for the simulator: ticks and sleeps on the virtual clock.
import _rpc
from _rpc import rpc_raw

_TICKS = b'\x01["ticks_us"]\n'

_PERIOD = 1 << 30
_MAX = _PERIOD - 1
_HALF = _PERIOD // 2


def _now():
    # the virtual clock in microseconds, unwrapped; it stands still between two requests:
    # the last answer's reading holds
    t = _rpc.now[0]
    return rpc_raw(_TICKS) if t is None else t


def ticks_us():
    return _now() & _MAX


def ticks_ms():
    # from the unwrapped clock: ticks_ms wraps at 2**30 ms, as on the board, not when
    # ticks_us does
    return _now() // 1000 & _MAX


def ticks_cpu():
    return ticks_us()


def ticks_add(t, d):
    return (t + d) & _MAX


def ticks_diff(a, b):
    return ((a - b + _HALF) & _MAX) - _HALF


def sleep_ms(ms):
    rpc_raw(b'\x01["sleep_us", %d]\n' % (int(ms) * 1000))


def sleep_us(us):
    rpc_raw(b'\x01["sleep_us", %d]\n' % int(us))
