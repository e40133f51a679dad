"""Price one canteen sale (docs/canteen.md sections 3-6). Pure computation.

``price_sale(rules, basket_or_amount, mode, period, card_state, now, coupon=None)``
returns a ``Sale``: the gross, every price step in the fixed stacking order, the
net, the split between the subsidy purse and the cash purse, whether the card PIN
is needed, or the reason the sale is refused.

Stacking order (each step sees the amount the previous one left):

1. set meals (menu mode): matched items cost the set's fixed price
2. category / age-tier percentage: the single best matching rule
3. campaign percentage: the single best, capped at its ``cap`` fen
4. spend-X-get-Y-off: the single best whose threshold the amount reaches
5. coupon: at most one, the code keyed in
6. daily subsidy: once a day, the first matching rule

Rounding: a percentage step takes off ``(amount * off_bp + 5000) // 10000`` fen,
the exact reduction rounded half-up, so an exact half fen goes to the customer;
it is the only place where anything is rounded. Every reduction is clamped to the
amount it applies to, so no step and no net goes below 0.
"""

from collections import namedtuple

from micropython import const

from ykt.caltime import date_of
from ykt.money import yuan
from ykt.pos.canteen_record import SLOTS, CanteenRecord, age_on
from ykt.pos.menu import QTY_MAX, apply_sets
from ykt.pos.periods import find, period_at

Step = namedtuple("Step", ("kind", "name", "before", "after", "delta"))
Line = namedtuple("Line", ("code", "name", "qty", "unit", "amount"))

MODES = ("fixed", "menu", "amount")
UNITS_MAX = 99  # items in one menu sale

# Why a sale is refused: Sale.refusal is one of these codes (0: not refused) and
# Sale.refused its text, REFUSED[code], some with a detail after ": ".
OUTSIDE_PERIODS = const(1)
COUNT_LIMIT = const(2)
NO_FIXED_PRICE = const(3)
NO_AMOUNT = const(4)
EMPTY_BASKET = const(5)
UNKNOWN_ITEM = const(6)
BAD_QUANTITY = const(7)
TOO_MANY_ITEMS = const(8)
UNKNOWN_COUPON = const(9)
COUPON_NOT_VALID = const(10)
COUPON_MIN_SPEND = const(11)
SINGLE_LIMIT = const(12)
DAILY_LIMIT = const(13)
INSUFFICIENT = const(14)
MIN_BALANCE = const(15)
REFUSED = (None, "outside meal periods", "count limit reached", "no fixed price in this period",
           "no amount", "empty basket", "unknown item", "bad quantity", "too many items",
           "unknown coupon", "coupon not valid now", "coupon needs a larger sale",
           "single sale limit exceeded", "daily amount limit exceeded", "insufficient balance",
           "below minimum balance")


def percent_off(amount, bp):
    """Fen taken off ``amount`` by ``bp`` basis points: half-up on the reduction."""
    return (amount * bp + 5000) // 10000


class CardState:
    """What pricing needs to know about the card (today's view).

    ``counts``: today's sales per period slot; ``subsidy_expiry``: last usable day
    ``YYYYMMDD`` (0: no subsidy purse); ``birth``: ``YYYYMMDD`` (0: unknown);
    ``flags``: eligibility bits (canteen_record.FLAG_NAMES); ``tier``: an age-tier
    name that overrides the one computed from ``birth``.
    """

    def __init__(self, category=0, cash=0, day_spend=0, counts=None, subsidy_used=False,
                 subsidy_balance=0, subsidy_expiry=0, birth=0, flags=0, tier=None):
        self.category = category
        self.cash = cash
        self.day_spend = day_spend
        self.counts = list(counts) if counts is not None else [0] * SLOTS
        self.subsidy_used = subsidy_used
        self.subsidy_balance = subsidy_balance
        self.subsidy_expiry = subsidy_expiry
        self.birth = birth
        self.flags = flags
        self.tier = tier

    @staticmethod
    def from_record(category, cash, record, today):
        """From the card's category byte, purse balance and canteen record (``today``:
        ``YYYYMMDD``; counters of another day count as zero)."""
        r = record.on(today)
        return CardState(category, cash, r.day_spend, r.counts, r.subsidy_used,
                         r.subsidy_balance, r.subsidy_expiry, r.birth, r.flags)

    subsidy_usable = CanteenRecord.subsidy_usable  # the same two fields, the same rule


class Who:
    """The facts a rule's conditions are checked against (rules.Match.ok)."""

    def __init__(self, category, tier, flags, period, mode, today):
        self.category = category
        self.tier = tier
        self.flags = flags
        self.period = period
        self.mode = mode
        self.today = today


