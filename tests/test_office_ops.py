"""The office's operations (docs/office.md "Operations"): `ykt office deny` publishes the next
denylist version signed for each terminal, retained, and the firmware installs it and refuses
the card; `ykt office publish` sends an update to a group, one signed file per member, with
its apply-by; `ykt office status` shows each terminal's heartbeat, clock drift and the updates
past their apply-by. Messages go through a real broker (amqtt and Mosquitto)."""

import datetime
import hashlib
import json

import pytest
from brokers import broker_fixture
from mqttpeer import peer

from host_tools import cli
from host_tools.lib import denylist, provision, updates
from host_tools.lib.errors import BadInput
from host_tools.lib.issuer import read_office_keys
from host_tools.lib.office import ops
from host_tools.lib.office import sync as wire
from host_tools.lib.office.db import open_db
from ykt.store import updates as fw
from ykt.store.denylist import Denylist
from ykt.store.vfs import Vfs

broker = broker_fixture

A, B, C = "290031000201", "290031000202", "290031000203"
CARD = "31012300000000000001"
OTHER = "31012300000000000002"
NOW = datetime.datetime(2026, 11, 29, 8, 0, 0)
T = wire.secs2000(NOW)


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    """A master key file as `ykt provision --new-master-key-file` writes it (with "tac")."""
    path = tmp_path_factory.mktemp("keys") / "master.json"
    provision.write_new_master_file(str(path))
    return path


@pytest.fixture
def dbpath(tmp_path):
    return str(tmp_path / "office.sqlite")


@pytest.fixture
def db(dbpath):
    d = open_db(dbpath)
    yield d
    d.close()


