"""The exactly-once sweep in full (``make test-full``, YKT_FULL=1): every fault at every
APDU and every flash operation of the tap (each operation also cut mid-write), every
re-tap, every transaction kind on CPython; every second fault on the settling tap; and
a larger seeded sample on the VM.

The cases and the judge are tests/test_exactly_once.py's.
"""

import pytest
from conftest import FULL
from test_exactly_once import (  # noqa: F401
    APDU_FAULTS,
    FAMILIES,
    FORGES,
    KINDS,
    RETAPS,
    again_cases,
    cases,
    family,
    probes,
    sample,
    sweep,
)

pytestmark = [pytest.mark.full,
              pytest.mark.skipif(not FULL, reason="the full sweep: make test-full (YKT_FULL=1)")]

VM_CASES = 12  # per kind: one of every fault family, then seeded others


@pytest.mark.parametrize("name", list(KINDS))
def test_every_fault_and_retap_charges_exactly_once(name, probes, tmp_path):
    kind, p = KINDS[name], probes[name]
    assert (p.apdus, p.ops >= 4) == (kind.apdus, True)
    every = cases(kind, p, full=True)
    failures = sweep(kind, every, p, tmp_path, label="full")
    assert len(every) == (len(APDU_FAULTS) * p.apdus + 2 * p.ops + len(FORGES)) * len(RETAPS)
    assert failures == []


@pytest.mark.parametrize("name", list(KINDS))
def test_every_fault_on_the_settling_tap_too_charges_exactly_once(name, probes, tmp_path):
    kind, p = KINDS[name], probes[name]
    every = again_cases(kind, p)
    failures = sweep(kind, every, p, tmp_path, label="full again")
    assert len(every) >= 90
    assert failures == []


@pytest.mark.parametrize("name", list(KINDS))
def test_a_larger_sample_on_the_micropython_vm_charges_exactly_once(name, probes, tmp_path):
    kind, p = KINDS[name], probes[name]
    picked = sample(kind, p, VM_CASES, seed=9)
    failures = sweep(kind, picked, p, tmp_path, "micropython", label="full sample")
    assert len(picked) == VM_CASES
    assert {family(f) for f, _ in picked} == FAMILIES
    assert failures == []
