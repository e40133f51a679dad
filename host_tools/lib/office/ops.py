"""The back office's operations over the fleet (docs/office.md "Operations"): the denylist,
updates published to terminals or groups, groups, and each terminal's status.

Nothing here talks to the broker: each operation records what it did in the database and
returns the :class:`Message` list to publish (``service.publish_messages`` sends them), so
the same code serves the command, the service and the tests.

Updates are MACed per terminal (docs/stores.md "Update files"), so publishing to a group is
one signed file and one retained message per member, on ``ykt/o/TID/upd/NAME``; the service
clears it (an empty retained message) once a heartbeat shows the version installed.
"""

from __future__ import annotations

import datetime
import hashlib
import struct
from collections.abc import Iterable
from typing import Any, NamedTuple

from host_tools.lib import denylist, journal, updates
from host_tools.lib.errors import BadInput
from host_tools.lib.issuer import OfficeKeys
from host_tools.lib.office import mask_card
from host_tools.lib.office import sync as wire
from host_tools.lib.office.db import Db

PUBLISHABLE = ("tariff", "config", "staff", "canteen")  # `ykt office publish` kinds
GROUP_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class Message(NamedTuple):
    topic: str
    payload: bytes
    retain: bool = False


def _update_master(keys: OfficeKeys) -> bytes:
    if keys.update_master is None:
        raise BadInput("the key file holds no update master (give the master key file)")
    return keys.update_master


# -- groups -----------------------------------------------------------------------------------

def _group_name(name: str) -> str:
    if not name or len(name) > 40 or set(name) - GROUP_CHARS:
        raise BadInput("group name %r: 1 to 40 letters, digits, '-', '_' or '.'" % name)
    return name


def set_group(db: Db, name: str, terminals: Iterable[str]) -> list[str]:
    """Make group ``name`` exactly ``terminals`` (none: the group is deleted)."""
    name = _group_name(name)
    members = sorted({wire.tid_hex(t.lower()) for t in terminals})
    with db.transaction():
        db.execute("DELETE FROM terminal_groups WHERE name = ?", (name,))
        db.many("INSERT INTO terminal_groups (name, terminal) VALUES (?, ?)",
                [(name, t) for t in members])
    return members


def groups(db: Db) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, tid in db.query("SELECT name, terminal FROM terminal_groups "
                              "ORDER BY name, terminal"):
        out.setdefault(str(name), []).append(str(tid))
    return out


def group_members(db: Db, name: str) -> list[str]:
    members = groups(db).get(_group_name(name))
    if not members:
        raise BadInput("no group %r (ykt office group %s TID ... makes it)" % (name, name))
    return members


def known_terminals(db: Db) -> list[str]:
    """Every terminal the office has heard from (a heartbeat or records)."""
    rows = db.query("SELECT terminal FROM heartbeats UNION SELECT terminal FROM terminals")
    return sorted({str(r[0]) for r in rows})


def _targets(terminals: Iterable[str]) -> list[str]:
    out = sorted({wire.tid_hex(t.strip().lower()) for t in terminals if t.strip()})
    if not out:
        raise BadInput("no terminals to publish to (none known from heartbeats: give "
                       "--terminals)")
    return out


# -- updates ----------------------------------------------------------------------------------

def _record(db: Db, tid: str, name: str, version: int, apply_by: int, now: int,
            digest: str | None = None, part: int | None = None) -> None:
    db.execute("DELETE FROM updates WHERE terminal = ? AND name = ? AND version = ?",
               (tid, name, version))
    db.execute("INSERT INTO updates (terminal, name, version, apply_by, published, cleared, "
               "payload, part) VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
               (tid, name, version, apply_by, now, digest, part))


def _keep_payload(db: Db, kind: str, payload: bytes) -> str:
    """Keep a payload sent in parts (once, whatever the number of terminals); its digest."""
    digest = hashlib.sha256(payload).hexdigest()
    if db.one("SELECT 1 FROM update_payloads WHERE digest = ?", (digest,)) is None:
        db.execute("INSERT INTO update_payloads (digest, kind, payload) VALUES (?, ?, ?)",
                   (digest, kind, payload.hex()))
    return digest


