# MicroPython-side `machine` for the simulator: thin proxies; the real models
# (hw_sim.machine on CPython) do the work on the other end of the bridge.
from binascii import hexlify

import _rpc
from _rpc import b, rpc, rpc_raw


def _arg(v):
    if isinstance(v, Pin):
        return v.id
    if isinstance(v, (bytes, bytearray, memoryview)):
        return b(v)
    return v


class _Proxy:
    def _new(self, cls, args, kw):
        self._h = rpc("new", cls, [_arg(a) for a in args],
                      dict((k, _arg(v)) for k, v in kw.items()))

    def _call(self, method, *args):
        return rpc("call", self._h, method, [_arg(a) for a in args])

    def _post(self, method, *args):
        # a call that returns None and cannot fail: no answer awaited (_rpc.post)
        _rpc.post(("call", self._h, method, [_arg(a) for a in args]))


class Pin(_Proxy):
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_FALLING = 2
    IRQ_RISING = 1

    def __init__(self, id, mode=-1, pull=-1, *, value=None):
        self.id = id
        self._new("Pin", (id, mode, pull), {} if value is None else {"value": value})

    # the requests a pin sends again and again, as bytes (_rpc.raw)
    def init(self, mode=-1, pull=-1, *, value=None):
        # a mode change moves no clock and no level a chip drives: the wake-up pin's level
        # the light sleep gave stays good (_rpc.wake; the firmware re-inits the pin it woke on)
        _rpc.post_still(b'\x03["call", %d, "init", [%d, %d]]\n' % (self._h, mode, pull))
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            w = _rpc.wake[0]
            if w >= 0 and w >> 1 == self.id:  # the light sleep just said (_rpc.wake)
                return w & 1
            return rpc_raw(b'\x01["call", %d, "value", []]\n' % self._h)
        _rpc.send(b'\x03["call", %d, "value", [%d]]\n' % (self._h, 1 if v else 0))

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3):
        return None


class SPI(_Proxy):
    MSB = 0
    LSB = 1

    def __init__(self, id, baudrate=1000000, **kw):
        self._new("SPI", (id, baudrate), kw)

    def write(self, buf):
        _rpc.send(b'\x03["call", %d, "write", [{"b": "%s"}]]\n' % (self._h, hexlify(buf)))

    def read(self, n, write=0):
        return rpc_raw(b'\x01["call", %d, "read", [%d, %d]]\n' % (self._h, n, write))

    def readinto(self, buf, write=0):
        buf[:] = self.read(len(buf), write)

    def write_readinto(self, wbuf, rbuf):
        rbuf[:] = rpc_raw(b'\x01["call", %d, "transfer", [{"b": "%s"}]]\n'
                          % (self._h, hexlify(wbuf)))


class SoftSPI(SPI):
    def __init__(self, baudrate=500000, **kw):
        self._new("SoftSPI", (baudrate,), kw)


class I2C(_Proxy):
    def __init__(self, id=0, **kw):
        self._new("I2C", (id,), kw)

    def scan(self):
        return self._call("scan")

    def writeto(self, addr, buf, stop=True):
        return self._call("writeto", addr, buf)

    def readfrom(self, addr, n, stop=True):
        return self._call("readfrom", addr, n)

    def readfrom_into(self, addr, buf, stop=True):
        buf[:] = self._call("readfrom", addr, len(buf))


class SoftI2C(I2C):
    def __init__(self, scl=None, sda=None, **kw):
        self._new("SoftI2C", (), kw)


class UART(_Proxy):
    def __init__(self, id, baudrate=115200, **kw):
        self._new("UART", (id, baudrate), kw)

    def write(self, buf):
        return self._call("write", buf)

    def any(self):
        return self._call("any")

    def read(self, n=None):
        return self._call("read", n)

    def readinto(self, buf, n=None):
        data = self._call("read", len(buf) if n is None else n)
        if not data:
            return None
        buf[: len(data)] = data
        return len(data)

    def flush(self):
        pass


class RTC(_Proxy):
    def __init__(self):
        self._new("RTC", (), {})

    def datetime(self, datetimetuple=None):
        if datetimetuple is None:
            return tuple(self._call("datetime"))
        self._call("datetime", list(datetimetuple))


class WDT(_Proxy):
    def __init__(self, id=0, timeout=5000):
        self._new("WDT", (), {"timeout": timeout})

    def feed(self):
        self._call("feed")


def unique_id():
    return rpc("unique_id")


def reset():
    rpc("reset")
    raise SystemExit(0)


def freq(hz=None):
    return 160000000 if hz is None else None


def idle():
    rpc("sleep_us", 1000)


def lightsleep(time_ms=None):
    # one request: the simulator sleeps it leg by leg (hw_sim/vm_bridge.py _lightsleep)
    # the answer: the wake-up pin's level when the sleep ended (_rpc.wake)
    if time_ms is None:
        v = rpc("lightsleep", None)
    else:
        v = rpc_raw(b'\x01["lightsleep", %d]\n' % time_ms)
    _rpc.wake[0] = -1 if v is None else v


PWRON_RESET = 1
