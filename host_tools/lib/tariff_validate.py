"""The tariff source (JSON, human-edited) -> a validated ``Model`` (docs/fares.md §2).

``load_source(path)`` parses and validates a source file, ``validate(src)`` a source already
parsed; both raise ``TariffSourceError``, one line naming the station, edge or rule at fault.
``validate`` runs one validator per section of the source, in the order of the format's table
(lines, stations, edges, metro fare, line exceptions, policies, transfers, monthly,
categories, issuers, routes), then the section sizes and the network's shortest paths; the
first problem stops it.

Distances: each edge is whole metres (its ``km`` rounded to the metre; more decimals are an
error); interchanges inside a station cost 0 m; the distance between two stations is the
shortest-mileage path (``tariff_network``), kept rounded UP to whole decametres, which keeps
every fare threshold that is a whole number of decametres exact.
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn, cast

from host_tools.lib import tariff_network as network
from host_tools.lib.errors import BadInput
from host_tools.lib.tariff_format import (
    CROSSINGS,
    DAYS,
    DISCOUNTS,
    ISSUER_ACCEPT,
    ISSUER_WILDCARD,
    KINDS,
    MAX_LINES,
    MODES,
    OPEN_END,
    SOURCE_FORMAT,
    UNREACHABLE,
)
from host_tools.lib.tariff_network import Edge

Band = tuple[int, int, int, int]  # from_dam, to_dam (OPEN_END: open), every_dam, add_fen
Amount = tuple[int, int]  # policy amount: kind (KINDS), fen
Rule = tuple[int, int, int, int, int]  # mode mask, day mask, from minute, to minute, percent off
Category = tuple[int, str, list[Rule]]  # code, name, rules
Issuer = tuple[int, int, int, str]  # city code, flags, percent, name
Route = tuple[int, str, int, str]  # mode, route, fen, name
Policies = tuple[int, int, int, Amount, Amount, Amount]


class TariffSourceError(BadInput):
    """A source problem, as one line naming what is wrong and where."""


class Model:
    """A validated source, normalised to the units the payload uses."""

    name: Any  # the source's "name", informational
    lines: list[tuple[str, str]]  # (id, name); a line's bit is its position
    ids: list[int]  # station ids, ascending; a station's index is its position
    index: dict[int, int]  # station id -> index
    names: list[str]
    masks: list[int]  # per station: the lines serving it, one bit each
    edges: list[Edge]
    base_fen: int
    base_dam: int
    max_fen: int | None
    steps: list[Band]
    line_exceptions: list[tuple[int, int]]  # (line bit, adjust fen)
    grace_min: int
    grace_fen: int
    limit_min: int  # 0: no time limit
    overtime: Amount
    missing: Amount
    unclosed: Amount
    transfers: list[tuple[int, int, int, int]]  # from mode, to mode, minutes, off fen
    monthly: list[tuple[int, int, int, int]]  # mode, crossing, percent off, threshold fen
    categories: list[Category]
    issuers: list[Issuer]
    routes: list[Route]
    # from the network (``_network``)
    metres: list[list[int]]  # shortest mileage between every two stations
    dam: list[list[int]]  # the same in decametres, rounded up
    max_dam: list[int]  # per station: its longest shortest path
    network_max_dam: int
    exception_pairs: list[tuple[list[int], set[tuple[int, int]]]]  # per line exception


# -- source ------------------------------------------------------------------------------------

def load_source(path: str) -> Model:
    """Parse and validate a source file; returns the validated model (``Model``)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise TariffSourceError("%s: %s" % (path, e.strerror or e))
    try:
        src = json.loads(text)
    except json.JSONDecodeError as e:
        raise TariffSourceError("%s line %d column %d: %s" % (path, e.lineno, e.colno, e.msg))
    return validate(src)


