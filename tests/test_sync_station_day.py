"""A station day with the office attached (issue 13, section 5): the morning at Xujiahui of
scenarios/demo-station.json (a bus validator, an entry gate, an exit gate: tariff, denylist,
a purchase torn and recovered) and the community canteen's breakfast of
scenarios/demo-canteen.json on its POS board, all four terminals syncing through a real
broker to `ykt office serve`. At the end: every record of every terminal is in the
database (the terminals' own bytes, numbered 1.. without a hole), every card's chain
closes, every TAC verifies, and the settlement's debits are what the cards paid."""

import json
import os

import mqttpeer
import officekit
from brokers import broker_fixture

from host_tools.lib import journal
from host_tools.lib.issuer import sim_device_key
from host_tools.lib.office import clearing, ingest, settlement
from host_tools.lib.office.db import open_db
from hw_sim.scenario import DEFAULT_SEED, ROOT, Run, Scenario

broker = broker_fixture
END = "08:20:00"  # the terminals stay up this long after the last tap: the uploads finish


def station_day(broker):
    with open(os.path.join(ROOT, "scenarios", "demo-station.json"), encoding="utf-8") as f:
        day = json.load(f)
    with open(os.path.join(ROOT, "scenarios", "demo-canteen.json"), encoding="utf-8") as f:
        canteen = json.load(f)
    day["terminals"] += canteen["terminals"]
    day["cards"] += [dict(c, name="canteen-" + c["name"]) for c in canteen["cards"]]
    for e in canteen["events"]:  # breakfast at 08:10
        tap = e["tap"]
        tap = ["canteen-" + n for n in tap] if isinstance(tap, list) else "canteen-" + tap
        day["events"].append(dict(e, terminal="CANTEEN-01", at="08:1" + e["at"][4:], tap=tap))
    salt = "%04x" % (os.getpid() % 0x10000)
    tids = {}
    for i, t in enumerate(day["terminals"]):
        cfg = t["config"]
        cfg["terminal_id"] = "%s%02x%s" % (cfg["terminal_id"][:6], i, salt)  # its own topics
        tids[t["id"]] = cfg["terminal_id"]
        cfg["wifi"] = {"ssid": "station", "password": "x"}
        cfg["mqtt"] = {"host": broker.host, "port": broker.port, "user": cfg["terminal_id"],
                       "password": "pw", "keepalive": 30}
        day["events"].append({"at": END, "terminal": t["id"], "link": True})
    path = os.path.join(ROOT, "scenarios", "demo-station.json")
    scenario = Scenario(day, path)
    scenario.base_dir = os.path.dirname(path)
    return scenario, tids


def test_a_station_day_with_the_office_attached_is_stored_whole_and_settles_what_cards_paid(
        broker, tmp_path):
    target = str(tmp_path / "office.sqlite")
    scenario, tids = station_day(broker)
    with mqttpeer.office_service(broker, target, officekit.KEYS, max_drift=10**9,
                                 resend_after=1):
        run = Run(scenario)
        run.run("cpython")
        flash = {}
        for name, tid in tids.items():
            files = officekit.journal_files(run, name)
            recs = {journal.decode(r).seq: r for r in officekit.raw_records(files)
                    if journal.crc_ok(r)}
            _, anchor, _ = journal._ack(files, sim_device_key(DEFAULT_SEED, bytes.fromhex(tid)))
            flash[tid] = (recs, max(recs) if recs else anchor)
        db = open_db(target)
        try:
            assert mqttpeer.wait_for(lambda: all(
                ingest.watermark(db, tid) >= last for _, last in flash.values()))
        finally:
            db.close()
    db = open_db(target)
    try:
        for tid, (recs, last) in flash.items():
            rows = {int(s): bytes.fromhex(str(r)) for s, r in db.query(
                "SELECT seq, raw FROM records WHERE terminal = ?", (tid,))}
            assert sorted(rows) == list(range(1, last + 1)), tid
            assert {s: rows[s] for s in recs} == recs, tid
        assert clearing.clear(db) == []
        assert ingest.bad_tacs(db) == [] and ingest.quarantine(db) == []
        totals = settlement.report(db)["totals"]
        kinds = {int(k) for (k,) in db.query("SELECT DISTINCT kind FROM records")}
    finally:
        db.close()
    assert {0x11, 0x20, 0x21} <= kinds  # purchases (bus, canteen), entries and exits
    assert totals["debit_fen"] == officekit.paid(run) > 0
