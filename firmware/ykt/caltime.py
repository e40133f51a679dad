"""Calendar arithmetic on local wall time, as seconds since 2000-01-01 00:00:00.

The same epoch as the journal (docs/stores.md). No time zones: everything is the terminal's
local time. Pure integer arithmetic (no ``time.mktime``: its epoch differs between ports).
"""

EPOCH_YEAR = 2000
_CUM = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)  # days before each month


def _leaps_before(y):
    """Leap years in 1 .. y-1."""
    y -= 1
    return y // 4 - y // 100 + y // 400


def is_leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _days_before_year(y):
    return 365 * (y - EPOCH_YEAR) + _leaps_before(y) - _leaps_before(EPOCH_YEAR)


def days(y, mo, d):
    """Days from 2000-01-01 to the date (y, mo, d)."""
    if not 1 <= mo <= 12 or not 1 <= d <= 31 or y < EPOCH_YEAR:
        raise ValueError("bad date %d-%d-%d" % (y, mo, d))
    n = _days_before_year(y) + _CUM[mo - 1] + d - 1
    if mo > 2 and is_leap(y):
        n += 1
    return n


def date_of(t):
    """``(year, month, day, ...)`` -> the number ``YYYYMMDD`` (dates on cards and records)."""
    return t[0] * 10000 + t[1] * 100 + t[2]


def secs(y, mo, d, h=0, mi=0, s=0):
    """Seconds since 2000-01-01 00:00:00 of a local wall time."""
    return days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s


def civil(t):
    """``(year, month, day, hour, minute, second)`` of ``t`` (seconds since 2000)."""
    n, rem = divmod(t, 86400)
    y = EPOCH_YEAR + n // 366
    while _days_before_year(y + 1) <= n:
        y += 1
    n -= _days_before_year(y)
    leap = 1 if is_leap(y) else 0
    mo = 12
    while mo > 1 and n < _CUM[mo - 1] + (leap if mo > 2 else 0):
        mo -= 1
    n -= _CUM[mo - 1] + (leap if mo > 2 else 0)
    return (y, mo, n + 1, rem // 3600, rem // 60 % 60, rem % 60)


def weekday(t):
    """0 = Monday .. 6 = Sunday (2000-01-01 was a Saturday)."""
    return (t // 86400 + 5) % 7


def minute_of_day(t):
    return t % 86400 // 60


def month_of(t):
    """``(year, month)`` of ``t``."""
    c = civil(t)
    return (c[0], c[1])