def validate(src: Any) -> Model:
    """Check every rule of docs/fares.md "Tariff source"; returns a ``Model``."""
    _keys(src, "tariff", ("format", "lines", "stations", "edges", "metro_fare", "policies",
                          "transfers", "monthly", "categories", "issuers", "routes"),
          ("name", "notes", "distance", "line_exceptions"))
    if src["format"] != SOURCE_FORMAT:
        _fail("format: %r is not %r" % (src["format"], SOURCE_FORMAT))
    m = Model()
    m.name = src.get("name", "")
    m.lines, line_bit = _lines(src["lines"])
    stations = _stations(src["stations"], line_bit)
    m.ids = sorted(stations)
    m.index = {sid: i for i, sid in enumerate(m.ids)}
    m.names = [stations[sid][0] for sid in m.ids]
    m.masks = [stations[sid][1] for sid in m.ids]
    m.edges = _edges(src["edges"], stations, line_bit, m.index)
    m.base_fen, m.base_dam, m.max_fen, m.steps = _metro_fare(src["metro_fare"])
    m.line_exceptions = _line_exceptions(src.get("line_exceptions", []), line_bit)
    (m.grace_min, m.grace_fen, m.limit_min, m.overtime, m.missing,
     m.unclosed) = _policies(src["policies"])
    m.transfers = _transfers(src["transfers"])
    m.monthly = _monthly(src["monthly"])
    m.categories = _categories(src["categories"])
    m.issuers = _issuers(src["issuers"])
    m.routes = _routes(src["routes"])
    _sizes(m)
    _network(m)
    return m


# -- the sections ------------------------------------------------------------------------------

def _lines(v: Any) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """``lines``: the lines and each line id's bit."""
    lines: list[tuple[str, str]] = []
    line_bit: dict[str, int] = {}
    for i, ln in enumerate(_list(v, "lines")):
        where = "lines[%d]" % i
        _keys(ln, where, ("id", "name"))
        lid = ln["id"]
        if not isinstance(lid, str) or not lid or len(lid.encode()) > 16:
            _fail("%s: id must be a short string" % where)
        if lid in line_bit:
            _fail("line %r: duplicate id" % lid)
        line_bit[lid] = len(lines)
        lines.append((lid, _name(ln["name"], "line %r" % lid)))
    if not lines:
        _fail("lines: the network has no line")
    if len(lines) > MAX_LINES:
        _fail("lines: at most %d lines" % MAX_LINES)
    return lines, line_bit


def _stations(v: Any, line_bit: dict[str, int]) -> dict[int, tuple[str, int]]:
    """``stations``: station id -> (name, line mask)."""
    stations: dict[int, tuple[str, int]] = {}
    names: dict[str, int] = {}  # name, stripped and lower case -> station id
    for i, s in enumerate(_list(v, "stations")):
        sid, name, mask = _station(s, "stations[%d]" % i, line_bit, stations, names)
        stations[sid] = (name, mask)
    if len(stations) < 2:
        _fail("stations: a network needs at least two stations")
    return stations


def _station(s: Any, where: str, line_bit: dict[str, int], stations: dict[int, tuple[str, int]],
             names: dict[str, int]) -> tuple[int, str, int]:
    _keys(s, where, ("id", "name", "lines"), ("lon", "lat"))
    sid = _int(s["id"], where + " id", 1, 65534)
    where = "station %d" % sid
    if sid in stations:
        _fail("%s: duplicate id" % where)
    name = _name(s["name"], where)
    where = "station %d %r" % (sid, name)
    key = name.strip().lower()
    if key in names:
        _fail("%s: same name as station %d" % (where, names[key]))
    names[key] = sid
    mask = 0
    for ln in _list(s["lines"], where + " lines"):
        if ln not in line_bit:
            _fail("%s: unknown line %r" % (where, ln))
        mask |= 1 << line_bit[ln]
    if not mask:
        _fail("%s: serves no line" % where)
    return sid, name, mask


def _edges(v: Any, stations: dict[int, tuple[str, int]], line_bit: dict[str, int],
           index: dict[int, int]) -> list[Edge]:
    """``edges``: (station index a, index b, line bit, metres)."""
    edges = []
    seen: set[tuple[int, int, str]] = set()  # (lower id, higher id, line): one edge each
    for k, e in enumerate(_list(v, "edges")):
        edges.append(_edge(e, "edges[%d]" % k, stations, line_bit, index, seen))
    return edges