def _ykt(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _fleet_args(master, dbpath, broker):
    return ["--db", dbpath, "--keys", master, "--broker",
            "mqtt://%s:%d" % (broker.host, broker.port)]


def _beat(db, tid, drift=0, **kw):
    doc = {"v": 1, "id": tid, "role": "entry_gate", "fw": "0.1.0", "tariff": 0, "deny": 0,
           "config": 0, "staff": 0, "canteen": 0, "clock": T + drift, "used": 5, "free": 995,
           "last": 5, "acked": 5, "backlog": 0, "pending": 0}
    doc.update(kw)
    ops.store_heartbeat(db, wire.decode_heartbeat(json.dumps(doc).encode(), tid), T)


def _parts(master, dbpath, tid, man):
    """The file of a manifest, every part asked for from the office as a terminal would."""
    from host_tools.lib.office.service import Office

    office = Office(dbpath, read_office_keys(str(master)), lambda line: None)
    try:
        got = b""
        for first in range(0, man.count, 16):
            for m in office.handle("ykt/t/%s/get" % tid,
                                   wire.encode_get(man.version, first, 16, "canteen")):
                got += wire.decode_part(m.payload)[2]
    finally:
        office.close()
    return got


def _retained(broker, tid, name, decode=wire.decode_update):
    """The update retained on ykt/o/TID/upd/NAME, as a new subscriber gets it."""
    with peer(broker) as p:
        p.subscribe("ykt/o/%s/upd/%s" % (tid, name))
        # (amqtt 0.12 also hands a new subscription other topics' retained messages)
        topic, payload, retained = p.next("ykt/o/%s/upd/%s" % (tid, name))
    assert retained
    return decode(payload)


def _install(tmp_path, tid, master, upd):
    """The firmware's update installer on a terminal's files: the outcome, its denylist."""
    (tmp_path / tid).mkdir()
    fs = Vfs(str(tmp_path / tid))
    fs.mkdir("/inbox")
    with fs.open("/inbox/deny", "wb") as f:
        f.write(upd.file)
    update_master = read_office_keys(str(master)).update_master
    out = fw.Updates(fs, fw.device_key(update_master, bytes.fromhex(tid)),
                     bytes.fromhex(tid)).scan_inbox()
    return out, Denylist(fs)


# -- deny -------------------------------------------------------------------------------------

def test_deny_publishes_a_signed_denylist_the_firmware_installs_and_enforces(
        capsys, broker, master, dbpath, tmp_path):
    code, out, err = _ykt(capsys, "office", "deny", CARD, "--reason", "stolen on line 2",
                          "--terminals", A, B, *_fleet_args(master, dbpath, broker))
    assert (code, err) == (0, "")
    assert "denylist v1 denies card 310123**********0001 (stolen on line 2): 2 terminal(s)" \
        in out
    assert CARD not in out
    update_master = read_office_keys(str(master)).update_master
    for tid in (A, B):
        upd = _retained(broker, tid, "denylist")
        assert (upd.kind, upd.terminal, upd.version, upd.apply_by) == ("denylist", tid, 1, 0)
        assert updates.verify(upd.file, update_master)
        outcome, deny = _install(tmp_path, tid, master, upd)
        assert [o.installed for o in outcome] == [True]
        assert deny.contains(CARD) == (True, denylist.REASONS["stolen"])
        assert deny.contains(OTHER)[0] is False


def test_a_terminal_refuses_the_denylist_signed_for_another(broker, master, db, tmp_path):
    keys = read_office_keys(str(master))
    _, msgs = ops.deny(db, keys, CARD, "lost", [A], T)
    upd = wire.decode_update(msgs[0].payload)
    outcome, deny = _install(tmp_path, B, master, upd)
    assert [o.installed for o in outcome] == [False]
    assert deny.contains(CARD)[0] is False


def test_each_deny_is_the_next_version_with_every_card_denied_so_far(master, db):
    keys = read_office_keys(str(master))
    ops.deny(db, keys, CARD, "lost", [A], T)
    version, msgs = ops.deny(db, keys, OTHER, "fraud", [A], T)
    upd = wire.decode_update(msgs[0].payload)
    payload = upd.file[updates.HEADER_SIZE:-updates.MAC_SIZE]
    assert version == 2
    assert denylist.read_base(payload) == (2, [(CARD, denylist.REASONS["lost"]),
                                               (OTHER, denylist.REASONS["fraud"])])


def test_deny_goes_to_every_terminal_known_and_above_any_version_they_hold(master, db):
    _beat(db, A, deny=7)
    _beat(db, B)
    version, msgs = ops.deny(db, read_office_keys(str(master)), CARD, "blocked", None, T)
    assert version == 8
    assert [m.topic for m in msgs] == ["ykt/o/%s/upd/denylist" % t for t in (A, B)]
    assert all(m.retain for m in msgs)


def test_deny_with_no_terminal_known_is_one_line_exit_2(capsys, broker, master, dbpath):
    code, out, err = _ykt(capsys, "office", "deny", CARD, "--reason", "lost",
                          *_fleet_args(master, dbpath, broker))
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert "no terminals to publish to" in err


def test_deny_that_cannot_reach_the_broker_records_nothing(capsys, master, dbpath):
    from brokers import free_port

    code, out, err = _ykt(capsys, "office", "deny", CARD, "--reason", "lost", "--terminals", A,
                          "--db", dbpath, "--keys", master, "--broker",
                          "mqtt://127.0.0.1:%d" % free_port())
    assert (code, out, err.count("\n")) == (1, "", 1)
    assert "cannot reach the broker" in err
    d = open_db(dbpath)
    try:
        assert d.one("SELECT COUNT(*) FROM denylist")[0] == 0
        assert d.one("SELECT COUNT(*) FROM updates")[0] == 0
    finally:
        d.close()


# -- publish to a group -----------------------------------------------------------------------

def test_publish_sends_each_group_member_its_own_signed_update_with_the_apply_by(
        capsys, broker, master, dbpath):
    assert _ykt(capsys, "office", "group", "canteens", A, C, "--db", dbpath)[0] == 0
    code, out, err = _ykt(capsys, "office", "publish", "canteens/putuo-example.json",
                          "--kind", "canteen", "--group", "canteens", "--apply-by",
                          "2026-12-01T04:00", *_fleet_args(master, dbpath, broker))
    assert (code, err) == (0, "")
    version = updates.canteen_version(open("canteens/putuo-example.json", "rb").read())
    update_master = read_office_keys(str(master)).update_master
    for tid in (A, C):
        # a rule set is larger than a terminal's packet: a manifest, the file in parts
        man = _retained(broker, tid, "canteen", wire.decode_retained)
        assert isinstance(man, wire.Manifest)
        assert (man.kind, man.terminal, man.version) == ("canteen", tid, version)
        assert man.apply_by == wire.secs2000(datetime.datetime(2026, 12, 1, 4, 0))
        file = _parts(master, dbpath, tid, man)
        assert hashlib.sha256(file).digest() == man.digest
        assert updates.verify(file, update_master)
    assert "to group canteens, apply by 2026-12-01T04:00:00: 2 terminal(s)" in out


def test_groups_are_listed_and_replaced(capsys, dbpath):
    _ykt(capsys, "office", "group", "line-2", A, B, "--db", dbpath)
    _ykt(capsys, "office", "group", "line-2", C, "--db", dbpath)
    _ykt(capsys, "office", "group", "pos", A, "--db", dbpath)
    code, out, _ = _ykt(capsys, "office", "group", "--db", dbpath)
    assert (code, out) == (0, "line-2: %s\npos: %s\n" % (C, A))


def test_publish_to_a_group_that_does_not_exist_is_one_line_exit_2(capsys, broker, master,
                                                                     dbpath, tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text("{}")
    code, out, err = _ykt(capsys, "office", "publish", cfg, "--kind", "config", "--version",
                          "2", "--group", "nobody", "--apply-by", "now",
                          *_fleet_args(master, dbpath, broker))
    assert (code, out, err.count("\n")) == (2, "", 1) and "no group 'nobody'" in err


def test_an_update_a_terminal_would_refuse_as_a_rollback_is_bad_input(master, db):
    _beat(db, A, config=3)
    with pytest.raises(BadInput, match="has config v3 installed: v3 would be refused"):
        ops.publish_update(db, read_office_keys(str(master)), "config", 3, b"{}", [A, B], 0, T)
    assert db.one("SELECT COUNT(*) FROM updates")[0] == 0


@pytest.mark.parametrize("kind, payload, version, what", [
    ("config", b"{}", None, "needs --version"),
    ("canteen", b'{"version": 3, "periods": []}', 4, "version 3, not 4"),
    ("config", b"YKUP" + bytes(40), 2, "signed update file"),
])
def test_a_payload_and_version_that_do_not_agree_are_bad_input(kind, payload, version, what):
    with pytest.raises(BadInput, match=what):
        ops.payload_version(kind, payload, version)


@pytest.mark.parametrize("text, secs", [
    ("now", 0), ("+2h", T + 7200), ("+90", T + 90), ("2026-12-01T04:00",
                                                     wire.secs2000(datetime.datetime(
                                                         2026, 12, 1, 4)))])
def test_apply_by_times(text, secs):
    assert ops.parse_time(text, NOW) == secs


# -- status -----------------------------------------------------------------------------------

def test_status_shows_clock_drift_and_the_updates_past_their_apply_by(master, db):
    keys = read_office_keys(str(master))
    _beat(db, A, drift=-400, config=1)
    _beat(db, B, drift=5)
    ops.publish_update(db, keys, "config", 2, b"{}", [A, B], T - 60, T - 3600)  # overdue
    ops.publish_update(db, keys, "staff", 1, b"[]", [B], T + 3600, T)  # not yet due
    rows = {r["terminal"]: r for r in ops.status(db, T, max_drift=60)}
    assert (rows[A]["heartbeat"]["drift"], rows[A]["drift_bad"]) == (-400, True)
    assert (rows[B]["heartbeat"]["drift"], rows[B]["drift_bad"]) == (5, False)
    assert rows[A]["overdue"] == [{"name": "config", "version": 2, "apply_by": T - 60}]
    assert rows[B]["overdue"] == [{"name": "config", "version": 2, "apply_by": T - 60}]
    assert rows[B]["waiting"] == [{"name": "staff", "version": 1, "apply_by": T + 3600}]


def test_an_installed_update_is_not_overdue(master, db):
    ops.publish_update(db, read_office_keys(str(master)), "config", 2, b"{}", [A], T - 60,
                       T - 3600)
    _beat(db, A, config=2)
    assert ops.status(db, T)[0]["overdue"] == []


def test_ykt_office_status_prints_drift_and_overdue_and_exits_1(capsys, master, dbpath):
    d = open_db(dbpath)
    try:
        _beat(d, A, drift=300, backlog=12)
        ops.publish_update(d, read_office_keys(str(master)), "config", 2, b"{}", [A], 1, 0)
    finally:
        d.close()
    code, out, err = _ykt(capsys, "office", "status", "--db", dbpath)
    assert (code, err) == (1, "")
    assert "backlog 12" in out and "clock +300 s  CLOCK OFF" in out
    assert "    OVERDUE config v2: apply by 2000-01-01T00:00:01" in out
    code, out, _ = _ykt(capsys, "office", "status", "--db", dbpath, "--json")
    assert json.loads(out)[0]["overdue"][0]["version"] == 2


def test_the_simulator_seed_signs_with_the_scenarios_update_master():
    import officekit

    from host_tools.lib.issuer import seed_keys
    from hw_sim.scenario import DEFAULT_SEED, Scenario

    sc = Scenario(officekit.two_operators([]))
    assert seed_keys(DEFAULT_SEED).update_master == sc.update_master()
