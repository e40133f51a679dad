"""Pull, verify, store and acknowledge a terminal's journal (`ykt collect`).

1. ``mpremote exec`` reads the terminal id and data directory from the board's
   ``/config.json`` and lists its ``journal/`` directory (key values stay on
   the board);
2. ``mpremote fs cp :/journal/NAME DIR`` pulls every file (segments, ack);
3. :func:`host_tools.lib.journal.verify` checks them (CRC, seq, terminal id, MAC
   chain) with the device key: the ``--key-file`` is either the operator's
   master key file (the key is derived for this terminal, host_tools/lib/provision.py)
   or the device key in hex;
4. the records go into ``DIR/journal.sqlite`` (table ``records``, UNIQUE
   (terminal, seq): a record collected twice is stored once; the same seq with
   a different MAC is refused) and ``DIR/journal.csv`` is rewritten from it
   (temporary file renamed over);
5. only then ``mpremote exec`` runs the firmware's ``Journal.ack(last seq)`` on
   the board, which frees the acknowledged segments; then ``reset``.

A journal that fails verification is not stored and not acknowledged.
"""

from __future__ import annotations

import csv
import datetime
import io
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

from host_tools.device.deploy import RESET, DeviceError, check_port, mpremote, tagged
from host_tools.lib import journal
from host_tools.lib.errors import Failed
from host_tools.lib.files import write_atomic
from host_tools.lib.keys import journal_key_for

COLUMNS = ("terminal", "seq", "time", "kind", "tx_type", "card", "atc", "amount", "balance",
           "tac", "random", "link", "tseq", "mac", "segment", "collected_at")
SCHEMA = ("CREATE TABLE IF NOT EXISTS records (terminal TEXT NOT NULL, seq INTEGER NOT NULL, "
          "time TEXT, kind TEXT, tx_type INTEGER, card TEXT, atc INTEGER, amount INTEGER, "
          "balance INTEGER, tac TEXT, random TEXT, link INTEGER, tseq INTEGER, mac TEXT, "
          "segment TEXT, collected_at TEXT, UNIQUE (terminal, seq))")

LIST_SCRIPT = """
import json, os
try:
    _c = json.load(open('/config.json'))
except (OSError, ValueError):
    _c = None
if _c is None:
    print('@@ykt E no-config')
else:
    _j = _c.get('data_dir', '/').rstrip('/') + '/journal'
    print('@@ykt T', _c['terminal_id'], _j)
    try:
        for _e in os.ilistdir(_j):
            if not _e[1] & 0x4000:
                print('@@ykt F', _e[0])
    except OSError:
        pass
"""

ACK_SCRIPT = """
import json, binascii
from ykt.store.vfs import Vfs
from ykt.store.journal import Journal
_c = json.load(open('/config.json'))
_j = Journal(Vfs(_c.get('data_dir', '/')), binascii.unhexlify(_c['keys']['device']),
             binascii.unhexlify(_c['terminal_id']),
             capacity_records=int(_c.get('journal_records', 8192)))
_j.open()
_n = _j.ack(%d)
print('@@ykt A', _n, _j.state().acked)
"""


class VerifyFailed(Failed):
    """The pulled journal does not verify (message: the first bad record)."""


def key_source(path: str) -> Callable[[bytes], bytes]:
    """A function terminal id -> device key, from a master key file (JSON: the key is
    derived per terminal) or a file holding the device key in hex. Checked at once."""
    return journal_key_for(path)


def pull(port: str, dest: str) -> tuple[bytes, dict[str, bytes]]:
    """Copy the board's journal files into ``dest``; (terminal id bytes, {name: bytes})."""
    info = tagged(mpremote(port, "exec", LIST_SCRIPT))
    if ["E", "no-config"] in info:
        raise DeviceError("%s: the board has no /config.json (not provisioned?)" % port)
    head = [f for f in info if f[0] == "T" and len(f) == 3]
    if not head:
        raise DeviceError("%s: could not read the board's configuration" % port)
    tid, jdir = bytes.fromhex(head[0][1]), head[0][2]
    names = sorted(f[1] for f in info if f[0] == "F" and len(f) == 2)
    args: list[str] = []
    for name in names:
        args += ["fs", "--no-verbose", "cp", ":%s/%s" % (jdir, name), os.path.join(dest, name),
                 "+"]
    if args:
        mpremote(port, "resume", *args[:-1])  # no second soft reset
    files: dict[str, bytes] = {}
    for name in names:
        with open(os.path.join(dest, name), "rb") as f:
            files[name] = f.read()
    return tid, files


