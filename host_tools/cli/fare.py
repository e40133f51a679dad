"""`ykt fare quote`: what a metro ride costs, from the firmware's own fare engine.

    ykt fare quote --from STATION --to STATION [--category C] [--at YYYY-MM-DDTHH:MM]
                   [--issuer CITY] [--tariff FILE | --source JSON]

Stations by name (case-insensitive) or id. The quote runs ``ykt.fare.engine`` (the code the
gates run) under the simulator's MicroPython stand-ins, on a compiled tariff: ``--tariff``
(a payload from ``ykt tariff build``) or, by default, the repository's source compiled in
memory. The card is taken to have no history (no transfer, no monthly discount).
"""

import datetime
import io
import json
import os

from host_tools.cli import examples

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_SOURCE = os.path.join(ROOT, "tariffs", "shanghai-2017.json")

STEP_LABELS = {
    "distance": "distance fare",
    "line": "line exception",
    "same-station": "same-station exit",
    "category": "rider category",
    "transfer": "transfer discount",
    "monthly": "monthly discount",
    "issuer": "issuer price",
    "overtime": "time-limit surcharge",
}


def _open_tariff(args):
    from ykt.fare.tariff import Tariff, TariffError

    if args.tariff:
        from host_tools.lib.files import read_input

        data = read_input(args.tariff, "tariff")
        label = args.tariff
    else:
        from host_tools.lib import tariff as host_tariff

        data = host_tariff.build(args.source, 1)
        label = "%s (compiled in memory)" % os.path.relpath(args.source)
    f = io.BytesIO(data)
    try:
        return Tariff(f), label, data
    except TariffError as e:
        f.close()
        raise ValueError("%s: %s" % (label, e))


def _stations(data, label, origin, dest):
    """Station ids of --from and --to: by id, or by name ignoring case, spaces and
    apostrophes; what names a bus or ferry route is refused, never taken for a station."""
    from host_tools.lib import stations

    net = stations.from_payload(data, label)
    return (stations.find_station(net, origin, "--from").id,
            stations.find_station(net, dest, "--to").id)


def _category(t, text):
    if text is None:
        return 0
    if text.isdigit():
        return int(text)
    for code, (name, _) in t.categories.items():
        if name.lower() == text.strip().lower():
            return code
    known = ", ".join("%s (%d)" % (n, c) for c, (n, _) in sorted(t.categories.items()))
    raise ValueError("unknown category %r; the tariff has: %s" % (text, known))


def _when(text):
    if text is None:
        now = datetime.datetime.now()
        return (now.year, now.month, now.day, now.hour, now.minute)
    try:
        d = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M")
    except ValueError:
        raise ValueError("--at %r: expected YYYY-MM-DDTHH:MM" % text)
    if d.year < 2000:
        raise ValueError("--at %r: the fare clock starts in 2000" % text)
    return (d.year, d.month, d.day, d.hour, d.minute)


def _city(text):
    try:
        city = int(text, 16)
    except ValueError:
        city = -1
    if not 0 <= city <= 0xFFFF:
        raise ValueError("--issuer %r: expected a 4-hex-digit city code, e.g. 2900" % text)
    return city


DAY_NAMES = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays",
             "Sundays")


