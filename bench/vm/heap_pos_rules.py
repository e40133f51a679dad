"""The rest of heap_pos.py, exec'd in its globals (gc, sys, ykt, a, b, c) after the module
figures: prints b - a, c - b and the bytes the rule set RULES.json takes once loaded."""
# ruff: noqa: F821

import json

with open(sys.argv[2]) as f:
    r = ykt.pos.rules.load(json.load(f))
gc.collect()
print(b - a, c - b, gc.mem_alloc() - c)
