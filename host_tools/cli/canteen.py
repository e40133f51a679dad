"""`ykt canteen quote`: what a canteen sale costs, from the POS's own pricing.

    ykt canteen quote [--rules FILE] [--category C] [--at YYYY-MM-DDTHH:MM] [--period P]
                      [--item CODE|NAME[*QTY] ... | --set NAME | --amount FEN]
                      [--age N] [--flags resident,hukou,dibao] [--coupon CODE]
                      [--subsidy-purse FEN] [--json]

The quote runs ``ykt.pos.pricing.price_sale`` (the code the POS runs) under the simulator's
MicroPython stand-ins, on a rule set (docs/canteen.md §2; by default the repository's
example). Items make a menu sale, ``--set`` the set meal's parts (a tag part takes the
dearest items with that tag), ``--amount`` an amount sale, and nothing a fixed-price sale
at the period's price. The card is taken to have no sale today and cash enough.
"""

import datetime
import json
import os

from host_tools.cli import examples

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_RULES = os.path.join(ROOT, "canteens", "putuo-example.json")
CASH = 10000000  # fen on the card: enough for any sale the limits allow

STEP_LABELS = {"set": "set meal", "category": "category discount", "campaign": "campaign",
               "spend_get": "spend and save", "coupon": "coupon", "subsidy": "daily subsidy"}


def _load_rules(path):
    from host_tools.lib.files import read_input
    from ykt.pos import rules

    raw = read_input(path, "canteen rules")
    try:
        return rules.load(json.loads(raw))
    except ValueError as e:  # not JSON, or the loader's "where: what"
        raise ValueError("%s: %s" % (path, e)) from None


def _when(text):
    if text is None:
        now = datetime.datetime.now()
        return (now.year, now.month, now.day, now.hour, now.minute, 0)
    try:
        d = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M")
    except ValueError:
        raise ValueError("--at %r: expected YYYY-MM-DDTHH:MM" % text) from None
    if d.year < 2000:
        raise ValueError("--at %r: the POS clock starts in 2000" % text)
    return (d.year, d.month, d.day, d.hour, d.minute, 0)


def _category(r, text):
    """A category code from its name or code (those the rule set lists; 0 is ordinary)."""
    if text is None:
        return 0
    for code, c in r.categories.items():
        if text.lower() == c.name.lower() or text == str(code):
            return code
    names = ", ".join("%s (%d)" % (c.name, code) for code, c in sorted(r.categories.items()))
    raise ValueError("--category %r: not in the rule set (%s)" % (text, names or "none"))


def _period(r, text):
    if text is None:
        return None
    for p in r.periods:
        if p.name.lower() == text.lower():
            return p.name
    raise ValueError("--period %r: not in the rule set (%s)"
                     % (text, ", ".join(p.name for p in r.periods) or "none"))


def _item(r, text):
    """``CODE`` or ``NAME``, then optionally ``*QTY`` as keyed on the POS -> (code, qty)."""
    what, _, qty = text.partition("*")
    what = what.strip()
    item = r.menu.item(int(what)) if what.isdigit() else None
    if item is None:
        for i in r.menu.items.values():
            if i.name.lower() == what.lower():
                item = i
    if item is None:
        raise ValueError("--item %r: no such item code or name in the rule set" % text)
    if not qty:
        return item.code, 1
    if not qty.strip().isdigit() or int(qty) < 1:
        raise ValueError("--item %r: the quantity after '*' must be a whole number >= 1" % text)
    return item.code, int(qty)


def _set_basket(r, text):
    """The parts of set meal ``text`` as a basket: codes as listed, a tag part the dearest
    items with that tag (so the set applies wherever it can save)."""
    for s in r.menu.sets:
        if s.name.lower() == text.lower():
            break
    else:
        raise ValueError("--set %r: no such set meal (%s)"
                         % (text, ", ".join(s.name for s in r.menu.sets) or "none"))
    basket = []
    for code, tag, qty in s.parts:
        if code is None:
            tagged = [i for i in r.menu.items.values() if tag in i.tags]
            tagged.sort(key=lambda i: (-i.price, i.code))
            basket += [(i.code, 1) for i in tagged[:qty]]
            if len(tagged) < qty:
                raise ValueError("--set %r: the menu has fewer than %d items tagged %s"
                                 % (text, qty, tag))
        else:
            basket.append((code, qty))
    return basket


def _flags(text):
    from ykt.pos.canteen_record import FLAG_NAMES, flag_bits

    if not text:
        return 0
    names = [n.strip() for n in text.split(",") if n.strip()]
    for n in names:
        if n not in FLAG_NAMES:
            raise ValueError("--flags: unknown flag %r (%s)" % (n, ", ".join(FLAG_NAMES)))
    return flag_bits(names)


def _order(r, args):
    """(mode, basket or amount) from the options."""
    given = [x for x in (args.item, args.set, args.amount) if x is not None]
    if len(given) > 1:
        raise ValueError("give items (--item), a set meal (--set) or an amount (--amount), "
                         "one of them")
    if args.item:
        return "menu", [_item(r, t) for t in args.item]
    if args.set:
        return "menu", _set_basket(r, args.set)
    if args.amount is not None:
        if args.amount < 1:
            raise ValueError("--amount %d: an amount sale is keyed in whole fen >= 1"
                             % args.amount)
        return "amount", args.amount
    return "fixed", None


