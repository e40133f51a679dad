"""A canteen's rule set, loaded from a JSON-compatible dict (docs/canteen.md section 2).

``load(d) -> Rules`` checks everything once, at load time, and raises ``RuleError``
with a one-line message (``where: what``) for the first problem found. Money is
whole fen, percentages are basis points (``off_bp`` 2000 = 20 % off), dates are
``"YYYY-MM-DD"``, times ``"HH:MM"``. Keys starting with ``_`` are notes and ignored;
any other unknown key is an error (a typo must not silently drop a rule).
"""

from ykt.pos import RuleError, ascii_name, check_keys, get_int, name_list
from ykt.pos.canteen_record import FLAG_NAMES, flag_bits, valid_date
from ykt.pos.menu import load_menu
from ykt.pos.periods import load_periods

MODES = ("fixed", "menu", "amount")
PURSES = ("subsidy", "cash")
BP_MAX = 10000  # basis points in 100 %
CAMPAIGN_KINDS = ("percent", "spend_get", "coupon")

_TOP_KEYS = ("format", "name", "version", "periods", "items", "set_meals", "categories",
             "age_tiers", "discounts", "subsidies", "campaigns", "limits", "purse_order")
_LIMIT_KEYS = ("single_sale", "daily_amount", "min_balance", "pin_above")
_MATCH_KEYS = ("categories", "tiers", "flags", "periods", "modes", "from", "to")


class Match:
    """Who and when a rule applies to; a missing condition matches anything."""

    def __init__(self, categories, tiers, flags, periods, modes, first, last):
        self.categories = categories  # category codes, or None
        self.tiers = tiers  # tier names, or None
        self.flags = flags  # eligibility bits that must all be set (0: none needed)
        self.periods = periods  # period names, or None
        self.modes = modes  # modes, or None
        self.first = first  # first valid day YYYYMMDD, or 0
        self.last = last  # last valid day, or 0

    def ok(self, who):
        """``who``: a ``pricing.Who`` (category code, tier, flags, period, mode, today)."""
        if self.categories is not None and who.category not in self.categories:
            return False
        if self.tiers is not None and who.tier not in self.tiers:
            return False
        if who.flags & self.flags != self.flags:
            return False
        if self.periods is not None and who.period not in self.periods:
            return False
        if self.modes is not None and who.mode not in self.modes:
            return False
        if self.first and who.today < self.first:
            return False
        if self.last and who.today > self.last:
            return False
        return True


class Category:
    def __init__(self, code, name, limits):
        self.code = code
        self.name = name
        self.limits = limits  # overrides of the rule set's limits


class Tier:
    def __init__(self, name, min_age, max_age):
        self.name = name
        self.min_age = min_age
        self.max_age = max_age  # None: no upper bound


class Discount:
    """Category / age-tier percentage (身份折扣)."""

    def __init__(self, name, match, off_bp):
        self.name = name
        self.match = match
        self.off_bp = off_bp


class Subsidy:
    """Once-a-day subsidy (堂食补贴): ``amount`` when the spend reaches ``min_spend``."""

    def __init__(self, name, match, min_spend, amount, basis, paid_by):
        self.name = name
        self.match = match
        self.min_spend = min_spend
        self.amount = amount
        self.basis = basis  # "price": judged on the menu price; "running": at its step
        self.paid_by = paid_by  # "canteen": deducted; "subsidy_purse": drawn from it


class Campaign:
    def __init__(self, name, kind, match, off_bp=0, cap=None, spend=0, off=0, code=None,
                 min_spend=0):
        self.name = name
        self.kind = kind
        self.match = match
        self.off_bp = off_bp  # percent: basis points off
        self.cap = cap  # percent: largest reduction in fen, or None
        self.spend = spend  # spend_get: threshold
        self.off = off  # spend_get / coupon: fen off
        self.code = code  # coupon: the code keyed in
        self.min_spend = min_spend  # percent / coupon: threshold


