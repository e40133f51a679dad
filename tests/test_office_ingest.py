"""The back office stores each terminal's journal records once, in chain order, checked: a
record that does not verify is kept aside and never acknowledged; the acknowledgement is the
highest contiguous seq stored; the seqs it lacks are named for a resend. Every test runs on
SQLite and on a real PostgreSQL server (docs/office.md "Ingest")."""

import officekit
import pytest
from officekit import KEYS, TIDS, journal_files, raw_records, two_operators

from host_tools.lib import journal
from host_tools.lib.errors import BadInput
from host_tools.lib.issuer import seed_keys
from host_tools.lib.office import ingest

db = officekit.db
pg_server = officekit.pg_server

TAPS = [(1, "A", "alice"), (3, "A", "bob"), (5, "B", "alice"), (7, "A", "carol"),
        (9, "B", "bob")]


@pytest.fixture(scope="module")
def day():
    """The run once; its journals as files and records, per terminal."""
    r = officekit.run(two_operators(TAPS))
    files = {t: journal_files(r, t) for t in ("A", "B")}
    return files, {t: raw_records(f) for t, f in files.items()}


def _count(db, table, terminal=TIDS["A"]):
    return db.one("SELECT COUNT(*) FROM %s WHERE terminal = ?" % table, (terminal,))[0]


def _forge(raw, amount):
    """The record with another amount and its CRC made right: the chain MAC cannot be."""
    edited = bytearray(raw)
    edited[28:32] = amount.to_bytes(4, "big", signed=True)
    return journal.seal(bytes(edited))


def _purchase_seq(records):
    return next(journal.decode(r).seq for r in records if journal.decode(r).kind == 0x11)


def test_a_journal_is_stored_record_for_record(db, day):
    files, records = day
    rep = ingest.ingest_journal(db, KEYS, files["A"])
    assert (rep.terminal, rep.stored, rep.quarantined, rep.bad_tac) == (
        TIDS["A"], len(records["A"]), [], [])
    assert _count(db, "records") == len(records["A"])
    stored = db.query("SELECT raw FROM records WHERE terminal = ? ORDER BY seq", (TIDS["A"],))
    assert [bytes.fromhex(r[0]) for r in stored] == records["A"]


def test_a_journal_ingested_twice_is_stored_once(db, day):
    files, records = day
    ingest.ingest_journal(db, KEYS, files["A"])
    again = ingest.ingest_journal(db, KEYS, files["A"])
    assert (again.stored, again.duplicates) == (0, len(records["A"]))
    assert _count(db, "records") == len(records["A"])


def test_a_record_delivered_three_times_in_one_upload_is_stored_once(db, day):
    _, records = day
    first = records["A"][0]
    rep = ingest.ingest_records(db, KEYS, TIDS["A"], [first, first, first])
    assert (rep.stored, rep.duplicates, rep.watermark) == (1, 2, 1)


def test_the_watermark_is_the_highest_contiguous_seq_stored(db, day):
    _, records = day
    rep = ingest.ingest_records(db, KEYS, TIDS["A"], records["A"][:2] + records["A"][3:])
    assert (rep.watermark, rep.stored, rep.waiting) == (2, 2, len(records["A"]) - 3)
    assert ingest.watermark(db, TIDS["A"]) == 2


def test_missing_records_are_named_as_ranges_to_resend(db, day):
    _, records = day
    recs = records["A"]
    rep = ingest.ingest_records(db, KEYS, TIDS["A"], recs[:1] + recs[3:4] + recs[5:])
    assert rep.gaps == [(2, 3), (5, 5)]
    assert ingest.gaps(db, TIDS["A"], upto=len(recs) + 2) == [
        (2, 3), (5, 5), (len(recs) + 1, len(recs) + 2)]  # the heartbeat's last seq


def test_records_resent_for_a_gap_are_chained_and_acknowledged(db, day):
    _, records = day
    recs = records["A"]
    ingest.ingest_records(db, KEYS, TIDS["A"], recs[:1] + recs[3:])
    rep = ingest.ingest_records(db, KEYS, TIDS["A"], recs[1:3])
    assert (rep.stored, rep.watermark, rep.gaps, rep.waiting) == (
        len(recs) - 1, len(recs), [], 0)


def test_records_arriving_out_of_order_are_stored_in_seq_order(db, day):
    _, records = day
    rep = ingest.ingest_records(db, KEYS, TIDS["B"], list(reversed(records["B"])))
    assert (rep.stored, rep.watermark) == (len(records["B"]), len(records["B"]))


def test_a_tampered_record_is_quarantined_and_not_acknowledged(db, day):
    _, records = day
    recs = list(records["A"])
    seq = _purchase_seq(recs)
    recs[seq - 1] = _forge(recs[seq - 1], 1)  # a 200-fen sale made 1 fen
    rep = ingest.ingest_records(db, KEYS, TIDS["A"], recs)
    assert [(q.seq, q.reason) for q in rep.quarantined] == [(seq, ingest.CHAIN_BROKEN)]
    assert (rep.watermark, rep.gaps) == (seq - 1, [(seq, seq)])
    assert rep.waiting == len(recs) - seq  # the records after it wait for the genuine one
    assert db.one("SELECT COUNT(*) FROM records WHERE terminal = ? AND seq >= ?",
                  (TIDS["A"], seq))[0] == 0


