"""`ykt stations [SEARCH] [--source JSON | --tariff FILE] [--json]`: the tariff's stations (id,
name, lines), those whose name contains SEARCH (ignoring case, spaces and apostrophes) or whose
id it is. Exit 1 when SEARCH matches no station (a route it names, or close names, on stderr).
"""

import json
import os

from host_tools.cli import examples

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_SOURCE = os.path.join(ROOT, "tariffs", "shanghai-2017.json")


def _network(args):
    from host_tools.lib import stations
    from host_tools.lib.files import read_input

    if args.tariff:
        return stations.from_payload(read_input(args.tariff, "tariff"), args.tariff)
    return stations.from_source(args.source)


def _stations(args):
    import sys

    from host_tools.lib import stations

    net = _network(args)
    found = stations.search(net, args.search) if args.search else net.stations
    if args.json:
        print(json.dumps([{"id": s.id, "name": s.name, "lines": list(s.lines)} for s in found],
                         ensure_ascii=False, indent=1))
    elif found:
        width = max(len(s.name) for s in found)
        print("%5s  %-*s  %s" % ("id", width, "name", "lines"))
        for s in found:
            print("%5d  %-*s  %s" % (s.id, width, s.name, ", ".join(s.lines)))
    routes = stations.routes_named(net, args.search) if args.search else []
    if found:
        for r in routes:
            print("ykt: note: %r is also %s route %s (%s)" % (args.search, r.mode, r.route, r.name),
                  file=sys.stderr)
        return 0
    if routes:
        why = "it is %s route %s (%s), not a station" % (routes[0].mode, routes[0].route,
                                                        routes[0].name)
    else:
        close = stations.close_names(net, args.search)
        why = "did you mean: %s?" % ", ".join(close) if close else "no close name"
    print("ykt: no station matches %r; %s" % (args.search, why), file=sys.stderr)
    return 1


def register(sub):
    p = sub.add_parser("stations", help="list the tariff's stations: id, name, lines",
                       **examples("ykt stations", "ykt stations \"people square\"",
                                  "ykt stations road --json"))
    p.add_argument("search", nargs="?",
                   help="part of a station's name (case, spaces and apostrophes ignored) "
                        "or its id")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--source", default=DEFAULT_SOURCE,
                     help="tariff source (default tariffs/shanghai-2017.json)")
    src.add_argument("--tariff", help="compiled tariff payload (from `ykt tariff build`)")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.set_defaults(fn=_stations)
