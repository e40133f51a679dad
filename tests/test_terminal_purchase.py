"""The fixed-fare terminal end to end: firmware + PN532 model + purse cards."""

import os

import pytest
from simrun import NUMBERS, events, records, scenario

from hw_sim.flash import NorFlash
from hw_sim.issuer import IssuerKeys, verify_tac
from hw_sim.scenario import DEFAULT_SEED, Run

BOARDS = ["devkitc-turnstile", "s3-canteen-pos", "bus-validator"]  # SPI, I2C, UART


@pytest.mark.parametrize("board", BOARDS)
def test_tap_debits_the_fare_once_on_every_reader_bus(tmp_path, board):
    r = Run(scenario([{"at": 1, "tap": "alice"}], board=board)).run()
    assert r.apps["alice"].balance == 1000 - 350
    assert r.apps["alice"].offline_atc == 1
    [debit] = events(r, "debit")
    assert (debit["fen"], debit["balance"]) == (350, 650)


def test_journal_brackets_each_debit_with_intent_and_completion(tmp_path):
    r = Run(scenario([{"at": 1, "tap": "alice"}, {"at": 5, "tap": "alice"}])).run()
    rows = records(r)
    assert [(x["kind"], x["fen"], x["balance"], x["atc"]) for x in rows] == [
        ("purchase-intent", 350, 1000, 0), ("purchase", 350, 650, 0),
        ("purchase-intent", 350, 650, 1), ("purchase", 350, 300, 1)]
    assert [x["link"] for x in rows] == [0, rows[0]["seq"], 0, rows[2]["seq"]]


def test_journal_agrees_with_the_card(tmp_path):
    r = Run(scenario([{"at": 1, "tap": "alice"}, {"at": 5, "tap": "alice"}])).run()
    rows = [x for x in records(r) if x["kind"] == "purchase"]
    assert r.apps["alice"].balance == rows[-1]["balance"]
    assert r.apps["alice"].offline_atc == rows[-1]["atc"] + 1


def test_recorded_tac_verifies_at_the_back_office(tmp_path):
    r = Run(scenario([{"at": 1, "tap": "alice"}])).run()
    [row] = [x for x in records(r) if x["kind"] == "purchase"]
    when = row["time"].replace("-", "").replace("T", "").replace(":", "")
    assert verify_tac(IssuerKeys.from_seed(DEFAULT_SEED.encode()), NUMBERS["alice"],
                      bytes.fromhex(row["tac"]), balance_after=row["balance"], atc=row["atc"],
                      amount=row["fen"], tx_type=0x06, terminal_id=bytes.fromhex(row["terminal"]),
                      term_seq=row["tseq"], datetime7=bytes.fromhex(when))


def test_card_left_on_the_reader_is_charged_once(tmp_path):
    r = Run(scenario([{"at": 1, "tap": "alice", "hold_ms": 20000}])).run()
    assert r.apps["alice"].balance == 650
    assert len(events(r, "debit")) == 1


def test_display_shows_fare_paid_and_balance(tmp_path):
    r = Run(scenario([{"at": 1, "tap": "alice"}])).run()
    assert ("PAID 3.50", "BAL 6.50") in r.sim.display.history


def test_forged_card_is_refused_with_reason_and_not_charged(tmp_path):
    cards = [{"name": "fake", "number": NUMBERS["alice"], "balance_fen": 1000,
              "issuer_seed": "some-other-issuer"}]
    r = Run(scenario([{"at": 1, "tap": "fake"}], cards=cards)).run()
    [refusal] = events(r, "refused")
    assert "forged card" in refusal["reason"]
    assert r.apps["fake"].balance == 1000
    assert [x["kind"] for x in records(r)] == ["purchase-intent", "abandoned"]


def test_insufficient_balance_is_refused_without_touching_the_card(tmp_path):
    cards = [{"name": "poor", "number": NUMBERS["bob"], "balance_fen": 349}]
    r = Run(scenario([{"at": 1, "tap": "poor"}], cards=cards)).run()
    [refusal] = events(r, "refused")
    assert refusal["reason"] == "insufficient balance"
    app = r.apps["poor"]
    assert (app.balance, app.offline_atc, app.log) == (349, 0, [])
    assert records(r) == []


def test_two_cards_in_the_field_are_refused_and_neither_charged(tmp_path):
    r = Run(scenario([{"at": 1, "tap": ["alice", "bob"]}])).run()
    assert [e["reason"] for e in events(r, "refused")] == ["two cards in the field"]
    assert r.apps["alice"].balance == r.apps["bob"].balance == 1000
    assert events(r, "debit") == []


