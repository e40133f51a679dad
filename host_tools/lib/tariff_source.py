"""Write the human-editable tariff source from the 2017 Shanghai metro reference data.

Run once (the result, ``tariffs/shanghai-2017.json``, is kept in the repository and edited
by hand from then on; ``ykt tariff build`` never reads the reference data)::

    ykt tariff import [--data DIR] [--out tariffs/shanghai-2017.json] [--detour-factor 1.0]

Inputs (``../shared/data/shanghai-metro-2017/``, see its README):

- ``stationInfo.csv``: station id, English name, WGS-84 lon/lat, neighbour ids;
- ``station_lines_2017.csv``: the lines serving each station (by name);
- ``metroarcs_shanghai.csv``: line-level arcs, used only to say which line(s) run between two
  neighbouring stations (an arc's category, e.g. ``Line 4``; ``Pedestrian`` arcs are
  interchanges inside one station and are not edges).

Each edge's length is the **great-circle** distance between the two stations' coordinates
(haversine on a sphere of radius 6371.0088 km, the IUGG mean Earth radius), multiplied by the
detour factor (default 1.0) and rounded half up to whole metres. Real track is longer than
the straight line, so the fares are realistic in scale but not official (notes in the file).
"""

from __future__ import annotations

import ast
import csv
import json
import math
import os
import re
from typing import Any

from host_tools.lib.errors import BadInput

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "shanghai-metro-2017")
DEFAULT_OUT = os.path.join(ROOT, "tariffs", "shanghai-2017.json")
EARTH_RADIUS_KM = 6371.0088


def great_circle_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine distance in metres (float) on the mean-radius sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * 1000.0 * math.asin(math.sqrt(h))


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _line_id(label: str) -> str:
    """``"Line 4"`` -> ``"4"``."""
    m = re.fullmatch(r"Line (\d+)", label.strip())
    if not m:
        raise BadInput("unexpected line label %r" % label)
    return m.group(1)


Station = dict[str, Any]  # id, name, lines, lon, lat, neighbours
Edge = tuple[int, int, str, float]  # station a, station b (a < b), line, metres


def read_network(data_dir: str) -> tuple[dict[int, Station], list[Edge]]:
    """(stations, edges) from the reference CSVs; edges carry whole metres. BadInput if the
    directory lacks one of them."""
    for name in ("stationInfo.csv", "station_lines_2017.csv", "metroarcs_shanghai.csv"):
        if not os.path.isfile(os.path.join(data_dir, name)):
            raise BadInput("%s: no %s (the 2017 Shanghai metro reference data, "
                           "../shared/data/shanghai-metro-2017)" % (data_dir, name))
    with open(os.path.join(data_dir, "stationInfo.csv"), newline="") as f:
        info = list(csv.DictReader(f))
    with open(os.path.join(data_dir, "station_lines_2017.csv"), newline="") as f:
        lines_by_name = {r["Station Name"].strip():
                         [_line_id(x) for x in r["Metro Line(s)"].split(",")]
                         for r in csv.DictReader(f)}
    with open(os.path.join(data_dir, "metroarcs_shanghai.csv"), newline="") as f:
        arcs = list(csv.DictReader(f))

    stations: dict[int, Station] = {}
    by_key = {}
    for r in info:
        sid = int(r["stationID"])
        name = r["name"].strip()
        if name not in lines_by_name:
            raise BadInput("station %d %r has no line in station_lines_2017.csv" % (sid, name))
        stations[sid] = {
            "id": sid,
            "name": name,
            "lines": sorted(lines_by_name[name], key=int),
            "lon": float(r["lon"]),
            "lat": float(r["lat"]),
            "neighbours": [int(x) for x in ast.literal_eval(r["neighbour"])],
        }
        by_key[_key(name)] = sid

    def node_station(node: str) -> int:
        base = re.sub(r"_L\d+$", "", node[len("Metro_"):])
        sid = by_key.get(_key(base))
        if sid is None:
            raise BadInput("arc node %r matches no station" % node)
        return sid

    arc_lines: dict[tuple[int, int], set[str]] = {}
    for a in arcs:
        if a["category"] == "Pedestrian":
            continue
        x, y = node_station(a["origin"]), node_station(a["destination"])
        if x != y:
            arc_lines.setdefault((min(x, y), max(x, y)), set()).add(_line_id(a["category"]))

    edges = []
    for sid in sorted(stations):
        s = stations[sid]
        for nb in s["neighbours"]:
            if nb <= sid:
                continue
            t = stations[nb]
            lines = arc_lines.get((sid, nb))
            if not lines:  # no arc: fall back to the lines both stations share
                lines = set(s["lines"]) & set(t["lines"])
            if not lines:
                raise BadInput("neighbours %d and %d share no line" % (sid, nb))
            m = great_circle_m(s["lon"], s["lat"], t["lon"], t["lat"])
            for line in sorted(lines, key=int):
                edges.append((sid, nb, line, m))
    return stations, edges


def _metres(m: float, factor: float) -> int:
    """Whole metres, rounded half up."""
    return int(math.floor(m * factor + 0.5))