class Sale:
    def __init__(self, mode):
        self.mode = mode
        self.period = None  # period name
        self.period_slot = None  # the count to raise in the canteen record
        self.category = None  # category name the rules gave the card
        self.tier = None  # age tier name, or None
        self.lines = []  # [Line] (menu mode; one line in fixed mode)
        self.gross = 0
        self.steps = []  # [Step] in stacking order; only steps that changed the amount
        self.net = 0
        self.subsidy = 0  # fen from the subsidy purse
        self.cash = 0  # fen from the cash purse: the DEBIT amount
        self.daily_subsidy = 0  # fen of today's subsidy granted by this sale
        self.daily_subsidy_name = None
        self.pin_required = False
        self.refused = None  # None, or the reason (text)
        self.refusal = 0  # the reason's code (REFUSED)

    def _step(self, kind, name, before, off):
        off = min(off, before)
        if off > 0:
            self.steps.append(Step(kind, name, before, before - off, -off))
        return before - off

    def _refuse(self, code, detail=None):
        self.refusal = code
        self.refused = REFUSED[code] if detail is None else "%s: %s" % (REFUSED[code], detail)
        self.subsidy = self.cash = self.daily_subsidy = 0
        self.daily_subsidy_name = None
        self.pin_required = False
        return self

    def display(self):
        """``[(label, fen)]`` for the display and receipt: gross, each step, net, purses."""
        out = [("GROSS", self.gross)]
        for s in self.steps:
            out.append((s.name, s.delta))
        out.append(("NET", self.net))
        if self.subsidy:
            out.append(("SUBSIDY PURSE", self.subsidy))
        if self.refused is None:
            out.append(("CASH", self.cash))
        return out

    def record(self):
        """A JSON-ready dict for the transaction record."""
        return {
            "mode": self.mode, "period": self.period, "category": self.category,
            "tier": self.tier, "gross": self.gross,
            "lines": [[line.code, line.qty, line.unit, line.amount] for line in self.lines],
            "steps": [[s.kind, s.name, s.before, s.after, s.delta] for s in self.steps],
            "net": self.net, "subsidy_purse": self.subsidy, "cash": self.cash,
            "daily_subsidy": self.daily_subsidy, "pin": self.pin_required,
            "refused": self.refused,
        }

    def __repr__(self):
        return "Sale(%s gross=%d net=%d subsidy=%d cash=%d pin=%s refused=%r)" % (
            self.mode, self.gross, self.net, self.subsidy, self.cash, self.pin_required,
            self.refused)


def _best(rules_list, who, amount, off_of):
    """The matching rule giving the largest reduction (ties: the first listed)."""
    best, best_off = None, 0
    for x in rules_list:
        if x.match.ok(who):
            off = off_of(x, amount)
            if off > best_off:
                best, best_off = x, off
    return best, best_off


def _campaign_percent(c, amount):
    if amount < c.min_spend:
        return 0
    off = percent_off(amount, c.off_bp)
    if c.cap is not None and off > c.cap:
        off = c.cap
    return off


def _basket(sale, rules, basket):
    """Fill ``sale.lines`` from ``[(code, qty)]``; the sale refused, or None."""
    if not isinstance(basket, (list, tuple)) or not basket:
        return sale._refuse(EMPTY_BASKET)
    units = 0
    for entry in basket:
        code, qty = entry
        item = rules.menu.item(code)
        if item is None:
            return sale._refuse(UNKNOWN_ITEM, str(code))
        if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= QTY_MAX:
            return sale._refuse(BAD_QUANTITY, str(qty))
        units += qty
        if units > UNITS_MAX:
            return sale._refuse(TOO_MANY_ITEMS)
        sale.lines.append(Line(code, item.name, qty, item.price, item.price * qty))
    return None


