"""Card clearing (docs/office.md "Clearing"): per card, the transactions every terminal
recorded must chain.

A card's purse has two counters (docs/purse.md §1.2): the offline ATC moves by one with
every debit it commits (purchase, entry, exit, and the 0-fen composite part of a void or
refund: tx types 06 / 09), the online ATC with every load (tx type 02: top-up, and the cash
part of a refund or void). Each completion record carries the counter value INITIALIZE
answered, the balance after, and (through its intent, ``link``) the balance before. Over
the TAC-verified records of all terminals:

- **fork**: two transactions with one counter value: the card was cloned (or its
  EEPROM rolled back), each copy spending the same money;
- **gap**: a counter value between 0 and the highest seen that no record has: a
  transaction the office never got (a terminal not uploaded yet, a record lost);
- **balance**: a transaction whose balance after is not its balance before less what
  it debited (plus what it loaded), or whose balance before is not the balance after of
  the card's previous transaction (by time, the terminals' clocks).

Each finding names the records involved (terminal, seq) and the card masked.
"""

from __future__ import annotations

from typing import NamedTuple

from host_tools.lib.issuer import TX_LOAD
from host_tools.lib.office import mask_card
from host_tools.lib.office.db import Db
from host_tools.lib.office.ingest import INTENTS


class Tx(NamedTuple):
    terminal: str
    seq: int
    time: int
    card: str
    counter: str  # "offline" (debits) or "online" (loads)
    atc: int
    fen: int  # what the purse lost (+) or gained (-)
    before: int | None  # balance before (the intent's), None when there is no intent
    after: int


class Finding(NamedTuple):
    card: str  # masked
    what: str  # "fork", "gap" or "balance"
    counter: str
    atc: int  # the counter value (a gap: its first)
    detail: str
    records: list[tuple[str, int]]  # (terminal, seq) of the records involved


def transactions(db: Db, card: str | None = None) -> list[Tx]:
    """The TAC-verified card transactions (of ``card``), by card, time, terminal, seq."""
    sql = ("SELECT c.terminal, c.seq, c.time, c.card, c.tx_type, c.atc, c.purse, i.balance, "
           "c.balance FROM records c LEFT JOIN records i ON i.terminal = c.terminal "
           "AND i.seq = c.link AND i.kind IN (%d, %d) WHERE c.tac_ok = 1" % INTENTS)
    params: tuple[str, ...] = ()
    if card is not None:
        sql += " AND c.card = ?"
        params = (card,)
    rows = db.query(sql + " ORDER BY c.card, c.time, c.terminal, c.seq", params)
    return [Tx(str(t), int(s), int(tm), str(c), "online" if int(x) == TX_LOAD else "offline",
               int(a), int(p), None if b is None else int(b), int(after))
            for t, s, tm, c, x, a, p, b, after in rows]


def _ranges(values: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for v in values:
        if out and out[-1][1] == v - 1:
            out[-1] = (out[-1][0], v)
        else:
            out.append((v, v))
    return out


def _counters(card: str, txs: list[Tx]) -> tuple[list[Finding], set[tuple[str, int]]]:
    """Forks and gaps of one card; the records a fork makes second copies."""
    out: list[Finding] = []
    copies: set[tuple[str, int]] = set()
    for counter in ("offline", "online"):
        by_atc: dict[int, list[Tx]] = {}
        for tx in txs:
            if tx.counter == counter:
                by_atc.setdefault(tx.atc, []).append(tx)
        for atc in sorted(by_atc):
            same = by_atc[atc]
            if len(same) > 1:
                out.append(Finding(mask_card(card), "fork", counter, atc,
                                   "%d transactions with %s ATC %d (a cloned card?): %s"
                                   % (len(same), counter, atc, ", ".join(
                                       "%d fen at %s" % (t.fen, t.terminal) for t in same)),
                                   [(t.terminal, t.seq) for t in same]))
                copies.update((t.terminal, t.seq) for t in same[1:])
        if by_atc:
            missing = [a for a in range(0, max(by_atc)) if a not in by_atc]
            for first, last in _ranges(missing):
                span = "%d" % first if first == last else "%d..%d" % (first, last)
                after = by_atc.get(last + 1, [])
                out.append(Finding(mask_card(card), "gap", counter, first,
                                   "no transaction with %s ATC %s (not uploaded, or lost)"
                                   % (counter, span), [(t.terminal, t.seq) for t in after]))
    return out, copies


def _balances(card: str, txs: list[Tx]) -> list[Finding]:
    out = []
    prev: Tx | None = None
    for tx in txs:
        if tx.before is not None and tx.before - tx.fen != tx.after:
            out.append(Finding(mask_card(card), "balance", tx.counter, tx.atc,
                               "balance %d before, %d fen, %d after (should be %d)"
                               % (tx.before, tx.fen, tx.after, tx.before - tx.fen),
                               [(tx.terminal, tx.seq)]))
        if prev is not None and tx.before is not None and tx.before != prev.after:
            out.append(Finding(mask_card(card), "balance", tx.counter, tx.atc,
                               "balance %d before, but %d after the card's previous "
                               "transaction (%s ATC %d at %s)"
                               % (tx.before, prev.after, prev.counter, prev.atc, prev.terminal),
                               [(prev.terminal, prev.seq), (tx.terminal, tx.seq)]))
        prev = tx
    return out


def clear(db: Db, card: str | None = None) -> list[Finding]:
    """Every fork, gap and balance that does not follow, card by card (or of ``card``)."""
    by_card: dict[str, list[Tx]] = {}
    for tx in transactions(db, card):
        by_card.setdefault(tx.card, []).append(tx)
    out: list[Finding] = []
    for number, txs in by_card.items():
        found, copies = _counters(number, txs)
        out += found
        out += _balances(number, [t for t in txs if (t.terminal, t.seq) not in copies])
    return out


def cards_cleared(db: Db) -> int:
    """How many cards have TAC-verified transactions."""
    row = db.one("SELECT COUNT(DISTINCT card) FROM records WHERE tac_ok = 1")
    return int(row[0]) if row else 0
