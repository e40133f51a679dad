"""Faults in the fleet sync (issue 13, section 4): nothing lost, nothing doubled.

Each test runs a terminal's own firmware with its sync (firmware/ykt/net/sync.py) in a
simulator scenario against a real broker and the office service (`ykt office serve`'s
Office and Service on a thread), breaks something while the terminal sells (the broker, the
office, the link, the database, the terminal's flash, a forger on the broker, a terminal
with another's credentials), and ends with the same check (:func:`agree`): the office's
database holds every record the terminal wrote, record for record the bytes on its flash,
numbered 1.. without a hole or anything extra, and every card's chain closes (clearing
finds no fork, gap or balance that does not follow).

The scenario runs on its own thread while the test breaks things from this one; the waits
are hang breakers (mqttpeer.wait_for), never measurements.
"""

import contextlib
import json
import os
import threading

import mqttpeer
import officekit
from brokers import broker_fixture
from mqttpeer import mosquitto_with_acl, peer
from officekit import KEYS, NUMBERS, journal_files, raw_records

from host_tools.lib import journal
from host_tools.lib.issuer import sim_device_key
from host_tools.lib.office import clearing, ingest, ops
from host_tools.lib.office import sync as wire
from host_tools.lib.office.db import open_db
from host_tools.lib.office.service import BrokerOptions, Office, Service
from hw_sim.lfs import LfsVfs
from hw_sim.scenario import DEFAULT_SEED, Run

broker = broker_fixture
pg_server = officekit.pg_server
HANG_S = mqttpeer.HANG_S
_n = [0]


def new_tid(tag):
    """A terminal id of its own for each test (retained messages and sessions never meet)."""
    _n[0] += 1
    return "29%02x%08x" % (_n[0] % 256, (os.getpid() * 64 + hash(tag) % 64) % 2**32)


def day(broker, tid, taps=20, every=10, end=400, events=(), mqtt=None):
    """A fixed-fare gate (300 fen) with sync: two cards tapping by turns every ``every``
    seconds from 2 s on, then quiet until ``end``."""
    config = {"fare_fen": 300, "terminal_id": tid, "wifi": {"ssid": "depot", "password": "x"},
              "mqtt": mqtt or {"host": broker.host, "port": broker.port, "user": tid,
                               "password": "pw", "keepalive": 30}}
    tapped = [{"at": 2 + every * i, "tap": "ab"[i % 2]} for i in range(taps)]
    return {"start": "2026-11-29T07:00:00",
            "terminals": [{"id": "T1", "role": "fixed_fare", "board": "devkitc-turnstile",
                           "config": config}],
            "cards": [{"name": "a", "number": NUMBERS["alice"], "balance_fen": 20000},
                      {"name": "b", "number": NUMBERS["bob"], "balance_fen": 20000}],
            "events": sorted(tapped + list(events) + [{"at": end, "link": True}],
                             key=lambda e: e["at"])}


@contextlib.contextmanager
def office(broker, target, client_id=None, **kw):
    """The office service on a thread, a persistent session under ``client_id``."""
    lines = []
    kw.setdefault("resend_after", 1)
    o = Office(target, KEYS, lines.append, max_drift=10**9, **kw)
    svc = Service(BrokerOptions(broker.host, broker.port,
                                client_id=client_id or mqttpeer.unique("office")),
                  o, lines.append)
    t = threading.Thread(target=svc.run, daemon=True)
    t.start()
    try:
        assert svc.connected.wait(HANG_S), lines
        yield o, lines
    finally:
        svc.stop()
        t.join(HANG_S)


class Background:
    """A scenario run on its own thread: ``join()`` -> the Run (its error raised here)."""

    def __init__(self, data, prepare=None):
        self.run = Run(data)
        if prepare is not None:
            prepare(self.run)
        self.error = None
        self.thread = threading.Thread(target=self._go, daemon=True)
        self.thread.start()

    def _go(self):
        try:
            self.run.run("cpython")
        except BaseException as e:  # raised again in join()
            self.error = e

    def join(self):
        self.thread.join(HANG_S * 6)
        assert not self.thread.is_alive(), "the scenario hung"
        if self.error is not None:
            raise self.error
        return self.run


