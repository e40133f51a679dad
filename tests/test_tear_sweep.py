"""Anti-tearing: a card torn or pulled at any APDU is charged exactly once after it returns."""

import pytest
from simrun import NUMBERS, events, records, scenario

from hw_sim.scenario import Run

# A purchase is SELECT (1), INITIALIZE FOR PURCHASE (2), DEBIT FOR PURCHASE (3);
# 4 is past the end: that tap completes and the re-tap is a second purchase.
APDUS = [1, 2, 3, 4]
LAST_APDU = 3


def _retap(mode, n):
    return [{"at": 1, "tap": "alice", mode: n}, {"at": 6, "tap": "alice"}]


def _assert_charged(r, purchases=1):
    """The card paid ``purchases`` fares, and the record file says exactly that."""
    app = r.apps["alice"]
    assert app.balance == 1000 - 350 * purchases
    assert app.offline_atc == purchases
    paid = [x for x in records(r) if x["kind"] == "purchase" and x["card"] == NUMBERS["alice"]]
    assert [(x["fen"], x["balance"], x["atc"]) for x in paid] == [
        (350, 1000 - 350 * (i + 1), i) for i in range(purchases)]


def _assert_charged_once(r):
    _assert_charged(r, 1)


@pytest.mark.parametrize("n", APDUS)
def test_card_torn_at_apdu_is_charged_exactly_once_after_retap(tmp_path, n):
    r = Run(scenario(_retap("tear_at_apdu", n))).run()
    _assert_charged(r, 1 if n <= LAST_APDU else 2)


@pytest.mark.parametrize("n", APDUS)
def test_card_pulled_after_apdu_is_charged_exactly_once_after_retap(tmp_path, n):
    r = Run(scenario(_retap("remove_after_apdu", n))).run()
    _assert_charged(r, 1 if n < LAST_APDU else 2)


def test_torn_debit_is_proven_on_return_not_charged_again(tmp_path):
    r = Run(scenario(_retap("tear_at_apdu", 3))).run()
    assert [x["kind"] for x in records(r)] == ["purchase-intent", "purchase"]
    [debit] = events(r, "debit")
    assert debit["recovered"] is True


def test_debit_that_never_reached_the_card_is_recorded_unpaid_then_charged(tmp_path):
    r = Run(scenario(_retap("remove_after_apdu", 2))).run()
    assert [x["kind"] for x in records(r)] == [
        "purchase-intent", "unpaid", "purchase-intent", "purchase"]
    [debit] = events(r, "debit")
    assert debit["recovered"] is False


def test_torn_card_without_retap_stays_pending(tmp_path):
    r = Run(scenario([{"at": 1, "tap": "alice", "tear_at_apdu": 3}])).run()
    [pending] = events(r, "pending")
    assert pending["fen"] == 350
    assert [x["kind"] for x in records(r)] == ["purchase-intent"]


def test_other_card_is_served_while_a_purchase_is_pending(tmp_path):
    r = Run(scenario([{"at": 1, "tap": "alice", "tear_at_apdu": 3},
                      {"at": 4, "tap": "bob"},
                      {"at": 8, "tap": "alice"}])).run()
    assert r.apps["bob"].balance == 650
    _assert_charged_once(r)
