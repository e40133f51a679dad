"""Stations and routes of a tariff, found by what a person types (``ykt stations``,
``ykt fare quote --from/--to``).

A name matches ignoring case, spaces, apostrophes and a word's final s (``People Square``,
``peoples square`` and ``PEOPLE'S SQUARE`` are People's Square); a station also answers to
its id. Bus and ferry routes share the tariff with the stations, so what names a route is
never taken for a station: ``find_station`` refuses it, naming the route (``station:926`` is
station 926 where bus route 926 exists too). The network comes from a tariff source
(``from_source``) or a compiled payload (``from_payload``, what the devices hold).

The tariff source names stations in English only: its reference data (the 2017 network,
``../shared/data/shanghai-metro-2017/``) has no Chinese names (docs/fares.md).
"""

from __future__ import annotations

import difflib
import json
import unicodedata
from typing import Any, NamedTuple

from host_tools.lib.errors import BadInput
from host_tools.lib.files import read_input

_APOSTROPHES = "'\u2018\u2019`\u00b4"  # typed or typographic


class Station(NamedTuple):
    id: int
    name: str
    lines: tuple[str, ...]


class Route(NamedTuple):
    mode: str  # "bus" or "ferry"
    route: str
    fen: int
    name: str


class Network(NamedTuple):
    stations: list[Station]
    routes: list[Route]
    line_names: dict[str, str]  # line id -> name


def fold(text: str) -> str:
    """``text`` as names are compared: case-folded (NFKC), without spaces and apostrophes,
    each word without a final s (People's, Peoples and People are one word)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    words = "".join(c for c in text if c not in _APOSTROPHES).split()
    return "".join(w[:-1] if w.endswith("s") and len(w) > 1 else w for w in words)


def _network(data: dict[str, Any], what: str) -> Network:
    try:
        stations = [Station(int(s["id"]), str(s["name"]), tuple(str(x) for x in s["lines"]))
                    for s in data["stations"]]
        routes = [Route(str(r["mode"]), str(r["route"]), int(r["fen"]), str(r.get("name", "")))
                  for r in data.get("routes", [])]
        lines = {str(x["id"]): str(x.get("name", x["id"])) for x in data.get("lines", [])}
    except (KeyError, TypeError, ValueError) as e:
        raise BadInput("%s: not a tariff (stations, routes, lines: %s)" % (what, e)) from None
    return Network(stations, routes, lines)


def from_source(path: str) -> Network:
    """The stations, routes and lines of a tariff source (JSON, docs/fares.md)."""
    try:
        data = json.loads(read_input(path, "tariff source"))
    except ValueError as e:
        raise BadInput("%s: not valid JSON (%s)" % (path, e)) from None
    if not isinstance(data, dict):
        raise BadInput("%s: not a tariff source (a JSON object)" % path)
    return _network(data, path)


def from_payload(data: bytes, what: str = "tariff") -> Network:
    """The stations, routes and lines of a compiled tariff payload."""
    from host_tools.lib.tariff_payload import read_payload

    return _network(read_payload(data), what)


def search(net: Network, text: str) -> list[Station]:
    """Stations whose name contains ``text`` (folded), or whose id it is; in id order."""
    want = fold(text)
    out = [s for s in net.stations
           if want in fold(s.name) or (text.strip().isdigit() and s.id == int(text))]
    return sorted(out, key=lambda s: s.id)


def routes_named(net: Network, text: str) -> list[Route]:
    """Bus/ferry routes ``text`` names: by route id (``926``), with its mode (``bus 926``)
    or by its name (``Bus 926 (example)``)."""
    want = fold(text)
    return [r for r in net.routes
            if want in (fold(r.route), fold(r.mode + " " + r.route), fold(r.name))]


def close_names(net: Network, text: str, n: int = 4) -> list[str]:
    """Up to ``n`` station names close to ``text`` (spelling, or containing it)."""
    by_fold = {fold(s.name): s.name for s in net.stations}
    want = fold(text)
    close = [by_fold[k] for k in difflib.get_close_matches(want, list(by_fold), n=n, cutoff=0.6)]
    close += [s.name for s in search(net, text) if s.name not in close] if want else []
    return close[:n]


def find_station(net: Network, text: str, what: str = "") -> Station:
    """The one station ``text`` names (id, or name ignoring case, spaces and apostrophes).
    BadInput when it names none, or names a bus/ferry route (even if also a station: a
    metro station is never taken silently for what may have meant a route); ``what`` (e.g.
    ``--from``) prefixes the refusal of a route."""
    text = text.strip()
    explicit = text.lower().replace(" ", "").replace(":", "")
    if explicit.startswith("station") and explicit[7:].isdigit():  # station:926, station 926
        sid = int(explicit[7:])
        found = [s for s in net.stations if s.id == sid]
        if not found:
            raise BadInput("unknown station %r (no station has id %d)" % (text, sid))
        return found[0]
    routes = routes_named(net, text)
    station = None
    if text.isdigit():
        station = next((s for s in net.stations if s.id == int(text)), None)
    if station is None:
        want = fold(text)
        station = next((s for s in net.stations if fold(s.name) == want), None) if want else None
    if routes:
        r = routes[0]
        it = "%s route %s (%s, %d.%02d yuan flat)" % (r.mode, r.route, r.name or r.route,
                                                       r.fen // 100, r.fen % 100)
        if station is not None:
            raise BadInput("%s%r is both metro station %d %s and %s: for the station give "
                           "its name or station:%d" % (what and what + " ", text, station.id,
                                                        station.name, it, station.id))
        raise BadInput("%s%r is %s, not a metro station (`ykt stations` lists them)"
                       % (what and what + " ", text, it))
    if station is not None:
        return station
    close = close_names(net, text)
    hint = "; did you mean: %s?" % ", ".join(close) if close else " (no close match)"
    raise BadInput("unknown station %r%s" % (text, hint))
