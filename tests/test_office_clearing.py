"""Card clearing across terminals: every card's transactions chain by its purse counter and
its balance; a clone, a transaction never uploaded and a balance that jumps are reported
with the records involved. On SQLite and on a real PostgreSQL server (docs/office.md
"Clearing")."""

import officekit
import pytest
from officekit import KEYS, NUMBERS, TIDS, journal_files, raw_records, two_operators

from host_tools.lib import journal
from host_tools.lib.office import clearing, ingest, mask_card

db = officekit.db
pg_server = officekit.pg_server


def _ingest_all(db, r, terminals=("A", "B")):
    for t in terminals:
        ingest.ingest_journal(db, KEYS, journal_files(r, t))


def _seq_of(r, terminal, card, kind=0x11, nth=0):
    recs = [journal.decode(x) for x in raw_records(journal_files(r, terminal))]
    return [x.seq for x in recs if x.card == NUMBERS[card] and x.kind == kind][nth]


@pytest.fixture(scope="module")
def honest():
    return officekit.run(two_operators([(1, "A", "alice"), (3, "B", "alice"), (5, "A", "bob"),
                                        (7, "B", "alice"), (9, "A", "alice")]))


@pytest.fixture(scope="module")
def cloned():
    """alice's card and a copy of it (same number, keys, balance, counters) used at the
    other terminal."""
    cards = [{"name": "alice", "number": NUMBERS["alice"], "balance_fen": 1000},
             {"name": "copy", "number": NUMBERS["alice"], "balance_fen": 1000}]
    return officekit.run(two_operators([(1, "A", "alice"), (3, "B", "copy"),
                                        (6, "A", "alice")], cards))


def test_cards_used_at_two_terminals_chain_without_findings(db, honest):
    _ingest_all(db, honest)
    assert clearing.clear(db) == []
    assert clearing.cards_cleared(db) == 2


def test_a_clone_used_at_another_terminal_is_a_fork_naming_both_records(db, cloned):
    _ingest_all(db, cloned)
    [fork] = [f for f in clearing.clear(db) if f.what == "fork"]
    assert (fork.card, fork.counter, fork.atc) == (mask_card(NUMBERS["alice"]), "offline", 0)
    assert sorted(fork.records) == [(TIDS["A"], _seq_of(cloned, "A", "alice")),
                                    (TIDS["B"], _seq_of(cloned, "B", "alice"))]  # the copy


def test_a_fork_is_reported_once_and_the_chain_after_it_still_closes(db, cloned):
    _ingest_all(db, cloned)
    assert [f.what for f in clearing.clear(db)] == ["fork"]


def test_a_transaction_not_uploaded_is_a_counter_gap(db, honest):
    _ingest_all(db, honest, terminals=("B",))  # A's debits of alice (ATC 0 and 3) missing
    gaps = [(f.card, f.counter, f.atc, f.detail) for f in clearing.clear(db) if f.what == "gap"]
    assert gaps == [(mask_card(NUMBERS["alice"]), "offline", 0,
                     "no transaction with offline ATC 0 (not uploaded, or lost)")]


def test_a_balance_raised_between_two_debits_does_not_follow(db):
    class Topped:
        """alice's card with 500 fen added by hand before its second INITIALIZE."""

        def __init__(self, app):
            self.app, self.inits = app, 0

        def power_on(self):
            self.app.power_on()

        def process(self, apdu):
            if apdu[1] == 0x50:
                self.inits += 1
                if self.inits == 2:
                    self.app.balance += 500
            return self.app.process(apdu)

    def tamper(r):
        r.cards["alice"].app = Topped(r.cards["alice"].app)

    r = officekit.run(two_operators([(1, "A", "alice"), (3, "B", "alice")]), tamper)
    _ingest_all(db, r)
    [bad] = clearing.clear(db)
    assert (bad.what, bad.atc) == ("balance", 1)
    assert bad.detail == ("balance 1300 before, but 800 after the card's previous transaction "
                          "(offline ATC 0 at %s)" % TIDS["A"])
    assert bad.records == [(TIDS["A"], _seq_of(r, "A", "alice")),
                           (TIDS["B"], _seq_of(r, "B", "alice"))]
