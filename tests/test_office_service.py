"""`ykt office serve` (docs/sync.md): a terminal's journal records published on a real broker
(amqtt and Mosquitto) are stored once and acknowledged with a MAC the terminal can check;
holes are asked for again; a tampered record is kept aside and never acknowledged; heartbeats
are stored, a drifting clock gets the office's time; bad messages are one line each and the
service goes on. The terminal is a host peer publishing real records from simulator runs."""

import datetime
import json
import os
import signal
import subprocess
import sys
import threading

import mqttpeer
import officekit
import pytest
from brokers import amqtt_broker, broker_fixture
from mqttpeer import office_service, peer
from officekit import KEYS, NUMBERS, TIDS, journal_files, raw_records, two_operators

from host_tools.lib import journal
from host_tools.lib.errors import BadInput
from host_tools.lib.issuer import sim_device_key, sim_update_master
from host_tools.lib.office import ingest, ops
from host_tools.lib.office import sync as wire
from host_tools.lib.office.db import open_db
from host_tools.lib.office.service import BrokerOptions, publish_messages
from hw_sim.scenario import DEFAULT_SEED

broker = broker_fixture
pg_server = officekit.pg_server

TID = TIDS["A"]
TBYTES = bytes.fromhex(TID)
KEY = sim_device_key(DEFAULT_SEED, TBYTES)
NOW = datetime.datetime(2026, 11, 29, 8, 0, 0)
TAPS = [(1, "A", "alice"), (3, "A", "bob"), (5, "A", "carol"), (7, "B", "alice")]


def rec_topic(tid=TID):
    return "ykt/t/%s/rec" % tid


def hb_topic(tid=TID):
    return "ykt/t/%s/hb" % tid


@pytest.fixture(scope="module")
def recs():
    """Terminal A's journal records from one simulator run (boot, intents, purchases)."""
    return raw_records(journal_files(officekit.run(two_operators(TAPS)), "A"))


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "office.sqlite")
    return request.getfixturevalue("pg_server").new_database(mqttpeer.unique("svc").replace(
        "-", "_"))


@pytest.fixture
def sqlite(tmp_path):
    return str(tmp_path / "office.sqlite")


def heartbeat(tid=TID, drift=0, **kw):
    doc = {"v": 1, "id": tid, "role": "fixed_fare", "fw": "0.1.0", "tariff": 0, "deny": 0,
           "config": 0, "staff": 0, "canteen": 0, "clock": wire.secs2000(NOW) + drift,
           "used": 10, "free": 990, "last": 0, "acked": 0, "backlog": 0, "pending": 0}
    doc.update(kw)
    return json.dumps(doc).encode()


def serve(broker, db, **kw):
    kw.setdefault("now", lambda: NOW)
    return office_service(broker, db, KEYS, **kw)


def terminal(broker, tid=TID):
    """A peer playing terminal ``tid``, subscribed to everything the office sends it."""
    p = mqttpeer.Peer(broker)
    p.subscribe("ykt/o/%s/#" % tid)
    return p


def acked(p):
    """The seq of the next ack, its MAC checked with the terminal's journal key."""
    _, payload, _ = p.next("/ack")
    seq, _ = wire.decode_ack(payload, KEY, TBYTES)
    return seq


def _forge(raw, amount):
    edited = bytearray(raw)
    edited[28:32] = amount.to_bytes(4, "big", signed=True)
    return journal.seal(bytes(edited))


def _count(target, table):
    db = open_db(target)
    try:
        return db.one("SELECT COUNT(*) FROM %s WHERE terminal = ?" % table, (TID,))[0]
    finally:
        db.close()


# -- the messages -----------------------------------------------------------------------------

def test_an_ack_mac_verifies_only_for_its_terminal_and_seq():
    msg = wire.encode_ack(KEY, TBYTES, 7)
    assert wire.decode_ack(msg, KEY, TBYTES)[0] == 7
    with pytest.raises(BadInput, match="MAC does not verify"):
        wire.decode_ack(msg[:4] + b"\x08" + msg[5:], KEY, TBYTES)
    with pytest.raises(BadInput, match="MAC does not verify"):
        wire.decode_ack(msg, sim_device_key(DEFAULT_SEED, bytes.fromhex(TIDS["B"])),
                        bytes.fromhex(TIDS["B"]))


