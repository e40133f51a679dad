"""Tariff source (JSON, human-edited) -> validated model -> compact binary payload, and back.

``load_source(path)`` parses and validates a source (``TariffSourceError``: one line naming
the station, edge or rule at fault), ``compile_payload(src, version)`` builds the payload the
device reads by seek (``firmware/ykt/fare/tariff.py``), ``read_payload(data)`` decodes a
payload completely (tests, inspection). Formats and rules: docs/fares.md.

Distances: each edge is whole metres (its ``km`` rounded to the metre; more decimals are an
error); interchanges inside a station cost 0 m (a station is one node whatever lines serve
it); the distance between two stations is the shortest-mileage path (Dijkstra over all
lines); the payload stores it rounded UP to whole decametres, which keeps every fare
threshold that is a whole number of decametres exact.
"""

import heapq
import json
import re
import struct
import zlib
from host_tools.lib.errors import BadInput

MAGIC = b"YKTF"
FORMAT = 2  # 2: the header's last field is a CRC-32 of the file (format 1: reserved 0)
SOURCE_FORMAT = "ykt-tariff-source/1"
SECTIONS = (b"LINE", b"STNS", b"NAME", b"DIST", b"FARE", b"LEXC", b"POLI", b"XFER", b"MNTH",
            b"CATG", b"ISSU", b"ROUT")
MODES = {"metro": 1, "bus": 2, "ferry": 3}
MODE_NAMES = {v: k for k, v in MODES.items()}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KINDS = {"none": 0, "fixed": 1, "max_from_station": 2, "network_max": 3}
CROSSINGS = {"next_ride": 0, "split": 1}
DISCOUNTS = {"category": 0x02, "transfer": 0x04, "monthly": 0x08}
ISSUER_ACCEPT, ISSUER_WILDCARD = 0x01, 0x80
NO_MAX = 0xFFFFFFFF
OPEN_END = 0xFFFF
UNREACHABLE = 0xFFFF
MAX_LINES = 32


class TariffSourceError(BadInput):
    """A source problem, as one line naming what is wrong and where."""


# -- helpers -----------------------------------------------------------------------------------

def _fail(msg):
    raise TariffSourceError(msg)


def _int(v, where, lo, hi):
    if not isinstance(v, int) or isinstance(v, bool):
        _fail("%s: %r is not a whole number" % (where, v))
    if not lo <= v <= hi:
        _fail("%s: %d is outside %d..%d" % (where, v, lo, hi))
    return v


def _fen(v, where, signed=False):
    """Money: integer fen."""
    if not isinstance(v, int) or isinstance(v, bool):
        _fail("%s: %r is not a whole number of fen" % (where, v))
    lo, hi = (-(1 << 31), (1 << 31) - 1) if signed else (0, (1 << 32) - 2)
    if not lo <= v <= hi:
        _fail("%s: %d fen is out of range" % (where, v))
    return v


