"""The back office's database: one schema, versioned migrations, SQLite or PostgreSQL.

``open_db(target)``: a file path (SQLite through the standard library, created on first
use) or a ``postgresql://`` URL (psycopg 3). Both run the same SQL: the library writes
``?`` placeholders and :class:`Db` turns them into psycopg's ``%s`` in one place
(:meth:`Db._sql`). Types are the ones both know (``BIGINT``, ``TEXT``); binary values are
stored as lowercase hex text, so a dump reads the same from either database.

The schema is :data:`MIGRATIONS`, an ordered list; ``schema_version`` holds how many of
them the database has run. Opening a database runs the ones it lacks, each in its own
transaction with its version row, so a database is always at a version the list names. A
database newer than this code (a later version) is refused rather than guessed at.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from host_tools.lib.errors import BadInput, Failed

MIGRATION_LOCK = 0x796B7401  # the PostgreSQL advisory lock migrations run under ("ykt", 1)
Row = tuple[Any, ...]
Params = Sequence[Any]

# Each migration: the statements that take the schema from the previous version to this one.
MIGRATIONS: list[list[str]] = [
    [  # 1: terminals, good records, records waiting for their predecessor, quarantine
        """CREATE TABLE terminals (
            terminal TEXT PRIMARY KEY,      -- 12 hex digits (the SAM's terminal id)
            operator TEXT NOT NULL,         -- who runs it (settlement)
            watermark BIGINT NOT NULL,      -- highest contiguous seq stored (the ack)
            chain_mac TEXT NOT NULL,        -- the mac the next record chains from
            anchor BIGINT NOT NULL          -- seq the chain started after (0: genesis)
        )""",
        """CREATE TABLE records (
            terminal TEXT NOT NULL, seq BIGINT NOT NULL, time BIGINT NOT NULL,
            kind BIGINT NOT NULL, tx_type BIGINT NOT NULL, card TEXT NOT NULL,
            atc BIGINT NOT NULL, amount BIGINT NOT NULL, balance BIGINT NOT NULL,
            tac TEXT NOT NULL, random TEXT NOT NULL, link BIGINT NOT NULL,
            tseq BIGINT NOT NULL, mac TEXT NOT NULL, raw TEXT NOT NULL,
            tac_ok BIGINT,                  -- 1 / 0 for a card transaction's TAC, else NULL
            purse BIGINT,                   -- fen the purse lost (+) or gained (-), TAC records
            PRIMARY KEY (terminal, seq)
        )""",
        "CREATE INDEX records_card ON records (card, kind)",
        """CREATE TABLE pending (
            terminal TEXT NOT NULL, seq BIGINT NOT NULL, raw TEXT NOT NULL,
            PRIMARY KEY (terminal, seq, raw)
        )""",
        """CREATE TABLE quarantine (
            terminal TEXT NOT NULL, seq BIGINT NOT NULL, raw TEXT NOT NULL,
            reason TEXT NOT NULL,
            PRIMARY KEY (terminal, seq, raw)
        )""",
    ],
    [  # 2: fleet sync (docs/sync.md): heartbeats, the denylist, published updates, groups
        """CREATE TABLE heartbeats (
            terminal TEXT PRIMARY KEY,      -- the latest heartbeat of each terminal
            received BIGINT NOT NULL,       -- office time it came (seconds since 2000, local)
            drift BIGINT NOT NULL,          -- its clock minus the office's, seconds
            beats BIGINT NOT NULL,          -- heartbeats received from it
            role TEXT NOT NULL, fw TEXT NOT NULL,
            tariff BIGINT NOT NULL, deny BIGINT NOT NULL, config BIGINT NOT NULL,
            staff BIGINT NOT NULL, canteen BIGINT NOT NULL, clock BIGINT NOT NULL,
            used BIGINT NOT NULL, free BIGINT NOT NULL, last BIGINT NOT NULL,
            acked BIGINT NOT NULL, backlog BIGINT NOT NULL, pending BIGINT NOT NULL
        )""",
        """CREATE TABLE denylist (
            card TEXT PRIMARY KEY,          -- whole card number (the terminals need it)
            reason BIGINT NOT NULL,         -- the denylist file's reason code
            note TEXT NOT NULL,             -- the operator's --reason text
            version BIGINT NOT NULL,        -- the denylist version that added it
            added BIGINT NOT NULL           -- office time (seconds since 2000, local)
        )""",
        """CREATE TABLE updates (
            terminal TEXT NOT NULL, name TEXT NOT NULL,  -- topic ykt/o/TID/upd/NAME
            version BIGINT NOT NULL,
            apply_by BIGINT NOT NULL,       -- seconds since 2000 local, 0: at once
            published BIGINT NOT NULL,      -- office time
            cleared BIGINT,                 -- office time the retained message was cleared
            PRIMARY KEY (terminal, name, version)
        )""",
        """CREATE TABLE terminal_groups (
            name TEXT NOT NULL, terminal TEXT NOT NULL,
            PRIMARY KEY (name, terminal)
        )""",
    ],
    [  # 3: updates larger than a packet, sent as a manifest and parts (docs/sync.md)
        """CREATE TABLE update_payloads (
            digest TEXT PRIMARY KEY,        -- SHA-256 of the payload (hex)
            kind TEXT NOT NULL,             -- the update kind it was signed as
            payload TEXT NOT NULL           -- hex (signed again for each terminal that asks)
        )""",
        "ALTER TABLE updates ADD COLUMN payload TEXT",  # its digest; NULL: sent whole
        "ALTER TABLE updates ADD COLUMN part BIGINT",  # bytes a part carries
    ],
]


class Db:
    """One connection; ``execute``/``query`` take ``?`` placeholders on either database."""

    def __init__(self, conn: Any, postgres: bool, target: str) -> None:
        self.conn = conn
        self.postgres = postgres
        self.target = target
        self._depth = 0

    @property
    def lock_row(self) -> str:
        """What a SELECT ends with to lock the rows it reads until the transaction ends
        (PostgreSQL; SQLite's BEGIN IMMEDIATE holds the whole database already)."""
        return " FOR UPDATE" if self.postgres else ""

    def _sql(self, sql: str) -> str:
        """The one place the parameter style differs: ``?`` (sqlite3) or ``%s`` (psycopg)."""
        return sql.replace("?", "%s") if self.postgres else sql

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; the number of rows it changed."""
        cur = self.conn.execute(self._sql(sql), tuple(params))
        return int(cur.rowcount or 0)

    def many(self, sql: str, rows: Sequence[Params]) -> None:
        if rows:
            cur = self.conn.cursor()
            cur.executemany(self._sql(sql), [tuple(r) for r in rows])

    def insert(self, table: str, columns: Sequence[str], types: Sequence[str],
               rows: Sequence[Params]) -> None:
        """Insert ``rows`` (``types``: the columns' SQL types): on PostgreSQL one binary
        ``COPY`` for all of them (one round trip, the rows encoded in C: faster than one
        ``INSERT`` of arrays, far faster than one per row), on SQLite ``executemany``
        (in-process). The rows must be new (``COPY`` has no ``ON CONFLICT``)."""
        if not rows:
            return
        if not self.postgres:
            self.many("INSERT INTO %s (%s) VALUES (%s)"
                      % (table, ", ".join(columns), ", ".join("?" * len(columns))), rows)
            return
        with self.conn.cursor() as cur, cur.copy("COPY %s (%s) FROM STDIN (FORMAT BINARY)"
                                                 % (table, ", ".join(columns))) as cp:
            cp.set_types(list(types))
            for row in rows:
                cp.write_row(row)

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        return [tuple(r) for r in self.conn.execute(self._sql(sql), tuple(params)).fetchall()]

    def one(self, sql: str, params: Params = ()) -> Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[Db]:
        """All or nothing (nested uses join the outer transaction)."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        # both connections are in autocommit mode: a transaction is begun and ended here
        self.conn.execute("BEGIN" if self.postgres else "BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.conn.execute("COMMIT")

    def version(self) -> int:
        row = self.one("SELECT MAX(version) FROM schema_version")
        return int(row[0]) if row and row[0] is not None else 0

    def migrate(self) -> int:
        """Run the migrations this database lacks; its version afterwards. Several offices
        opening one database at once (workers) migrate it once: PostgreSQL under an
        advisory lock, SQLite under its write lock, each step checked again inside."""
        if self.postgres:
            self.conn.execute("SELECT pg_advisory_lock(%d)" % MIGRATION_LOCK)
        try:
            with self.transaction():
                self.execute("CREATE TABLE IF NOT EXISTS schema_version "
                             "(version BIGINT NOT NULL)")
            have = self.version()
            if have > len(MIGRATIONS):
                raise Failed("%s: schema version %d is newer than this office (%d): upgrade "
                             "ykt" % (self.where(), have, len(MIGRATIONS)))
            for number in range(have + 1, len(MIGRATIONS) + 1):
                with self.transaction():
                    if self.version() >= number:  # another office ran it meanwhile
                        continue
                    for statement in MIGRATIONS[number - 1]:
                        self.execute(statement)
                    self.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
        finally:
            if self.postgres:
                self.conn.execute("SELECT pg_advisory_unlock(%d)" % MIGRATION_LOCK)
        return len(MIGRATIONS)

    def where(self) -> str:
        """The database named for people (a URL without its password)."""
        if not self.postgres:
            return self.target
        head, sep, tail = self.target.rpartition("@")
        if not sep:
            return self.target
        scheme, _, userinfo = head.partition("://")
        return "%s://%s@%s" % (scheme, userinfo.split(":")[0], tail)

    def close(self) -> None:
        self.conn.close()


def _postgres(url: str) -> Db:
    try:
        import psycopg
    except ImportError:
        raise Failed("PostgreSQL needs psycopg: pip install 'psycopg[binary]'") from None
    try:
        conn = psycopg.connect(url, connect_timeout=10, autocommit=True)
    except psycopg.Error as e:
        first = (str(e).strip().splitlines() or ["?"])[0]
        db = Db(None, True, url)
        raise Failed("cannot reach the database %s: %s" % (db.where(), first)) from None
    return Db(conn, True, url)


def _sqlite(path: str) -> Db:
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as e:
        raise BadInput("cannot open the database %s (%s)" % (path, e)) from None
    return Db(conn, False, path)


def open_db(target: str, create: bool = True) -> Db:
    """The office database at ``target`` (SQLite file or ``postgresql://`` URL), migrated;
    without ``create`` a SQLite file that does not exist yet is BadInput."""
    if not target:
        raise BadInput("no database given (a file path or a postgresql:// URL)")
    if target.startswith(("postgresql://", "postgres://")):
        db = _postgres(target)
    elif "://" in target:
        raise BadInput("database %r: a file path (SQLite) or a postgresql:// URL" % target)
    else:
        if not create and not os.path.exists(target):
            raise BadInput("no such office database: %s (ykt office ingest creates it)"
                           % target)
        if os.path.isdir(target):
            raise BadInput("database %s is a directory (give a file path)" % target)
        db = _sqlite(target)
    try:
        db.migrate()
    except sqlite3.DatabaseError as e:
        db.close()
        raise BadInput("%s is not an office database (%s)" % (target, e)) from None
    except Exception:
        db.close()
        raise
    return db