@pytest.mark.parametrize("data, what", [
    (b"", "empty message"), (b"\x02" + bytes(64), "version byte 0x02"),
    (b"\x01" + bytes(63), "too short"), (b"\x01" + bytes(65), "not a multiple of 64"),
    (b"\x01" + bytes(64 * 17), "at most 16")])
def test_a_malformed_record_batch_is_bad_input_in_one_line(data, what):
    with pytest.raises(BadInput, match=what) as e:
        wire.decode_records(data)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("change, what", [
    ({"v": 2}, "version 2"), ({"id": TIDS["B"]}, "names terminal"), ({"last": -1}, "'last'"),
    ({"deny": "3"}, "'deny'"), ({"role": 5}, "'role'")])
def test_a_heartbeat_that_breaks_the_contract_is_bad_input(change, what):
    doc = json.loads(heartbeat())
    doc.update(change)
    with pytest.raises(BadInput, match=what):
        wire.decode_heartbeat(json.dumps(doc).encode(), TID)


def test_every_office_message_decodes_to_what_was_encoded():
    signed = __import__("host_tools.lib.updates", fromlist=["sign"]).sign(
        "config", 3, TBYTES, b"{}", sim_update_master(DEFAULT_SEED))
    upd = wire.decode_update(wire.encode_update(1234, signed))
    assert (upd.apply_by, upd.kind, upd.terminal, upd.version, upd.file) == (
        1234, "config", TID, 3, signed)
    assert wire.decode_update(b"") is None
    assert wire.decode_resend(wire.encode_resend(3, 9)) == (3, 9)
    assert wire.decode_time(wire.encode_time(wire.secs2000(NOW))) == wire.secs2000(NOW)
    hb = wire.decode_heartbeat(heartbeat(backlog=4), TID)
    assert wire.decode_heartbeat(wire.encode_heartbeat(hb), TID) == hb


# -- the service ------------------------------------------------------------------------------

def test_records_are_stored_once_and_acknowledged_with_a_mac_that_verifies(broker, target,
                                                                           recs):
    with serve(broker, target), peer(broker) as t:
        t.subscribe("ykt/o/%s/#" % TID)
        t.publish(rec_topic(), wire.encode_records(recs))
        assert acked(t) == len(recs)
        t.publish(rec_topic(), wire.encode_records(recs))  # delivered again
        assert acked(t) == len(recs)
    assert _count(target, "records") == len(recs)


def test_a_gap_is_asked_for_again_and_the_resent_records_complete_the_ack(broker, sqlite,
                                                                           recs):
    with serve(broker, sqlite), peer(broker) as t:
        t.subscribe("ykt/o/%s/#" % TID)
        t.publish(rec_topic(), wire.encode_records(recs[:2] + recs[4:]))
        assert acked(t) == 2
        _, payload, _ = t.next("/resend")
        assert wire.decode_resend(payload) == (3, 4)
        t.publish(rec_topic(), wire.encode_records(recs[2:4]))
        assert acked(t) == len(recs)


def test_a_tampered_record_is_quarantined_and_never_acknowledged(broker, sqlite, recs):
    seq = next(journal.decode(r).seq for r in recs if journal.decode(r).kind == 0x11)
    forged = recs[:seq - 1] + [_forge(recs[seq - 1], 1)] + recs[seq:]
    with serve(broker, sqlite) as (_, lines), peer(broker) as t:
        t.subscribe("ykt/o/%s/#" % TID)
        t.publish(rec_topic(), wire.encode_records(forged))
        assert acked(t) == seq - 1
        assert wire.decode_resend(t.next("/resend")[1]) == (seq, seq)
    assert "%s: QUARANTINED seq %d: %s" % (TID, seq, ingest.CHAIN_BROKEN) in lines
    assert _count(sqlite, "quarantine") == 1


def test_a_heartbeat_is_stored_and_a_drifting_clock_gets_the_office_time(broker, sqlite):
    with serve(broker, sqlite, max_drift=60), peer(broker) as t:
        t.subscribe("ykt/o/%s/#" % TID)
        t.publish(hb_topic(), heartbeat(drift=-300, backlog=3))
        _, payload, _ = t.next("/time")
        assert wire.decode_time(payload) == wire.secs2000(NOW)
    db = open_db(sqlite)
    try:
        assert db.one("SELECT drift, backlog, beats FROM heartbeats WHERE terminal = ?",
                      (TID,)) == (-300, 3, 1)
    finally:
        db.close()


