"""`update-installed` and `update-refused` journal records carry the update file's kind
(tx_type) and version (tseq), as docs/stores.md says; 0 and 0 when the header could not be
read."""

import pytest
from simrun import events, journal, scenario

from host_tools.lib import updates as host
from hw_sim.scenario import Run

OTHER_TID = bytes.fromhex("290000009999")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A fixed-fare terminal that finds, at boot, a config v3 (installed), a config v2
    (older), a file that is no update, a staff list for another terminal, and then the
    scenario's own denylist v1 (installed)."""
    data = scenario([{"at": 2, "tap": "alice"}], denylist=["bob"])
    r = Run(data, "test")
    master = r.scenario.update_master()
    tid = bytes.fromhex(r.scenario.terminal_config()["terminal_id"])
    files = {
        "a-config": host.sign("config", 3, tid, b"{}", master),
        "b-config-old": host.sign("config", 2, tid, b"{}", master),
        "c-garbage": b"not an update file",
        "d-staff-elsewhere": host.sign("staff", 9, OTHER_TID, b"[]", master, check=False),
    }
    fs = r.sim.filesystem()
    for name, data in files.items():
        with fs.open("/inbox/" + name, "wb") as f:
            f.write(data)
    r.run()
    return r


def _updates(r):
    return [(x["kind"], x["tx_type"], x["tseq"]) for x in journal(r)
            if x["kind"].startswith("update-")]


def test_an_installed_file_is_recorded_with_its_kind_and_version(run):
    assert ("update-installed", 4, 3) in _updates(run)  # config v3
    assert ("update-installed", 2, 1) in _updates(run)  # denylist v1


def test_a_refused_file_whose_header_was_read_is_recorded_with_its_kind_and_version(run):
    assert ("update-refused", 4, 2) in _updates(run)  # older than installed
    assert ("update-refused", 5, 9) in _updates(run)  # not for this device


def test_a_file_with_no_readable_header_is_recorded_with_zeroes(run):
    assert ("update-refused", 0, 0) in _updates(run)


def test_one_record_per_file_in_inbox_order(run):
    assert _updates(run) == [("update-installed", 4, 3), ("update-refused", 4, 2),
                             ("update-refused", 0, 0), ("update-refused", 5, 9),
                             ("update-installed", 2, 1)]
    reasons = [e["reason"] for e in events(run, "update-refused")]
    assert reasons == ["older than installed (v2 <= v3)", "bad magic", "not for this device"]