def _edge(e: Any, where: str, stations: dict[int, tuple[str, int]], line_bit: dict[str, int],
          index: dict[int, int], seen: set[tuple[int, int, str]]) -> Edge:
    _keys(e, where, ("a", "b", "line", "km"))
    a, b, ln = e["a"], e["b"], e["line"]
    where = "edge %s-%s (line %s)" % (a, b, ln)
    for s in (a, b):
        if s not in stations or isinstance(s, bool):
            _fail("%s: unknown station %r" % (where, s))
    if a == b:
        _fail("%s: an edge joins two different stations" % where)
    if ln not in line_bit:
        _fail("%s: unknown line %r" % (where, ln))
    for s in (a, b):
        if not stations[s][1] & (1 << line_bit[ln]):
            _fail("%s: station %d %r does not list line %s" % (where, s, stations[s][0], ln))
    metres = _units(e["km"], where + " km", "metres", 1000)
    if metres <= 0:
        _fail("%s: km must be > 0" % where)
    key = (min(a, b), max(a, b), ln)
    if key in seen:
        _fail("%s: duplicate edge" % where)
    seen.add(key)
    return (index[a], index[b], line_bit[ln], metres)


def _metro_fare(mf: Any) -> tuple[int, int, int | None, list[Band]]:
    """``metro_fare``: base fen, base decametres, maximum fen (None: none), the bands."""
    _keys(mf, "metro_fare", ("base_fen", "base_km", "steps"), ("max_fen",))
    base_fen = _fen(mf["base_fen"], "metro_fare.base_fen")
    base_dam = _units(mf["base_km"], "metro_fare.base_km", "decametres", 100)
    _int(base_dam, "metro_fare.base_km (decametres)", 0, 65534)
    max_fen = None if mf.get("max_fen") is None else _fen(mf["max_fen"], "metro_fare.max_fen")
    return base_fen, base_dam, max_fen, _bands(mf["steps"], base_dam)


def _bands(v: Any, base_dam: int) -> list[Band]:
    """``metro_fare.steps``: the bands join up from the base distance; only the last may be
    open."""
    bands: list[Band] = []
    for i, st in enumerate(_list(v, "metro_fare.steps")):
        where = "metro_fare.steps[%d]" % i
        _keys(st, where, ("from_km", "every_km", "add_fen"), ("to_km",))
        at = bands[-1][1] if bands else base_dam  # where the previous band ends
        if at == OPEN_END:
            _fail("%s: follows a step with no to_km" % where)
        bands.append(_band(st, where, at))
    if len(bands) > 255:
        _fail("metro_fare.steps: at most 255")
    return bands


def _band(st: Any, where: str, at: int) -> Band:
    fr = _units(st["from_km"], where + ".from_km", "decametres", 100)
    if fr != at:
        _fail("%s: from_km %r must be where the previous band ends (%s km)"
              % (where, st["from_km"], at / 100))
    to = st.get("to_km")
    if to is None:
        to = OPEN_END
    else:
        to = _units(to, where + ".to_km", "decametres", 100)
        if not fr < to < OPEN_END:
            _fail("%s: to_km must be above from_km" % where)
    every = _units(st["every_km"], where + ".every_km", "decametres", 100)
    if not 0 < every < OPEN_END:
        _fail("%s: every_km must be > 0" % where)
    return (fr, to, every, _fen(st["add_fen"], where + ".add_fen"))


def _line_exceptions(v: Any, line_bit: dict[str, int]) -> list[tuple[int, int]]:
    """``line_exceptions``: (line bit, adjust fen)."""
    out = []
    for i, lx in enumerate(_list(v, "line_exceptions")):
        where = "line_exceptions[%d]" % i
        _keys(lx, where, ("line", "adjust_fen"))
        if lx["line"] not in line_bit:
            _fail("%s: unknown line %r" % (where, lx["line"]))
        out.append((line_bit[lx["line"]], _fen(lx["adjust_fen"], where + ".adjust_fen",
                                               signed=True)))
    return out


