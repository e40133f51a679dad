"""Shortest paths over the metro network (docs/fares.md §2.1): pure graph functions.

A station is one node whatever lines serve it (an interchange inside a station costs 0 m);
an edge is ``(i, j, line bit, metres)`` between station indexes; parallel edges of two lines
count once, with the shorter length. ``None`` marks a station that cannot be reached.
"""

from __future__ import annotations

import heapq

Edge = tuple[int, int, int, int]  # station index a, station index b, line bit, metres
Adjacency = list[dict[int, int]]  # per station: neighbour index -> metres


def adjacency(n: int, edges: list[Edge], line: int | None = None) -> Adjacency:
    """The network of ``n`` stations as neighbour maps; only ``line``'s edges if given."""
    adj: Adjacency = [dict() for _ in range(n)]
    for i, j, bit, metres in edges:
        if line is not None and bit != line:
            continue
        if j not in adj[i] or metres < adj[i][j]:
            adj[i][j] = adj[j][i] = metres
    return adj


def dijkstra(adj: Adjacency, src: int) -> list[int | None]:
    """Shortest mileage (metres) from station ``src`` to every station."""
    dist: list[int | None] = [None] * len(adj)
    dist[src] = 0
    heap = [(0, src)]
    while heap:
        d, u = heapq.heappop(heap)
        known = dist[u]
        if known is not None and d > known:
            continue
        for v, w in adj[u].items():
            nd = d + w
            old = dist[v]
            if old is None or nd < old:
                dist[v] = nd
                heapq.heappush(heap, (nd, v))
    return dist


def all_pairs(n: int, edges: list[Edge]) -> list[list[int | None]]:
    """Shortest mileage (metres) between every two stations, over all lines."""
    adj = adjacency(n, edges)
    return [dijkstra(adj, i) for i in range(n)]


def inside_line(n: int, edges: list[Edge], masks: list[int], bit: int,
                metres: list[list[int]]) -> tuple[list[int], set[tuple[int, int]]]:
    """The stations serving line ``bit`` and the trips (i, j) between them that are inside
    the line: the shortest path on the line's own edges is as short as the network's."""
    members = [i for i in range(n) if masks[i] & (1 << bit)]
    ladj = adjacency(n, edges, bit)
    pairs = set()
    for i in members:
        ld = dijkstra(ladj, i)
        for j in members:
            if i != j and ld[j] is not None and ld[j] == metres[i][j]:
                pairs.add((i, j))
    return members, pairs
