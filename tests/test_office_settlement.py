"""Every debit's and load's TAC is checked with the issuer's key; what verifies is settled per
card issuer x operator x day and netted, and equals what the cards paid; what does not is
reported and not settled. Exports show no whole card number (docs/office.md "Settlement")."""

import json
import re

import officekit
import pytest
from officekit import KEYS, NUMBERS, TIDS, journal_files, paid, two_operators
from poskit import Day

from host_tools.lib.errors import BadInput
from host_tools.lib.office import ingest, mask_card, settlement
from hw_sim.scenario import Run, Scenario

sqlite_db = officekit.sqlite_db

TAPS = [(1, "A", "alice"), (3, "A", "bob"), (5, "B", "alice"), (7, "A", "carol"),
        (9, "B", "bob"), (11, "B", "carol")]


def _ingest(db, r, terminals=None):
    return [ingest.ingest_journal(db, KEYS, journal_files(r, t))
            for t in terminals or list(r.terms)]


@pytest.fixture(scope="module")
def day():
    return officekit.run(two_operators(TAPS))


@pytest.fixture(scope="module")
def stolen_key_card():
    return officekit.run(two_operators(TAPS),
                         lambda r: officekit.other_tac_issuer_card(r, "carol"))


def test_every_debit_of_the_day_has_a_tac_that_verifies(sqlite_db, day):
    _ingest(sqlite_db, day)
    assert sqlite_db.query("SELECT tac_ok, COUNT(*) FROM records WHERE tac_ok IS NOT NULL "
                           "GROUP BY tac_ok") == [(1, len(TAPS))]


def test_settlement_totals_equal_the_fen_the_cards_paid(sqlite_db, day):
    _ingest(sqlite_db, day)
    lines = settlement.settle(sqlite_db)
    assert sum(ln.debit_fen for ln in lines) == paid(day) == 3 * 200 + 3 * 350


def test_settlement_is_per_issuer_operator_and_day(sqlite_db, day):
    _ingest(sqlite_db, day)
    assert settlement.settle(sqlite_db) == [
        settlement.Line("310123", "290001", "2026-11-29", 3, 600, 0, 0, 600),
        settlement.Line("310123", "290002", "2026-11-29", 3, 1050, 0, 0, 1050)]
    assert settlement.settle(sqlite_db, "2026-11-30") == []


def test_net_positions_pay_each_operator_and_add_up_to_zero(sqlite_db, day):
    _ingest(sqlite_db, day)
    pos = settlement.positions(settlement.settle(sqlite_db))
    assert pos == {"issuer:310123": -1650, "operator:290001": 600, "operator:290002": 1050}
    assert sum(pos.values()) == 0


def test_a_card_made_with_a_stolen_purchase_key_pays_but_its_tac_fails(sqlite_db,
                                                                         stolen_key_card):
    reports = _ingest(sqlite_db, stolen_key_card)
    bad = [b for rep in reports for b in rep.bad_tac]
    assert sorted((b.terminal, b.kind, b.card, b.fen) for b in bad) == [
        (TIDS["A"], "purchase", mask_card(NUMBERS["carol"]), 200),
        (TIDS["B"], "purchase", mask_card(NUMBERS["carol"]), 350)]
    assert ingest.bad_tacs(sqlite_db) == sorted(bad)


def test_records_whose_tac_fails_are_not_settled(sqlite_db, stolen_key_card):
    _ingest(sqlite_db, stolen_key_card)
    settled = sum(ln.debit_fen for ln in settlement.settle(sqlite_db))
    assert paid(stolen_key_card) == 1650  # carol's card did pay...
    assert settled == 1650 - 200 - 350  # ...and the office does not settle it


def test_records_whose_tac_fails_are_acknowledged_all_the_same(sqlite_db, stolen_key_card):
    reports = _ingest(sqlite_db, stolen_key_card)  # the terminal's record is genuine
    assert [(rep.quarantined, rep.gaps) for rep in reports] == [([], []), ([], [])]


def test_gate_entries_and_exits_and_the_bus_settle_what_the_cards_paid(sqlite_db):
    r = Run(Scenario.load("scenarios/demo-station.json"))
    r.run("cpython")
    _ingest(sqlite_db, r)
    assert ingest.bad_tacs(sqlite_db) == []
    lines = settlement.settle(sqlite_db)
    assert sum(ln.net_fen for ln in lines) == paid(r) == 900
    assert {ln.operator for ln in lines} == {"290010", "290020"}  # metro and bus


def test_a_canteen_refund_is_a_credit_whose_load_tac_verifies(sqlite_db, tmp_path):
    d = Day(start="2025-03-05T11:30:00", mode="amount")
    d.card("bob", NUMBERS["bob"], balance=5000).staff_card("wang").staff_card("zhao")
    d.sign_in("wang").type("1200#").tap("bob")
    d.authorise("3").type("5#300#").tap("bob")
    r = d.run(tmp_path).run
    _ingest(sqlite_db, r)
    assert ingest.bad_tacs(sqlite_db) == []
    [line] = settlement.settle(sqlite_db)
    assert (line.debit_fen, line.credits, line.credit_fen, line.net_fen) == (1200, 1, 300, 900)
    assert r.apps["bob"].balance == 5000 - line.net_fen


def test_the_csv_export_has_one_row_per_issuer_operator_and_day(sqlite_db, day):
    _ingest(sqlite_db, day)
    assert settlement.export(sqlite_db, "csv").splitlines() == [
        "issuer,operator,day,debits,debit_fen,credits,credit_fen,net_fen",
        "310123,290001,2026-11-29,3,600,0,0,600",
        "310123,290002,2026-11-29,3,1050,0,0,1050"]


def test_the_json_export_masks_the_cards_it_could_not_settle(sqlite_db, stolen_key_card):
    _ingest(sqlite_db, stolen_key_card)
    text = settlement.export(sqlite_db, "json")
    doc = json.loads(text)
    assert {b["card"] for b in doc["not_settled"]} == {"310123**********0003"}
    assert doc["totals"]["debit_fen"] == 1100
    assert not re.search(r"\d{20}", text)


def test_an_export_format_or_day_that_does_not_exist_is_bad_input(sqlite_db):
    with pytest.raises(BadInput, match="csv or json"):
        settlement.export(sqlite_db, "xml")
    with pytest.raises(BadInput, match="YYYY-MM-DD"):
        settlement.settle(sqlite_db, "29.11.2026")