def verified_rows(files: dict[str, bytes], key: bytes,
                  tid: bytes) -> tuple[journal.Verdict, list[dict[str, Any]]]:
    v = journal.verify(files, key, tid)
    p = v.problem
    if p is not None:  # not ok
        where = p.segment if p.seq is None else "seq %d in %s (offset %d)" % (
            p.seq, p.segment, p.offset)
        raise VerifyFailed("BAD %s: %s" % (where, p.what))
    return v, list(journal.dump(files))


def store(out_dir: str, rows: Iterable[dict[str, Any]]) -> int:
    """Insert ``rows`` into DIR/journal.sqlite (once each), rewrite DIR/journal.csv.

    Returns the number of new records."""
    os.makedirs(out_dir, exist_ok=True)
    now = datetime.datetime.now().isoformat(timespec="seconds")
    db = sqlite3.connect(os.path.join(out_dir, "journal.sqlite"))
    try:
        with db:  # one transaction: all rows or none
            db.execute(SCHEMA)
            new = 0
            for r in rows:
                old = db.execute("SELECT mac FROM records WHERE terminal = ? AND seq = ?",
                                 (r["terminal"], r["seq"])).fetchone()
                if old is not None:
                    if old[0] != r["mac"]:
                        raise VerifyFailed("terminal %s seq %d differs from the record "
                                           "collected before (mac %s, now %s)"
                                           % (r["terminal"], r["seq"], old[0], r["mac"]))
                    continue
                db.execute("INSERT INTO records (%s) VALUES (%s)"
                           % (", ".join(COLUMNS), ", ".join("?" * len(COLUMNS))),
                           [now if c == "collected_at" else r[c] for c in COLUMNS])
                new += 1
        text = io.StringIO()
        w = csv.writer(text, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows(db.execute("SELECT %s FROM records ORDER BY terminal, seq"
                               % ", ".join(COLUMNS)))
    finally:
        db.close()
    write_atomic(os.path.join(out_dir, "journal.csv"), text.getvalue().encode())
    return new


def acknowledge(port: str, seq: int) -> int:
    """Run the firmware's ``Journal.ack(seq)`` on the board; segments it removed."""
    out = tagged(mpremote(port, "resume", "exec", ACK_SCRIPT % seq))
    acks = [f for f in out if f[0] == "A" and len(f) == 3]
    if not acks or int(acks[0][2]) < seq:
        raise DeviceError("%s: the board did not record the acknowledgement of seq %d"
                          % (port, seq))
    return int(acks[0][1])


def _quiet(line: str) -> None:
    pass


def collect(port: str, key_file: str, out_dir: str, say: Callable[[str], None] = _quiet,
            warn: Callable[[str], None] = _quiet, reset: bool = True) -> tuple[int, int]:
    """Pull, verify, store, acknowledge. Returns (records on the board, new records).
    ``say`` and ``warn`` take each progress line and warning (the library prints nothing)."""
    check_port(port)
    key_for = key_source(key_file)  # a bad key file stops us before the board is touched
    with tempfile.TemporaryDirectory(prefix="ykt-collect-") as tmp:
        tid, files = pull(port, tmp)  # the board now sits in its raw REPL
    try:
        try:
            v, rows = verified_rows(files, key_for(tid), tid)
        except VerifyFailed as e:
            raise VerifyFailed("terminal %s: journal failed verification, nothing stored or "
                               "acknowledged: %s" % (tid.hex(), e)) from None
        new = store(out_dir, rows)
        text = "terminal %s: %d records" % (tid.hex(), v.count)
        if v.count:
            assert v.first is not None and v.last is not None  # some records: a range
            text += " (seq %d..%d)" % (v.first, v.last)
        say("%s verified, %d new records -> %s" % (text, new, out_dir))
        if v.last is not None:  # some records
            freed = acknowledge(port, v.last)
            say("acknowledged up to seq %d on the board (%d segment%s freed)"
                % (v.last, freed, "" if freed == 1 else "s"))
        return v.count, new
    finally:
        if reset:  # back to work: main.py runs the terminal again
            try:
                mpremote(port, "resume", *RESET)
            except DeviceError as e:
                warn(str(e))
