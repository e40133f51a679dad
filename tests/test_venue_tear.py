"""A walk-in ticket is paid exactly once through a torn or pulled card at every APDU
(docs/venue.md §3): the exactly-once ledger (tests/ledger.py) holds every card commit to
exactly one journal completion, and the visitor is admitted once for it.

A walk-in is SELECT of the purse (1), the social security application (2: SELECT, EF05 (3),
its three records (4-6), EF06 (7), two records (8, 9)), SELECT of the purse again (10),
INITIALIZE FOR PURCHASE (11), DEBIT FOR PURCHASE (12); 13 is past the end: the first tap
completes and the second one is a second ticket.

A payment whose admission never happened -- the power cut after the ``purchase`` record,
before the ``admitted`` one; a booking's due price proven on the card's return -- is owed
that admission: the card's return takes it, and nothing is debited again. (The whole fault
x re-tap sweep of a walk-in is tests/test_exactly_once.py's kind ``walk-in``.)
"""

import ledger
import pytest
import venuekit
from simrun import events, journal

from hw_sim.scenario import Run

LAST_APDU = 12
BOB = "31012300000000000103"


def _retap(mode, n):
    return venuekit.with_events([{"at": "09:06:00", "tap": "bob", mode: n},
                                 {"at": "09:07:00", "tap": "bob"}])


def _check(r, tickets):
    assert ledger.check(r) == []
    assert r.apps["bob"].balance == 10000 - 4000 * tickets
    assert len(r.apps["bob"].commits) == tickets
    paid = [e for e in events(r, "ticket") if e["card"].endswith("0103")]
    assert [e["fen"] for e in paid] == [4000] * tickets
    admitted = [x for x in journal(r) if x["kind"] == "admitted" and x["card"] == BOB]
    assert len(admitted) == tickets


@pytest.mark.parametrize("n", range(1, LAST_APDU + 2))
def test_a_walk_in_torn_at_any_apdu_pays_once(n):
    _check(Run(_retap("tear_at_apdu", n), "tear").run(), 1 if n <= LAST_APDU else 2)


@pytest.mark.parametrize("n", range(1, LAST_APDU + 2))
def test_a_walk_in_pulled_after_any_apdu_pays_once(n):
    _check(Run(_retap("remove_after_apdu", n), "pull").run(), 1 if n < LAST_APDU else 2)


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_a_torn_debit_is_proven_on_return_and_admitted_then(runtime):
    r = Run(_retap("tear_at_apdu", LAST_APDU), "tear").run(runtime)
    _check(r, 1)
    [pending] = events(r, "pending")
    [ticket] = [e for e in events(r, "ticket") if e["card"].endswith("0103")]
    assert (pending["fen"], ticket["recovered"]) == (4000, True)


def _records(r, number):
    return [(x["seq"], x["kind"], x["tseq"], x["link"]) for x in journal(r)
            if x["card"] == number and x["kind"] in ("purchase", "admitted", "refused")]


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_a_walk_in_paid_just_before_a_power_cut_is_admitted_on_return_without_a_second_debit(
        runtime):
    # the tap's 16th flash operation is the admitted record's: the power goes after the
    # purchase is journaled and before the visitor is admitted; the card leaves in the dark
    r = Run(venuekit.with_events([
        {"at": "09:06:00", "tap": "bob", "hold_ms": 300},
        {"at": "09:06:00", "power_cut": {"after_ops": 16}},
        {"at": "09:07:00", "tap": "bob"}]), "cut").run(runtime)
    assert ledger.check(r) == [] and r.power_cuts
    assert (r.apps["bob"].balance, len(r.apps["bob"].commits)) == (6000, 1)
    [ticket] = [e for e in events(r, "ticket") if e["card"].endswith("0103")]
    assert (ticket["t"][11:16], ticket["fen"], ticket["recovered"]) == ("09:07", 4000, True)
    [(paid, _, _, _), admitted] = _records(r, BOB)
    assert admitted[1:] == ("admitted", 0, paid)  # a walk-in, paid by that purchase


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_a_bookings_due_price_proven_on_return_admits_the_booking_and_only_once(runtime):
    # frank's booking 2003 (09:30) has 50.00 due: the card is torn at its DEBIT
    r = Run(venuekit.with_events([
        {"at": "09:20:00", "tap": "frank", "tear_at_apdu": LAST_APDU},
        {"at": "09:21:00", "tap": "frank"},
        {"at": "09:22:00", "tap": "frank"}]), "due").run(runtime)
    assert ledger.check(r) == []
    assert (r.apps["frank"].balance, len(r.apps["frank"].commits)) == (3000, 1)
    [admit] = events(r, "admit")
    assert (admit["booking"], admit["people"], admit["fen"]) == (2003, 1, 5000)
    [(paid, _, _, _), admitted, refused] = _records(r, "31012300000000000102")
    assert admitted[1:] == ("admitted", 2003, paid)
    assert refused[1:3] == ("refused", 2003)  # already entered, not charged again
