"""Meal periods (餐别): name, start, end, fixed price, per-card count limit.

A period runs from ``start`` (included) to ``end`` (excluded), in whole minutes of
the terminal's local day; seconds are ignored. Periods must not overlap and must not
cross midnight (``end`` is after ``start``, at most ``24:00``). At most
``MAX_PERIODS`` periods: the card's canteen record keeps one count per period, by
its position in the rule set (its *slot*).
"""

from ykt.pos import RuleError, ascii_name, check_keys, get_int

MAX_PERIODS = 6
COUNT_LIMIT_MAX = 99

_KEYS = ("name", "start", "end", "price", "count_limit")


class Period:
    def __init__(self, slot, name, start, end, price, count_limit):
        self.slot = slot  # 0..5, the count's position in the canteen record
        self.name = name
        self.start = start  # minutes since midnight, included
        self.end = end  # minutes since midnight, excluded
        self.price = price  # fen charged by one tap in fixed mode, or None
        self.count_limit = count_limit  # sales per card per day in this period, or None

    def contains(self, minute):
        return self.start <= minute < self.end

    def span(self):
        return "%s-%s" % (hhmm(self.start), hhmm(self.end))

    def __repr__(self):
        return "Period(%s %s)" % (self.name, self.span())


def hhmm(minute):
    return "%02d:%02d" % (minute // 60, minute % 60)


def parse_hhmm(text, where, key):
    """``"06:30"`` -> 390. ``"24:00"`` (1440) is accepted; any other hour must be 0..23."""
    ok = isinstance(text, str) and len(text) == 5 and text[2] == ":"
    if ok:
        h, m = text[:2], text[3:]
        ok = h.isdigit() and m.isdigit()
    if ok:
        h, m = int(h), int(m)
        ok = m < 60 and (h < 24 or (h == 24 and m == 0))
    if not ok:
        raise RuleError("%s: %s must be a time HH:MM, got %r" % (where, key, text))
    return h * 60 + m


def load_periods(items):
    """Validate a list of period dicts; returns ``[Period]`` in the given order."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise RuleError("periods: must be a list")
    if len(items) > MAX_PERIODS:
        raise RuleError("periods: %d periods, at most %d" % (len(items), MAX_PERIODS))
    out = []  # type: list
    for i, d in enumerate(items):
        where = "periods[%d]" % i
        check_keys(d, where, _KEYS)
        name = ascii_name(d.get("name"), where)
        where = "periods[%d] '%s'" % (i, name)
        start = parse_hhmm(d.get("start"), where, "start")
        end = parse_hhmm(d.get("end"), where, "end")
        if start == 24 * 60:
            raise RuleError("%s: start 24:00 is not a time of day" % where)
        if end <= start:
            raise RuleError("%s: ends at %s, not after its start %s (periods may not cross "
                            "midnight)" % (where, hhmm(end), hhmm(start)))
        price = get_int(d, "price", where, 0, None)
        limit = get_int(d, "count_limit", where, 1, COUNT_LIMIT_MAX)
        p = Period(i, name, start, end, price, limit)
        for q in out:
            if q.name == name:
                raise RuleError("%s: name used twice" % where)
            if p.start < q.end and q.start < p.end:
                raise RuleError("%s: %s overlaps '%s' %s" % (where, p.span(), q.name, q.span()))
        out.append(p)
    return out


def period_at(periods, hour, minute):
    """The period that ``hour:minute`` falls in, or None (outside meal periods)."""
    t = hour * 60 + minute
    for p in periods:
        if p.contains(t):
            return p
    return None


def find(periods, name):
    for p in periods:
        if p.name == name:
            return p
    return None
