"""Fare-engine cases that run unchanged on both runtimes (tests/test_fare_vm.py): CPython
imports ``run``; on the VM ``micropython fare_cases.py TARIFF.bin`` prints ``run(path)`` as
JSON."""

import binascii

from ykt import caltime
from ykt.fare import engine
from ykt.fare.tariff import BUS, Tariff
from ykt.fare.transit_record import TransitState, encode


def run(path):
    t = Tariff(open(path, "rb"))
    out = []
    at = caltime.secs(2026, 11, 30, 8, 0)
    ids = [t.station_id(i) for i in range(0, t.n, 23)]
    for a in ids:
        for b in ids[::3]:
            q = engine.quote_trip(t, a, b, at)
            out.append([a, b, q.distance_dam, q.fen])
    s = TransitState()
    s.month = (2026, 11)
    s.month_spend = 7500
    q1 = engine.flat_ride(t, s, BUS, "926", at, 2)
    q2 = engine.metro_entry(t, q1.state, 2035, at + 1200, b"\x01\x02\x03\x04\x05\x06", 2)
    q3 = engine.metro_exit(t, q2.state, 2011, at + 3600, 2)
    out.append([q1.fen, q2.fen, q3.fen, [list(x) for x in q3.steps]])
    out.append(binascii.hexlify(encode(q3.state)).decode())
    out.append(engine.metro_exit(t, TransitState(), 2011, at).fen)
    out.append(engine.quote_trip(t, 2011, 508, at, 1, 0x1000).fen)
    t.close()
    return out


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(sys.argv[1])))
