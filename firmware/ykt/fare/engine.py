"""The fare engine: what a ride costs, in fen, and the card's transit state after it.

Pure functions of (tariff, card transit state, ride): no I/O besides the tariff's reads, no
clock (times are passed in as seconds since 2000-01-01 local, ``caltime``). The terminal
roles call them and write ``Quote.state`` to the card with the debit of ``Quote.fen``.

Order (docs/fares.md "The discount chain"), each step rounding to whole fen:

0. issuer acceptance: a refused issuer raises ``CardRefused`` before anything is priced;
1. base fare: metro distance fare on the shortest-mileage path (rule bands, maximum fare)
   then line exceptions (e.g. Line 5 -1 yuan, not below 0); or a bus/ferry route's flat fare;
2. rider category: percent off, first matching rule (mode, weekday, time window at the
   ride's start), result rounded half up to the fen;
3. transfer: fixed fen off (not below 0) when the previous ride's mode and end time qualify;
4. monthly: percent off once the month's metro spend has reached the threshold (the ride
   that crosses it is full price, or with ``split`` only its part above the threshold is
   discounted), rounded half up;
5. issuer price: percent of the amount (home 100), rounded half up;
6. penalties added undiscounted: paid-area time-limit surcharge.

Steps 2-4 apply only if the card's issuer policy allows them. Policy fares (same-station
exit within the grace time, missing tap-in, unclosed journey) are charged as they are, with
no discount. Every step that changes the amount is listed in ``Quote.steps`` as
``(name, before, after)``.
"""

from ykt import caltime
from ykt.errors import CardRefused
from ykt.fare.tariff import (
    BUS,
    CROSSING_SPLIT,
    FERRY,
    ISSUER_ACCEPT,
    ISSUER_CATEGORY,
    ISSUER_MONTHLY,
    ISSUER_TRANSFER,
    KIND_FIXED,
    KIND_MAX_FROM_STATION,
    KIND_NETWORK_MAX,
    METRO,
    OPEN_END,
)
from ykt.fare.transit_record import (
    FLAG_EMERGENCY_EXIT,
    FLAG_ENTRY_OPEN,
    FLAG_REENTERED,
    FLAG_REEXITED,
    TransitState,
)

HOME_CITY = 0x2900

# step names (Quote.steps)
STEP_DISTANCE = "distance"
STEP_LINE = "line"
STEP_FLAT = "flat"
STEP_SAME_STATION = "same-station"
STEP_MISSING_ENTRY = "missing-entry"
STEP_UNCLOSED = "unclosed"
STEP_EMERGENCY = "emergency-exit"
STEP_REENTRY = "torn-entry-again"
STEP_REEXIT = "torn-exit-again"
STEP_CATEGORY = "category"
STEP_TRANSFER = "transfer"
STEP_MONTHLY = "monthly"
STEP_ISSUER = "issuer"
STEP_OVERTIME = "overtime"


class Quote:
    """``fen`` to debit, ``steps`` [(name, before, after)], ``state`` (new TransitState to
    write), ``distance_dam`` (metro path in decametres, or None)."""

    def __init__(self, fen, steps, state, distance_dam=None):
        self.fen = fen
        self.steps = steps
        self.state = state
        self.distance_dam = distance_dam

    def __repr__(self):
        return "Quote(%d, %r)" % (self.fen, self.steps)


# -- arithmetic ------------------------------------------------------------------------------

def percent_of(fen, pct):
    """``pct`` percent of ``fen`` (>= 0), rounded half up to the fen."""
    return (fen * pct + 50) // 100


def percent_off(fen, pct):
    """``fen`` less ``pct`` percent, rounded half up to the fen."""
    return percent_of(fen, 100 - pct)


def distance_fare(tariff, dam):
    """Metro fare (fen) for a path of ``dam`` decametres: base, then each band's
    ``add_fen`` per ``every`` or part of it, then the maximum fare."""
    fen = tariff.base_fen
    for fr, to, every, add in tariff.fare_steps:
        if dam <= fr:
            break
        top = dam if to == OPEN_END or dam < to else to
        fen += (top - fr + every - 1) // every * add
    if tariff.max_fen is not None and fen > tariff.max_fen:
        fen = tariff.max_fen
    return fen


def _in_window(minute, fr, to):
    if fr < to:
        return fr <= minute < to
    return minute >= fr or minute < to  # a window across midnight


