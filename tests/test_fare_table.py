"""Metro fares on the 2017 network against the distance rule, computed independently.

The test derives every distance itself from the raw reference CSVs (its own great-circle
formula, its own shortest-path search, its own line attribution from station_lines) and the
fare from the published rule (3 yuan up to 6 km, +1 yuan per further 10 km or part; Line 5
only: 1 yuan less), then compares with the firmware engine on the compiled tariff.
Only the documented quantisation is shared: each edge is rounded half up to whole metres.
"""

import ast
import csv
import heapq
import math
import os
import random

import farekit
import pytest

pytestmark = pytest.mark.skipif(not os.path.isdir(farekit.DATA),
                                reason="reference data ../shared/data not present")

RADIUS_M = 6371008.8  # mean Earth radius, as docs/fares.md states
SAMPLE = 240


def _sphere_metres(lon1, lat1, lon2, lat2):
    """Central angle by the atan2 (Vincenty, sphere) form, times the radius."""
    f1, f2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.hypot(math.cos(f2) * math.sin(dl),
                   math.cos(f1) * math.sin(f2) - math.sin(f1) * math.cos(f2) * math.cos(dl))
    x = math.sin(f1) * math.sin(f2) + math.cos(f1) * math.cos(f2) * math.cos(dl)
    return RADIUS_M * math.atan2(y, x)


def _load_network():
    with open(os.path.join(farekit.DATA, "stationInfo.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(farekit.DATA, "station_lines_2017.csv"), newline="") as f:
        lines = {r["Station Name"].strip(): {x.strip() for x in r["Metro Line(s)"].split(",")}
                 for r in csv.DictReader(f)}
    detour = farekit.source()["distance"]["detour_factor"]
    pos, station_lines, graph = {}, {}, {}
    for r in rows:
        sid = int(r["stationID"])
        pos[sid] = (float(r["lon"]), float(r["lat"]))
        station_lines[sid] = lines[r["name"].strip()]
        graph[sid] = [int(n) for n in ast.literal_eval(r["neighbour"])]
    weights = {}
    for a, nbs in graph.items():
        for b in nbs:
            m = _sphere_metres(*pos[a], *pos[b]) * detour
            weights[(a, b)] = int(math.floor(m + 0.5))
    return graph, weights, station_lines


def _shortest(graph, weights, origin):
    """Metres and predecessor from ``origin`` to every station."""
    best = {origin: 0}
    prev = {origin: None}
    todo = [(0, origin)]
    done = set()
    while todo:
        d, u = heapq.heappop(todo)
        if u in done:
            continue
        done.add(u)
        for v in graph[u]:
            nd = d + weights[(u, v)]
            if v not in best or nd < best[v]:
                best[v] = nd
                prev[v] = u
                heapq.heappush(todo, (nd, v))
    return best, prev


def _rule_fen(metres):
    if metres <= 6000:
        return 300
    return 300 + math.ceil((metres - 6000) / 10000) * 100


class Network:
    def __init__(self):
        self.graph, self.weights, self.lines = _load_network()
        self._trees = {}

    def tree(self, origin):
        if origin not in self._trees:
            self._trees[origin] = _shortest(self.graph, self.weights, origin)
        return self._trees[origin]

    def path(self, a, b):
        _, prev = self.tree(a)
        path = [b]
        while path[-1] != a:
            path.append(prev[path[-1]])
        return path[::-1]

    def edge_lines(self, a, b):
        return [self.lines[x] & self.lines[y] for x, y in zip(self.path(a, b), self.path(a, b)[1:])]

    def changes_lines(self, a, b):
        """No single line runs along the whole shortest path."""
        return not set.intersection(*self.edge_lines(a, b))

    def expected(self, a, b):
        metres = self.tree(a)[0][b]
        fen = _rule_fen(metres)
        if a != b and all("Line 5" in ls for ls in self.edge_lines(a, b)):
            fen -= 100
        return metres, fen


@pytest.fixture(scope="module")
def net():
    return Network()


@pytest.fixture(scope="module")
def engine_tariff():
    return farekit.tariff()


@pytest.fixture(scope="module")
def sample(net):
    ids = sorted(net.graph)
    rng = random.Random(20170401)
    pairs = set()
    while len(pairs) < SAMPLE:
        a, b = rng.sample(ids, 2)
        pairs.add((a, b))
    return sorted(pairs)


def _quote(t, a, b):
    from ykt.fare import engine

    return engine.quote_trip(t, a, b, farekit.secs("2026-11-30T08:00"))


def _mismatches(net, t, pairs):
    bad = []
    for a, b in pairs:
        metres, fen = net.expected(a, b)
        q = _quote(t, a, b)
        if q.fen != fen or q.distance_dam != -(-metres // 10):
            bad.append((a, b, metres, fen, q.distance_dam, q.fen))
    return bad


def test_sampled_pair_fares_equal_the_independently_computed_rule(net, engine_tariff, sample):
    assert _mismatches(net, engine_tariff, sample) == []


def test_pairs_whose_shortest_path_changes_lines_are_priced_on_that_path(net, engine_tariff,
                                                                        sample):
    changing = [p for p in sample if net.changes_lines(*p)]
    assert len(changing) >= 100
    assert _mismatches(net, engine_tariff, changing) == []


def test_sample_spans_several_fare_levels(net, sample):
    fares = {net.expected(a, b)[1] for a, b in sample}
    assert {300, 400, 500, 600, 700} <= fares


def test_distance_table_holds_path_metres_rounded_up_to_decametres(net, engine_tariff, sample):
    for a, b in sample[:50]:
        metres = net.tree(a)[0][b]
        assert engine_tariff.distance_dam(a, b) == (metres + 9) // 10
        assert engine_tariff.distance_dam(b, a) == (metres + 9) // 10


def test_trips_entirely_on_line_5_are_one_yuan_below_the_table(net, engine_tariff):
    line5 = sorted(s for s, ls in net.lines.items() if ls == {"Line 5"} or "Line 5" in ls)
    pairs = [(a, b) for a in line5 for b in line5 if a != b]
    assert len(pairs) == 110
    for a, b in pairs:
        metres, fen = net.expected(a, b)
        assert fen == _rule_fen(metres) - 100
        assert _quote(engine_tariff, a, b).fen == fen


def test_trips_from_line_5_onto_another_line_use_the_network_table(net, engine_tariff):
    src = farekit.source()
    a = farekit.station_id(src, "Minhang Development Zone")
    b = farekit.station_id(src, "Jinjiang Amusement Park")
    metres, fen = net.expected(a, b)
    assert fen == _rule_fen(metres)
    assert net.changes_lines(a, b)
    assert _quote(engine_tariff, a, b).fen == fen


def test_same_station_exit_within_grace_costs_the_grace_fare(engine_tariff, net):
    from ykt.fare import engine
    from ykt.fare.transit_record import TransitState

    for sid in sorted(net.graph)[::60]:
        q = engine.metro_ride(engine_tariff, TransitState(), sid, sid,
                              farekit.secs("2026-11-30T08:00"), farekit.secs("2026-11-30T08:20"))
        assert (q.fen, q.distance_dam) == (0, 0)


def test_same_station_exit_after_grace_costs_the_zero_km_fare(engine_tariff, net):
    from ykt.fare import engine
    from ykt.fare.transit_record import TransitState

    for sid in sorted(net.graph)[::60]:
        q = engine.metro_ride(engine_tariff, TransitState(), sid, sid,
                              farekit.secs("2026-11-30T08:00"), farekit.secs("2026-11-30T08:21"))
        assert q.fen == _rule_fen(0) == 300