def _policies(pol: Any) -> Policies:
    """``policies``: grace minutes, grace fen, time limit minutes (0: none), overtime,
    missing-entry and unclosed-journey amounts."""
    _keys(pol, "policies", ("same_station", "time_limit", "missing_entry", "unclosed_journey"))
    ss = pol["same_station"]
    _keys(ss, "policies.same_station", ("grace_minutes", "grace_fen"))
    grace_min = _int(ss["grace_minutes"], "policies.same_station.grace_minutes", 0, 65535)
    grace_fen = _fen(ss["grace_fen"], "policies.same_station.grace_fen")
    tl = pol["time_limit"]
    if tl is None:
        limit_min, overtime = 0, (0, 0)
    else:
        _keys(tl, "policies.time_limit", ("minutes", "surcharge"))
        limit_min = _int(tl["minutes"], "policies.time_limit.minutes", 1, 65535)
        overtime = _kind(tl["surcharge"], "policies.time_limit.surcharge", allow_none=False)
    missing = _kind(pol["missing_entry"], "policies.missing_entry", allow_none=False)
    unclosed = _kind(pol["unclosed_journey"], "policies.unclosed_journey", allow_none=True)
    return grace_min, grace_fen, limit_min, overtime, missing, unclosed


def _kind(v: Any, where: str, allow_none: bool) -> Amount:
    """A policy amount ``{"kind": ..., "fen": ...}``."""
    _keys(v, where, ("kind",), ("fen",))
    kinds = [k for k in KINDS if allow_none or k != "none"]
    if v["kind"] not in kinds:
        _fail("%s: kind %r is not one of %s" % (where, v["kind"], ", ".join(kinds)))
    if v["kind"] == "fixed":
        if "fen" not in v:
            _fail("%s: kind fixed needs fen" % where)
        return (KINDS["fixed"], _fen(v["fen"], where + ".fen"))
    if "fen" in v:
        _fail("%s: fen only goes with kind fixed" % where)
    return (KINDS[v["kind"]], 0)


def _transfers(v: Any) -> list[tuple[int, int, int, int]]:
    """``transfers``: (from mode, to mode, within minutes, off fen), one per mode pair."""
    transfers = []
    pairs = set()
    for i, t in enumerate(_list(v, "transfers")):
        where = "transfers[%d]" % i
        _keys(t, where, ("from", "to", "within_minutes", "off_fen"))
        fr, to = _mode(t["from"], where + ".from"), _mode(t["to"], where + ".to")
        if (fr, to) in pairs:
            _fail("%s: a second %s -> %s rule" % (where, t["from"], t["to"]))
        pairs.add((fr, to))
        transfers.append((fr, to, _int(t["within_minutes"], where + ".within_minutes", 1, 65535),
                          _fen(t["off_fen"], where + ".off_fen")))
    return transfers


def _monthly(v: Any) -> list[tuple[int, int, int, int]]:
    """``monthly``: at most one rule, metro: (mode, crossing, percent off, threshold fen)."""
    monthly = []
    for i, r in enumerate(_list(v, "monthly")):
        where = "monthly[%d]" % i
        _keys(r, where, ("mode", "threshold_fen", "percent_off"), ("crossing",))
        if r["mode"] != "metro":
            _fail("%s: only metro spend is counted on the card (mode %r)" % (where, r["mode"]))
        if i:
            _fail("%s: only one monthly rule (the card keeps one month-to-date counter)" % where)
        crossing = r.get("crossing", "next_ride")
        if crossing not in CROSSINGS:
            _fail("%s: crossing %r is not one of %s" % (where, crossing, ", ".join(CROSSINGS)))
        monthly.append((MODES["metro"], CROSSINGS[crossing],
                        _int(r["percent_off"], where + ".percent_off", 0, 100),
                        _fen(r["threshold_fen"], where + ".threshold_fen")))
    return monthly


def _categories(v: Any) -> list[Category]:
    """``categories``: (code, name, rules), one per code."""
    categories = []
    codes: set[int] = set()
    for i, c in enumerate(_list(v, "categories")):
        categories.append(_category(c, "categories[%d]" % i, codes))
    return categories