def category_percent(tariff, category, mode, when):
    """Percent off for a rider category on ``mode`` at ``when`` (0 if no rule matches)."""
    c = tariff.categories.get(category)
    if c is None:
        return 0
    day = caltime.weekday(when)
    minute = caltime.minute_of_day(when)
    for modes, days, fr, to, pct in c[1]:
        if modes & (1 << mode) and days & (1 << day) and _in_window(minute, fr, to):
            return pct
    return 0


def issuer_policy(tariff, city):
    """``(flags, percent)`` of the card's issuer; CardRefused if the issuer is refused."""
    flags, pct, _ = tariff.issuer(city)
    if not flags & ISSUER_ACCEPT:
        raise CardRefused("issuer %04X refused" % city)
    return flags, pct


def policy_fen(tariff, policy, station):
    """Amount of a policy ``(kind, fen)``; ``station`` for ``max_from_station``."""
    kind, fen = policy
    if kind == KIND_FIXED:
        return fen
    if kind == KIND_MAX_FROM_STATION:
        if station is not None and tariff.has_station(station):
            return distance_fare(tariff, tariff.max_dam(station))
        return distance_fare(tariff, tariff.network_max_dam)
    if kind == KIND_NETWORK_MAX:
        return distance_fare(tariff, tariff.network_max_dam)
    return 0


# -- the chain -------------------------------------------------------------------------------

def _step(steps, name, before, after):
    if after != before:
        steps.append((name, before, after))
    return after


def _discounts(tariff, flags, pct, mode, fen, steps, start, at, category, state):
    """Steps 2-5 of the chain."""
    if flags & ISSUER_CATEGORY:
        off = category_percent(tariff, category, mode, start)
        if off:
            fen = _step(steps, STEP_CATEGORY, fen, percent_off(fen, off))
    if flags & ISSUER_TRANSFER and state.last_mode:
        gap = start - state.last_time
        for fr, to, minutes, off in tariff.transfers:
            if fr == state.last_mode and to == mode and 0 <= gap <= minutes * 60:
                fen = _step(steps, STEP_TRANSFER, fen, fen - off if fen > off else 0)
                break
    if flags & ISSUER_MONTHLY:
        for rmode, crossing, off, threshold in tariff.monthly:
            if rmode != mode:
                continue
            spent = state.month_spend if state.month == caltime.month_of(at) else 0
            if spent >= threshold:
                fen = _step(steps, STEP_MONTHLY, fen, percent_off(fen, off))
            elif crossing == CROSSING_SPLIT and spent + fen > threshold:
                full = threshold - spent
                fen = _step(steps, STEP_MONTHLY, fen, full + percent_off(fen - full, off))
            break
    if pct != 100:
        fen = _step(steps, STEP_ISSUER, fen, percent_of(fen, pct))
    return fen


def _count(state, mode, at, fen, ride=True):
    """New state with the monthly counters (reset at a new month) and, for a ride, the last
    ride fields updated."""
    s = state.copy()
    month = caltime.month_of(at)
    if s.month != month:
        s.month = month
        s.month_spend = 0
        s.month_rides = 0
    if mode == METRO:
        s.month_spend += fen
        s.month_rides += 1
    if ride:
        s.last_mode = mode
        s.last_time = at
        s.last_fare = fen
    return s


def _closed(s):
    s.flags &= ~(FLAG_ENTRY_OPEN | FLAG_EMERGENCY_EXIT | FLAG_REENTERED | FLAG_REEXITED)
    s.entry_station = 0
    s.entry_time = 0
    s.entry_terminal = bytes(6)
    return s


# -- metro -----------------------------------------------------------------------------------

def metro_ride(tariff, state, origin, dest, start, at, category=0, city=HOME_CITY):
    """Fare of a metro ride entered at ``origin`` at ``start`` and left at ``dest`` at ``at``."""
    flags, pct = issuer_policy(tariff, city)
    steps = []
    dam = tariff.distance_dam(origin, dest)
    if origin == dest and at - start <= tariff.same_station_grace_min * 60:
        fen = tariff.same_station_grace_fen
        steps.append((STEP_SAME_STATION, 0, fen))
    else:
        fen = distance_fare(tariff, dam)
        steps.append((STEP_DISTANCE, 0, fen))
        adjust = tariff.line_adjust(origin, dest)
        if adjust:
            fen = _step(steps, STEP_LINE, fen, fen + adjust if fen + adjust > 0 else 0)
        fen = _discounts(tariff, flags, pct, METRO, fen, steps, start, at, category, state)
    if tariff.time_limit_min and at - start > tariff.time_limit_min * 60:
        fen = _step(steps, STEP_OVERTIME, fen, fen + policy_fen(tariff, tariff.overtime, dest))
    s = _closed(_count(state, METRO, at, fen))
    s.last_station = dest
    return Quote(fen, steps, s, dam)