def test_expired_card_is_refused(tmp_path):
    r = Run(scenario([{"at": 1, "tap": "alice"}], start="2035-01-02T07:00:00")).run()
    [refusal] = events(r, "refused")
    assert refusal["reason"] == "card expired"
    assert r.apps["alice"].balance == 1000


def test_wrong_terminal_clock_still_charges_and_records_the_terminal_time(tmp_path):
    r = Run(scenario([{"at": 1, "set_clock": "2026-12-01T09:00:00"},
                      {"at": 2, "tap": "alice"}])).run()
    [row] = [x for x in records(r) if x["kind"] == "purchase"]
    assert row["time"] == "2026-12-01T09:00:01"
    assert r.apps["alice"].balance == 650


def test_nearly_full_journal_warns_then_full_journal_refuses_sales(tmp_path):
    taps = [{"at": 1 + 4 * i, "tap": "alice"} for i in range(6)]
    cards = [{"name": "alice", "number": NUMBERS["alice"], "balance_fen": 5000}]
    r = Run(scenario(taps, cards=cards, config={"journal_records": 10})).run()
    [warning] = events(r, "warning")
    assert warning["reason"] == "journal nearly full"
    refusals = [e["reason"] for e in events(r, "refused")]
    assert refusals and all(x.startswith("journal full") for x in refusals)
    paid = [x for x in records(r) if x["kind"] == "purchase"]
    assert r.apps["alice"].balance == 5000 - 350 * len(paid)
    assert ("RECORDS FULL", "SALES STOPPED") in r.sim.display.history


def test_denylisted_card_is_refused_with_reason_and_journaled(tmp_path):
    r = Run(scenario([{"at": 1, "tap": "bob"}, {"at": 4, "tap": "alice"}], denylist=["bob"])).run()
    [refusal] = events(r, "refused")
    assert refusal["reason"] == "card blocked: lost"
    assert r.apps["bob"].balance == 1000 and r.apps["alice"].balance == 650
    from simrun import journal
    assert [x["card"] for x in journal(r) if x["kind"] == "denied"] == [NUMBERS["bob"]]


# -- a clock that lost its time ----------------------------------------------------------------

def _clock_lost_run(tmp_path):
    """Alice pays at 07:00; then the board boots from the same flash with its RTC back at
    2000-01-01 (it lost power and has no backup battery): bob and carol tap with the clock
    wrong, staff set the clock, dave taps."""
    first = Run(scenario([{"at": 1, "tap": "alice"}])).run()
    data = scenario([{"at": 2, "tap": "bob"}, {"at": 5, "tap": "carol"},
                     {"at": 8, "set_clock": "2026-11-29T07:10:00"}, {"at": 10, "tap": "dave"}],
                    cards=[{"name": n, "number": "310123000000000000%02d" % i, "balance_fen": 1000}
                           for i, n in enumerate(("bob", "carol", "dave"), 2)],
                    start="2000-01-01T00:00:00")
    os.makedirs(str(tmp_path / "again"))
    r = Run(data, "test")
    r.sim.flash = NorFlash.from_image(first.sim.flash.image())
    r.run()
    return r


def test_clock_behind_the_records_at_boot_is_reported(tmp_path):
    r = _clock_lost_run(tmp_path)
    [warning] = [e for e in events(r, "warning") if "clock" in e["reason"]]
    assert warning["reason"] == "clock behind the records: set the clock"
    assert warning["clock"].startswith("2000-01-01T00:00")
    assert warning["last_record"] == "2026-11-29T07:00:01"


def test_taps_with_the_clock_wrong_are_refused_with_the_reason_and_nothing_charged(tmp_path):
    r = _clock_lost_run(tmp_path)
    reasons = [e["reason"] for e in events(r, "refused")]
    assert reasons.count("clock not set") == 2  # bob and carol
    assert r.apps["carol"].balance == 1000
    assert "TAP CARD | CHECK CLOCK" in [e["text"] for e in events(r, "display")]


def test_once_the_clock_is_set_the_terminal_sells_again(tmp_path):
    r = _clock_lost_run(tmp_path)
    assert r.apps["dave"].balance == 650
    [row] = [x for x in records(r) if x["kind"] == "purchase" and x["card"].endswith("04")]
    assert row["time"].startswith("2026-11-29T07:10:0")