def stored(target, tid):
    db = open_db(target)
    try:
        return ingest.watermark(db, tid)
    finally:
        db.close()


def agree(target, run, tid, quarantined=0):
    """The office's database and the terminal's journal agree record for record; every
    card's chain closes. -> the records stored."""
    files = journal_files(run, "T1")
    on_flash = {journal.decode(r).seq: r for r in raw_records(files) if journal.crc_ok(r)}
    acked, anchor, _ = journal._ack(files, sim_device_key(DEFAULT_SEED, bytes.fromhex(tid)))
    last = max(on_flash) if on_flash else anchor
    assert mqttpeer.wait_for(lambda: stored(target, tid) >= last), (stored(target, tid), last)
    db = open_db(target)
    try:
        rows = {int(s): bytes.fromhex(str(r)) for s, r in db.query(
            "SELECT seq, raw FROM records WHERE terminal = ? ORDER BY seq", (tid,))}
        findings = clearing.clear(db)
        bad = db.one("SELECT COUNT(*) FROM quarantine WHERE terminal = ?", (tid,))[0]
        paid = db.one("SELECT COALESCE(SUM(purse), 0) FROM records WHERE terminal = ? "
                      "AND tac_ok = 1", (tid,))[0]
    finally:
        db.close()
    assert sorted(rows) == list(range(1, last + 1))  # no hole, nothing doubled or extra
    assert {s: rows[s] for s in on_flash} == on_flash  # the terminal's own bytes
    assert acked <= last
    assert findings == []  # every card's chain closes
    assert bad == quarantined
    assert paid == officekit.paid(run)  # what the cards lost, every fen of it
    return rows


# -- the broker, the office, the link ---------------------------------------------------------

def test_the_broker_going_down_and_coming_back_loses_and_doubles_nothing(tmp_path):
    port = mqttpeer.brokers.free_port()
    target = str(tmp_path / "office.sqlite")
    tid = new_tid("broker")
    (tmp_path / "1").mkdir()
    (tmp_path / "2").mkdir()
    first = mosquitto_with_acl(tmp_path / "1", port=port)
    b = first.__enter__()
    try:
        with office(b, target):
            bg = Background(day(b, tid))
            assert mqttpeer.wait_for(lambda: stored(target, tid) >= 5)
            first.__exit__(None, None, None)  # the broker goes away mid-day
            first = None
            with mosquitto_with_acl(tmp_path / "2", port=port):
                run = bg.join()
                agree(target, run, tid)
    finally:
        if first is not None:
            first.__exit__(None, None, None)
    assert any('"state": "down"' in x for x in run.lines)


def test_the_office_going_down_and_coming_back_loses_and_doubles_nothing(broker, tmp_path):
    """The office's session is persistent: what terminals send while it is down waits in
    the broker; acks lost with it are made good by the terminal's next upload."""
    target = str(tmp_path / "office.sqlite")
    tid = new_tid("office-" + broker.kind)
    cid = mqttpeer.unique("office")
    with office(broker, target, client_id=cid):
        bg = Background(day(broker, tid))
        assert mqttpeer.wait_for(lambda: stored(target, tid) >= 5)
    down = stored(target, tid)
    with office(broker, target, client_id=cid) as (o, _):
        run = bg.join()
        agree(target, run, tid)
    assert o.counts["stored"] > 0 and stored(target, tid) > down


def test_a_link_dropped_mid_upload_loses_and_doubles_nothing(broker, tmp_path):
    """A backlog sold offline goes up when the link returns; the link drops again while it
    is going up, and returns."""
    target = str(tmp_path / "office.sqlite")
    tid = new_tid("link-" + broker.kind)
    cuts = [{"at": 1, "link": False}, {"at": 200, "link": True}, {"at": 200.3, "link": False},
            {"at": 260, "link": True}]
    with office(broker, target) as (o, lines):
        run = Background(day(broker, tid, taps=20, events=cuts)).join()
        agree(target, run, tid)
    states = [json.loads(x)["state"] for x in run.lines if '"event": "sync"' in x]
    assert states.count("up") >= 2


# -- the records ------------------------------------------------------------------------------

