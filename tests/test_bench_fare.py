"""The fare bench's synthetic network and lookup (`make bench` prints the figures)."""

import io
import json
import math
import re

import farekit

from bench import fare as bench_fare
from host_tools import cli
from host_tools.lib import tariff as ht
from host_tools.lib.tariff_payload import read_payload
from host_tools.lib.tariff_source import great_circle_m


def test_synthetic_network_is_deterministic_and_compiles():
    src = bench_fare.synthetic_source(50)
    assert src == bench_fare.synthetic_source(50)
    assert src != bench_fare.synthetic_source(50, seed=1)
    m = ht.validate(src)  # connected, every edge whole metres, lines known
    assert len(m.ids) == 50 and len(m.lines) == 6
    pos = {s["id"]: (s["lon"], s["lat"]) for s in src["stations"]}
    for e in src["edges"]:  # km derived from the stated coordinates, as tariff_source does
        metres = int(math.floor(great_circle_m(*pos[e["a"]], *pos[e["b"]]) + 0.5))
        assert e["km"] == metres / 1000.0
    payload, dist, _, n, nlines = bench_fare.compile_network(src)
    assert (n, nlines, dist) == (50, 6, 50 * 49)
    back = read_payload(payload)
    assert [s["id"] for s in back["stations"]] == list(range(1, 51))
    assert back["line_exceptions"][0]["line"] == "5"


def test_lookup_gives_the_fare_of_ykt_fare_quote(tmp_path, capsys):
    src = bench_fare.synthetic_source(50)
    path = tmp_path / "synthetic-50.json"
    path.write_text(json.dumps(src))
    m = ht.validate(src)
    far = max(range(50), key=lambda j: m.dam[0][j])  # the longest trip from station 1
    a, b = m.ids[0], m.ids[far]
    expected = ht.distance_fare(m, m.dam[0][far])
    assert expected > 300  # beyond the base band, so the bands count
    for (_, adjust), (_, pairs) in zip(m.line_exceptions, m.exception_pairs):
        if (0, far) in pairs:
            expected = max(0, expected + adjust)

    rc = cli.main(["fare", "quote", "--from", "station:%d" % a, "--to", "station:%d" % b,
                   "--source", str(path),
                   "--at", "2026-11-30T08:00"])
    out = capsys.readouterr().out
    assert rc == 0
    quoted = int(re.search(r"fare: (\d+) fen", out).group(1))

    from ykt.fare.tariff import Tariff

    t = Tariff(io.BytesIO(bench_fare.compile_network(src)[0]))
    assert bench_fare.lookup(t, a, b, farekit.secs("2026-11-30T08:00")) == (quoted,
                                                                             m.dam[0][far])
    assert quoted == expected
