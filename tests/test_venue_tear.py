"""A walk-in ticket is paid exactly once through a torn or pulled card at every APDU
(docs/venue.md §3): the exactly-once ledger (tests/ledger.py) holds every card commit to
exactly one journal completion, and the visitor is admitted once for it.

A walk-in is SELECT of the purse (1), the social security application (2: SELECT, EF05 (3),
its three records (4-6), EF06 (7), two records (8, 9)), SELECT of the purse again (10),
INITIALIZE FOR PURCHASE (11), DEBIT FOR PURCHASE (12); 13 is past the end: the first tap
completes and the second one is a second ticket.
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
