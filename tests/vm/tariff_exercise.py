"""Every reader call and the fare engine on a tariff file, the same source on both runtimes
(tests/test_tariff_integrity.py fuzzes the reader with it): CPython imports ``exercise``; on
the VM ``micropython tariff_exercise.py FILE...`` prints ``exercise(open(FILE))`` as JSON, a
line per file."""

from ykt.errors import CardRefused
from ykt.fare import engine
from ykt.fare.tariff import BUS, FERRY, Tariff, TariffError
from ykt.fare.transit_record import TransitState

AT = 849340800  # 2026-11-30 (Monday) 08:00


def _steps(t):
    ids = [t.station_id(i) for i in range(min(t.n, 40))]
    picks = ids[:3] + ids[-3:]
    out = [lambda: t.station_id(t.n), lambda: t.index(65535), lambda: t.issuer(0x2900),
           lambda: t.issuer(0x7777), lambda: t.category_name(2),
           lambda: t.route_fen(BUS, "926"), lambda: t.route_fen(FERRY, "x")]
    for s in picks:
        out.append(lambda s=s: (t.name(s), t.station_lines(s), t.max_dam(s)))
    for a in picks[:3]:
        for b in picks[3:]:
            out.append(lambda a=a, b=b: (t.distance_dam(a, b), t.line_adjust(a, b)))
            out.append(lambda a=a, b=b: engine.quote_trip(t, a, b, AT, 2).fen)
            out.append(lambda a=a, b=b: engine.quote_trip(t, a, b, AT + 86400 * 6, 1, 0x1000).fen)
    if picks:
        s = TransitState()
        s.month = (2026, 11)
        s.month_spend = 7500
        a, b = picks[0], picks[-1]
        out.append(lambda: engine.flat_ride(t, s, BUS, "926", AT, 2).fen)
        out.append(lambda: engine.metro_exit(t, engine.metro_entry(
            t, s, a, AT, b"\x01\x02\x03\x04\x05\x06", 2).state, b, AT + 20000, 2).fen)
        out.append(lambda: engine.metro_entry(t, engine.metro_entry(
            t, s, a, AT, b"\x01\x02\x03\x04\x05\x06").state, b, AT + 60, b"\x01" * 6).fen)
        out.append(lambda: engine.metro_exit(t, TransitState(), b, AT).fen)
    return out


def _name(e):
    if isinstance(e, TariffError):
        return "TariffError"
    if isinstance(e, CardRefused):
        return "CardRefused"
    return "UNEXPECTED %s: %s" % (type(e).__name__, e)


def exercise(f):
    """['open' outcome, step outcomes...]: 'ok', 'TariffError', 'CardRefused' or
    'UNEXPECTED ...' for anything else."""
    try:
        t = Tariff(f)
    except Exception as e:
        return [_name(e)]
    out = ["ok"]
    try:
        steps = _steps(t)
    except Exception as e:
        return out + [_name(e)]
    for step in steps:
        try:
            step()
            out.append("ok")
        except Exception as e:
            out.append(_name(e))
    return out


if __name__ == "__main__":
    import json
    import sys

    for p in sys.argv[1:]:
        f = open(p, "rb")
        print(json.dumps(exercise(f)))
        f.close()