def missing_entry(tariff, state, station, at, city=HOME_CITY):
    """Exit at ``station`` with no entry on the card: the missing tap-in policy fare."""
    issuer_policy(tariff, city)
    tariff.index(station)
    fen = policy_fen(tariff, tariff.missing_entry, station)
    s = _closed(_count(state, METRO, at, fen))
    s.last_station = station
    return Quote(fen, [(STEP_MISSING_ENTRY, 0, fen)], s)


def metro_exit(tariff, state, station, at, category=0, city=HOME_CITY):
    """Fare at an exit gate from the card's state (entry recorded or not)."""
    if not state.entry_open:
        return missing_entry(tariff, state, station, at, city)
    return metro_ride(tariff, state, state.entry_station, station, state.entry_time, at,
                      category, city)


def metro_entry(tariff, state, station, at, terminal, category=0, city=HOME_CITY):
    """Entry at ``station``: the new state (entry open) and the fare charged now, which is
    the unclosed-journey settlement if the card still shows an open entry, else 0."""
    issuer_policy(tariff, city)
    tariff.index(station)
    if len(terminal) != 6:
        raise ValueError("terminal id must be 6 bytes")
    steps = []
    fen = 0
    s = state.copy()
    if state.entry_open:
        fen = policy_fen(tariff, tariff.unclosed, state.entry_station)
        steps.append((STEP_UNCLOSED, 0, fen))
        s = _count(state, METRO, at, fen, ride=False)
    s.flags = (s.flags | FLAG_ENTRY_OPEN) & ~(FLAG_EMERGENCY_EXIT | FLAG_REENTERED
                                              | FLAG_REEXITED)
    s.entry_station = station
    s.entry_time = at
    s.entry_terminal = bytes(terminal)
    return Quote(fen, steps, s)


def torn_entry_again(state, station, at, window_s):
    """Quote for a card whose open entry began at ``station`` less than ``window_s``
    ago (docs/fares.md "Same-station rules"): pass once more for 0 fen, the entry
    kept as it was; None when the rule does not apply. A second re-use raises
    CardRefused("already entered")."""
    if not (state.entry_open and state.entry_station == station
            and 0 <= at - state.entry_time < window_s):
        return None
    if state.flags & FLAG_REENTERED:
        raise CardRefused("already entered")
    s = state.copy()
    s.flags |= FLAG_REENTERED
    return Quote(0, [(STEP_REENTRY, 0, 0)], s)


def torn_exit_again(state, station, at, window_s):
    """Quote for a card whose last metro exit was at ``station`` less than
    ``window_s`` ago: pass once more for 0 fen; None when the rule does not apply.
    A second re-use raises CardRefused("already exited")."""
    if not (not state.entry_open and state.last_mode == METRO
            and state.last_station == station and 0 <= at - state.last_time < window_s):
        return None
    if state.flags & FLAG_REEXITED:
        raise CardRefused("already exited")
    s = state.copy()
    s.flags |= FLAG_REEXITED
    return Quote(0, [(STEP_REEXIT, 0, 0)], s)


def emergency_exit(state, at):
    """Let a passenger out free (emergency release): entry closed, flag set, 0 fen."""
    s = _closed(_count(state, METRO, at, 0))
    s.flags |= FLAG_EMERGENCY_EXIT
    return Quote(0, [(STEP_EMERGENCY, 0, 0)], s)


def quote_trip(tariff, origin, dest, at, category=0, city=HOME_CITY, state=None):
    """What a metro trip costs a card with no history (``ykt fare quote``)."""
    return metro_ride(tariff, state or TransitState(), origin, dest, at, at, category, city)


# -- bus and ferry ---------------------------------------------------------------------------

def flat_ride(tariff, state, mode, route, at, category=0, city=HOME_CITY):
    """Fare of one tap on a flat-fare bus or ferry route."""
    if mode not in (BUS, FERRY):
        raise ValueError("flat fares are for bus and ferry")
    flags, pct = issuer_policy(tariff, city)
    fen = tariff.route_fen(mode, route)
    steps = [(STEP_FLAT, 0, fen)]
    fen = _discounts(tariff, flags, pct, mode, fen, steps, at, at, category, state)
    return Quote(fen, steps, _count(state, mode, at, fen))