def price_sale(rules, basket_or_amount, mode, period, card_state, now,  # noqa: C901
               coupon=None):  # (the pricing steps in the order docs/canteen.md gives them)
    """Price one sale.

    ``mode``: ``"fixed"`` (one tap pays the period's price; ``basket_or_amount``
    ignored), ``"menu"`` (``[(item code, qty)]``) or ``"amount"`` (fen keyed in).
    ``period``: a period name, or None to take the period ``now`` falls in.
    ``now``: ``(y, mo, d, h, mi, s)`` local time. ``coupon``: the code keyed, or None.
    """
    if mode not in MODES:
        raise ValueError("unknown sale mode %r" % (mode,))
    sale = Sale(mode)
    card = card_state
    today = date_of(now)

    if period is None:
        p = period_at(rules.periods, now[3], now[4])
        if p is None and rules.periods:
            return sale._refuse(OUTSIDE_PERIODS)
    else:
        p = find(rules.periods, period)
        if p is None:
            raise ValueError("unknown meal period %r" % (period,))
    if p is not None:
        sale.period, sale.period_slot = p.name, p.slot
        if p.count_limit is not None and card.counts[p.slot] >= p.count_limit:
            return sale._refuse(COUNT_LIMIT, "%d per %s" % (p.count_limit, p.name))

    cat = rules.category(card.category)
    sale.category = cat.name
    tier = card.tier
    if tier is None and card.birth:
        tier = rules.tier_for(age_on(card.birth, today))
    sale.tier = tier
    who = Who(cat.code, tier, card.flags, sale.period, mode, today)

    # Gross.
    if mode == "fixed":
        if p is None or p.price is None:
            return sale._refuse(NO_FIXED_PRICE)
        sale.lines.append(Line(None, p.name, 1, p.price, p.price))
        gross = p.price
    elif mode == "amount":
        a = basket_or_amount
        if not isinstance(a, int) or isinstance(a, bool) or a <= 0:
            return sale._refuse(NO_AMOUNT)
        gross = a
    else:
        if _basket(sale, rules, basket_or_amount) is not None:
            sale.lines = []
            return sale
        gross = 0
        for line in sale.lines:
            gross += line.amount
    sale.gross = amount = gross

    # 1. Set meals.
    if mode == "menu":
        items = [(rules.menu.item(line.code), line.qty) for line in sale.lines]
        for s, listed in apply_sets(rules.menu, items, sale.period):
            amount = sale._step("set", s.name, amount, listed - s.price)
    price = amount  # what the menu charges: the subsidy's default threshold basis

    # 2. Category / age-tier percentage.
    d, off = _best(rules.discounts, who, amount, lambda x, a: percent_off(a, x.off_bp))
    if d is not None:
        amount = sale._step("category", d.name, amount, off)

    # 3. Campaign percentage (capped).
    pcts = [c for c in rules.campaigns if c.kind == "percent"]
    c, off = _best(pcts, who, amount, _campaign_percent)
    if c is not None:
        capped = c.cap is not None and percent_off(amount, c.off_bp) > c.cap
        amount = sale._step("campaign", c.name + (" (cap)" if capped else ""), amount, off)

    # 4. Spend X, get Y off.
    sgs = [c for c in rules.campaigns if c.kind == "spend_get"]
    c, off = _best(sgs, who, amount, lambda x, a: x.off if a >= x.spend else 0)
    if c is not None:
        amount = sale._step("spend_get", c.name, amount, off)

    # 5. Coupon.
    if coupon is not None:
        c = rules.coupon(coupon)
        if c is None:
            sale.net = amount
            return sale._refuse(UNKNOWN_COUPON)
        if not c.match.ok(who):
            sale.net = amount
            return sale._refuse(COUPON_NOT_VALID)
        if amount < c.min_spend:
            sale.net = amount
            return sale._refuse(COUPON_MIN_SPEND, yuan(c.min_spend))
        amount = sale._step("coupon", c.name, amount, c.off)

    # 6. Daily subsidy: the first matching rule, once a day.
    drawn = 0  # fen of a subsidy paid from the subsidy purse (not a price step)
    usable = card.subsidy_usable(today)
    if not card.subsidy_used:
        for s in rules.subsidies:
            if s.match.ok(who):
                base = price if s.basis == "price" else amount
                if base >= s.min_spend:
                    if s.paid_by == "canteen":
                        before = amount
                        amount = sale._step("subsidy", s.name, amount, s.amount)
                        granted = before - amount
                    else:
                        granted = drawn = min(s.amount, amount, usable)
                    if granted:
                        sale.daily_subsidy, sale.daily_subsidy_name = granted, s.name
                break
    sale.net = net = amount

    # Limits (on the net: what leaves the card, both purses).
    single = rules.limit(cat, "single_sale")
    if single is not None and net > single:
        return sale._refuse(SINGLE_LIMIT, yuan(single))
    daily = rules.limit(cat, "daily_amount")
    if daily is not None and card.day_spend + net > daily:
        return sale._refuse(DAILY_LIMIT, yuan(daily))

    # Purses.
    floor = rules.limit(cat, "min_balance") or 0
    cash_room = card.cash - floor if card.cash > floor else 0
    sub_left = usable - drawn
    rest = net - drawn
    sub, cash = drawn, 0
    for purse in rules.purse_order:
        if purse == "subsidy":
            t = rest if rest < sub_left else sub_left
            sub += t
            sub_left -= t
        else:
            t = rest if rest < cash_room else cash_room
            cash += t
        rest -= t
    if rest > 0:
        held = card.cash - cash_room  # cash kept back by the minimum balance
        if "cash" in rules.purse_order and rest <= held:
            return sale._refuse(MIN_BALANCE)
        return sale._refuse(INSUFFICIENT)
    sale.subsidy, sale.cash = sub, cash

    pin_above = rules.limit(cat, "pin_above")
    sale.pin_required = pin_above is not None and net > pin_above
    return sale
