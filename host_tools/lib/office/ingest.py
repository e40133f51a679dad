"""Idempotent ingest of terminals' journal records (docs/office.md "Ingest").

A record (64 bytes, docs/stores.md "Journal") is decoded and checked with
:mod:`host_tools.lib.journal` (``crc_ok``, ``decode``, the chain ``mac8``/``genesis``): the
office does not read the format a third way. Per terminal:

- a record whose CRC fails, that names another terminal than the one it was uploaded for,
  or whose chain MAC does not follow from its predecessor's is **quarantined** (kept with
  the reason, reported, never stored as good nor acknowledged);
- a good-CRC record waits in ``pending`` until its predecessor is stored, then its MAC is
  checked against the predecessor's: records are stored in sequence order only, so the
  **watermark** (the acknowledgement) is the highest contiguous seq stored;
- a record delivered again is stored once (the same bytes change nothing; other bytes for a
  stored seq are quarantined: a forgery or a re-imaged terminal);
- :func:`gaps` names the seq ranges to ask the terminal to resend.

Every card transaction's TAC (``purchase``, ``entry``, ``exit``, ``load``, ``refund``,
``void``) is checked with the issuer's TAC master when the record is stored; a record
whose TAC fails is stored (the chain is the terminal's) with ``tac_ok`` 0 and is not
settled.
"""

from __future__ import annotations

import datetime
import hmac
import struct
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from host_tools.lib import journal
from host_tools.lib.errors import BadInput
from host_tools.lib.issuer import TX_LOAD, OfficeKeys, cmac4, datetime7, diversify, serial8
from host_tools.lib.office import default_operator, mask_card
from host_tools.lib.office.db import Db

# journal kinds whose record completes a card transaction and carries its TAC
TAC_KINDS = {0x11: "purchase", 0x20: "entry", 0x21: "exit", 0x30: "load", 0x31: "refund",
             0x32: "void"}
INTENTS = (0x10, 0x15)
CHAIN_BROKEN = "chain broken (record edited, reordered or deleted, or wrong key)"


class Quarantined(NamedTuple):
    terminal: str
    seq: int
    reason: str


class BadTac(NamedTuple):
    terminal: str
    seq: int
    kind: str
    card: str  # masked
    fen: int


class Report(NamedTuple):
    """What one ingest did for one terminal."""

    terminal: str
    received: int  # whole records offered
    stored: int  # newly stored as good
    duplicates: int  # delivered before: nothing changed
    waiting: int  # records held until an earlier one arrives (after this ingest)
    quarantined: list[Quarantined]  # newly quarantined
    bad_tac: list[BadTac]  # newly stored records whose TAC did not verify
    torn: int  # partial records (a torn tail) skipped
    watermark: int  # the acknowledgement: highest contiguous seq stored
    gaps: list[tuple[int, int]]  # seq ranges to ask the terminal for


_CARD_KEYS: dict[tuple[bytes, str], bytes] = {}  # (TAC master, card) -> the card's TAC key
_CARD_KEYS_MAX = 200000


def _tac_ok(tac_master: bytes, r: journal.Record, amount: int) -> bool:
    """The TAC of a card transaction record verifies (docs/purse.md §5.4: the message of
    ``issuer.verify_tac`` / ``verify_load_tac``), with each card's diversified TAC key
    kept (a card taps many times a day; the diversification is an AES operation)."""
    k = (tac_master, r.card)
    key = _CARD_KEYS.get(k)
    if key is None:
        if len(_CARD_KEYS) >= _CARD_KEYS_MAX:
            _CARD_KEYS.clear()
        key = _CARD_KEYS[k] = diversify(tac_master, serial8(r.card))
    t = datetime.datetime(2000, 1, 1) + datetime.timedelta(seconds=r.time)
    dt7 = datetime7(t.year, t.month, t.day, t.hour, t.minute, t.second)
    if r.tx_type == TX_LOAD:
        msg = struct.pack(">IHIB", r.balance, r.atc, amount, TX_LOAD) + r.terminal + dt7
    else:
        msg = (struct.pack(">IHIB", r.balance, r.atc, amount, r.tx_type) + r.terminal
               + struct.pack(">I", r.tseq) + dt7)
    return hmac.compare_digest(cmac4(key, msg), r.tac)


def _seq_of(raw: bytes) -> int:
    return int.from_bytes(raw[:4], "big") if len(raw) >= 4 else 0