def test_a_clock_within_the_allowed_drift_gets_no_time(broker, sqlite, recs):
    with serve(broker, sqlite, max_drift=60), peer(broker) as t:
        t.subscribe("ykt/o/%s/#" % TID)
        t.publish(hb_topic(), heartbeat(drift=45))
        t.publish(rec_topic(), wire.encode_records(recs[:1]))  # its ack comes after any time
        topic, _, _ = t.next()
        assert topic.endswith("/ack")


def test_a_heartbeat_holding_an_older_ack_gets_the_ack_again(broker, sqlite, recs):
    with serve(broker, sqlite), peer(broker) as t:
        t.subscribe("ykt/o/%s/#" % TID)
        t.publish(rec_topic(), wire.encode_records(recs))
        assert acked(t) == len(recs)
        t.publish(hb_topic(), heartbeat(last=len(recs), acked=2, backlog=len(recs) - 2))
        assert acked(t) == len(recs)


def test_records_a_heartbeat_names_and_the_office_lacks_are_asked_for(broker, sqlite):
    with serve(broker, sqlite, resend_after=0), peer(broker) as t:
        t.subscribe("ykt/o/%s/#" % TID)
        t.publish(hb_topic(), heartbeat(last=12, backlog=12))
        assert wire.decode_resend(t.next("/resend")[1]) == (1, 12)


def test_a_resend_never_asks_for_records_the_terminal_has_freed(broker, sqlite):
    with serve(broker, sqlite, resend_after=0), peer(broker) as t:
        t.subscribe("ykt/o/%s/#" % TID)
        t.publish(hb_topic(), heartbeat(last=12, acked=5, backlog=7))
        assert wire.decode_resend(t.next("/resend")[1]) == (6, 12)


def test_malformed_messages_are_one_line_each_and_the_service_goes_on(broker, sqlite, recs):
    with serve(broker, sqlite) as (office, lines), peer(broker) as t:
        t.subscribe("ykt/o/%s/#" % TID)
        t.publish(rec_topic(), b"\x02" + recs[0])
        t.publish(hb_topic(), b"{not json")
        t.publish("ykt/t/not-a-terminal/rec", wire.encode_records(recs[:1]))
        t.publish(rec_topic(), wire.encode_records(recs[:1]))
        assert acked(t) == 1
    refused = [ln for ln in lines if "refused" in ln]
    assert refused == [
        "%s: refused: records: version byte 0x02, not 0x01" % rec_topic(),
        "%s: refused: heartbeat: not a JSON object" % hb_topic(),
        "ykt/t/not-a-terminal/rec: refused: terminal id 'not-a-terminal': 12 lower-case hex "
        "digits"]
    assert office.counts["bad"] == 3


def test_a_bad_tac_is_logged_with_the_card_masked(broker, sqlite):
    run = officekit.run(two_operators([(1, "A", "alice")]),
                        lambda r: officekit.other_tac_issuer_card(r, "alice"))
    recs = raw_records(journal_files(run, "A"))
    with serve(broker, sqlite) as (_, lines), peer(broker) as t:
        t.subscribe("ykt/o/%s/#" % TID)
        t.publish(rec_topic(), wire.encode_records(recs))
        assert acked(t) == len(recs)  # stored (the chain is the terminal's), not settled
    bad = [ln for ln in lines if "BAD TAC" in ln]
    assert len(bad) == 1 and "310123**********0001" in bad[0]
    assert not any(NUMBERS["alice"] in ln for ln in lines)


def test_an_update_a_heartbeat_shows_installed_has_its_retained_message_cleared(broker,
                                                                                 sqlite):
    db = open_db(sqlite)
    try:
        msgs = ops.publish_update(db, KEYS, "config", 4, b'{"idle_ms": 500}', [TID], 0,
                                  wire.secs2000(NOW))
    finally:
        db.close()
    publish_messages(BrokerOptions(broker.host, broker.port), msgs)
    with serve(broker, sqlite), peer(broker) as t:
        t.subscribe("ykt/o/%s/upd/#" % TID)
        topic, payload, retained = t.next("/upd/config")
        assert (retained, wire.decode_update(payload).version) == (True, 4)
        t.publish(hb_topic(), heartbeat(config=4))
        while payload:  # (amqtt may deliver the retained message to a subscription twice)
            topic, payload, _ = t.next("/upd/config")
    db = open_db(sqlite)
    try:
        assert db.one("SELECT cleared FROM updates WHERE terminal = ?", (TID,))[0] is not None
    finally:
        db.close()