def _hhmm(minute):
    return "%02d:%02d" % (minute // 60, minute % 60)


def _why(x, step, reason, a, b, ctx):
    """(slug, sentence) for one reason code of ``ykt.fare.explain``."""
    from ykt.money import yuan

    cat, mode, issuer, start = ctx["category"], ctx["mode"], ctx["issuer"], ctx["start"]
    if reason == x.APPLIED:
        if step == "transfer":
            return "applied", "applies: %s yuan off" % yuan(a)
        if step == "issuer":
            return "applied", "the card's issuer (%s) pays %d%% of the fare" % (issuer, a)
        if step == "monthly":
            return "applied", "applies: %d%% off, this month's spend has reached the threshold" % a
        return "applied", "applies: %d%% off for a %s %s ride starting at %s" % (
            a, cat, mode, start)
    texts = {
        x.NOT_ALLOWED: ("not-allowed", lambda: "not given: the card's issuer (%s) does not "
                        "give it" % issuer),
        x.UNKNOWN_CATEGORY: ("unknown-category", lambda: "not given: the tariff has no "
                             "category %s" % cat),
        x.NO_RULE: ("no-rule", lambda: "not given: %s has no rule for %s rides" % (
            "category " + cat if step == "category" else "the tariff", mode)),
        x.OUTSIDE_DAYS: ("outside-days", lambda: "not given: the %s rule for %s rides is not "
                         "for %s" % (cat, mode, DAY_NAMES[a])),
        x.OUTSIDE_HOURS: ("outside-hours", lambda: "not given: the %s window for %s rides is "
                          "%s-%s; this ride starts at %s" % (cat, mode, _hhmm(a), _hhmm(b),
                                                             start)),
        x.NO_PREVIOUS_RIDE: ("no-previous-ride", lambda: "not given: a quote is for a card "
                             "with no earlier ride to transfer from"),
        x.TOO_LATE: ("too-late", lambda: "not given: %d minutes since the last ride, the "
                     "window is %d" % (a, b)),
        x.BELOW_THRESHOLD: ("below-threshold", lambda: "not given: this month's %s spend %s "
                            "yuan is below the %s yuan threshold (a quote's card has spent "
                            "nothing)" % (mode, yuan(a), yuan(b))),
        x.CROSSING: ("crossing", lambda: "not given: this ride crosses the %s yuan threshold; "
                     "the discount starts with the next ride" % yuan(b)),
        x.HOME_PRICE: ("full-price", lambda: "the card's issuer (%s) pays the full price"
                       % issuer),
    }
    slug, text = texts[reason]
    return slug, text()


def _discounts(t, q, category, city, at, when):
    """[(step, applies, slug, sentence, a, b)]: why each discount did or did not apply."""
    from ykt.fare import explain
    from ykt.fare.tariff import METRO
    from ykt.fare.transit_record import TransitState

    if q.steps and q.steps[0][0] == "same-station":
        return [("same-station", False, "policy-fare",
                 "a same-station exit within the grace time is a policy fare: no discounts",
                 0, 0)]
    fen = 0  # the amount the monthly step sees: after the base, line, category and transfer
    for name, _, after in q.steps:
        if name in ("distance", "line", "category", "transfer"):
            fen = after
    ctx = {"category": t.category_name(category) or str(category), "mode": "metro",
           "issuer": "%04X %s" % (city, t.issuer(city)[2]), "start": "%02d:%02d" % when[3:5]}
    out = []
    for step, reason, a, b in explain.discounts(t, METRO, fen, at, at, category, city,
                                                TransitState()):
        slug, text = _why(explain, step, reason, a, b, ctx)
        out.append((step, reason == explain.APPLIED, slug, text, a, b))
    return out


def _quote(args):
    import hw_sim

    hw_sim.install()
    from ykt import caltime
    from ykt.errors import CardRefused
    from ykt.fare import engine
    from ykt.fare.tariff import TariffError

    city = _city(args.issuer)
    when = _when(args.at)
    t, label, data = _open_tariff(args)
    try:
        a, b = _stations(data, label, args.origin, args.dest)
        category = _category(t, args.category)
        at = caltime.secs(*when)
        try:
            q = engine.quote_trip(t, a, b, at, category, city)
        except CardRefused as e:
            if args.json:
                print(json.dumps({"refused": str(e)}))
            else:
                print("refused: %s" % e)
            return 1
        except TariffError as e:
            raise ValueError(str(e))
        why = _discounts(t, q, category, city, at, when)
        (_json if args.json else _text)(t, q, why, a, b, category, city, when, label)
    finally:
        t.close()
    return 0


def _step_label(t, name, category):
    text = STEP_LABELS.get(name, name)
    if name == "category":
        text += " " + (t.category_name(category) or str(category))
    return text


def _text(t, q, why, a, b, category, city, when, label):
    from ykt.money import yuan

    print("%s (%d) -> %s (%d): %d.%02d km on the shortest-mileage path"
          % (t.name(a), a, t.name(b), b, q.distance_dam // 100, q.distance_dam % 100))
    for name, before, after in q.steps:
        label_ = _step_label(t, name, category)
        if before == 0 and name in ("distance", "same-station"):
            print("  %-28s %8s" % (label_, yuan(after)))
        else:
            print("  %-28s %8s -> %s" % (label_, yuan(before), yuan(after)))
    print("fare: %d fen (%s yuan)" % (q.fen, yuan(q.fen)))
    print("discounts:")
    for step, _, _, text, _, _ in why:
        print("  %-28s %s" % (_step_label(t, step, category), text))
    print("tariff v%d from %s; category %s; issuer %04X; at %04d-%02d-%02dT%02d:%02d"
          % ((t.version, label, t.category_name(category) or str(category), city) + when))


def _json(t, q, why, a, b, category, city, when, label):
    from ykt.money import yuan

    print(json.dumps({
        "from": {"id": a, "name": t.name(a)}, "to": {"id": b, "name": t.name(b)},
        "distance_dam": q.distance_dam, "fen": q.fen, "yuan": yuan(q.fen),
        "steps": [{"step": n, "label": _step_label(t, n, category), "before": x, "after": y}
                  for n, x, y in q.steps],
        "discounts": [{"step": step, "applies": applies, "reason": slug, "text": text,
                       "a": x, "b": y} for step, applies, slug, text, x, y in why],
        "category": {"code": category, "name": t.category_name(category)},
        "issuer": "%04X" % city, "at": "%04d-%02d-%02dT%02d:%02d" % when,
        "tariff": {"version": t.version, "from": label},
    }, ensure_ascii=False))


def register(sub):
    p = sub.add_parser("fare", help="fare quotes from the firmware fare engine",
                       **examples("ykt fare quote --from \"People's Square\" --to Xujiahui"))
    cmds = p.add_subparsers(dest="fare_cmd", required=True)
    q = cmds.add_parser("quote", help="what a metro ride costs",
                         **examples("ykt fare quote --from \"People Square\" --to Xujiahui",
                                    "ykt fare quote --from 2025 --to 0112 --category senior "
                                    "--at 2026-11-30T10:00 --json"))
    q.add_argument("--from", dest="origin", required=True, help="station name or id")
    q.add_argument("--to", dest="dest", required=True, help="station name or id")
    q.add_argument("--category", help="rider category name or code (default ordinary)")
    q.add_argument("--at", help="ride time YYYY-MM-DDTHH:MM (default now)")
    q.add_argument("--issuer", default="2900", help="card issuer city code (default 2900)")
    q.add_argument("--json", action="store_true",
                   help="one JSON object: stations, steps, why each discount did or did not "
                        "apply, the fare")
    src = q.add_mutually_exclusive_group()
    src.add_argument("--tariff", help="compiled tariff payload (from `ykt tariff build`)")
    src.add_argument("--source", default=DEFAULT_SOURCE, help="tariff source to compile")
    q.set_defaults(fn=_quote)
