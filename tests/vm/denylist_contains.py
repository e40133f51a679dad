"""Denylist lookups on the MicroPython VM (tests/test_denylist.py compares with CPython).

``micropython denylist_contains.py DIR PROBES.txt`` opens the denylist in the host directory
DIR, prints its version, then ``contains(number)`` as JSON for each line of PROBES.txt.
"""

import json
import sys

from ykt.store.denylist import Denylist
from ykt.store.vfs import Vfs

d = Denylist(Vfs(sys.argv[1]))
print(d.version)
for line in open(sys.argv[2]):
    print(json.dumps(d.contains(line.strip())))
