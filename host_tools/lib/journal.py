"""Read and verify a terminal's journal on the host (docs/stores.md "Journal").

``load(path, board=None)`` takes a directory of segment files (or one holding
``journal/``), a LittleFS image of the terminal's vfs partition, or with ``board`` a dump of
its whole flash (the vfs partition found from the board file), and returns the journal's
files as ``{name: bytes}``. ``verify(files, key, terminal=None)`` checks every record
and returns a ``Verdict``; ``dump(files)`` yields the records as dicts.
This is a second implementation of the format, written from the document
rather than shared with the firmware, so each checks the other.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import struct
import zlib
from collections.abc import Iterator
from typing import Any, NamedTuple

from host_tools.lib import lfs_image
from host_tools.lib.errors import BadInput

JOURNAL_DIR = "journal"
RECORD = 64
FIELDS = 52
FORMAT = ">IIBB6s10sHii4s4sII"
_ACK_HEAD = 22
_ACK_MAC = 8
_EPOCH = datetime.datetime(2000, 1, 1)

KINDS = {
    0x01: "boot",
    0x02: "clock-set",
    0x10: "purchase-intent",
    0x11: "purchase",
    0x12: "unpaid",
    0x13: "abandoned",
    0x14: "sale",
    0x15: "load-intent",
    0x20: "entry",
    0x21: "exit",
    0x22: "admitted",
    0x30: "load",
    0x31: "refund",
    0x32: "void",
    0x33: "correction",
    0x34: "give-back",
    0x40: "denied",
    0x41: "refused",
    0x50: "update-installed",
    0x51: "update-refused",
    0x60: "shift-open",
    0x61: "shift-close",
    0x62: "sign-in",
    0x63: "sign-out",
    0x64: "staff-locked",
}

Files = dict[str, bytes]  # the journal directory: file name -> contents
Slot = tuple[str, int, int, bytes]  # segment name, its first seq, offset, the record's bytes


class Record(NamedTuple):
    seq: int
    time: int
    kind: int
    tx_type: int
    terminal: bytes
    card: str  # hex
    atc: int
    amount: int
    balance: int
    tac: bytes
    random: bytes
    link: int
    tseq: int
    mac: bytes


class Problem(NamedTuple):
    seq: int | None
    segment: str
    offset: int
    what: str


class Verdict(NamedTuple):
    ok: bool
    count: int  # type: ignore[assignment]  # a field, hiding tuple.count
    first: int | None
    last: int | None
    acked: int
    problem: Problem | None


def kind_name(code: int) -> str:
    return KINDS.get(code, "kind-%02x" % code)


def mac8(key: bytes, *parts: bytes) -> bytes:
    """HMAC-SHA256(key, parts...)[:8]: the chain MAC."""
    return hmac.new(key, b"".join(bytes(p) for p in parts), hashlib.sha256).digest()[:8]


def genesis(key: bytes, terminal: bytes) -> bytes:
    return mac8(key, b"ykt journal v1", terminal)


def crc_ok(raw: bytes) -> bool:
    return struct.unpack_from(">I", raw, 60)[0] == zlib.crc32(raw[:60])


def seal(raw: bytes) -> bytes:
    """``raw`` (64 bytes) with its CRC recomputed."""
    raw = bytes(raw[:60])
    return raw + struct.pack(">I", zlib.crc32(raw))


def decode(raw: bytes) -> Record:
    f = struct.unpack_from(FORMAT, raw, 0)
    return Record._make(f[:5] + (f[5].hex(),) + f[6:] + (bytes(raw[FIELDS:60]),))


def iso_time(secs: int) -> str:
    return (_EPOCH + datetime.timedelta(seconds=secs)).isoformat()


def _is_segment(name: str) -> bool:
    if len(name) != 12 or not name.endswith(".seg"):
        return False
    try:
        int(name[:8], 16)
    except ValueError:
        return False
    return True


def _read_dir(path: str) -> Files:
    out = {}
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if os.path.isfile(full):
            with open(full, "rb") as f:
                out[name] = f.read()
    return out


COLLECTED = ("journal.sqlite", "journal.csv")  # what `ykt collect` writes


def _vfs_of(data: bytes, path: str, board: str) -> bytes:
    """The vfs partition of a whole-flash dump, where ``board``'s file puts it (a dump of the
    partition alone is taken as it is)."""
    from host_tools.lib.image import Board

    offset, size = Board(board).partition("vfs")
    if len(data) == size:
        return data
    if len(data) < offset + size:
        raise BadInput("%s: %d bytes, neither board %s's vfs partition (%d bytes) nor a "
                       "dump of its whole flash (vfs at 0x%x..0x%x)"
                       % (path, len(data), board, size, offset, offset + size))
    return data[offset:offset + size]


def _read_image(path: str, board: str | None) -> Files:
    with open(path, "rb") as f:
        data = f.read()
    if board is not None:
        data = _vfs_of(data, path, board)
    try:
        return lfs_image.read_dir(data, "/" + JOURNAL_DIR, path)
    except BadInput as e:
        if board is not None or "not a LittleFS image" not in str(e):
            raise
        raise BadInput("%s; a dump of the whole flash? add --board NAME: its vfs partition "
                       "is read from the board file" % e) from None


def _check_dir(path: str) -> None:
    names = os.listdir(path)
    if any(_is_segment(n) or n == "ack" for n in names):
        return
    collected = [n for n in COLLECTED if n in names]
    if collected:
        raise BadInput("%s is a `ykt collect` directory (%s): its records are verified "
                       "already; give the terminal's journal directory or flash image"
                       % (path, ", ".join(collected)))
    if names:
        raise BadInput("%s holds no journal (no segment files like 00000001.seg)" % path)


def load(path: str, board: str | None = None) -> Files:
    """The journal files at ``path`` (directory, LittleFS image, or with ``board`` a dump of
    the whole flash) as {name: bytes}; BadInput naming what ``path`` is instead."""
    if os.path.isdir(path):
        sub = os.path.join(path, JOURNAL_DIR)
        path = sub if os.path.isdir(sub) else path
        _check_dir(path)
        return _read_dir(path)
    if os.path.isfile(path):
        return _read_image(path, board)
    raise BadInput("no such journal: %s" % path)


def _slots(files: Files) -> list[Slot]:
    """[(segment name, first seq of segment, offset, bytes)] in name order."""
    out = []
    for name in sorted(n for n in files if _is_segment(n)):
        data = files[name]
        first = int(name[:8], 16)
        for off in range(0, len(data), RECORD):
            out.append((name, first, off, data[off:off + RECORD]))
    return out


def _ack(files: Files, key: bytes) -> tuple[int, int, bytes | None]:
    """(acked, anchor seq, anchor mac or None) from the ack file; ValueError if bad."""
    data = files.get("ack")
    if data is None:
        return 0, 0, None
    if len(data) < _ACK_HEAD + _ACK_MAC or data[:4] != b"YKA1":
        raise BadInput("bad ack file (format)")
    _, acked, anchor, anchor_mac, n = struct.unpack_from(">4sII8sH", data, 0)
    end = _ACK_HEAD + n * RECORD
    if len(data) != end + _ACK_MAC:
        raise BadInput("bad ack file (length)")
    if mac8(key, b"ykt journal ack", data[:end]) != data[end:]:
        raise BadInput("bad ack file (MAC: wrong key or edited)")
    return acked, anchor, anchor_mac


def _terminal_of(slots: list[Slot]) -> bytes:
    for _, _, _, raw in slots:
        if len(raw) == RECORD and crc_ok(raw):
            return decode(raw).terminal
    return bytes(6)


def _gap_or_reorder(slots: list[Slot], i: int, expect: int, found: int) -> str:
    later = any(len(raw) == RECORD and crc_ok(raw) and decode(raw).seq == expect
                for _, _, _, raw in slots[i + 1:])
    if found < expect:
        return "out of order: seq %d found after seq %d (records reordered)" % (found, expect - 1)
    if later:
        return "out of order: seq %d found where seq %d belongs (records reordered)" % (
            found, expect)
    if found == expect + 1:
        return "sequence gap: seq %d missing (record deleted)" % expect
    return "sequence gap: seq %d..%d missing (records deleted)" % (expect, found - 1)


def verify(files: Files, key: bytes, terminal: bytes | None = None) -> Verdict:
    """Check segment order, record length, CRC, seq, terminal and MAC chain; first fault wins."""
    slots = _slots(files)
    try:
        acked, anchor, anchor_mac = _ack(files, key)
    except ValueError as e:
        return Verdict(False, 0, None, None, 0, Problem(None, "ack", 0, str(e)))
    prev = anchor_mac if anchor_mac is not None else genesis(key, terminal or _terminal_of(slots))
    expect = anchor + 1
    count = 0
    seg = None

    def bad(seq: int, name: str, off: int, what: str) -> Verdict:
        return Verdict(False, count, anchor + 1, expect - 1, acked, Problem(seq, name, off, what))

    for i, (name, first, off, raw) in enumerate(slots):
        if name != seg:
            seg = name
            if first > expect:
                missing = "%d" % expect if first == expect + 1 else "%d..%d" % (expect, first - 1)
                return bad(expect, name, 0,
                           "sequence gap: seq %s missing (segment deleted?)" % missing)
            if first < expect:
                return bad(expect, name, 0, "segment starts at seq %d, inside the previous one"
                           % first)
        if len(raw) < RECORD:
            return bad(expect, name, off, "truncated: %d of %d bytes (record cut short)"
                       % (len(raw), RECORD))
        if not crc_ok(raw):
            last = i == len(slots) - 1
            return bad(expect, name, off, "bad CRC" + (" (torn last record?)" if last else ""))
        r = decode(raw)
        if r.seq != expect:
            return bad(expect, name, off, _gap_or_reorder(slots, i, expect, r.seq))
        if terminal is not None and r.terminal != terminal:
            return bad(r.seq, name, off, "wrong terminal %s (expected %s)"
                       % (r.terminal.hex(), terminal.hex()))
        if mac8(key, prev, raw[:FIELDS]) != r.mac:
            return bad(r.seq, name, off,
                       "chain broken (record edited, reordered or deleted, or wrong key)")
        prev = r.mac
        expect += 1
        count += 1
    return Verdict(True, count, anchor + 1 if count else None, expect - 1 if count else None,
                   acked, None)


def dump(files: Files) -> Iterator[dict[str, Any]]:
    """Yield one dict per whole record, in seq order of the segments (no key needed)."""
    for name, _, _, raw in _slots(files):
        if len(raw) < RECORD:
            continue
        r = decode(raw)
        yield {
            "seq": r.seq,
            "time": iso_time(r.time),
            "kind": kind_name(r.kind),
            "tx_type": r.tx_type,
            "terminal": r.terminal.hex(),
            "card": r.card,
            "atc": r.atc,
            "amount": r.amount,
            "balance": r.balance,
            "tac": r.tac.hex(),
            "random": r.random.hex(),
            "link": r.link,
            "tseq": r.tseq,
            "mac": r.mac.hex(),
            "crc_ok": crc_ok(raw),
            "segment": name,
        }


def torn_tails(files: Files) -> list[tuple[str, int]]:
    """[(segment, bytes)] for segments that end in a partial record."""
    return [(n, len(files[n]) % RECORD) for n in sorted(files)
            if _is_segment(n) and len(files[n]) % RECORD]
