"""The ledger itself (tests/ledger.py): clean runs pass, doctored ones are caught."""

import binascii
import random
import struct

import ledger

from hw_sim.purse_app import Commit
from hw_sim.scenario import Run

NUMBERS = {"alice": "31012300000000000001", "bob": "31012300000000000002"}


def _two_terminals(events):
    return {"start": "2026-11-29T07:00:00",
            "terminals": [{"id": t, "role": "fixed_fare", "board": "devkitc-turnstile",
                           "config": {"fare_fen": 350}} for t in ("T1", "T2")],
            "cards": [{"name": n, "number": no, "balance_fen": 1000} for n, no in NUMBERS.items()],
            "events": events}


def _tap(at, term, card, **kw):
    return dict({"at": at, "terminal": term, "tap": card}, **kw)


def test_every_commit_of_every_card_at_every_terminal_is_completed_once(tmp_path):
    r = Run(_two_terminals([_tap(1, "T1", "alice"), _tap(1, "T2", "bob"),
                            _tap(5, "T2", "alice"), _tap(9, "T1", "bob")])).run()
    led = ledger.audit(r)
    assert led.violations == []
    assert [(v.card, v.terminal, v.state) for v in led.verdicts] == [
        ("alice", "T1", "completed"), ("bob", "T1", "completed"),
        ("alice", "T2", "completed"), ("bob", "T2", "completed")]
    assert led.open == []


def test_a_torn_debit_is_pending_until_the_card_comes_back(tmp_path):
    torn = _tap(1, "T1", "alice", tear_at_apdu=3)  # DEBIT ran, its answer lost
    led = ledger.audit(Run(_two_terminals([torn])).run())
    assert led.violations == []
    [v] = led.pending(card="alice", terminal="T1")
    assert v.intent["kind"] == "purchase-intent" and v.completion is None
    [o] = led.open_intents(card="alice")
    assert o.committed is True
    led = ledger.audit(Run(_two_terminals([torn, _tap(6, "T1", "alice")])).run())
    assert led.violations == [] and led.pending() == [] and led.open == []


def test_an_attempt_the_card_never_committed_may_stay_open(tmp_path):
    left = _tap(1, "T1", "alice", remove_after_apdu=2)  # gone before DEBIT was sent
    led = ledger.audit(Run(_two_terminals([left])).run())
    assert led.violations == [] and led.verdicts == []
    [o] = led.open
    assert o.committed is False


def test_a_debit_no_terminal_journaled_is_a_violation(tmp_path):
    r = Run(_two_terminals([_tap(1, "T1", "alice")])).run()
    app = r.apps["alice"]
    c = app.commits[-1]
    app.commits.append(Commit("debit", c.atc + 1, 100, c.tx_type, c.terminal_id, c.datetime7,
                              c.balance - 100))
    app.balance -= 100
    app.offline_atc += 1
    [v] = ledger.check(r)
    assert "alice committed a debit of 100 fen (type 06, ATC 1" in v and "no intent" in v


def test_a_completion_the_card_never_made_is_a_violation(tmp_path):
    r = Run(_two_terminals([_tap(1, "T1", "alice"), _tap(5, "T1", "alice")])).run()
    app = r.apps["alice"]
    app.commits.pop()
    app.balance += 350
    app.offline_atc -= 1
    [v] = ledger.check(r)
    assert v.startswith("T1: purchase seq ") and "which the card never committed" in v


def test_a_commit_by_a_terminal_not_in_the_run_is_a_violation(tmp_path):
    r = Run(_two_terminals([_tap(1, "T1", "alice")])).run()
    app = r.apps["bob"]
    app.commits.append(Commit("debit", 0, 50, 6, bytes.fromhex("299999999999"),
                              bytes.fromhex("20261129070001"), 950))
    app.balance, app.offline_atc = 950, 1
    assert ledger.check(r) == ["bob: debit of 50 fen (type 06, ATC 0, 07:00:01) by terminal "
                               "299999999999, which is not in the run"]


def test_a_card_whose_balance_does_not_add_up_is_a_violation(tmp_path):
    r = Run(_two_terminals([_tap(1, "T1", "alice")])).run()
    r.apps["alice"].balance += 1
    assert ledger.check(r) == ["alice: balance 651, opening 1000 minus debits plus loads is 650"]


def test_a_journal_record_edited_on_flash_is_a_violation(tmp_path):
    from hw_sim.lfs import LfsVfs

    r = Run(_two_terminals([_tap(1, "T1", "alice")])).run()
    fs = LfsVfs(r.terms["T1"].flash)
    with fs.open("/journal/00000001.seg", "rb") as f:
        seg = bytearray(f.read())
    off = 2 * 64  # record 3: the purchase
    struct.pack_into(">i", seg, off + 28, 35)  # 3.50 -> 0.35
    struct.pack_into(">I", seg, off + 60, binascii.crc32(bytes(seg[off:off + 60])))
    with fs.open("/journal/00000001.seg", "wb") as f:
        f.write(bytes(seg))
    problems = ledger.check(r)
    assert problems[0].startswith("T1: journal does not verify: ") and "chain broken" in problems[0]
    assert "T1: purchase seq 3 (card alice): amount 35, the card committed 350" in problems


def test_a_void_is_two_completions_linked_through_its_give_back(tmp_path):
    from poskit import Day

    d = Day(start="2025-03-05T11:30:00")
    d.card("elder", NUMBERS["alice"], balance=5000, birth=19550101, flags=["resident", "hukou"],
           subsidy_balance=500, subsidy_expiry=20250331)
    d.staff_card("wang").staff_card("zhao")
    d.sign_in("wang").tap("elder")
    d.authorise("2").type("#").tap("elder")
    led = ledger.audit(d.run(tmp_path).run)
    assert led.violations == []
    assert [(v.commit.kind, v.commit.amount, v.completion["kind"], v.completion["amount"])
            for v in led.verdicts if v.card == "elder"] == [
        ("debit", 650, "purchase", 650), ("debit", 0, "void", -500), ("load", 650, "void", -650)]


def test_the_power_cut_sweep_passes_the_ledger_too(tmp_path):
    from powercut import Reference, check, cut_run

    ref = Reference(tmp_path / "reference")
    assert ledger.check(ref.run) == []
    for k in sorted(random.Random(9).sample(range(1, ref.total_ops + 1), 3)):
        r = cut_run(ref, k, tmp_path / ("k%d" % k))
        assert r.power_cuts
        assert (k, check(ref, r), ledger.check(r)) == (k, [], [])
