"""Canteen sale computation on the MicroPython VM (bench/pos.py).

``micropython pos_sale.py RULES.json N LOADS`` prints the mean microseconds to load the rule
set (LOADS times) and per ``price_sale`` of the stacked-promotion sale of docs/canteen.md
section 8 (N times), which must come to 8.12 yuan (3.00 subsidy, 5.12 cash).
"""

import json
import sys
import time

from ykt.pos import rules
from ykt.pos.pricing import CardState, price_sale

with open(sys.argv[1]) as f:
    d = json.load(f)
n = int(sys.argv[2])
loads = int(sys.argv[3])
t0 = time.ticks_us()
for _ in range(loads):
    r = rules.load(d)
t1 = time.ticks_us()
card = CardState(category=0, cash=10000, birth=19550101, flags=3, subsidy_balance=300,
                 subsidy_expiry=20250731)
basket = [(101, 1), (102, 1), (103, 1), (202, 1), (301, 1)]
now = (2025, 7, 15, 12, 5, 0)
for _ in range(n):
    s = price_sale(r, basket, "menu", None, card, now, "8866")
t2 = time.ticks_us()
assert (s.net, s.subsidy, s.cash) == (812, 300, 512), s
print(time.ticks_diff(t1, t0) // loads, time.ticks_diff(t2, t1) // n)