def build_source(data_dir: str, detour_factor: float = 1.0) -> dict[str, Any]:
    stations, edges = read_network(data_dir)
    line_ids = sorted({ln for s in stations.values() for ln in s["lines"]}, key=int)
    return {
        "format": "ykt-tariff-source/1",
        "name": "Shanghai metro, 2017 network (example tariff)",
        "notes": [
            "Generated once by `ykt tariff import` from the 2017 Shanghai metro "
            "reference data (github.com/beyondsimulations/Metro-Inflow-Optimization, MIT); edit "
            "this file, not the generator.",
            "Edge km are GREAT-CIRCLE distances between station coordinates (haversine, sphere "
            "radius 6371.0088 km) x detour_factor, rounded half up to whole metres. Real track is "
            "longer: fares from these km are realistic in scale but NOT the official Shanghai "
            "fares.",
            "Station lon/lat are informational: the fare engine uses the edge km only.",
            "Metro fare rule: 3 yuan up to 6 km, then +1 yuan per further 10 km or part "
            "(service.shmetro.com/en/cphc/12.htm), shortest-mileage path.",
            "Line exception: trips entirely on Line 5 are 1 yuan below the network table "
            "(service.shmetro.com/en/cphc/13.htm).",
            "Policies (same-station exit, paid-area time limit and surcharge, missing tap-in, "
            "unclosed journey) have no official source: the values are documented defaults "
            "(docs/fares.md).",
            "Bus and ferry routes, rider categories and the refused issuer are EXAMPLES.",
        ],
        "distance": {
            "method": "great-circle (haversine) between station coordinates",
            "earth_radius_km": EARTH_RADIUS_KM,
            "detour_factor": detour_factor,
            "rounding": "each edge rounded half up to whole metres; path = sum of edges; "
                        "the device table holds the path rounded UP to whole decametres",
        },
        "lines": [{"id": ln, "name": "Line " + ln} for ln in line_ids],
        "stations": [
            {"id": s["id"], "name": s["name"], "lines": s["lines"],
             "lon": round(s["lon"], 9), "lat": round(s["lat"], 9)}
            for _, s in sorted(stations.items())
        ],
        "edges": [
            {"a": a, "b": b, "line": line, "km": _metres(m, detour_factor) / 1000.0}
            for a, b, line, m in edges
        ],
        "metro_fare": {
            "base_fen": 300,
            "base_km": 6,
            "steps": [{"from_km": 6, "to_km": None, "every_km": 10, "add_fen": 100}],
            "max_fen": None,
        },
        "line_exceptions": [
            {"line": "5", "adjust_fen": -100,
             "note": "trip entirely within Line 5 (its shortest-mileage path uses Line 5 track "
                     "only)"},
        ],
        "policies": {
            "same_station": {"grace_minutes": 20, "grace_fen": 0},
            "time_limit": {"minutes": 240, "surcharge": {"kind": "fixed", "fen": 300}},
            "missing_entry": {"kind": "max_from_station"},
            "unclosed_journey": {"kind": "max_from_station"},
        },
        "transfers": [
            {"from": "bus", "to": "metro", "within_minutes": 120, "off_fen": 100},
            {"from": "metro", "to": "bus", "within_minutes": 120, "off_fen": 100},
        ],
        "monthly": [
            {"mode": "metro", "threshold_fen": 7000, "percent_off": 10, "crossing": "next_ride"},
        ],
        "categories": [
            {"code": 0, "name": "ordinary", "rules": []},
            {"code": 1, "name": "senior", "note": "example: free off-peak",
             "rules": [{"modes": ["metro", "bus", "ferry"], "from": "09:00", "to": "16:00",
                        "percent_off": 100}]},
            {"code": 2, "name": "student", "note": "example: half fare on weekdays",
             "rules": [{"modes": ["metro", "bus"], "days": ["mon", "tue", "wed", "thu", "fri"],
                        "percent_off": 50}]},
            {"code": 3, "name": "disabled", "note": "example: free",
             "rules": [{"modes": ["metro", "bus", "ferry"], "percent_off": 100}]},
        ],
        "issuers": [
            {"city": "2900", "name": "Shanghai (home)", "accept": True,
             "discounts": ["category", "transfer", "monthly"], "percent": 100},
            {"city": "*", "name": "other T-Union cities", "accept": True, "discounts": [],
             "percent": 100},
            {"city": "7777", "name": "example refused issuer (not a real city code)",
             "accept": False},
        ],
        "routes": [
            {"mode": "bus", "route": "926", "fen": 200, "name": "Bus 926 (example)"},
            {"mode": "bus", "route": "71", "fen": 200, "name": "Bus 71 (example)"},
            {"mode": "bus", "route": "1", "fen": 100,
             "name": "Bus 1, no air conditioning (example)"},
            {"mode": "ferry", "route": "DONGJIN", "fen": 200, "name": "Dongjin ferry (example)"},
        ],
    }


def dump(src: dict[str, Any]) -> str:
    """The source as JSON text, one list item or policy per line so diffs stay readable."""
    def compact(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False)

    out = ["{"]
    keys = list(src)
    for i, k in enumerate(keys):
        v = src[k]
        comma = "," if i < len(keys) - 1 else ""
        if isinstance(v, (list, dict)) and v:
            items = v if isinstance(v, list) else list(v.items())
            opener, closer = ("[", "]") if isinstance(v, list) else ("{", "}")
            out.append("  %s: %s" % (compact(k), opener))
            for j, item in enumerate(items):
                text = compact(item) if isinstance(v, list) else "%s: %s" % (compact(item[0]),
                                                                            compact(item[1]))
                out.append("    %s%s" % (text, "," if j < len(items) - 1 else ""))
            out.append("  %s%s" % (closer, comma))
        else:
            out.append("  %s: %s%s" % (compact(k), compact(v), comma))
    out.append("}")
    return "\n".join(out) + "\n"
