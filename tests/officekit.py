"""Helpers for the back-office tests (tests/test_office_*.py): real journals from simulator
runs, the office's keys for them, and the ``db`` fixture: a SQLite file, and a fresh database
on a real PostgreSQL server (tests/pgserver.py) started once per test process.

Use the fixtures by assigning them in a test module (``db = officekit.db``).
"""

import itertools
import os

import pgserver
import pytest

from host_tools.lib import journal
from host_tools.lib.issuer import IssuerKeys, seed_keys
from host_tools.lib.office.db import open_db
from hw_sim.lfs import LfsVfs
from hw_sim.scenario import DEFAULT_SEED, Run

KEYS = seed_keys(DEFAULT_SEED)
NUMBERS = {"alice": "31012300000000000001", "bob": "31012300000000000002",
           "carol": "31012300000000000003"}
TIDS = {"A": "290001000001", "B": "290002000001"}  # two operators: 290001 and 290002
FARES = {"A": 200, "B": 350}


def two_operators(taps, cards=None):
    """Fixed-fare terminals A (200 fen, operator 290001) and B (350 fen, operator 290002);
    ``taps``: [(seconds, terminal, card)]."""
    return {
        "start": "2026-11-29T07:00:00",
        "terminals": [{"id": name, "role": "fixed_fare", "board": "devkitc-turnstile",
                       "config": {"fare_fen": FARES[name], "terminal_id": TIDS[name]}}
                      for name in ("A", "B")],
        "cards": cards or [{"name": n, "number": no, "balance_fen": 1000}
                           for n, no in NUMBERS.items()],
        "events": [{"at": at, "terminal": term, "tap": card} for at, term, card in taps],
    }


def run(data, prepare=None):
    r = Run(data)
    if prepare is not None:
        prepare(r)
    r.run("cpython")
    return r


def journal_files(r, terminal):
    """A terminal's journal files ({name: bytes}), read from its flash."""
    fs = LfsVfs(r.terms[terminal].flash)
    out = {}
    for name in sorted(fs.listdir("/journal")):
        with fs.open("/journal/" + name, "rb") as f:
            out[name] = f.read()
    return out


def raw_records(files):
    """The journal's records (64 bytes each) in seq order."""
    data = b"".join(files[n] for n in sorted(files) if n.endswith(".seg"))
    return [data[i:i + journal.RECORD] for i in range(0, len(data), journal.RECORD)]


def paid(r):
    """Fen the cards lost in the run (what the scenario debited)."""
    return sum(c.get("balance_fen", 0) for c in r.scenario.cards.values()) - sum(
        a.balance for a in r.apps.values())


def other_tac_issuer_card(r, name):
    """Replace card ``name`` by one whose purchase and load keys are the terminals' (so it
    pays) but whose TAC key is another issuer's: a card made with a stolen SAM key."""
    ours = IssuerKeys.from_seed(DEFAULT_SEED.encode())
    theirs = IssuerKeys.from_seed(b"another issuer")
    from hw_sim.issuer import issue_card

    c = r.scenario.cards[name]
    app = issue_card(c["number"], balance_fen=c["balance_fen"],
                     issuer_keys=IssuerKeys(ours.purchase_master, ours.load_master,
                                            theirs.tac_master))
    r.apps[name] = app
    r.cards[name].app = app


_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server():
    try:
        server = pgserver.start()
    except pgserver.Unavailable as e:
        if os.environ.get("YKT_REQUIRE_SERVERS") == "1":
            pytest.fail("PostgreSQL is required (YKT_REQUIRE_SERVERS=1): %s" % e)
        pytest.skip("no PostgreSQL server here: %s" % e)
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        d = open_db(str(tmp_path / "office.sqlite"))
    else:
        server = request.getfixturevalue("pg_server")
        d = open_db(server.new_database("office%d" % next(_numbers)))
    yield d
    d.close()


@pytest.fixture
def sqlite_db(tmp_path):
    d = open_db(str(tmp_path / "office.sqlite"))
    yield d
    d.close()
