"""Test set-up: firmware importable under CPython through the simulator's stand-ins."""

import os
import sys
import types

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
if FIRMWARE not in sys.path:
    sys.path.insert(0, FIRMWARE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import hw_sim  # noqa: E402

hw_sim.install()

FULL = bool(os.environ.get("YKT_FULL"))


@pytest.fixture(scope="session")
def fw():
    """The firmware modules the card-level tests use, imported under the simulator."""
    from ykt import crypto, errors, iso7816, sam
    from ykt.card import purse

    return types.SimpleNamespace(crypto=crypto, errors=errors, iso7816=iso7816, sam=sam,
                                 purse=purse)