class _Terminal:
    """The chain state of one terminal while a batch is ingested (in memory, written at the
    end: the records in one statement, the pending ones in one)."""

    def __init__(self, db: Db, keys: OfficeKeys, tid: bytes, watermark: int, mac: bytes,
                 waiting: dict[int, set[bytes]], quarantine_top: int = 0) -> None:
        self.db, self.tid, self.hex = db, tid, tid.hex()
        self.key = keys.journal_key(tid)
        self.tac_master = keys.tac_master
        self.watermark = watermark
        self.mac = mac
        self.start = watermark
        self.waiting = waiting
        self.had_pending = bool(waiting)
        self.quarantine_top = quarantine_top  # highest seq quarantined before (gaps)
        self.fresh: list[tuple[int, bytes]] = []  # offered now, not in pending yet
        self.old: list[bytes] = []  # offered at or below the watermark
        self.rows: list[tuple[object, ...]] = []  # good records to insert
        self.quarantined: list[Quarantined] = []
        self.bad_tac: list[BadTac] = []
        self.duplicates = 0
        self.intents: dict[int, int] = {}  # seq -> amount, intents stored in this batch
        self.links: set[int] = set()  # stored intents the records offered complete
        self.decoded: dict[bytes, journal.Record] = {}  # offered records, decoded once
        self.stored_intents: dict[int, int] = {}  # seq -> amount, of those (_intents)

    def quarantine(self, seq: int, raw: bytes, reason: str) -> None:
        if self.db.execute("INSERT INTO quarantine (terminal, seq, raw, reason) "
                           "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                           (self.hex, seq, raw.hex(), reason)):
            self.quarantined.append(Quarantined(self.hex, seq, reason))
        else:
            self.duplicates += 1

    def offer(self, raw: bytes) -> None:
        """Take one whole record."""
        if not journal.crc_ok(raw):
            self.quarantine(_seq_of(raw), raw, "bad CRC")
            return
        r = journal.decode(raw)
        if r.terminal != self.tid:
            self.quarantine(r.seq, raw, "names terminal %s, uploaded as %s"
                            % (r.terminal.hex(), self.hex))
        elif r.seq <= self.watermark:
            self.old.append(raw)
        elif raw in self.waiting.get(r.seq, ()):
            self.duplicates += 1
        else:
            self.waiting.setdefault(r.seq, set()).add(raw)
            self.fresh.append((r.seq, raw))
            self.decoded[raw] = r
            if r.kind in TAC_KINDS and 0 < r.link <= self.watermark:
                self.links.add(r.link)  # its intent is stored: read with the batch's

    def compare_old(self) -> None:
        """Records offered again at or below the watermark: the same bytes change nothing."""
        if not self.old:
            return
        seqs = [_seq_of(raw) for raw in self.old]
        stored = {int(seq): str(raw) for seq, raw in self.db.query(
            "SELECT seq, raw FROM records WHERE terminal = ? AND seq BETWEEN ? AND ?",
            (self.hex, min(seqs), max(seqs)))}
        for seq, raw in zip(seqs, self.old):
            if stored.get(seq) == raw.hex():
                self.duplicates += 1
            else:
                self.quarantine(seq, raw, "differs from the record stored with this seq"
                                if seq in stored else "at or below the acknowledged seq")

    def _purse(self, r: journal.Record) -> tuple[int, bool]:
        """(fen the purse lost (+) or gained (-), TAC verified) of a TAC record."""
        amount = self.intents.get(r.link)
        if amount is None:
            amount = self.stored_intents.get(r.link)
        if amount is None and r.link and r.link not in self.links:
            row = self.db.one("SELECT amount, kind FROM records WHERE terminal = ? AND seq = ?",
                              (self.hex, r.link))
            if row is not None and int(row[1]) in INTENTS:
                amount = int(row[0])
        if amount is None:
            amount = abs(r.amount) if r.tx_type == TX_LOAD else r.amount
        try:
            ok = _tac_ok(self.tac_master, r, amount)
        except (ValueError, OverflowError, struct.error):  # not a card number, out of range
            ok = False
        return (-amount if r.tx_type == TX_LOAD else amount), ok

    def _store(self, raw: bytes) -> None:
        r = self.decoded.pop(raw, None) or journal.decode(raw)
        tac_ok: int | None = None
        purse: int | None = None
        if r.kind in TAC_KINDS:
            purse, ok = self._purse(r)
            tac_ok = int(ok)
            if not ok:
                self.bad_tac.append(BadTac(self.hex, r.seq, TAC_KINDS[r.kind],
                                           mask_card(r.card), purse))
        elif r.kind in INTENTS:
            self.intents[r.seq] = r.amount
        self.rows.append((self.hex, r.seq, r.time, r.kind, r.tx_type, r.card, r.atc, r.amount,
                          r.balance, r.tac.hex(), r.random.hex(), r.link, r.tseq, r.mac.hex(),
                          raw.hex(), tac_ok, purse))

    def advance(self) -> None:
        """Take every waiting record that now follows the chain, in seq order (written by
        :func:`_write`, for every terminal of a batch at once)."""
        while self.watermark + 1 in self.waiting:
            seq = self.watermark + 1
            cands = sorted(self.waiting.pop(seq))
            good = next((raw for raw in cands
                         if journal.mac8(self.key, self.mac, raw[:journal.FIELDS])
                         == raw[journal.FIELDS:60]), None)
            for raw in cands:
                if raw != good:
                    self.quarantine(seq, raw, CHAIN_BROKEN if good is None else
                                    "another record with this seq follows the chain")
            if good is None:
                self.db.execute("DELETE FROM pending WHERE terminal = ? AND seq = ?",
                                (self.hex, seq))
                break
            self._store(good)
            self.watermark, self.mac = seq, good[journal.FIELDS:60]

    def gaps(self) -> list[tuple[int, int]]:
        """:func:`gaps` from what this ingest knows (no query)."""
        seen = [s for s in (self.quarantine_top, *(q.seq for q in self.quarantined))
                if s > self.watermark]
        return _holes(self.watermark, set(self.waiting), max([self.watermark, *self.waiting,
                                                              *seen]))

    def report(self, received: int, torn: int) -> Report:
        return Report(self.hex, received, len(self.rows), self.duplicates,
                      sum(len(v) for v in self.waiting.values()), self.quarantined,
                      self.bad_tac, torn, self.watermark, self.gaps())


RECORD_COLUMNS = ("terminal", "seq", "time", "kind", "tx_type", "card", "atc", "amount",
                  "balance", "tac", "random", "link", "tseq", "mac", "raw", "tac_ok", "purse")
RECORD_TYPES = ("text", "bigint", "bigint", "bigint", "bigint", "text", "bigint", "bigint",
                "bigint", "text", "text", "bigint", "bigint", "text", "text", "bigint", "bigint")


def _in(values: list[Any]) -> str:
    return "(%s)" % ", ".join("?" * len(values))


def _load(db: Db, keys: OfficeKeys, tids: list[bytes], operator: str | None,
          anchor: tuple[int, bytes] | None) -> list[_Terminal]:
    """The chain state of each terminal (sorted: workers lock rows in one order), its row
    locked until the transaction ends; a terminal never seen gets its row."""
    hexes = [t.hex() for t in tids]
    sql = ("SELECT terminal, watermark, chain_mac FROM terminals WHERE terminal IN %s "
           "ORDER BY terminal" % _in(hexes)) + db.lock_row
    rows = {str(r[0]): r for r in db.query(sql, hexes)}
    new = [t for t in tids if t.hex() not in rows]
    for tid in new:
        start, mac = anchor if anchor else (0, journal.genesis(keys.journal_key(tid), tid))
        db.execute("INSERT INTO terminals (terminal, operator, watermark, chain_mac, anchor) "
                   "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                   (tid.hex(), operator or default_operator(tid.hex()), start, mac.hex(),
                    start))
    if new:  # (another worker may have made one meanwhile: read what is there)
        made = [t.hex() for t in new]
        rows.update({str(r[0]): r for r in db.query(
            ("SELECT terminal, watermark, chain_mac FROM terminals WHERE terminal IN %s "
             "ORDER BY terminal" % _in(made)) + db.lock_row, made)})
    if operator is not None:
        db.execute("UPDATE terminals SET operator = ? WHERE terminal IN %s" % _in(hexes),
                   (operator, *hexes))
    waiting: dict[str, dict[int, set[bytes]]] = {h: {} for h in hexes}
    for t, seq, raw in db.query("SELECT terminal, seq, raw FROM pending WHERE terminal IN %s"
                                % _in(hexes), hexes):
        waiting[str(t)].setdefault(int(seq), set()).add(bytes.fromhex(str(raw)))
    top = {str(t): int(m) for t, m in db.query(
        "SELECT terminal, MAX(seq) FROM quarantine WHERE terminal IN %s GROUP BY terminal"
        % _in(hexes), hexes)}
    return [_Terminal(db, keys, tid, int(rows[tid.hex()][1]),
                      bytes.fromhex(str(rows[tid.hex()][2])), waiting[tid.hex()],
                      top.get(tid.hex(), 0)) for tid in tids]


