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


def pytest_sessionstart(session):
    """Compile what the VM runs once, before the workers of ``pytest -n`` start (each would
    otherwise wait its turn at the build's lock to find it done)."""
    if not hasattr(session.config, "workerinput"):
        from hw_sim.vm_bridge import vm_path

        vm_path()


@pytest.fixture(scope="session")
def fw():
    """The firmware modules the card-level tests use, imported under the simulator."""
    from ykt import crypto, errors, iso7816, sam
    from ykt.card import purse

    return types.SimpleNamespace(crypto=crypto, errors=errors, iso7816=iso7816, sam=sam,
                                 purse=purse)
