"""Canteen pricing cases that run unchanged on both runtimes (tests/test_pos_pricing.py):
CPython imports ``run_cases``; on the VM ``micropython pos_cases.py RULES.json CASES.json``
prints ``run_cases(rules, cases)`` as JSON."""

from ykt.pos import rules as R
from ykt.pos.canteen_record import CanteenRecord
from ykt.pos.pricing import CardState, price_sale


def run_cases(rule_dict, cases):
    r = R.load(rule_dict)
    out = []
    for c in cases:
        rec = CanteenRecord(**c["record"])
        today = c["now"][0] * 10000 + c["now"][1] * 100 + c["now"][2]
        state = CardState.from_record(c["category"], c["cash"], rec, today)
        s = price_sale(r, c.get("basket"), c["mode"], c.get("period"), state, tuple(c["now"]),
                       c.get("coupon"))
        row = [s.gross, [[t.kind, t.name, t.before, t.after, t.delta] for t in s.steps],
               s.net, s.subsidy, s.cash, s.pin_required, s.refused]
        if s.refused is None:
            row.append(rec.after_sale(s, today).encode().hex())
        out.append(row)
    return out


if __name__ == "__main__":
    import json
    import sys

    with open(sys.argv[1]) as f:
        rule_dict = json.load(f)
    with open(sys.argv[2]) as f:
        cases = json.load(f)
    print(json.dumps(run_cases(rule_dict, cases)))