def _intents(db: Db, terms: list[_Terminal]) -> None:
    """The stored intents the offered completions link to, for all terminals in one query
    (a purchase whose intent went up in the message before)."""
    want = [t for t in terms if t.links]
    if not want:
        return
    hexes = [t.hex for t in want]
    seqs = sorted({s for t in want for s in t.links})
    rows = db.query("SELECT terminal, seq, amount FROM records WHERE terminal IN %s AND seq IN "
                    "%s AND kind IN (%d, %d)" % (_in(hexes), _in([""] * len(seqs)), *INTENTS),
                    (*hexes, *seqs))
    by = {t.hex: t for t in want}
    for tid, seq, amount in rows:
        t = by[str(tid)]
        if int(seq) in t.links:
            t.stored_intents[int(seq)] = int(amount)


def _write(db: Db, terms: list[_Terminal]) -> None:
    """Write what a batch's ingest took: the records (one statement for all terminals),
    the watermarks, the pending records."""
    db.insert("records", RECORD_COLUMNS, RECORD_TYPES, [row for t in terms for row in t.rows])
    moved = [(t.hex, t.watermark, t.mac.hex()) for t in terms if t.watermark > t.start]
    drop = [(t.hex, t.watermark) for t in terms if t.watermark > t.start and t.had_pending]
    if db.postgres and moved:  # one statement each, whatever the number of terminals
        cols = [list(c) for c in zip(*moved)]
        db.conn.execute("UPDATE terminals SET watermark = v.w, chain_mac = v.m FROM "
                        "unnest(%b::text[], %b::bigint[], %b::text[]) AS v(t, w, m) "
                        "WHERE terminals.terminal = v.t", cols)
        if drop:
            cols = [list(c) for c in zip(*drop)]
            db.conn.execute("DELETE FROM pending USING unnest(%b::text[], %b::bigint[]) "
                            "AS v(t, w) WHERE pending.terminal = v.t AND pending.seq <= v.w",
                            cols)
    else:
        db.many("UPDATE terminals SET watermark = ?, chain_mac = ? WHERE terminal = ?",
                [(w, m, h) for h, w, m in moved])
        db.many("DELETE FROM pending WHERE terminal = ? AND seq <= ?", drop)
    db.many("INSERT INTO pending (terminal, seq, raw) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [(t.hex, seq, raw.hex()) for t in terms for seq, raw in t.fresh
             if raw in t.waiting.get(seq, ())])


