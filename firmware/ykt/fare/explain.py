"""Why each discount of the chain did or did not apply to a ride (``ykt fare quote``).

``discounts(tariff, mode, fen, start, at, category, city, state)`` walks steps 2-5 of the
chain (``ykt.fare.engine``, docs/fares.md "The discount chain") as the engine does and says,
for each, why: ``[(step, reason, a, b)]`` with ``step`` the engine's step name, ``reason`` one
of the codes below and ``a``, ``b`` two numbers the reason names (0 when it names none). Codes,
not text: the host words them. The terminal roles never import this module.
"""

from micropython import const

from ykt import caltime
from ykt.fare.engine import STEP_CATEGORY, STEP_ISSUER, STEP_MONTHLY, STEP_TRANSFER
from ykt.fare.tariff import (
    CROSSING_SPLIT,
    ISSUER_CATEGORY,
    ISSUER_MONTHLY,
    ISSUER_TRANSFER,
)

APPLIED = const(0)  # the step applies: a = percent off (category, monthly, issuer) or fen off
NOT_ALLOWED = const(1)  # the card's issuer policy does not give this discount
UNKNOWN_CATEGORY = const(2)  # the tariff has no such rider category
NO_RULE = const(3)  # nothing for this mode (the category's rules, transfers, monthly)
OUTSIDE_DAYS = const(4)  # the category's rule for this mode is not for this weekday: a = day
OUTSIDE_HOURS = const(5)  # ... nor this time: a, b = its window (minutes of the day)
NO_PREVIOUS_RIDE = const(6)  # no earlier ride on the card to transfer from
TOO_LATE = const(7)  # the transfer window has passed: a = minutes since, b = the window
BELOW_THRESHOLD = const(8)  # this month's spend a (fen) is below the threshold b
HOME_PRICE = const(9)  # the issuer pays 100 percent
CROSSING = const(10)  # this ride crosses the monthly threshold b: full price (next_ride)


def _category(tariff, category, mode, when):
    c = tariff.categories.get(category)
    if c is None:
        return UNKNOWN_CATEGORY, 0, 0
    day = caltime.weekday(when)
    minute = caltime.minute_of_day(when)
    best = (NO_RULE, 0, 0)
    for modes, days, fr, to, pct in c[1]:
        if not modes & (1 << mode):
            continue
        if not days & (1 << day):
            if best[0] == NO_RULE:
                best = (OUTSIDE_DAYS, day, 0)
            continue
        inside = fr <= minute < to if fr < to else minute >= fr or minute < to
        if inside:
            return APPLIED, pct, 0
        best = (OUTSIDE_HOURS, fr, to)
    return best


def _transfer(tariff, mode, start, state):
    if not state.last_mode:
        return NO_PREVIOUS_RIDE, 0, 0
    gap = start - state.last_time
    late = None
    for fr, to, minutes, off in tariff.transfers:
        if fr == state.last_mode and to == mode:
            if 0 <= gap <= minutes * 60:
                return APPLIED, off, 0
            late = (TOO_LATE, gap // 60, minutes)
    return late or (NO_RULE, 0, 0)


def _monthly(tariff, mode, fen, at, state):
    for rmode, crossing, off, threshold in tariff.monthly:
        if rmode != mode:
            continue
        spent = state.month_spend if state.month == caltime.month_of(at) else 0
        if spent >= threshold or (crossing == CROSSING_SPLIT and spent + fen > threshold):
            return APPLIED, off, 0
        if spent + fen > threshold:
            return CROSSING, spent, threshold
        return BELOW_THRESHOLD, spent, threshold
    return NO_RULE, 0, 0


def discounts(tariff, mode, fen, start, at, category, city, state):
    """``[(step, reason, a, b)]`` for the category, transfer, monthly and issuer steps of a
    ride whose base fare is ``fen`` (the issuer accepted: ``engine.issuer_policy``)."""
    flags, pct, _ = tariff.issuer(city)
    out = []
    if flags & ISSUER_CATEGORY:
        out.append((STEP_CATEGORY,) + _category(tariff, category, mode, start))
    else:
        out.append((STEP_CATEGORY, NOT_ALLOWED, 0, 0))
    if flags & ISSUER_TRANSFER:
        out.append((STEP_TRANSFER,) + _transfer(tariff, mode, start, state))
    else:
        out.append((STEP_TRANSFER, NOT_ALLOWED, 0, 0))
    if flags & ISSUER_MONTHLY:
        out.append((STEP_MONTHLY,) + _monthly(tariff, mode, fen, at, state))
    else:
        out.append((STEP_MONTHLY, NOT_ALLOWED, 0, 0))
    out.append((STEP_ISSUER, HOME_PRICE, 100, 0) if pct == 100 else (STEP_ISSUER, APPLIED, pct, 0))
    return out