def test_a_record_delivered_three_times_is_stored_once(broker, tmp_path):
    target = str(tmp_path / "office.sqlite")
    run = officekit.run(officekit.two_operators([(1, "A", "alice"), (3, "A", "bob")]))
    recs = raw_records(journal_files(run, "A"))
    tid = officekit.TIDS["A"]
    with office(broker, target) as (o, _), peer(broker) as t:
        t.subscribe("ykt/o/%s/ack" % tid)
        for _ in range(3):
            for i in range(0, len(recs), 3):
                t.publish("ykt/t/%s/rec" % tid, wire.encode_records(recs[i:i + 3]))
        assert mqttpeer.wait_for(lambda: o.counts["records"] == 3 * len(recs))
    assert o.counts["stored"] == len(recs)
    db = open_db(target)
    try:
        rows = [bytes.fromhex(str(r[0])) for r in db.query(
            "SELECT raw FROM records WHERE terminal = ? ORDER BY seq", (tid,))]
        assert rows == recs and clearing.clear(db) == []
        assert db.one("SELECT COUNT(*) FROM quarantine")[0] == 0
    finally:
        db.close()


def test_a_forged_record_injected_on_the_broker_is_refused_and_reported(broker, tmp_path):
    """Someone on the broker without the terminal's journal key publishes a record under its
    topic (the next seq, a chain MAC it could not make): quarantined, reported, never
    acknowledged; the terminal's own record with that seq is stored."""
    target = str(tmp_path / "office.sqlite")
    tid = new_tid("forged-" + broker.kind)
    with office(broker, target) as (o, lines):
        bg = Background(day(broker, tid, taps=12))
        assert mqttpeer.wait_for(lambda: stored(target, tid) >= 3)
        seq = stored(target, tid) + 1
        fields = bytearray(64)
        fields[0:4] = seq.to_bytes(4, "big")
        fields[8] = 0x11  # a purchase
        fields[10:16] = bytes.fromhex(tid)
        forged = journal.seal(bytes(fields))  # a good CRC, a chain MAC of zeros
        with peer(broker) as p:
            p.publish("ykt/t/%s/rec" % tid, wire.encode_records([forged]))
        run = bg.join()
        agree(target, run, tid, quarantined=1)
    assert any("QUARANTINED seq %d" % seq in ln for ln in lines)


# -- the database -----------------------------------------------------------------------------

def test_an_office_database_restart_loses_and_doubles_nothing(broker, pg_server):
    """PostgreSQL goes away and comes back while the terminal sells: the office says so in a
    line, acknowledges nothing it could not store, and opens the database again."""
    target = pg_server.new_database(mqttpeer.unique("restart").replace("-", "_"))
    tid = new_tid("db-" + broker.kind)
    with office(broker, target) as (o, lines):
        bg = Background(day(broker, tid))
        assert mqttpeer.wait_for(lambda: stored(target, tid) >= 5)
        pg_server.restart()
        run = bg.join()
        agree(target, run, tid)


# -- the terminal -----------------------------------------------------------------------------

def test_a_terminal_re_imaged_starts_from_the_office_floor_and_its_chain_goes_on(broker,
                                                                                 tmp_path):
    """Its flash wiped (a new image), a terminal gets from the office its journal's ack
    file (the chain goes on after the office's watermark) and its sequence floor: the
    records after the re-image are stored after the old ones, nothing numbered twice."""
    target = str(tmp_path / "office.sqlite")
    tid = new_tid("reimage-" + broker.kind)
    with office(broker, target):
        before = Background(day(broker, tid, taps=6, end=200)).join()
        agree(target, before, tid)
    db = open_db(target)
    try:
        floor = ops.reimage_floor(db, KEYS, tid)
        old_tseq = db.one("SELECT MAX(tseq) FROM records WHERE terminal = ?", (tid,))[0]
    finally:
        db.close()
    assert floor.seq == stored(target, tid) and floor.sequence_floor == old_tseq + 1

    def reimage(run):
        fs = LfsVfs(run.terms["T1"].flash)
        with contextlib.suppress(OSError):
            fs.mkdir("/journal")
        with fs.open("/journal/ack", "wb") as f:
            f.write(floor.ack)

    again = day(broker, tid, taps=6, end=200)
    again["terminals"][0]["config"]["sequence_floor"] = floor.sequence_floor
    again["start"] = "2026-11-30T07:00:00"  # the next day
    with office(broker, target):
        after = Background(again, lambda r: _same_cards(r, before) or reimage(r)).join()
        rows = agree(target, after, tid)
    assert len(rows) > floor.seq  # the new image's records follow the old ones
    new = [journal.decode(rows[s]) for s in sorted(rows) if s > floor.seq]
    assert min(r.tseq for r in new if r.kind == 0x11) >= floor.sequence_floor