def _terminal_id(text: str | bytes) -> bytes:
    if isinstance(text, bytes):
        tid = text
    else:
        try:
            tid = bytes.fromhex(text)
        except ValueError:
            tid = b""
    if len(tid) != 6:
        raise BadInput("terminal id %r: 12 hex digits" % (text,))
    return tid


def ingest_records(db: Db, keys: OfficeKeys, terminal: str | bytes, raws: Iterable[bytes], *,
                   operator: str | None = None,
                   anchor: tuple[int, bytes] | None = None) -> Report:
    """Ingest records uploaded by one terminal (``terminal``: its id, 12 hex digits or 6
    bytes), in any order, any number of times. ``anchor``: (seq, mac) the terminal's chain
    continues from when the office has nothing of it yet (its ack file's anchor; default
    the genesis). One transaction: all of it is stored or none."""
    return ingest_batch(db, keys, {terminal: raws}, operator=operator, anchor=anchor)[0]


def ingest_batch(db: Db, keys: OfficeKeys, uploads: Mapping[Any, Iterable[bytes]], *,
                 operator: str | None = None,
                 anchor: tuple[int, bytes] | None = None) -> list[Report]:
    """:func:`ingest_records` for several terminals in one transaction (the service's
    batches): each terminal's chain state read in one query for all, the records of all
    of them written in one statement. Reports in the order of ``uploads``."""
    tids = [_terminal_id(t) for t in uploads]
    if len(set(tids)) != len(tids):
        raise BadInput("a terminal named twice in one batch")
    with db.transaction():
        terms = {t.tid: t for t in _load(db, keys, sorted(tids), operator, anchor)}
        counts = []
        for tid, raws in zip(tids, uploads.values()):
            t = terms[tid]
            received = torn = 0
            for raw in raws:
                raw = bytes(raw)
                for off in range(0, len(raw) - journal.RECORD + 1, journal.RECORD):
                    received += 1
                    t.offer(raw[off:off + journal.RECORD])
                if len(raw) % journal.RECORD:
                    torn += 1
            counts.append((received, torn))
        _intents(db, list(terms.values()))
        for tid in tids:
            t = terms[tid]
            t.compare_old()
            t.advance()
        _write(db, list(terms.values()))
        return [terms[tid].report(*n) for tid, n in zip(tids, counts)]