def _units(v, where, unit, per_km):
    """A km value as whole ``unit`` (metres: per_km 1000; decametres: per_km 100)."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        _fail("%s: %r is not a number of km" % (where, v))
    x = v * per_km
    n = int(round(x))
    if abs(x - n) > 1e-6:
        _fail("%s: %r km is not a whole number of %s" % (where, v, unit))
    return n


def _name(v, where, maxlen=255):
    if not isinstance(v, str) or not v.strip():
        _fail("%s: name must be a non-empty string" % where)
    if len(v.encode()) > maxlen:
        _fail("%s: name %r is longer than %d bytes" % (where, v, maxlen))
    return v


def _keys(d, where, required, optional=()):
    if not isinstance(d, dict):
        _fail("%s: must be an object" % where)
    for k in required:
        if k not in d:
            _fail("%s: missing %r" % (where, k))
    allowed = set(required) | set(optional) | {"note"}
    for k in d:
        if k not in allowed:
            _fail("%s: unknown field %r" % (where, k))


def _list(v, where):
    if not isinstance(v, list):
        _fail("%s: must be a list" % where)
    return v


def _hhmm(v, where):
    m = re.fullmatch(r"(\d\d):(\d\d)", v) if isinstance(v, str) else None
    if not m or int(m.group(2)) > 59 or int(m.group(1)) * 60 + int(m.group(2)) > 1440:
        _fail("%s: %r is not a time HH:MM (00:00 .. 24:00)" % (where, v))
    return int(m.group(1)) * 60 + int(m.group(2))


# -- source ------------------------------------------------------------------------------------

def load_source(path):
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


class Model:
    """A validated source, normalised to the units the payload uses."""


def validate(src):
    """Check every rule of docs/fares.md "Tariff source"; returns a ``Model``."""
    _keys(src, "tariff", ("format", "lines", "stations", "edges", "metro_fare", "policies",
                          "transfers", "monthly", "categories", "issuers", "routes"),
          ("name", "notes", "distance", "line_exceptions"))
    if src["format"] != SOURCE_FORMAT:
        _fail("format: %r is not %r" % (src["format"], SOURCE_FORMAT))
    m = Model()
    m.name = src.get("name", "")

    # lines
    m.lines = []
    line_bit = {}
    for i, ln in enumerate(_list(src["lines"], "lines")):
        where = "lines[%d]" % i
        _keys(ln, where, ("id", "name"))
        lid = ln["id"]
        if not isinstance(lid, str) or not lid or len(lid.encode()) > 16:
            _fail("%s: id must be a short string" % where)
        if lid in line_bit:
            _fail("line %r: duplicate id" % lid)
        line_bit[lid] = len(m.lines)
        m.lines.append((lid, _name(ln["name"], "line %r" % lid)))
    if not m.lines:
        _fail("lines: the network has no line")
    if len(m.lines) > MAX_LINES:
        _fail("lines: at most %d lines" % MAX_LINES)

    # stations
    stations = {}
    names = {}
    for i, s in enumerate(_list(src["stations"], "stations")):
        where = "stations[%d]" % i
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
        stations[sid] = (name, mask)
    if len(stations) < 2:
        _fail("stations: a network needs at least two stations")
    m.ids = sorted(stations)
    m.index = {sid: i for i, sid in enumerate(m.ids)}
    m.names = [stations[sid][0] for sid in m.ids]
    m.masks = [stations[sid][1] for sid in m.ids]

    # edges
    m.edges = []  # (i, j, line bit, metres)
    seen = set()
    for k, e in enumerate(_list(src["edges"], "edges")):
        where = "edges[%d]" % k
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
        m.edges.append((m.index[a], m.index[b], line_bit[ln], metres))

    # metro fare
    mf = src["metro_fare"]
    _keys(mf, "metro_fare", ("base_fen", "base_km", "steps"), ("max_fen",))
    m.base_fen = _fen(mf["base_fen"], "metro_fare.base_fen")
    m.base_dam = _units(mf["base_km"], "metro_fare.base_km", "decametres", 100)
    _int(m.base_dam, "metro_fare.base_km (decametres)", 0, 65534)
    m.max_fen = None if mf.get("max_fen") is None else _fen(mf["max_fen"], "metro_fare.max_fen")
    m.steps = []
    at = m.base_dam
    open_seen = False
    for i, st in enumerate(_list(mf["steps"], "metro_fare.steps")):
        where = "metro_fare.steps[%d]" % i
        _keys(st, where, ("from_km", "every_km", "add_fen"), ("to_km",))
        if open_seen:
            _fail("%s: follows a step with no to_km" % where)
        fr = _units(st["from_km"], where + ".from_km", "decametres", 100)
        if fr != at:
            _fail("%s: from_km %r must be where the previous band ends (%s km)"
                  % (where, st["from_km"], at / 100))
        to = st.get("to_km")
        if to is None:
            to = OPEN_END
            open_seen = True
        else:
            to = _units(to, where + ".to_km", "decametres", 100)
            if not fr < to < OPEN_END:
                _fail("%s: to_km must be above from_km" % where)
        every = _units(st["every_km"], where + ".every_km", "decametres", 100)
        if not 0 < every < OPEN_END:
            _fail("%s: every_km must be > 0" % where)
        m.steps.append((fr, to, every, _fen(st["add_fen"], where + ".add_fen")))
        at = to
    if len(m.steps) > 255:
        _fail("metro_fare.steps: at most 255")

    # line exceptions
    m.line_exceptions = []
    for i, lx in enumerate(_list(src.get("line_exceptions", []), "line_exceptions")):
        where = "line_exceptions[%d]" % i
        _keys(lx, where, ("line", "adjust_fen"))
        if lx["line"] not in line_bit:
            _fail("%s: unknown line %r" % (where, lx["line"]))
        m.line_exceptions.append((line_bit[lx["line"]], _fen(lx["adjust_fen"], where + ".adjust_fen",
                                                              signed=True)))

    # policies
    pol = src["policies"]
    _keys(pol, "policies", ("same_station", "time_limit", "missing_entry", "unclosed_journey"))
    ss = pol["same_station"]
    _keys(ss, "policies.same_station", ("grace_minutes", "grace_fen"))
    m.grace_min = _int(ss["grace_minutes"], "policies.same_station.grace_minutes", 0, 65535)
    m.grace_fen = _fen(ss["grace_fen"], "policies.same_station.grace_fen")
    tl = pol["time_limit"]
    if tl is None:
        m.limit_min, m.overtime = 0, (0, 0)
    else:
        _keys(tl, "policies.time_limit", ("minutes", "surcharge"))
        m.limit_min = _int(tl["minutes"], "policies.time_limit.minutes", 1, 65535)
        m.overtime = _kind(tl["surcharge"], "policies.time_limit.surcharge", allow_none=False)
    m.missing = _kind(pol["missing_entry"], "policies.missing_entry", allow_none=False)
    m.unclosed = _kind(pol["unclosed_journey"], "policies.unclosed_journey", allow_none=True)

    # transfers
    m.transfers = []
    pairs = set()
    for i, t in enumerate(_list(src["transfers"], "transfers")):
        where = "transfers[%d]" % i
        _keys(t, where, ("from", "to", "within_minutes", "off_fen"))
        fr, to = _mode(t["from"], where + ".from"), _mode(t["to"], where + ".to")
        if (fr, to) in pairs:
            _fail("%s: a second %s -> %s rule" % (where, t["from"], t["to"]))
        pairs.add((fr, to))
        m.transfers.append((fr, to, _int(t["within_minutes"], where + ".within_minutes", 1, 65535),
                            _fen(t["off_fen"], where + ".off_fen")))

    # monthly
    m.monthly = []
    for i, r in enumerate(_list(src["monthly"], "monthly")):
        where = "monthly[%d]" % i
        _keys(r, where, ("mode", "threshold_fen", "percent_off"), ("crossing",))
        if r["mode"] != "metro":
            _fail("%s: only metro spend is counted on the card (mode %r)" % (where, r["mode"]))
        if i:
            _fail("%s: only one monthly rule (the card keeps one month-to-date counter)" % where)
        crossing = r.get("crossing", "next_ride")
        if crossing not in CROSSINGS:
            _fail("%s: crossing %r is not one of %s" % (where, crossing, ", ".join(CROSSINGS)))
        m.monthly.append((MODES["metro"], CROSSINGS[crossing],
                          _int(r["percent_off"], where + ".percent_off", 0, 100),
                          _fen(r["threshold_fen"], where + ".threshold_fen")))

    # categories
    m.categories = []
    codes = set()
    for i, c in enumerate(_list(src["categories"], "categories")):
        where = "categories[%d]" % i
        _keys(c, where, ("code", "name", "rules"))
        code = _int(c["code"], where + ".code", 0, 255)
        name = _name(c["name"], where, 32)
        where = "category %d %r" % (code, name)
        if code in codes:
            _fail("%s: duplicate code" % where)
        codes.add(code)
        rules = []
        for j, r in enumerate(_list(c["rules"], where + " rules")):
            rw = "%s rule %d" % (where, j)
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
            rules.append((modes, days, fr, to, _int(r["percent_off"], rw + " percent_off", 0, 100)))
        if len(rules) > 255:
            _fail("%s: at most 255 rules" % where)
        m.categories.append((code, name, rules))

    # issuers
    m.issuers = []
    cities = set()
    for i, s in enumerate(_list(src["issuers"], "issuers")):
        where = "issuers[%d]" % i
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
        m.issuers.append((code, flags, pct, s["name"]))
    if "*" not in cities:
        _fail("issuers: no default entry (city \"*\") for cards of other issuers")

    # routes
    m.routes = []
    rids = set()
    for i, r in enumerate(_list(src["routes"], "routes")):
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
        m.routes.append((MODES[r["mode"]], rid, _fen(r["fen"], where + " fen"),
                         _name(r.get("name", rid), where)))

    for what, items, most in (("line_exceptions", m.line_exceptions, 255),
                              ("transfers", m.transfers, 255), ("categories", m.categories, 255),
                              ("issuers", m.issuers, 255), ("routes", m.routes, 65535)):
        if len(items) > most:
            _fail("%s: at most %d entries" % (what, most))
    _distances(m)
    return m


def _mode(v, where):
    if v not in MODES:
        _fail("%s: unknown mode %r (metro, bus, ferry)" % (where, v))
    return MODES[v]


def _kind(v, where, allow_none):
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


# -- distances ---------------------------------------------------------------------------------

def _dijkstra(adj, src):
    dist = [None] * len(adj)
    dist[src] = 0
    heap = [(0, src)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        for v, w in adj[u].items():
            nd = d + w
            if dist[v] is None or nd < dist[v]:
                dist[v] = nd
                heapq.heappush(heap, (nd, v))
    return dist


def _adjacency(n, edges, line=None):
    adj = [dict() for _ in range(n)]
    for i, j, bit, metres in edges:
        if line is not None and bit != line:
            continue
        if j not in adj[i] or metres < adj[i][j]:
            adj[i][j] = adj[j][i] = metres
    return adj


def _distances(m):
    """All-pairs shortest mileage (metres), decametres (ceil), per-station maxima, line
    exception membership."""
    n = len(m.ids)
    adj = _adjacency(n, m.edges)
    m.metres = [_dijkstra(adj, i) for i in range(n)]
    for j in range(n):
        if m.metres[0][j] is None:
            _fail("station %d %r cannot be reached from station %d %r"
                  % (m.ids[j], m.names[j], m.ids[0], m.names[0]))
    m.dam = [[-(-d // 10) for d in row] for row in m.metres]
    worst = max(max(row) for row in m.dam)
    if worst >= UNREACHABLE:
        _fail("network: a shortest path of %.2f km does not fit the table (max 655.34 km)"
              % (worst / 100))
    m.max_dam = [max(row) for row in m.dam]
    m.network_max_dam = max(m.max_dam)
    m.exception_pairs = []
    for bit, _ in m.line_exceptions:
        members = [i for i in range(n) if m.masks[i] & (1 << bit)]
        ladj = _adjacency(n, m.edges, bit)
        pairs = set()
        for i in members:
            ld = _dijkstra(ladj, i)
            for j in members:
                if i != j and ld[j] is not None and ld[j] == m.metres[i][j]:
                    pairs.add((i, j))
        m.exception_pairs.append((members, pairs))


def distance_fare(m, dam):
    """The metro fare rule on the host (same rule as the firmware engine)."""
    fen = m.base_fen
    for fr, to, every, add in m.steps:
        if dam <= fr:
            break
        top = dam if to == OPEN_END or dam < to else to
        fen += -(-(top - fr) // every) * add
    if m.max_fen is not None and fen > m.max_fen:
        fen = m.max_fen
    return fen


# -- payload -----------------------------------------------------------------------------------

def _s8(text):
    b = text.encode() if isinstance(text, str) else bytes(text)
    if len(b) > 255:
        raise TariffSourceError("text %r longer than 255 bytes" % text)
    return bytes([len(b)]) + b


def compile_payload(m, version):
    """The binary tariff (docs/fares.md "Compiled tariff") of a validated model."""
    if isinstance(m, dict):
        m = validate(m)
    if not isinstance(version, int) or not 1 <= version <= 0xFFFFFFFF:
        raise TariffSourceError("version must be a whole number 1..4294967295")
    n = len(m.ids)
    sec = {}
    sec[b"LINE"] = b"".join(_s8(lid) + _s8(name) for lid, name in m.lines)
    names = b""
    rows = []
    for i in range(n):
        nb = m.names[i].encode()
        if len(nb) > 255 or len(names) + len(nb) > 0xFFFF:
            raise TariffSourceError("station %d: names do not fit the name table" % m.ids[i])
        rows.append(struct.pack(">HHIHBB", m.ids[i], m.max_dam[i], m.masks[i], len(names),
                                len(nb), 0))
        names += nb
    sec[b"STNS"] = b"".join(rows)
    sec[b"NAME"] = names
    tri = []
    for i in range(n):
        row = m.dam[i]
        tri.extend(row[i + 1:])
    sec[b"DIST"] = struct.pack(">%dH" % len(tri), *tri)
    fare = struct.pack(">IHIB", m.base_fen, m.base_dam, NO_MAX if m.max_fen is None else m.max_fen,
                       len(m.steps))
    fare += b"".join(struct.pack(">HHHI", *s) for s in m.steps)
    sec[b"FARE"] = fare
    lexc = bytes([len(m.line_exceptions)])
    for (bit, adjust), (members, pairs) in zip(m.line_exceptions, m.exception_pairs):
        k = len(members)
        lexc += struct.pack(">BBiH", bit, 0, adjust, k)
        lexc += struct.pack(">%dH" % k, *members)
        bitmap = bytearray((k * k + 7) // 8)
        for r, i in enumerate(members):
            for c, j in enumerate(members):
                if (i, j) in pairs:
                    b = r * k + c
                    bitmap[b >> 3] |= 0x80 >> (b & 7)
        lexc += bytes(bitmap)
    sec[b"LEXC"] = lexc
    sec[b"POLI"] = struct.pack(">HIHBIBIBIH", m.grace_min, m.grace_fen, m.limit_min,
                               m.overtime[0], m.overtime[1], m.missing[0], m.missing[1],
                               m.unclosed[0], m.unclosed[1], m.network_max_dam)
    sec[b"XFER"] = bytes([len(m.transfers)]) + b"".join(struct.pack(">BBHI", *t)
                                                        for t in m.transfers)
    sec[b"MNTH"] = bytes([len(m.monthly)]) + b"".join(
        struct.pack(">BBBBI", mode, crossing, pct, 0, thr) for mode, crossing, pct, thr in m.monthly)
    catg = bytes([len(m.categories)])
    for code, name, rules in m.categories:
        catg += bytes([code, len(rules)]) + _s8(name)
        catg += b"".join(struct.pack(">BBHHB", *r) for r in rules)
    sec[b"CATG"] = catg
    issu = bytes([len(m.issuers)])
    for code, flags, pct, name in m.issuers:
        issu += struct.pack(">HBH", code, flags, pct) + _s8(name)
    sec[b"ISSU"] = issu
    rout = struct.pack(">H", len(m.routes))
    for mode, rid, fen, name in m.routes:
        rout += bytes([mode]) + _s8(rid) + struct.pack(">I", fen) + _s8(name)
    sec[b"ROUT"] = rout

    head_len = 24 + 12 * len(SECTIONS)
    directory = b""
    body = b""
    off = head_len
    for tag in SECTIONS:
        data = sec[tag]
        directory += struct.pack(">4sII", tag, off, len(data))
        body += data
        off += len(data)
    header = struct.pack(">4sBBHIIHH", MAGIC, FORMAT, 0, len(SECTIONS), version, off, n,
                         len(m.lines))
    rest = directory + body
    return header + struct.pack(">I", payload_crc(header, rest)) + rest


def payload_crc(head20, rest):
    """The payload's CRC-32: over bytes 0..19 and 24..end (the CRC field itself left out)."""
    return zlib.crc32(rest, zlib.crc32(head20[:20])) & 0xFFFFFFFF


