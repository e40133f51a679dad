"""Power cut at any flash operation of a 200-purchase run: nothing lost, nothing charged twice.

The default run cuts at a seeded sample of operations (some mid-write); ``make test-full``
(YKT_FULL=1) cuts at every one of them.
"""

import random

import pytest
from conftest import FULL
from powercut import Reference, check, cut_run

SAMPLE = 50
SAMPLE_PARTIAL = 500 if FULL else 20
SAMPLE_VM = 20 if FULL else 4


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    return Reference(tmp_path_factory.mktemp("reference"))


def _points(ref, n, seed, every=False):
    if every:
        return list(range(1, ref.total_ops + 1))
    return sorted(random.Random(seed).sample(range(1, ref.total_ops + 1), n))


def test_reference_run_has_200_purchases_and_their_flash_operations(ref):
    assert len(ref.tap_ops) == 200
    assert ref.total_ops > 200 * 4  # several program/erase operations per purchase


def test_power_cut_at_sampled_operations_loses_and_duplicates_nothing(ref, tmp_path):
    failures = []
    for k in _points(ref, SAMPLE, 1, every=FULL):
        r = cut_run(ref, k, tmp_path / ("k%d" % k))
        assert r.power_cuts, "the cut at op %d did not happen" % k
        failures += ["op %d: %s" % (k, v) for v in check(ref, r)]
    assert failures == []


def test_power_cut_mid_write_loses_and_duplicates_nothing(ref, tmp_path):
    rng = random.Random(2)
    failures = []
    for k in _points(ref, SAMPLE_PARTIAL, 3):
        r = cut_run(ref, k, tmp_path / ("p%d" % k), partial=rng.randrange(1, 4096))
        failures += ["op %d: %s" % (k, v) for v in check(ref, r)]
    assert failures == []


def test_power_cut_on_the_micropython_vm_loses_and_duplicates_nothing(ref, tmp_path):
    failures = []
    for k in _points(ref, SAMPLE_VM, 4):
        r = cut_run(ref, k, tmp_path / ("vm%d" % k), runtime="micropython")
        assert r.power_cuts
        failures += ["op %d: %s" % (k, v) for v in check(ref, r)]
    assert failures == []
