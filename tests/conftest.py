"""Test set-up: firmware importable under CPython through the simulator's stand-ins."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
if FIRMWARE not in sys.path:
    sys.path.insert(0, FIRMWARE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import hw_sim  # noqa: E402

hw_sim.install()

FULL = bool(os.environ.get("YKT_FULL"))