def journal_terminal(files: journal.Files) -> bytes | None:
    """The terminal the journal's records name most (good CRCs only)."""
    seen: Counter[bytes] = Counter()
    for name in sorted(files):
        if name.endswith(".seg"):
            data = files[name]
            for off in range(0, len(data) - journal.RECORD + 1, journal.RECORD):
                raw = data[off:off + journal.RECORD]
                if journal.crc_ok(raw):
                    seen[journal.decode(raw).terminal] += 1
    return seen.most_common(1)[0][0] if seen else None


def ingest_journal(db: Db, keys: OfficeKeys, files: journal.Files, *,
                   operator: str | None = None, source: str = "journal") -> Report:
    """Ingest a terminal's journal files (``journal.load``: a directory, a LittleFS image,
    a flash dump). Its ack file, when its MAC verifies, gives the chain's anchor."""
    tid = journal_terminal(files)
    if tid is None:
        raise BadInput("%s: no record with a good CRC (whose terminal is it?)" % source)
    anchor = None
    if "ack" in files:
        try:
            _, seq, mac = journal._ack(files, keys.journal_key(tid))
        except ValueError as e:
            raise BadInput("%s: %s" % (source, e)) from None
        if mac is not None:
            anchor = (seq, mac)
    segments = [files[n] for n in sorted(files) if n.endswith(".seg")]
    return ingest_records(db, keys, tid, segments, operator=operator, anchor=anchor)


def watermark(db: Db, terminal: str) -> int:
    """The highest contiguous seq stored for ``terminal`` (0: nothing yet)."""
    row = db.one("SELECT watermark FROM terminals WHERE terminal = ?", (terminal,))
    return int(row[0]) if row else 0


def gaps(db: Db, terminal: str, upto: int | None = None) -> list[tuple[int, int]]:
    """Seq ranges (first, last) the office lacks between the watermark and the newest record
    it has seen of ``terminal`` (or ``upto``, e.g. the terminal's heartbeat's last seq):
    what to ask the terminal to resend. A quarantined seq is lacking too."""
    mark = watermark(db, terminal)
    have = {int(r[0]) for r in db.query("SELECT DISTINCT seq FROM pending WHERE terminal = ?",
                                         (terminal,))}
    seen = [int(r[0]) for r in db.query("SELECT MAX(seq) FROM quarantine WHERE terminal = ?",
                                        (terminal,)) if r[0] is not None]
    return _holes(mark, have, max([mark, upto or 0, *have, *seen]))


def _holes(mark: int, have: set[int], top: int) -> list[tuple[int, int]]:
    """The ranges above ``mark`` up to ``top`` that are not in ``have``."""
    out: list[tuple[int, int]] = []
    first = None
    for seq in range(mark + 1, top + 1):
        if seq not in have:
            first = seq if first is None else first
        elif first is not None:
            out.append((first, seq - 1))
            first = None
    if first is not None:
        out.append((first, top))
    return out


def quarantine(db: Db, terminal: str | None = None) -> list[Quarantined]:
    """Every quarantined record (of ``terminal``), by terminal and seq."""
    sql = "SELECT terminal, seq, reason FROM quarantine"
    params: tuple[str, ...] = ()
    if terminal is not None:
        sql += " WHERE terminal = ?"
        params = (terminal,)
    return [Quarantined(str(t), int(s), str(r))
            for t, s, r in db.query(sql + " ORDER BY terminal, seq, raw", params)]


def bad_tacs(db: Db) -> list[BadTac]:
    """Every stored card transaction whose TAC did not verify (not settled)."""
    return [BadTac(str(t), int(s), TAC_KINDS.get(int(k), "kind-%02x" % int(k)),
                   mask_card(str(c)), int(p))
            for t, s, k, c, p in db.query("SELECT terminal, seq, kind, card, purse FROM records "
                                          "WHERE tac_ok = 0 ORDER BY terminal, seq")]
