"""`ykt fare quote`: what a metro ride costs, from the firmware's own fare engine.

    ykt fare quote --from STATION --to STATION [--category C] [--at YYYY-MM-DDTHH:MM]
                   [--issuer CITY] [--tariff FILE | --source JSON]

Stations by name (case-insensitive) or id. The quote runs ``ykt.fare.engine`` (the code the
gates run) under the simulator's MicroPython stand-ins, on a compiled tariff: ``--tariff``
(a payload from ``ykt tariff build``) or, by default, the repository's source compiled in
memory. The card is taken to have no history (no transfer, no monthly discount).
"""

import datetime
import difflib
import io
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

        f = io.BytesIO(read_input(args.tariff, "tariff"))
        label = args.tariff
    else:
        from host_tools.lib import tariff as host_tariff

        f = io.BytesIO(host_tariff.build(args.source, 1))
        label = "%s (compiled in memory)" % os.path.relpath(args.source)
    try:
        return Tariff(f), label
    except TariffError as e:
        f.close()
        raise ValueError("%s: %s" % (label, e))


def _station(t, text):
    """Station id for a name (case-insensitive) or an id; ValueError with close matches."""
    text = text.strip()
    names = {}
    for i in range(t.n):
        sid = t.station_id(i)
        names[t.name(sid)] = sid
    if text.isdigit() and t.has_station(int(text)):
        return int(text)
    for name, sid in names.items():
        if name.lower() == text.lower():
            return sid
    lower = {n.lower(): n for n in names}
    close = difflib.get_close_matches(text.lower(), list(lower), n=4, cutoff=0.6)
    close += [lower[n] for n in lower if text.lower() in n and lower[n] not in close][:4]
    close = [lower.get(c, c) for c in close]
    hint = "; did you mean: %s?" % ", ".join(close[:4]) if close else " (no close match)"
    raise ValueError("unknown station %r%s" % (text, hint))


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


def _quote(args):
    import hw_sim

    hw_sim.install()
    from ykt import caltime
    from ykt.errors import CardRefused
    from ykt.fare import engine
    from ykt.fare.tariff import TariffError
    from ykt.money import yuan

    city = _city(args.issuer)
    when = _when(args.at)
    t, label = _open_tariff(args)
    try:
        a = _station(t, args.origin)
        b = _station(t, args.dest)
        category = _category(t, args.category)
        at = caltime.secs(*when)
        try:
            q = engine.quote_trip(t, a, b, at, category, city)
        except CardRefused as e:
            print("refused: %s" % e)
            return 1
        except TariffError as e:
            raise ValueError(str(e))
        print("%s (%d) -> %s (%d): %d.%02d km on the shortest-mileage path"
              % (t.name(a), a, t.name(b), b, q.distance_dam // 100, q.distance_dam % 100))
        for name, before, after in q.steps:
            label_ = STEP_LABELS.get(name, name)
            if name == "category":
                label_ += " " + (t.category_name(category) or str(category))
            if before == 0 and name in ("distance", "same-station"):
                print("  %-28s %8s" % (label_, yuan(after)))
            else:
                print("  %-28s %8s -> %s" % (label_, yuan(before), yuan(after)))
        print("fare: %d fen (%s yuan)" % (q.fen, yuan(q.fen)))
        print("tariff v%d from %s; category %s; issuer %04X; at %04d-%02d-%02dT%02d:%02d"
              % ((t.version, label, t.category_name(category) or str(category), city) + when))
    finally:
        t.close()
    return 0


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
    src = q.add_mutually_exclusive_group()
    src.add_argument("--tariff", help="compiled tariff payload (from `ykt tariff build`)")
    src.add_argument("--source", default=DEFAULT_SOURCE, help="tariff source to compile")
    q.set_defaults(fn=_quote)
