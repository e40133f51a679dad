"""Menu items and fixed-price set meals (套餐).

An item has a keypad code (1..9999), an ASCII name for the display, an optional
Chinese name ``gb`` (kept as text; the receipt printer encodes it later), a price in
fen and category tags (``dish``, ``soup``...). A set meal has a fixed price and
parts, each either an item code or a tag with a quantity: "items 401 + 402 + 403"
or "any 3 ``dish`` + 1 ``soup``".

Set meals are applied to a menu-mode basket in the order they are listed, each as
many times as it matches and saves money (a set never makes a sale dearer). For a
tag part the most expensive units with that tag are taken (equal prices: the first
keyed), so the customer gets the largest saving the set can give; a unit is used by
one set at most. See docs/canteen.md section 3.
"""

from ykt.pos import RuleError, ascii_name, check_keys, get_int

CODE_MAX = 9999
QTY_MAX = 99

_ITEM_KEYS = ("code", "name", "gb", "price", "tags")
_SET_KEYS = ("name", "price", "parts", "periods")
_PART_KEYS = ("code", "tag", "qty")


class Item:
    def __init__(self, code, name, price, tags, gb=None):
        self.code = code
        self.name = name
        self.price = price
        self.tags = tags
        self.gb = gb


class SetMeal:
    def __init__(self, name, price, parts, periods):
        self.name = name
        self.price = price
        self.parts = parts  # [(code or None, tag or None, qty)]
        self.periods = periods  # period names, or None: any period

    def match(self, units, used):
        """Indexes of the units this set would take (not in ``used``), or None."""
        chosen = []
        for code, tag, qty in self.parts:
            cands = []
            for i in range(len(units)):
                if used[i] or i in chosen:
                    continue
                item = units[i]
                if (code is not None and item.code == code) or (tag is not None
                                                                 and tag in item.tags):
                    cands.append(i)
            if len(cands) < qty:
                return None
            cands.sort(key=lambda i: (-units[i].price, i))
            chosen.extend(cands[:qty])
        return chosen


class Menu:
    def __init__(self, items, sets):
        self.items = items  # code -> Item
        self.sets = sets  # [SetMeal] in the order they are tried

    def item(self, code):
        return self.items.get(code)


def load_menu(items, sets, period_names):  # noqa: C901  (one check per field, in order)
    if items is None:
        items = []
    if sets is None:
        sets = []
    if not isinstance(items, list):
        raise RuleError("items: must be a list")
    if not isinstance(sets, list):
        raise RuleError("set_meals: must be a list")
    by_code = {}
    tags = set()
    for i, d in enumerate(items):
        where = "items[%d]" % i
        check_keys(d, where, _ITEM_KEYS)
        code = get_int(d, "code", where, 1, CODE_MAX, required=True)
        name = ascii_name(d.get("name"), where)
        where = "items[%d] %d '%s'" % (i, code, name)
        if code in by_code:
            raise RuleError("%s: code %d used twice" % (where, code))
        price = get_int(d, "price", where, 0, None, required=True)
        t = d.get("tags", [])
        if not isinstance(t, list):
            raise RuleError("%s: 'tags' must be a list" % where)
        for tag in t:
            ascii_name(tag, where, "tag", 16)
            tags.add(tag)
        gb = d.get("gb")
        if gb is not None and not isinstance(gb, str):
            raise RuleError("%s: 'gb' must be a text" % where)
        by_code[code] = Item(code, name, price, t, gb)
    out = []
    for i, d in enumerate(sets):
        where = "set_meals[%d]" % i
        check_keys(d, where, _SET_KEYS)
        name = ascii_name(d.get("name"), where)
        where = "set_meals[%d] '%s'" % (i, name)
        price = get_int(d, "price", where, 0, None, required=True)
        parts = d.get("parts")
        if not isinstance(parts, list) or not parts:
            raise RuleError("%s: 'parts' must be a non-empty list" % where)
        ps = []
        for j, p in enumerate(parts):
            pw = "%s part %d" % (where, j + 1)
            check_keys(p, pw, _PART_KEYS)
            qty = get_int(p, "qty", pw, 1, QTY_MAX, default=1)
            code, tag = p.get("code"), p.get("tag")
            if (code is None) == (tag is None):
                raise RuleError("%s: give either 'code' or 'tag'" % pw)
            if code is not None:
                if code not in by_code:
                    raise RuleError("%s: unknown item %r" % (where, code))
            elif tag not in tags:
                raise RuleError("%s: no item has tag %r" % (where, tag))
            ps.append((code, tag, qty))
        periods = d.get("periods")
        if periods is not None:
            if not isinstance(periods, list) or not periods:
                raise RuleError("%s: 'periods' must be a non-empty list" % where)
            for n in periods:
                if n not in period_names:
                    raise RuleError("%s: unknown period %r" % (where, n))
        out.append(SetMeal(name, price, ps, periods))
    return Menu(by_code, out)


def apply_sets(menu, lines, period_name):
    """Set meals for a basket: ``[(SetMeal, list price of the units it took)]``.

    ``lines`` is ``[(Item, qty)]`` in keyed order.
    """
    units = []
    for item, qty in lines:
        for _ in range(qty):
            units.append(item)
    used = [False] * len(units)
    out = []
    for s in menu.sets:
        if s.periods is not None and period_name not in s.periods:
            continue
        while True:
            picked = s.match(units, used)
            if picked is None:
                break
            total = 0
            for i in picked:
                total += units[i].price
            if s.price >= total:
                break
            for i in picked:
                used[i] = True
            out.append((s, total))
    return out