def test_the_genuine_record_resent_after_a_forgery_completes_the_chain(db, day):
    _, records = day
    recs = list(records["A"])
    seq = _purchase_seq(recs)
    forged = _forge(recs[seq - 1], 1)
    ingest.ingest_records(db, KEYS, TIDS["A"], recs[:seq - 1] + [forged] + recs[seq:])
    rep = ingest.ingest_records(db, KEYS, TIDS["A"], [recs[seq - 1]])
    assert (rep.watermark, rep.gaps) == (len(recs), [])
    assert db.one("SELECT amount FROM records WHERE terminal = ? AND seq = ?",
                  (TIDS["A"], seq))[0] == 200
    assert [q.seq for q in ingest.quarantine(db, TIDS["A"])] == [seq]  # still kept aside


def test_a_record_with_a_bad_crc_is_quarantined(db, day):
    _, records = day
    recs = list(records["A"])
    flipped = bytearray(recs[2])
    flipped[30] ^= 0x01
    recs[2] = bytes(flipped)
    rep = ingest.ingest_records(db, KEYS, TIDS["A"], recs)
    assert [(q.seq, q.reason) for q in rep.quarantined] == [(3, "bad CRC")]
    assert rep.watermark == 2


def test_other_bytes_for_a_stored_seq_are_quarantined_and_change_nothing(db, day):
    _, records = day
    recs = records["A"]
    ingest.ingest_records(db, KEYS, TIDS["A"], recs)
    seq = _purchase_seq(recs)
    rep = ingest.ingest_records(db, KEYS, TIDS["A"], [_forge(recs[seq - 1], 1)])
    assert [q.reason for q in rep.quarantined] == [
        "differs from the record stored with this seq"]
    assert rep.watermark == len(recs)
    assert db.one("SELECT amount FROM records WHERE terminal = ? AND seq = ?",
                  (TIDS["A"], seq))[0] == 200


def test_records_uploaded_for_another_terminal_are_quarantined(db, day):
    _, records = day
    rep = ingest.ingest_records(db, KEYS, TIDS["B"], records["A"][:2])
    assert {q.reason for q in rep.quarantined} == {
        "names terminal %s, uploaded as %s" % (TIDS["A"], TIDS["B"])}
    assert rep.watermark == 0


def test_records_under_the_wrong_key_are_never_acknowledged(db, day):
    files, records = day
    rep = ingest.ingest_journal(db, seed_keys("someone else"), files["A"])
    assert (rep.stored, rep.watermark) == (0, 0)
    assert [q.seq for q in rep.quarantined] == [1]
    assert rep.gaps == [(1, 1)]


def test_a_journal_acknowledged_on_the_terminal_chains_from_its_ack_file(db, tmp_path):
    from host_tools.lib.issuer import sim_device_key
    from ykt.store.journal import Journal
    from ykt.store.vfs import Vfs

    tid = bytes.fromhex(TIDS["A"])
    j = Journal(Vfs(str(tmp_path)), sim_device_key("yikatong-demo-issuer", tid), tid,
                segment_records=4, capacity_records=100)
    j.open()
    for i in range(10):
        j.append("boot", time=1000 + i)
    j.ack(8)  # segments 1..8 gone: the office was given them elsewhere
    rep = ingest.ingest_journal(db, KEYS, journal.load(str(tmp_path)))
    assert (rep.stored, rep.watermark, rep.quarantined) == (2, 10, [])


def test_a_terminal_id_that_is_not_12_hex_digits_is_bad_input(db):
    with pytest.raises(BadInput, match="12 hex digits"):
        ingest.ingest_records(db, KEYS, "xyz", [])


def _state(db):
    return (db.query("SELECT terminal, seq, raw, tac_ok, purse FROM records "
                     "ORDER BY terminal, seq"),
            db.query("SELECT terminal, watermark, chain_mac FROM terminals ORDER BY terminal"),
            db.query("SELECT terminal, seq, raw FROM pending ORDER BY terminal, seq, raw"),
            db.query("SELECT terminal, seq, raw FROM quarantine ORDER BY terminal, seq"))


def test_terminals_ingested_in_batches_are_stored_as_one_by_one(db, day, tmp_path):
    """The service's batches (several terminals, one transaction): split across batches,
    out of order, repeated, with a forged record: the same rows, reports and gaps as each
    message ingested alone."""
    from host_tools.lib.office.db import open_db

    _, records = day
    a, b = records["A"], records["B"]
    seq = _purchase_seq(a)
    messages = [("A", a[4:7]), ("B", b[:3]), ("A", a[:3]), ("B", b[3:] + b[:1]),
                ("A", [_forge(a[seq - 1], 1)]), ("A", a[3:4] + a[7:]), ("A", a[:2]),
                ("B", b)]
    one = open_db(str(tmp_path / "one.sqlite"))
    try:
        alone = [ingest.ingest_records(one, KEYS, TIDS[t], raws) for t, raws in messages]
        want = _state(one)
    finally:
        one.close()
    together = []
    for batch in (messages[:2], messages[2:5], messages[5:]):
        uploads = {}
        for t, raws in batch:  # a terminal's messages in one batch: one upload (the service)
            uploads.setdefault(TIDS[t], []).extend(raws)
        together.append(ingest.ingest_batch(db, KEYS, uploads))
    assert _state(db) == want
    assert {r.terminal: (r.watermark, r.gaps) for r in together[-1]} == {
        r.terminal: (r.watermark, r.gaps) for r in alone[-2:]}
    assert sum(r.stored for g in together for r in g) == len(a) + len(b)