def build(source_path, version):
    """Payload bytes of the source file at ``source_path``."""
    return compile_payload(load_source(source_path), version)


# -- reading a payload back (tests, inspection) ------------------------------------------------

class PayloadError(BadInput):
    pass


def read_payload(data):
    """Decode a whole payload into plain Python values (dict)."""
    data = bytes(data)
    if len(data) < 24:
        raise PayloadError("payload too short")
    magic, fmt, _, nsec, version, length, n, nlines, _ = struct.unpack_from(">4sBBHIIHHI", data, 0)
    if magic != MAGIC:
        raise PayloadError("not a tariff payload (magic %r)" % magic)
    if fmt != FORMAT:
        raise PayloadError("payload format %d not supported" % fmt)
    if length != len(data):
        raise PayloadError("payload is %d bytes, header says %d" % (len(data), length))
    if payload_crc(data[:20], data[24:]) != struct.unpack_from(">I", data, 20)[0]:
        raise PayloadError("payload damaged (checksum mismatch)")
    sec = {}
    for i in range(nsec):
        tag, off, size = struct.unpack_from(">4sII", data, 24 + 12 * i)
        sec[tag] = data[off:off + size]
    out = {"format": fmt, "version": version, "length": length, "sections": sorted(
        (t.decode(), len(v)) for t, v in sec.items())}

    def s8(b, p):
        k = b[p]
        return b[p + 1:p + 1 + k].decode(), p + 1 + k

    b, p, lines = sec[b"LINE"], 0, []
    for _ in range(nlines):
        lid, p = s8(b, p)
        name, p = s8(b, p)
        lines.append({"id": lid, "name": name})
    out["lines"] = lines
    stations = []
    for i in range(n):
        sid, mx, mask, noff, nlen, _ = struct.unpack_from(">HHIHBB", sec[b"STNS"], 12 * i)
        stations.append({"id": sid, "name": sec[b"NAME"][noff:noff + nlen].decode(),
                         "lines": [lines[k]["id"] for k in range(nlines) if mask & (1 << k)],
                         "max_dam": mx})
    out["stations"] = stations
    tri = struct.unpack(">%dH" % (n * (n - 1) // 2), sec[b"DIST"])
    dam = [[0] * n for _ in range(n)]
    k = 0
    for i in range(n):
        for j in range(i + 1, n):
            dam[i][j] = dam[j][i] = tri[k]
            k += 1
    out["dam"] = dam
    b = sec[b"FARE"]
    base_fen, base_dam, max_fen, ns = struct.unpack_from(">IHIB", b, 0)
    out["metro_fare"] = {
        "base_fen": base_fen, "base_dam": base_dam,
        "max_fen": None if max_fen == NO_MAX else max_fen,
        "steps": [dict(zip(("from_dam", "to_dam", "every_dam", "add_fen"),
                           struct.unpack_from(">HHHI", b, 11 + 10 * i))) for i in range(ns)]}
    b, p, lexc = sec[b"LEXC"], 1, []
    for _ in range(b[0]):
        bit, _, adjust, kk = struct.unpack_from(">BBiH", b, p)
        p += 8
        members = struct.unpack_from(">%dH" % kk, b, p)
        p += 2 * kk
        nbytes = (kk * kk + 7) // 8
        bm = b[p:p + nbytes]
        p += nbytes
        pairs = set()
        for r in range(kk):
            for c in range(kk):
                q = r * kk + c
                if bm[q >> 3] & (0x80 >> (q & 7)):
                    pairs.add((stations[members[r]]["id"], stations[members[c]]["id"]))
        lexc.append({"line": lines[bit]["id"], "adjust_fen": adjust, "pairs": pairs})
    out["line_exceptions"] = lexc
    kinds = {v: k for k, v in KINDS.items()}
    v = struct.unpack(">HIHBIBIBIH", sec[b"POLI"])
    out["policies"] = {
        "same_station": {"grace_minutes": v[0], "grace_fen": v[1]},
        "time_limit": {"minutes": v[2], "surcharge": {"kind": kinds[v[3]], "fen": v[4]}},
        "missing_entry": {"kind": kinds[v[5]], "fen": v[6]},
        "unclosed_journey": {"kind": kinds[v[7]], "fen": v[8]},
        "network_max_dam": v[9]}
    b = sec[b"XFER"]
    out["transfers"] = []
    for i in range(b[0]):
        fr, to, mins, off_fen = struct.unpack_from(">BBHI", b, 1 + 8 * i)
        out["transfers"].append({"from": MODE_NAMES[fr], "to": MODE_NAMES[to],
                                 "within_minutes": mins, "off_fen": off_fen})
    b = sec[b"MNTH"]
    crossings = {v: k for k, v in CROSSINGS.items()}
    out["monthly"] = []
    for i in range(b[0]):
        mode, cr, pct, _, thr = struct.unpack_from(">BBBBI", b, 1 + 8 * i)
        out["monthly"].append({"mode": MODE_NAMES[mode], "crossing": crossings[cr],
                               "percent_off": pct, "threshold_fen": thr})
    b, p, cats = sec[b"CATG"], 1, []
    for _ in range(b[0]):
        code, nr = b[p], b[p + 1]
        name, p = s8(b, p + 2)
        rules = []
        for _ in range(nr):
            modes, days, fr, to, pct = struct.unpack_from(">BBHHB", b, p)
            p += 7
            rules.append({"modes": [MODE_NAMES[k] for k in sorted(MODE_NAMES) if modes & (1 << k)],
                          "days": [DAYS[d] for d in range(7) if days & (1 << d)],
                          "from_min": fr, "to_min": to, "percent_off": pct})
        cats.append({"code": code, "name": name, "rules": rules})
    out["categories"] = cats
    b, p, iss = sec[b"ISSU"], 1, []
    for _ in range(b[0]):
        code, flags, pct = struct.unpack_from(">HBH", b, p)
        name, p = s8(b, p + 5)
        iss.append({"city": "*" if flags & ISSUER_WILDCARD else "%04X" % code, "name": name,
                    "accept": bool(flags & ISSUER_ACCEPT),
                    "discounts": [d for d, bit in DISCOUNTS.items() if flags & bit],
                    "percent": pct})
    out["issuers"] = iss
    b = sec[b"ROUT"]
    p, routes = 2, []
    for _ in range(struct.unpack_from(">H", b, 0)[0]):
        mode = b[p]
        rid, p = s8(b, p + 1)
        fen = struct.unpack_from(">I", b, p)[0]
        name, p = s8(b, p + 4)
        routes.append({"mode": MODE_NAMES[mode], "route": rid, "fen": fen, "name": name})
    out["routes"] = routes
    return out
