"""The firmware's one clock.

Monotonic time comes from ``time.ticks_ms`` (wraps; compare with ``elapsed_ms``),
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
