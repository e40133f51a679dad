"""The firmware's one clock.

Monotonic time comes from ``time.ticks_ms`` (wraps; compare with ``elapsed_ms``); waiting is
``sleep_ms``, or ``light_sleep`` until a pin changes (the reader's IRQ, the fire alarm);
wall time from the RTC (``machine.RTC().datetime()``, kept by the ESP32 across
deep sleep and set from the back office or a staff card). Nothing else in the
firmware reads time, so the simulator can run every terminal on virtual time.
"""

import time

import machine

_rtc = None


def ticks_ms():
    return time.ticks_ms()


def elapsed_ms(since):
    """Milliseconds since ``since`` (a ticks_ms value), wrap-safe."""
    return time.ticks_diff(time.ticks_ms(), since)


def sleep_ms(ms):
    time.sleep_ms(ms)


_wake = [None, None]  # the ext0 and ext1 wake-up sources set last (they stay set on the chip)


def light_sleep(ms, low=None, ext1=None):
    """Light-sleep for up to ``ms``: the CPU stops (RAM, pins and peripherals keep their
    state) until the Pin ``low`` reads 0 (ext0) or ``ext1`` = ``(pins, high)`` holds (all pins
    low when ``high`` is False, esp32.WAKEUP_ALL_LOW; any high when True, WAKEUP_ANY_HIGH).
    It may end early; callers look at what woke them."""
    import esp32

    if _wake[0] is not low:
        esp32.wake_on_ext0(low, esp32.WAKEUP_ALL_LOW)
        _wake[0] = low
    if _wake[1] != ext1:
        if ext1:
            esp32.wake_on_ext1(ext1[0], ext1[1])
        else:
            esp32.wake_on_ext1(None, esp32.WAKEUP_ALL_LOW)
        _wake[1] = ext1
    machine.lightsleep(ms)


def now():
    """Wall time as ``(year, month, day, hour, minute, second)``."""
    global _rtc
    if _rtc is None:
        _rtc = machine.RTC()
    t = _rtc.datetime()
    return (t[0], t[1], t[2], t[4], t[5], t[6])


def set_seconds(t):
    """Set the RTC to ``t``, seconds since 2000-01-01 00:00 local (the scale of
    ``seconds()``). Only ``Context.set_clock`` calls it: a clock change is journaled."""
    global _rtc
    from ykt import caltime

    if _rtc is None:
        _rtc = machine.RTC()
    y, mo, d, h, mi, s = caltime.civil(t)
    _rtc.datetime((y, mo, d, caltime.weekday(t), h, mi, s, 0))


def _bcd(v):
    return ((v // 10) << 4) | (v % 10)


def bcd7(t=None):
    """Wall time as 7 BCD bytes YYYYMMDDhhmmss, the card's datetime format."""
    y, mo, d, h, mi, s = t or now()
    return bytes((_bcd(y // 100), _bcd(y % 100), _bcd(mo), _bcd(d), _bcd(h), _bcd(mi), _bcd(s)))


def _unbcd(b):
    return (b >> 4) * 10 + (b & 15)


def unbcd7(d):
    """7 BCD bytes YYYYMMDDhhmmss -> ``(year, month, day, hour, minute, second)``."""
    return (_unbcd(d[0]) * 100 + _unbcd(d[1]), _unbcd(d[2]), _unbcd(d[3]), _unbcd(d[4]),
            _unbcd(d[5]), _unbcd(d[6]))


def iso(t=None):
    """Wall time as ``YYYY-MM-DDThh:mm:ss``."""
    return "%04d-%02d-%02dT%02d:%02d:%02d" % (t or now())


def seconds(t=None):
    """Wall time as seconds since 2000-01-01 00:00 local (the journal's and tariff's epoch)."""
    from ykt import caltime

    return caltime.secs(*(t or now()))