def _category(c: Any, where: str, codes: set[int]) -> Category:
    _keys(c, where, ("code", "name", "rules"))
    code = _int(c["code"], where + ".code", 0, 255)
    name = _name(c["name"], where, 32)
    where = "category %d %r" % (code, name)
    if code in codes:
        _fail("%s: duplicate code" % where)
    codes.add(code)
    rules = [_category_rule(r, "%s rule %d" % (where, j))
             for j, r in enumerate(_list(c["rules"], where + " rules"))]
    if len(rules) > 255:
        _fail("%s: at most 255 rules" % where)
    return (code, name, rules)


def _category_rule(r: Any, rw: str) -> Rule:
    _keys(r, rw, ("modes", "percent_off"), ("days", "from", "to"))
    modes = 0
    for md in _list(r["modes"], rw + " modes"):
        modes |= 1 << _mode(md, rw + " modes")
    if not modes:
        _fail("%s: no mode" % rw)
    days = 0
    for d in _list(r.get("days", list(DAYS)), rw + " days"):
        if d not in DAYS:
            _fail("%s: day %r is not one of %s" % (rw, d, ", ".join(DAYS)))
        days |= 1 << DAYS.index(d)
    if not days:
        _fail("%s: no day" % rw)
    fr = _hhmm(r.get("from", "00:00"), rw + " from")
    to = _hhmm(r.get("to", "24:00"), rw + " to")
    if fr == to or fr == 1440:
        _fail("%s: empty time window" % rw)
    return (modes, days, fr, to, _int(r["percent_off"], rw + " percent_off", 0, 100))


def _issuers(v: Any) -> list[Issuer]:
    """``issuers``: (city code, flags, percent, name), one per city; ``"*"`` required."""
    issuers = []
    cities: set[str] = set()
    for i, s in enumerate(_list(v, "issuers")):
        issuers.append(_issuer(s, "issuers[%d]" % i, cities))
    if "*" not in cities:
        _fail("issuers: no default entry (city \"*\") for cards of other issuers")
    return issuers


def _issuer(s: Any, where: str, cities: set[str]) -> Issuer:
    _keys(s, where, ("city", "name", "accept"), ("discounts", "percent"))
    city = s["city"]
    if city == "*":
        code, flags = 0, ISSUER_WILDCARD
    elif isinstance(city, str) and re.fullmatch(r"[0-9A-Fa-f]{4}", city):
        code, flags = int(city, 16), 0
    else:
        _fail("%s: city %r must be 4 hex digits (e.g. \"2900\") or \"*\"" % (where, city))
    where = "issuer %s %r" % (city, s["name"])
    _name(s["name"], where)
    if city.upper() in cities:
        _fail("%s: duplicate city" % where)
    cities.add(city.upper())
    if not isinstance(s["accept"], bool):
        _fail("%s: accept must be true or false" % where)
    if s["accept"]:
        flags |= ISSUER_ACCEPT
    for d in _list(s.get("discounts", []), where + " discounts"):
        if d not in DISCOUNTS:
            _fail("%s: discount %r is not one of %s" % (where, d, ", ".join(DISCOUNTS)))
        flags |= DISCOUNTS[d]
    pct = _int(s.get("percent", 100), where + " percent", 0, 1000)
    return (code, flags, pct, s["name"])


def _routes(v: Any) -> list[Route]:
    """``routes``: (mode, route, fen, name), bus and ferry, one per (mode, route)."""
    routes = []
    rids = set()
    for i, r in enumerate(_list(v, "routes")):
        where = "routes[%d]" % i
        _keys(r, where, ("mode", "route", "fen"), ("name",))
        if r["mode"] not in ("bus", "ferry"):
            _fail("%s: mode %r must be bus or ferry (metro fares come from distance)"
                  % (where, r["mode"]))
        rid = r["route"]
        if not isinstance(rid, str) or not rid or len(rid.encode()) > 16:
            _fail("%s: route must be a string of 1-16 bytes" % where)
        where = "%s route %r" % (r["mode"], rid)
        if (r["mode"], rid) in rids:
            _fail("%s: duplicate route" % where)
        rids.add((r["mode"], rid))
        routes.append((MODES[r["mode"]], rid, _fen(r["fen"], where + " fen"),
                       _name(r.get("name", rid), where)))
    return routes