def test_ykt_office_serve_stops_cleanly_on_sigterm(tmp_path):
    with amqtt_broker() as b:
        _serve_until_sigterm(b, tmp_path)


def _serve_until_sigterm(broker, tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"format": "ykt-issuer-seed/1", "seed": DEFAULT_SEED}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "host_tools.cli", "office", "serve", "--broker",
         "mqtt://%s:%d" % (broker.host, broker.port), "--db", str(tmp_path / "o.sqlite"),
         "--keys", str(seed), "--client-id", mqttpeer.unique("cli")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    up = threading.Event()
    out = []

    def read():
        for line in proc.stdout:
            out.append(line)
            if "subscribed" in line:
                up.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert up.wait(mqttpeer.HANG_S), out
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(mqttpeer.HANG_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(mqttpeer.HANG_S)
    assert proc.stderr.read() == ""
    assert "stopped: 0 record(s) received" in out[-1]


def test_the_service_comes_back_with_the_broker_and_goes_on(tmp_path, sqlite, recs):
    port = mqttpeer.brokers.free_port()
    (tmp_path / "1").mkdir()
    (tmp_path / "2").mkdir()
    first = mqttpeer.mosquitto_with_acl(tmp_path / "1", port=port)
    b = first.__enter__()
    try:
        with serve(b, sqlite) as (office, lines):
            with peer(b) as t:
                t.subscribe("ykt/o/%s/#" % TID)
                t.publish(rec_topic(), wire.encode_records(recs[:2]))
                assert acked(t) == 2
            first.__exit__(None, None, None)  # the broker goes away
            first = None
            with mqttpeer.mosquitto_with_acl(tmp_path / "2", port=port) as b2:
                assert mqttpeer.wait_for(lambda: sum("subscribed" in ln for ln in lines) == 2)
                with peer(b2) as t:
                    t.subscribe("ykt/o/%s/#" % TID)
                    t.publish(rec_topic(), wire.encode_records(recs[2:]))
                    assert acked(t) == len(recs)
    finally:
        if first is not None:
            first.__exit__(None, None, None)
    assert any(ln.startswith("lost the broker") for ln in lines)
    assert _count(sqlite, "records") == len(recs)


# -- with the terminal's own sync (firmware/ykt/net/sync.py) in a simulator scenario --------

def _synced_day(broker, tid):
    config = {"fare_fen": 300, "terminal_id": tid, "wifi": {"ssid": "depot", "password": "x"},
              "mqtt": {"host": broker.host, "port": broker.port, "user": tid,
                       "password": "pw", "keepalive": 30}}
    taps = [{"at": at, "tap": "a" if at % 2 else "b"} for at in (2, 6, 10, 40, 44)]
    return {"start": "2026-11-29T07:00:00",
            "terminals": [{"id": "T1", "role": "fixed_fare", "board": "devkitc-turnstile",
                           "config": config}],
            "cards": [{"name": "a", "number": NUMBERS["alice"], "balance_fen": 5000},
                      {"name": "b", "number": NUMBERS["bob"], "balance_fen": 5000}],
            "events": taps + [{"at": 20, "link": False}, {"at": 60, "link": True},
                              {"at": 150, "link": True}]}


def test_a_terminal_syncing_in_a_scenario_is_stored_whole_and_frees_only_what_was_acked(
        broker, sqlite):
    from host_tools.lib.office import settlement

    tid = "2900%08x" % (os.getpid() * 16 + (broker.kind == "mosquitto"))
    with serve(broker, sqlite, max_drift=10**9) as (office, lines):  # its clock stays its own
        run = officekit.run(_synced_day(broker, tid))
        db = open_db(sqlite)
        try:
            def last():
                row = db.one("SELECT last FROM heartbeats WHERE terminal = ?", (tid,))
                return row[0] if row else None

            assert mqttpeer.wait_for(lambda: last() and ingest.watermark(db, tid) >= last())
            mark = ingest.watermark(db, tid)
            stored = [bytes.fromhex(r[0]) for r in db.query(
                "SELECT raw FROM records WHERE terminal = ? ORDER BY seq", (tid,))]
            bad = ingest.bad_tacs(db)
            paid = settlement.report(db)["totals"]["debit_fen"]
        finally:
            db.close()
    files = journal_files(run, "T1")
    on_flash = {journal.decode(r).seq: r for r in raw_records(files) if journal.crc_ok(r)}
    assert [journal.decode(r).seq for r in stored] == list(range(1, mark + 1))
    assert all(on_flash[journal.decode(r).seq] == r for r in stored if
               journal.decode(r).seq in on_flash)  # the office holds the terminal's bytes
    assert bad == [] and paid == officekit.paid(run) == 5 * 300
    freed_to, _, _ = journal._ack(files, sim_device_key(DEFAULT_SEED, bytes.fromhex(tid)))
    assert 0 < freed_to <= mark  # the firmware took the office's ack: freed only what it had
    assert not [ln for ln in lines if "refused" in ln or "QUARANTINED" in ln]


def test_a_card_denied_at_the_office_is_refused_by_the_terminal_that_took_the_update(
        broker, sqlite):
    tid = "2901%08x" % (os.getpid() * 16 + (broker.kind == "mosquitto"))
    db = open_db(sqlite)
    try:
        version, msgs = ops.deny(db, KEYS, NUMBERS["bob"], "stolen", [tid], wire.secs2000(NOW))
    finally:
        db.close()
    publish_messages(BrokerOptions(broker.host, broker.port), msgs)  # retained, waiting
    day = _synced_day(broker, tid)
    day["events"] = [{"at": 2, "tap": "a"}, {"at": 120, "tap": "b"}, {"at": 130, "tap": "a"}]
    with serve(broker, sqlite, max_drift=10**9) as (office, lines):
        run = officekit.run(day)
        db = open_db(sqlite)
        try:
            def cleared():
                return db.one("SELECT cleared FROM updates WHERE terminal = ?", (tid,))[0]

            assert mqttpeer.wait_for(lambda: cleared() is not None)
            deny = db.one("SELECT deny FROM heartbeats WHERE terminal = ?", (tid,))[0]
        finally:
            db.close()
    events = [json.loads(x) for x in run.lines]
    refused = [e for e in events if e.get("event") == "refused"]
    assert [e.get("reason") for e in refused] == ["card blocked: stolen"]
    assert deny == version == 1
    assert "%s: denylist installed: retained update cleared" % tid in lines


# -- two workers sharing the load (MQTT 5 shared subscriptions, one PostgreSQL) --------------

def _stored(target):
    db = open_db(target)
    try:
        return (db.query("SELECT terminal, seq, raw, tac_ok, purse FROM records "
                         "ORDER BY terminal, seq"),
                db.query("SELECT terminal, watermark, chain_mac FROM terminals ORDER BY terminal"),
                db.query("SELECT COUNT(*) FROM quarantine"))
    finally:
        db.close()


def test_two_workers_sharing_the_subscriptions_store_what_one_office_stores(tmp_path, sqlite,
                                                                            pg_server):
    run = officekit.run(two_operators(TAPS + [(9, "B", "bob"), (11, "B", "carol")]))
    recs = {t: raw_records(journal_files(run, t)) for t in ("A", "B")}
    pg = pg_server.new_database(mqttpeer.unique("share").replace("-", "_"))
    (tmp_path / "m").mkdir()
    with mqttpeer.mosquitto_with_acl(tmp_path / "m") as b, \
            serve(b, pg, share="office") as (w1, _), serve(b, pg, share="office") as (w2, _), \
            peer(b) as t:
        for i in range(max(len(r) for r in recs.values())):
            for name in ("A", "B"):
                if i < len(recs[name]):
                    t.publish(rec_topic(TIDS[name]), wire.encode_records([recs[name][i]]))
        db = open_db(pg)
        try:
            assert mqttpeer.wait_for(lambda: all(
                ingest.watermark(db, TIDS[n]) == len(recs[n]) for n in ("A", "B")))
        finally:
            db.close()
        assert w1.counts["records"] > 0 and w2.counts["records"] > 0  # both took a share
        assert w1.counts["records"] + w2.counts["records"] == sum(map(len, recs.values()))
    one = open_db(sqlite)
    try:
        for name in ("A", "B"):
            ingest.ingest_records(one, KEYS, TIDS[name], recs[name])
    finally:
        one.close()
    assert _stored(pg) == _stored(sqlite)


# -- an update larger than a packet: manifest and parts (docs/sync.md "Updates in parts") -----

def test_parts_asked_for_come_from_the_file_signed_for_that_terminal(sqlite):
    from host_tools.lib import updates as upd

    payload = b'{"pad": "%s"}' % (b"y" * 5000)
    db = open_db(sqlite)
    try:
        msgs = ops.publish_update(db, KEYS, "config", 7, payload, [TID], 0, wire.secs2000(NOW))
        man = wire.decode_retained(msgs[0].payload)
        assert isinstance(man, wire.Manifest) and (man.kind, man.version) == ("config", 7)
        office = __import__("host_tools.lib.office.service", fromlist=["Office"]).Office(
            sqlite, KEYS, lambda line: None)
        got = b""
        for first in range(0, man.count, 4):
            for m in office.handle("ykt/t/%s/get" % TID, wire.encode_get(7, first, 4, "config")):
                assert m.topic == "ykt/o/%s/part/config" % TID and not m.retain
                version, index, data = wire.decode_part(m.payload)
                assert (version, index) == (7, len(got) // man.part)
                got += data
        office.close()
    finally:
        db.close()
    assert len(got) == man.size and __import__("hashlib").sha256(got).digest() == man.digest
    assert upd.sign("config", 7, TBYTES, payload, sim_update_master(DEFAULT_SEED)) == got
    assert office.counts["parts"] == man.count


def test_a_request_for_an_update_never_published_in_parts_is_one_line(broker, sqlite):
    with serve(broker, sqlite) as (office, lines), peer(broker) as t:
        t.publish("ykt/t/%s/get" % TID, wire.encode_get(3, 0, 4, "tariff"))
        t.publish(hb_topic(), heartbeat())
        assert mqttpeer.wait_for(lambda: office.counts["heartbeats"] == 1)
    assert lines.count("ykt/t/%s/get: refused: get: no tariff v3 published to %s in parts"
                       % (TID, TID)) == 1


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_a_tariff_published_at_the_office_is_downloaded_in_parts_and_installed(
        broker, sqlite, runtime):
    """A real tariff (the Shanghai 2017 fares, about 100 KB signed) for an entry gate that
    has version 1: the office publishes version 2 as a manifest, the gate's sync asks for
    the parts between taps, checks the whole against the digest, installs it; the heartbeat
    shows version 2 and the office clears its retained message."""
    from host_tools.lib import tariff
    from hw_sim.scenario import ROOT

    source = os.path.join(ROOT, "tariffs", "shanghai-2017.json")
    tid = "2902%08x" % (os.getpid() * 16 + 2 * (broker.kind == "mosquitto")
                        + (runtime == "micropython"))
    db = open_db(sqlite)
    try:
        msgs = ops.publish_update(db, KEYS, "tariff", 2, tariff.build(source, 2), [tid], 0,
                                  wire.secs2000(NOW))
    finally:
        db.close()
    man = wire.decode_retained(msgs[0].payload)
    assert isinstance(man, wire.Manifest) and man.size > 90000
    publish_messages(BrokerOptions(broker.host, broker.port), msgs)  # retained, waiting
    day = _synced_day(broker, tid)
    term = day["terminals"][0]
    term.update(role="entry_gate", vm_heap="240K")
    term["config"] = dict(term["config"], station=2025, tariff=source)
    day["events"] = [{"at": 2, "tap": "a"}, {"at": 400, "tap": "b"}, {"at": 600, "link": True}]
    try:
        with serve(broker, sqlite, max_drift=10**9) as (office, lines):
            run = officekit.Run(day)
            run.run(runtime)
            db = open_db(sqlite)
            try:
                def cleared():
                    return db.one("SELECT cleared FROM updates WHERE terminal = ?", (tid,))[0]

                assert mqttpeer.wait_for(lambda: cleared() is not None)
                version = db.one("SELECT tariff FROM heartbeats WHERE terminal = ?", (tid,))[0]
            finally:
                db.close()
    finally:
        publish_messages(BrokerOptions(broker.host, broker.port),
                         [ops.Message(msgs[0].topic, b"", True)])
    events = [json.loads(x) for x in run.lines]
    assert [(e["kind"], e["version"]) for e in events if e["event"] == "update"] == [
        ("tariff", 1), ("tariff", 2)]  # provisioned, then from the office
    assert [e["station"] for e in events if e["event"] == "entry"] == [2025, 2025]
    assert version == 2 and office.counts["parts"] >= man.count
    assert [e for e in events if e.get("event") == "sync-refused"] == []
    assert "%s: tariff installed: retained update cleared" % tid in lines
