"""The metro network map from a tariff source (its ``stations`` with lon/lat, ``lines`` and
``edges``): station positions projected into a 1000-wide box, and a journey's stations along
the shortest-mileage path, the way the fare engine measures it."""

from __future__ import annotations

import heapq
import json
import math
import os
from typing import Any

WIDTH = 1000.0
MARGIN = 20.0
# the lines' colours on Shanghai's own maps (approximate; any other line is grey)
COLOURS = {"1": "#e4002b", "2": "#97d700", "3": "#ffd100", "4": "#5f259f", "5": "#ac4fc6",
           "6": "#d71671", "7": "#ff6900", "8": "#0094d8", "9": "#71c5e8", "10": "#c1a7e2",
           "11": "#76232f", "12": "#007b5f", "13": "#ef95cf", "16": "#2cd5c4",
           "17": "#bc796f"}


def load(path: str) -> dict[str, Any] | None:
    """The map of the tariff source at ``path``, or None when it has no stations with
    coordinates (a bus-only tariff) or cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            src = json.load(f)
    except (OSError, ValueError):
        return None
    stations = [s for s in src.get("stations", ()) if isinstance(s, dict)
                and isinstance(s.get("lon"), (int, float))
                and isinstance(s.get("lat"), (int, float))]
    if not stations:
        return None
    lat0 = sum(s["lat"] for s in stations) / len(stations)
    kx = math.cos(math.radians(lat0))
    xs = [s["lon"] * kx for s in stations]
    ys = [-s["lat"] for s in stations]
    x0, y0 = min(xs), min(ys)
    scale = (WIDTH - 2 * MARGIN) / max(1e-9, max(xs) - x0)
    height = (max(ys) - y0) * scale + 2 * MARGIN
    out_st = [{"id": s["id"], "name": s.get("name", str(s["id"])), "lines": s.get("lines", []),
               "x": round(MARGIN + (x - x0) * scale, 1), "y": round(MARGIN + (y - y0) * scale, 1)}
              for s, x, y in zip(stations, xs, ys)]
    known = {s["id"] for s in out_st}
    edges = [{"a": e["a"], "b": e["b"], "line": str(e.get("line", "")), "km": e.get("km", 1)}
             for e in src.get("edges", ()) if e.get("a") in known and e.get("b") in known]
    lines = [{"id": str(ln["id"]), "name": ln.get("name", str(ln["id"])),
              "colour": COLOURS.get(str(ln["id"]), "#999")} for ln in src.get("lines", ())]
    return {"name": src.get("name", os.path.basename(path)), "width": WIDTH,
            "height": round(height, 1), "stations": out_st, "edges": edges, "lines": lines}


def path(net: dict[str, Any], a: int, b: int) -> list[int]:
    """Station ids from ``a`` to ``b`` along the shortest-mileage path ([a, b] if none)."""
    adj: dict[int, list[tuple[float, int]]] = {}
    for e in net["edges"]:
        adj.setdefault(e["a"], []).append((e["km"], e["b"]))
        adj.setdefault(e["b"], []).append((e["km"], e["a"]))
    dist = {a: 0.0}
    prev: dict[int, int] = {}
    todo = [(0.0, a)]
    while todo:
        d, n = heapq.heappop(todo)
        if n == b:
            break
        if d > dist.get(n, math.inf):
            continue
        for km, m in adj.get(n, ()):
            if d + km < dist.get(m, math.inf):
                dist[m] = d + km
                prev[m] = n
                heapq.heappush(todo, (d + km, m))
    if b not in dist:
        return [a, b]
    out = [b]
    while out[-1] != a:
        out.append(prev[out[-1]])
    return out[::-1]