def _sizes(m: Model) -> None:
    """The payload's counts: the sections' sizes fit them."""
    for what, items, most in (("line_exceptions", m.line_exceptions, 255),
                              ("transfers", m.transfers, 255), ("categories", m.categories, 255),
                              ("issuers", m.issuers, 255), ("routes", m.routes, 65535)):
        if len(items) > most:
            _fail("%s: at most %d entries" % (what, most))


def _network(m: Model) -> None:
    """All-pairs shortest mileage (metres), decametres (ceil), per-station maxima, line
    exception membership; the network must be connected and fit the table."""
    n = len(m.ids)
    metres = network.all_pairs(n, m.edges)
    for j in range(n):
        if metres[0][j] is None:
            _fail("station %d %r cannot be reached from station %d %r"
                  % (m.ids[j], m.names[j], m.ids[0], m.names[0]))
    m.metres = cast("list[list[int]]", metres)  # connected: every station reached
    m.dam = [[-(-d // 10) for d in row] for row in m.metres]
    worst = max(max(row) for row in m.dam)
    if worst >= UNREACHABLE:
        _fail("network: a shortest path of %.2f km does not fit the table (max 655.34 km)"
              % (worst / 100))
    m.max_dam = [max(row) for row in m.dam]
    m.network_max_dam = max(m.max_dam)
    m.exception_pairs = [network.inside_line(n, m.edges, m.masks, bit, m.metres)
                         for bit, _ in m.line_exceptions]


# -- checks shared by the sections -------------------------------------------------------------

def _fail(msg: str) -> NoReturn:
    raise TariffSourceError(msg)


def _int(v: Any, where: str, lo: int, hi: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        _fail("%s: %r is not a whole number" % (where, v))
    if not lo <= v <= hi:
        _fail("%s: %d is outside %d..%d" % (where, v, lo, hi))
    return v


def _fen(v: Any, where: str, signed: bool = False) -> int:
    """Money: integer fen."""
    if not isinstance(v, int) or isinstance(v, bool):
        _fail("%s: %r is not a whole number of fen" % (where, v))
    lo, hi = (-(1 << 31), (1 << 31) - 1) if signed else (0, (1 << 32) - 2)
    if not lo <= v <= hi:
        _fail("%s: %d fen is out of range" % (where, v))
    return v


def _units(v: Any, where: str, unit: str, per_km: int) -> int:
    """A km value as whole ``unit`` (metres: per_km 1000; decametres: per_km 100)."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        _fail("%s: %r is not a number of km" % (where, v))
    x = v * per_km
    n = int(round(x))
    if abs(x - n) > 1e-6:
        _fail("%s: %r km is not a whole number of %s" % (where, v, unit))
    return n


def _name(v: Any, where: str, maxlen: int = 255) -> str:
    if not isinstance(v, str) or not v.strip():
        _fail("%s: name must be a non-empty string" % where)
    if len(v.encode()) > maxlen:
        _fail("%s: name %r is longer than %d bytes" % (where, v, maxlen))
    return v


def _keys(d: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    if not isinstance(d, dict):
        _fail("%s: must be an object" % where)
    for k in required:
        if k not in d:
            _fail("%s: missing %r" % (where, k))
    allowed = set(required) | set(optional) | {"note"}
    for k in d:
        if k not in allowed:
            _fail("%s: unknown field %r" % (where, k))


def _list(v: Any, where: str) -> list[Any]:
    if not isinstance(v, list):
        _fail("%s: must be a list" % where)
    return v


def _hhmm(v: Any, where: str) -> int:
    m = re.fullmatch(r"(\d\d):(\d\d)", v) if isinstance(v, str) else None
    if not m or int(m.group(2)) > 59 or int(m.group(1)) * 60 + int(m.group(2)) > 1440:
        _fail("%s: %r is not a time HH:MM (00:00 .. 24:00)" % (where, v))
    return int(m.group(1)) * 60 + int(m.group(2))


def _mode(v: Any, where: str) -> int:
    if v not in MODES:
        _fail("%s: unknown mode %r (metro, bus, ferry)" % (where, v))
    return MODES[v]