class Rules:
    def __init__(self):
        self.name = ""
        self.version = 0
        self.periods = []
        self.menu = None
        self.categories = {}  # code -> Category
        self.tiers = []
        self.discounts = []
        self.subsidies = []
        self.campaigns = []
        self.limits = {}
        self.purse_order = ["subsidy", "cash"]

    def category(self, code):
        """The Category for a card's category byte; codes not listed are ordinary (0)."""
        c = self.categories.get(code)
        if c is None:
            c = self.categories.get(0)
        if c is None:
            c = Category(0, "ordinary", {})
        return c

    def limit(self, category, key):
        """A limit for a card category (its own value, else the rule set's; None: no limit)."""
        v = category.limits.get(key)
        if v is None:
            v = self.limits.get(key)
        return v

    def tier_for(self, age):
        if age is None:
            return None
        for t in self.tiers:
            if age >= t.min_age and (t.max_age is None or age <= t.max_age):
                return t.name
        return None

    def coupon(self, code):
        for c in self.campaigns:
            if c.kind == "coupon" and c.code == code:
                return c
        return None


def _date(d, key, where):
    v = d.get(key)
    if v is None:
        return 0
    ok = isinstance(v, str) and len(v) == 10 and v[4] == "-" and v[7] == "-"
    if ok:
        digits = v[:4] + v[5:7] + v[8:]
        ok = digits.isdigit() and valid_date(int(digits))
    if not ok:
        raise RuleError("%s: %s must be a date YYYY-MM-DD, got %r" % (where, key, v))
    return int(digits)


def _limits(d, where):
    out = {}
    for k in _LIMIT_KEYS:
        v = get_int(d, k, where, 0, None)
        if v is not None:
            out[k] = v
    return out


def _match(d, where, cat_codes, tier_names, period_names):
    cats = name_list(d, "categories", where, cat_codes, "category")
    if cats is not None:
        cats = [cat_codes[n] for n in cats]
    flags = name_list(d, "flags", where, FLAG_NAMES, "flag")
    first = _date(d, "from", where)
    last = _date(d, "to", where)
    if first and last and last < first:
        raise RuleError("%s: 'to' is before 'from'" % where)
    return Match(cats, name_list(d, "tiers", where, tier_names, "age tier"),
                 flag_bits(flags) if flags else 0,
                 name_list(d, "periods", where, period_names, "period"),
                 name_list(d, "modes", where, MODES, "mode"), first, last)


def _list(d, key):
    v = d.get(key)
    if v is None:
        return []
    if not isinstance(v, list):
        raise RuleError("%s: must be a list" % key)
    return v


def _off_bp(d, where):
    return get_int(d, "off_bp", where, 0, BP_MAX, required=True)


