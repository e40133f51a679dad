"""Why-a-discount cases (``ykt.fare.explain``) that run unchanged on both runtimes
(tests/test_fare_reasons.py): CPython imports ``run``; on the VM ``micropython
explain_cases.py TARIFF.bin`` prints ``run(path)`` as JSON, one case a line."""

from ykt import caltime
from ykt.fare import engine, explain
from ykt.fare.tariff import BUS, METRO, Tariff
from ykt.fare.transit_record import TransitState


def run(path):
    t = Tariff(open(path, "rb"))
    out = []
    for day in (29, 30):  # a Sunday, a Monday
        for hour in (8, 10, 17):
            at = caltime.secs(2026, 11, day, hour, 0)
            for category in (0, 1, 2, 3, 9):
                for city in (0x2900, 0x3100):
                    q = engine.quote_trip(t, 2035, 2011, at, category, city)
                    why = explain.discounts(t, METRO, q.steps[0][2], at, at, category, city,
                                            TransitState())
                    out.append([q.fen, [list(s) for s in q.steps], [list(w) for w in why]])
    s = TransitState()
    s.month = (2026, 11)
    s.month_spend = 7500
    at = caltime.secs(2026, 11, 30, 8, 0)
    q = engine.flat_ride(t, s, BUS, "926", at, 2)
    out.append([list(w) for w in explain.discounts(t, METRO, 500, at + 1200, at + 3600, 2,
                                                   0x2900, q.state)])
    out.append([list(w) for w in explain.discounts(t, METRO, 500, at + 9000, at + 9000, 0,
                                                   0x2900, q.state)])
    t.close()
    return out


if __name__ == "__main__":
    import json
    import sys

    for case in run(sys.argv[1]):
        print(json.dumps(case))