class Parts:
    """The update files terminals download in parts (``ykt/t/TID/get``): each signed
    again from the payload kept at publishing, the last few kept signed."""

    def __init__(self, keys: OfficeKeys, keep: int = 8) -> None:
        self.keys = keys
        self.keep = keep
        self._signed: dict[tuple[str, str, int], bytes] = {}

    def answer(self, db: Db, tid: str, payload: bytes) -> list[Message]:
        """The ``part`` messages for one request; BadInput (one line) when the terminal
        asks for an update not published to it in parts."""
        name, version, first, count = wire.decode_get(payload)
        key = (tid, name, version)
        row = db.one("SELECT u.part, p.kind, p.payload FROM updates u JOIN update_payloads p "
                     "ON p.digest = u.payload WHERE u.terminal = ? AND u.name = ? "
                     "AND u.version = ?", (tid, name, version))
        if row is None:
            raise BadInput("get: no %s v%d published to %s in parts" % (name, version, tid))
        part = int(row[0])
        signed = self._signed.pop(key, None)
        if signed is None:
            signed = updates.sign(str(row[1]), version, bytes.fromhex(tid),
                                  bytes.fromhex(str(row[2])), _update_master(self.keys))
        self._signed[key] = signed  # the newest last
        while len(self._signed) > self.keep:
            del self._signed[next(iter(self._signed))]
        if first * part >= len(signed):
            raise BadInput("get: part %d of %s v%d: it has %d"
                           % (first, name, version, -(-len(signed) // part)))
        topic = wire.topic(tid, "part/" + name)
        return [Message(topic, wire.encode_part(version, i, data))
                for i, data in wire.parts(signed, part, first, count)]


def payload_version(kind: str, payload: bytes, version: int | None) -> int:
    """The version to publish ``payload`` as: ``version``, or the one a tariff or canteen
    payload names (which ``version`` must then equal)."""
    if payload[:4] == updates.MAGIC:
        raise BadInput("that is a signed update file for one terminal: give its payload "
                       "(the office signs it for each terminal)")
    own: int | None = None
    if kind == "canteen":
        own = updates.canteen_version(payload)
    elif kind == "tariff":
        from host_tools.lib.tariff_payload import read_payload

        own = int(read_payload(payload)["version"])
    if own is not None and version is not None and own != version:
        raise BadInput("the %s payload is version %d, not %d" % (kind, own, version))
    got = version if version is not None else own
    if got is None:
        raise BadInput("a %s update needs --version" % kind)
    return got


def publish_update(db: Db, keys: OfficeKeys, kind: str, version: int, payload: bytes,
                   terminals: Iterable[str], apply_by: int, now: int,
                   name: str | None = None, part: int = wire.PART_SIZE) -> list[Message]:
    """Sign ``payload`` as update ``kind`` v``version`` for each terminal and record it; the
    retained messages to publish (``name``: the topic's NAME, default the kind): the file
    itself, or when larger than a terminal's packet its manifest (the terminal then asks
    for it in parts of ``part`` bytes, :class:`Parts`)."""
    master = _update_master(keys)
    name = name or kind
    if name not in wire.UPDATE_NAMES:
        raise BadInput("update %r: one of %s" % (name, ", ".join(wire.UPDATE_NAMES)))
    targets = _targets(terminals)
    held = {str(t): int(v) for t, v in db.query(
        "SELECT terminal, %s FROM heartbeats" % wire.UPDATE_NAMES[name])}
    behind = [t for t in targets if held.get(t, 0) >= version]
    if behind:
        raise BadInput("terminal %s has %s v%d installed: v%d would be refused as a rollback "
                       "(publish a later version)" % (behind[0], name, held[behind[0]], version))
    out = []
    with db.transaction():
        digest = None
        for tid in targets:
            signed = updates.sign(kind, version, bytes.fromhex(tid), payload, master)
            if wire.inline(apply_by, signed):
                msg = wire.encode_update(apply_by, signed)
                _record(db, tid, name, version, apply_by, now)
            else:  # larger than a terminal's packet: a manifest, the file in parts
                msg = wire.encode_manifest(apply_by, signed, part)
                digest = digest or _keep_payload(db, kind, payload)
                _record(db, tid, name, version, apply_by, now, digest, part)
            out.append(Message(wire.topic(tid, "upd/" + name), msg, True))
    return out


def clear_installed(db: Db, hb: wire.Heartbeat, now: int) -> list[Message]:
    """The retained updates ``hb`` shows installed: marked cleared; an empty retained
    message for each topic whose newest version is installed."""
    out = []
    rows = db.query("SELECT name, version, cleared FROM updates WHERE terminal = ?", (hb.id,))
    newest: dict[str, int] = {}
    open_names = set()
    for name, version, cleared in rows:
        newest[str(name)] = max(newest.get(str(name), 0), int(version))
        if cleared is None:
            open_names.add(str(name))
    for name in sorted(open_names):
        if name not in wire.UPDATE_NAMES:
            continue
        have = hb.installed(name)
        db.execute("UPDATE updates SET cleared = ? WHERE terminal = ? AND name = ? "
                   "AND version <= ? AND cleared IS NULL", (now, hb.id, name, have))
        if have >= newest[name]:
            out.append(Message(wire.topic(hb.id, "upd/" + name), b"", True))
    return out


# -- the denylist -----------------------------------------------------------------------------

def _reason_code(text: str) -> int:
    word = text.strip().lower().split()[0] if text.strip() else ""
    if word.isdigit() and 1 <= int(word) <= 255:
        return int(word)
    return denylist.REASONS.get(word, denylist.DEFAULT_REASON)


def denylist_version(db: Db) -> int:
    """The newest denylist version the office made or a terminal reported installed."""
    found = [db.one(sql) for sql in ("SELECT MAX(version) FROM denylist",
                                     "SELECT MAX(deny) FROM heartbeats",
                                     "SELECT MAX(version) FROM updates WHERE name = 'denylist'")]
    return max([0] + [int(r[0]) for r in found if r is not None and r[0] is not None])


def deny(db: Db, keys: OfficeKeys, card: str, reason: str, terminals: Iterable[str] | None,
         now: int, apply_by: int = 0) -> tuple[int, list[Message]]:
    """Add ``card`` to the denylist: the next version (a whole denylist file), signed for
    each terminal (default: every terminal known), as retained messages. (version, them)."""
    if len(card) != 20 or not card.isdigit():
        raise BadInput("card number %r: 20 digits" % card)
    if not reason.strip():
        raise BadInput("give the reason (--reason TEXT)")
    _update_master(keys)
    with db.transaction():
        version = denylist_version(db) + 1
        db.execute("DELETE FROM denylist WHERE card = ?", (card,))
        db.execute("INSERT INTO denylist (card, reason, note, version, added) "
                   "VALUES (?, ?, ?, ?, ?)",
                   (card, _reason_code(reason), reason.strip()[:200], version, now))
        entries = [(str(c), int(r)) for c, r in db.query("SELECT card, reason FROM denylist")]
        payload = denylist.build_base(entries, version)
        targets = list(terminals) if terminals is not None else known_terminals(db)
        msgs = publish_update(db, keys, "denylist", version, payload, targets, apply_by, now)
    return version, msgs


def denied(db: Db) -> list[dict[str, Any]]:
    """The denylist for people (cards masked)."""
    return [{"card": mask_card(str(c)), "reason": int(r), "note": str(n), "version": int(v)}
            for c, r, n, v in db.query("SELECT card, reason, note, version FROM denylist "
                                       "ORDER BY version, card")]


# -- a terminal re-imaged --------------------------------------------------------------------

class Floor(NamedTuple):
    """Where a re-imaged terminal starts: its journal continues the office's chain after
    ``seq`` (``ack``: the journal's ack file saying so, MACed with its journal key) and its
    SAM's transaction sequence starts at ``sequence_floor`` (``ykt provision
    --sequence-floor``)."""

    seq: int
    ack: bytes
    sequence_floor: int


def reimage_floor(db: Db, keys: OfficeKeys, tid: str) -> Floor:
    """What a terminal whose flash was wiped (``ykt image``, a replaced board) starts from,
    from what the office holds of it: its journal's ack file (watermark and chain MAC: the
    next record is the watermark + 1 and chains from the office's last stored record, so
    nothing the office has is numbered again) and the sequence floor (one above the
    highest terminal transaction sequence the office has seen from it)."""
    tid = wire.tid_hex(tid)
    row = db.one("SELECT watermark, chain_mac FROM terminals WHERE terminal = ?", (tid,))
    if row is None:
        raise BadInput("the office holds nothing of terminal %s" % tid)
    seq, mac = int(row[0]), bytes.fromhex(str(row[1]))
    top = db.one("SELECT MAX(tseq) FROM records WHERE terminal = ?", (tid,))
    floor = int(top[0]) + 1 if top and top[0] is not None else 0
    body = struct.pack(">4sII8sH", b"YKA1", seq, seq, mac, 0)
    ack = body + journal.mac8(keys.journal_key(bytes.fromhex(tid)), b"ykt journal ack", body)
    return Floor(seq, ack, floor)


# -- status -----------------------------------------------------------------------------------

HB_COLUMNS = ("received", "drift", "beats", "role", "fw", "tariff", "deny", "config", "staff",
              "canteen", "clock", "used", "free", "last", "acked", "backlog", "pending")


def store_heartbeat(db: Db, hb: wire.Heartbeat, received: int) -> int:
    """Keep ``hb`` as its terminal's latest heartbeat; its clock drift (seconds)."""
    drift = hb.clock - received
    vals = (received, drift, hb.role, hb.fw, hb.tariff, hb.deny, hb.config, hb.staff,
            hb.canteen, hb.clock, hb.used, hb.free, hb.last, hb.acked, hb.backlog, hb.pending)
    cols = [c for c in HB_COLUMNS if c != "beats"]
    db.execute("INSERT INTO heartbeats (terminal, beats, %s) VALUES (?, 1, %s) "
               "ON CONFLICT (terminal) DO UPDATE SET beats = heartbeats.beats + 1, %s"
               % (", ".join(cols), ", ".join("?" * len(cols)),
                  ", ".join("%s = excluded.%s" % (c, c) for c in cols)),
               (hb.id, *vals))
    return drift


def status(db: Db, now: int, max_drift: int = 60) -> list[dict[str, Any]]:
    """Each terminal known: its latest heartbeat (versions, backlog, drift), the
    acknowledgement, and the updates past their apply-by and not installed (``overdue``)."""
    beats = {str(r[0]): dict(zip(HB_COLUMNS, r[1:])) for r in db.query(
        "SELECT terminal, %s FROM heartbeats" % ", ".join(HB_COLUMNS))}
    marks = {str(t): int(w) for t, w in db.query("SELECT terminal, watermark FROM terminals")}
    pending = db.query("SELECT terminal, name, version, apply_by FROM updates "
                       "WHERE cleared IS NULL ORDER BY terminal, name, version")
    member = groups(db)
    out = []
    for tid in known_terminals(db):
        hb = beats.get(tid)
        row: dict[str, Any] = {"terminal": tid, "acknowledged": marks.get(tid, 0),
                               "groups": sorted(g for g, m in member.items() if tid in m),
                               "heartbeat": hb, "waiting": [], "overdue": []}
        if hb is not None:
            row["age"] = now - int(hb["received"])
            row["drift_bad"] = abs(int(hb["drift"])) > max_drift
        for t, name, version, apply_by in pending:
            if t != tid:
                continue
            have = int(hb[wire.UPDATE_NAMES[str(name)]]) if hb is not None else 0
            if have >= int(version):
                continue
            item = {"name": str(name), "version": int(version), "apply_by": int(apply_by)}
            late = int(apply_by) and int(apply_by) < now
            row["overdue" if late else "waiting"].append(item)
        out.append(row)
    return out


def parse_time(text: str, now: datetime.datetime) -> int:
    """An apply-by time: ``now`` or ``0`` (at once), ``+N`` seconds/``+Nh``/``+Nd`` from now,
    or a local time ``YYYY-MM-DDThh:mm[:ss]``; seconds since 2000 (0 = at once)."""
    text = str(text).strip()
    if text in ("0", "now"):
        return 0
    if text.startswith("+"):
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        num, unit = (text[1:-1], text[-1]) if text[-1] in units else (text[1:], "s")
        if not num.isdigit():
            raise BadInput("apply-by %r: +N, +Nm, +Nh or +Nd" % text)
        return wire.secs2000(now) + int(num) * units[unit]
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise BadInput("apply-by %r: a local time like 2026-12-01T04:00, +2h or now"
                       % text) from None
    if when.tzinfo is not None:
        raise BadInput("apply-by %r: give the terminals' local time, no zone" % text)
    secs = wire.secs2000(when)
    if not 0 < secs <= wire.UINT32_MAX:
        raise BadInput("apply-by %r: out of range" % text)
    return secs