def load(d):  # noqa: C901  (one check per rule-set field, in the order of docs/canteen.md)
    """Validate the rule-set dict ``d``; returns ``Rules``."""
    check_keys(d, "rule set", _TOP_KEYS)
    fmt = d.get("format", 1)
    if fmt != 1:
        raise RuleError("rule set: format %r not supported (need 1)" % (fmt,))
    r = Rules()
    name = d.get("name")
    r.name = ascii_name(name, "rule set", maxlen=40) if name is not None else ""
    r.version = get_int(d, "version", "rule set", 0, None, default=0)
    r.periods = load_periods(d.get("periods"))
    period_names = [p.name for p in r.periods]
    r.menu = load_menu(d.get("items"), d.get("set_meals"), period_names)

    cat_codes = {}
    for i, c in enumerate(_list(d, "categories")):
        where = "categories[%d]" % i
        check_keys(c, where, ("code", "name") + _LIMIT_KEYS)
        code = get_int(c, "code", where, 0, 255, required=True)
        name = ascii_name(c.get("name"), where, maxlen=16)
        where = "categories[%d] '%s'" % (i, name)
        if code in r.categories:
            raise RuleError("%s: code %d used twice" % (where, code))
        if name in cat_codes:
            raise RuleError("%s: name used twice" % where)
        cat_codes[name] = code
        r.categories[code] = Category(code, name, _limits(c, where))

    tier_names = []
    for i, t in enumerate(_list(d, "age_tiers")):
        where = "age_tiers[%d]" % i
        check_keys(t, where, ("name", "min_age", "max_age"))
        name = ascii_name(t.get("name"), where, maxlen=16)
        where = "age_tiers[%d] '%s'" % (i, name)
        lo = get_int(t, "min_age", where, 0, 150, required=True)
        hi = get_int(t, "max_age", where, lo, 150)
        for o in r.tiers:
            if o.name == name:
                raise RuleError("%s: name used twice" % where)
            if lo <= (150 if o.max_age is None else o.max_age) and o.min_age <= (
                    150 if hi is None else hi):
                raise RuleError("%s: ages overlap tier '%s'" % (where, o.name))
        r.tiers.append(Tier(name, lo, hi))
        tier_names.append(name)

    def match(x, where):
        return _match(x, where, cat_codes, tier_names, period_names)

    for i, x in enumerate(_list(d, "discounts")):
        where = "discounts[%d]" % i
        check_keys(x, where, ("name", "off_bp") + _MATCH_KEYS)
        where = "discounts[%d] '%s'" % (i, ascii_name(x.get("name"), where))
        r.discounts.append(Discount(x["name"], match(x, where), _off_bp(x, where)))

    for i, x in enumerate(_list(d, "subsidies")):
        where = "subsidies[%d]" % i
        check_keys(x, where, ("name", "min_spend", "amount", "basis", "paid_by") + _MATCH_KEYS)
        where = "subsidies[%d] '%s'" % (i, ascii_name(x.get("name"), where))
        basis = x.get("basis", "price")
        if basis not in ("price", "running"):
            raise RuleError("%s: basis must be 'price' or 'running', got %r" % (where, basis))
        paid_by = x.get("paid_by", "canteen")
        if paid_by not in ("canteen", "subsidy_purse"):
            raise RuleError("%s: paid_by must be 'canteen' or 'subsidy_purse', got %r"
                            % (where, paid_by))
        r.subsidies.append(Subsidy(x["name"], match(x, where),
                                   get_int(x, "min_spend", where, 0, None, default=0),
                                   get_int(x, "amount", where, 1, None, required=True),
                                   basis, paid_by))

    for i, x in enumerate(_list(d, "campaigns")):
        where = "campaigns[%d]" % i
        kind = x.get("kind") if isinstance(x, dict) else None
        if kind not in CAMPAIGN_KINDS:
            raise RuleError("%s: kind must be one of %s, got %r"
                            % (where, "/".join(CAMPAIGN_KINDS), kind))
        own = {"percent": ("off_bp", "cap", "min_spend"), "spend_get": ("spend", "off"),
               "coupon": ("code", "off", "min_spend")}[kind]
        check_keys(x, where, ("name", "kind") + own + _MATCH_KEYS)
        name = ascii_name(x.get("name"), where)
        where = "campaigns[%d] '%s'" % (i, name)
        m = match(x, where)
        if kind == "percent":
            c = Campaign(name, kind, m, off_bp=_off_bp(x, where),
                         cap=get_int(x, "cap", where, 1, None),
                         min_spend=get_int(x, "min_spend", where, 0, None, default=0))
        elif kind == "spend_get":
            c = Campaign(name, kind, m, spend=get_int(x, "spend", where, 1, None, required=True),
                         off=get_int(x, "off", where, 1, None, required=True))
        else:
            code = x.get("code")
            if not isinstance(code, str) or not code.isdigit() or len(code) > 12:
                raise RuleError("%s: code must be 1 to 12 digits (keypad), got %r"
                                % (where, code))
            if r.coupon(code) is not None:
                raise RuleError("%s: coupon code %s used twice" % (where, code))
            c = Campaign(name, kind, m, code=code,
                         off=get_int(x, "off", where, 1, None, required=True),
                         min_spend=get_int(x, "min_spend", where, 0, None, default=0))
        r.campaigns.append(c)

    lim = d.get("limits", {})
    check_keys(lim, "limits", _LIMIT_KEYS)
    r.limits = _limits(lim, "limits")

    order = d.get("purse_order", ["subsidy", "cash"])
    if not isinstance(order, list) or not order:
        raise RuleError("purse_order: must be a non-empty list of 'subsidy' / 'cash'")
    for i, p in enumerate(order):
        if p not in PURSES:
            raise RuleError("purse_order: unknown purse %r" % (p,))
        if p in order[:i]:
            raise RuleError("purse_order: purse %r listed twice" % p)
    r.purse_order = list(order)
    return r