def _same_cards(run, before):
    """The second run's cards are the first run's (counters and balance as it left them)."""
    for name, app in before.apps.items():
        run.apps[name] = app
        run.cards[name].app = app


def test_a_terminal_with_another_terminals_credentials_is_refused_by_the_acl(tmp_path):
    """Terminal B logs in as A (A's user and password, provisioned for A): Mosquitto's ACL
    lets that client write only under ykt/t/A/, so nothing B sends reaches the office, and
    B's journal frees nothing (every record still on its flash for the next good upload)."""
    from host_tools import cli
    from host_tools.lib import provision

    a, b = new_tid("acl-a"), new_tid("acl-b")
    master = tmp_path / "master.json"
    provision.write_new_master_file(str(master))
    assert cli.main(["provision", "--mosquitto", str(tmp_path / "mq"), "--terminals", a, b,
                     "--master-key-file", str(master)]) == 0
    masters = provision.read_master_file(str(master))
    office_pw = (tmp_path / "mq" / "office.password").read_text().strip()
    target = str(tmp_path / "office.sqlite")
    with mosquitto_with_acl(tmp_path, tmp_path / "mq" / "passwd", tmp_path / "mq" / "acl") as m:
        lines = []
        o = Office(target, KEYS, lines.append, max_drift=10**9)
        svc = Service(BrokerOptions(m.host, m.port, "office", office_pw,
                                    mqttpeer.unique("office")), o, lines.append)
        t = threading.Thread(target=svc.run, daemon=True)
        t.start()
        try:
            assert svc.connected.wait(HANG_S), lines
            stolen = {"host": m.host, "port": m.port, "user": a, "keepalive": 30,
                      "password": provision.mqtt_password(masters["device"], bytes.fromhex(a))}
            run = Background(day(m, b, taps=6, end=200, mqtt=stolen)).join()
            # B is connected (A's password is good) but may write only under ykt/t/A/
            assert '"event": "sync", "state": "up"' in "".join(run.lines)
            assert o.counts["records"] == o.counts["heartbeats"] == 0
        finally:
            svc.stop()
            t.join(HANG_S)
    assert stored(target, b) == 0
    files = journal_files(run, "T1")
    acked, _, _ = journal._ack(files, sim_device_key(DEFAULT_SEED, bytes.fromhex(b)))
    recs = [r for r in raw_records(files) if journal.crc_ok(r)]
    assert acked == 0 and [journal.decode(r).seq for r in recs] == list(range(1, len(recs) + 1))


def test_ykt_office_floor_writes_the_ack_file_and_names_the_sequence_floor(capsys, tmp_path):
    from host_tools import cli

    run = officekit.run(officekit.two_operators([(1, "A", "alice"), (3, "A", "bob")]))
    tid = officekit.TIDS["A"]
    target = str(tmp_path / "office.sqlite")
    db = open_db(target)
    try:
        ingest.ingest_records(db, KEYS, tid, raw_records(journal_files(run, "A")))
        want = ops.reimage_floor(db, KEYS, tid)
    finally:
        db.close()
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"format": "ykt-issuer-seed/1", "seed": DEFAULT_SEED}))
    assert cli.main(["office", "floor", tid, "--db", target, "--keys", str(seed),
                     "--out", str(tmp_path / "img")]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "img" / "journal" / "ack").read_bytes() == want.ack
    assert "--sequence-floor %d" % want.sequence_floor in out
    assert journal._ack({"ack": want.ack}, sim_device_key(DEFAULT_SEED, bytes.fromhex(tid)))[
        :2] == (want.seq, want.seq)
    assert cli.main(["office", "floor", "290099000001", "--db", target, "--keys", str(seed),
                     "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.strip() == \
        "ykt: error: the office holds nothing of terminal 290099000001"