def _quote(args):
    import hw_sim

    hw_sim.install()
    from ykt.pos.pricing import CardState, price_sale

    r = _load_rules(args.rules)
    when = _when(args.at)
    category = _category(r, args.category)
    period = _period(r, args.period)
    mode, order = _order(r, args)
    if args.age is not None and not 0 <= args.age <= 150:
        raise ValueError("--age %d: expected 0..150" % args.age)
    tier = r.tier_for(args.age) if args.age is not None else None
    purse = args.subsidy_purse or 0
    expiry = (when[0] * 10000 + when[1] * 100 + when[2]) if purse else 0
    state = CardState(category, CASH, subsidy_balance=purse, subsidy_expiry=expiry,
                      flags=_flags(args.flags), tier=tier)
    sale = price_sale(r, order, mode, period, state, when, coupon=args.coupon)
    (_json if args.json else _text)(r, sale, category, args, when)
    return 0 if sale.refused is None else 1


def _at(when):
    return "%04d-%02d-%02dT%02d:%02d" % when[:5]


def _text(r, sale, category, args, when):
    from ykt.money import yuan

    print("%s v%d: %s sale, %s, category %s (%d)%s, at %s"
          % (r.name or "rule set", r.version, sale.mode, sale.period or "no meal period",
             sale.category or r.category(category).name, category,
             ", tier %s" % sale.tier if sale.tier else "", _at(when)))
    for line in sale.lines:
        print("  %-28s %3d x %8s %8s" % (line.name, line.qty, yuan(line.unit),
                                         yuan(line.amount)))
    if sale.mode == "amount" and sale.gross:
        print("  %-28s %23s" % ("amount keyed", yuan(sale.gross)))
    if sale.lines or sale.gross:
        print("  %-28s %23s" % ("gross", yuan(sale.gross)))
    for s in sale.steps:
        print("  %-28s %23s  %s: %s -> %s" % (STEP_LABELS.get(s.kind, s.kind), yuan(s.delta),
                                             s.name, yuan(s.before), yuan(s.after)))
    if sale.refused is not None:
        print("refused: %s" % sale.refused)
        return
    print("  %-28s %23s" % ("net", yuan(sale.net)))
    print("price: %d fen (%s yuan): %s from the subsidy purse, %s cash%s"
          % (sale.net, yuan(sale.net), yuan(sale.subsidy), yuan(sale.cash),
             "; the card's PIN is needed" if sale.pin_required else ""))


def _json(r, sale, category, args, when):
    print(json.dumps({
        "rules": {"name": r.name, "version": r.version, "from": args.rules},
        "at": _at(when), "mode": sale.mode, "period": sale.period,
        "category": {"code": category, "name": sale.category or r.category(category).name},
        "tier": sale.tier,
        "lines": [{"code": line.code, "name": line.name, "qty": line.qty, "unit": line.unit,
                   "amount": line.amount} for line in sale.lines],
        "gross": sale.gross,
        "steps": [{"kind": s.kind, "label": STEP_LABELS.get(s.kind, s.kind), "name": s.name,
                   "before": s.before, "after": s.after, "delta": s.delta}
                  for s in sale.steps],
        "net": sale.net, "subsidy_purse": sale.subsidy, "cash": sale.cash,
        "daily_subsidy": sale.daily_subsidy, "pin_required": sale.pin_required,
        "refused": sale.refused,
    }, ensure_ascii=False))


def register(sub):
    p = sub.add_parser("canteen", help="canteen sale quotes from the POS's own pricing",
                       **examples("ykt canteen quote --period lunch --item 101 --item 103 "
                                  "--item 104 --item 201"))
    cmds = p.add_subparsers(dest="canteen_cmd", required=True)
    q = cmds.add_parser(
        "quote", help="what a sale costs, with every step that priced it",
        **examples("ykt canteen quote --category retiree --at 2025-03-05T07:30  # fixed price",
                   "ykt canteen quote --period lunch --set '3 dishes + soup' --age 70 "
                   "--flags resident,hukou --at 2025-07-15T12:05",
                   "ykt canteen quote --amount 4000 --coupon 8866 --at 2025-07-15T12:05 --json",
                   "ykt canteen quote --item 'braised pork*2' --item 301 --rules my.json"))
    q.add_argument("--rules", default=DEFAULT_RULES,
                   help="canteen rule set (JSON, docs/canteen.md; default the example "
                        "canteens/putuo-example.json)")
    q.add_argument("--category", help="card category name or code (default ordinary, 0)")
    q.add_argument("--at", help="sale time YYYY-MM-DDTHH:MM (default now): the meal period, "
                                "and the days campaigns and subsidies run")
    q.add_argument("--period", help="meal period name (default the one --at falls in)")
    q.add_argument("--item", action="append",
                   help="an item by code or name, '*QTY' for a quantity (repeat for more): "
                        "a menu sale")
    q.add_argument("--set", help="a set meal by name: its parts as a menu sale")
    q.add_argument("--amount", type=int, help="an amount sale of this many fen")
    q.add_argument("--age", type=int, help="the cardholder's age in years (the age tier)")
    q.add_argument("--flags", help="eligibility flags, comma-separated: resident, hukou, dibao")
    q.add_argument("--coupon", help="a coupon code keyed in")
    q.add_argument("--subsidy-purse", type=int,
                   help="fen in the card's subsidy purse (valid on the sale's day)")
    q.add_argument("--json", action="store_true",
                   help="one JSON object: lines, gross, every step, net, purses, PIN, refusal")
    q.set_defaults(fn=_quote)
