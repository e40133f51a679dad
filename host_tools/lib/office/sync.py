"""The fleet sync messages of docs/sync.md, encoded and decoded (the office's side).

Pure functions, no I/O. Every decoder takes the topic's payload (bytes) and returns a typed
value or raises :class:`~host_tools.lib.errors.BadInput` with one line naming what is wrong
(the service logs that line and carries on).

Topics (``TID``: 12 lower-case hex digits):

===========================  ======================================================
``ykt/t/TID/rec``            :func:`decode_records` / :func:`encode_records`
``ykt/t/TID/hb``             :func:`decode_heartbeat` / :func:`encode_heartbeat`
``ykt/o/TID/ack``            :func:`encode_ack` / :func:`decode_ack` (:func:`ack_mac`)
``ykt/o/TID/resend``         :func:`encode_resend` / :func:`decode_resend`
``ykt/o/TID/upd/NAME``       :func:`encode_update` / :func:`decode_update` (retained;
                             an empty payload clears it)
``ykt/o/TID/time``           :func:`encode_time` / :func:`decode_time`
``ykt/t/TID/get``            :func:`encode_get` / :func:`decode_get` (parts asked for)
``ykt/o/TID/part/NAME``      :func:`encode_part` / :func:`decode_part`
===========================  ======================================================

An update whose message would be larger than :data:`INLINE_MAX` goes as a retained
manifest on ``upd/NAME`` (:func:`encode_manifest`, first byte 2) and the terminal asks for
the file in parts of :data:`PART_SIZE` bytes (:func:`parts`).

Times on the wire are the terminals' own: seconds since 2000-01-01 local time
(:func:`secs2000`, :func:`from_secs2000`).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import struct
from dataclasses import asdict, dataclass
from typing import Any

from host_tools.lib import journal, updates
from host_tools.lib.errors import BadInput

VERSION = 1  # the first byte of every binary message, the "v" of a heartbeat
MAX_BATCH = 16  # records in one rec message
ACK_MAC_LABEL = b"ykt sync ack"
ACK_MAC_SIZE = 8
EPOCH = datetime.datetime(2000, 1, 1)
UINT32_MAX = 0xFFFFFFFF

# update topic NAME -> the heartbeat key holding the installed version of it
UPDATE_NAMES = {"tariff": "tariff", "denylist": "deny", "config": "config", "staff": "staff",
                "canteen": "canteen"}

MANIFEST = 2  # the first byte of a manifest (an update sent in parts)
MANIFEST_SIZE = 1 + 4 + 4 + 2 + 32 + 20
PART_SIZE = 1024  # bytes of the file a part carries (a terminal's packets: 2048)
INLINE_MAX = 1536  # an update message larger than this goes as a manifest and parts
MAX_GET = 16  # parts one request may ask for

HEARTBEAT_INTS = ("tariff", "deny", "config", "staff", "canteen", "clock", "used", "free",
                  "last", "acked", "backlog", "pending")


# -- topics -----------------------------------------------------------------------------------

def tid_hex(tid: str | bytes) -> str:
    """A terminal id as the topics spell it (12 lower-case hex digits); BadInput otherwise."""
    if isinstance(tid, (bytes, bytearray)):
        if len(tid) != 6:
            raise BadInput("terminal id must be 6 bytes")
        return bytes(tid).hex()
    text = str(tid)
    if len(text) != 12 or any(c not in "0123456789abcdef" for c in text):
        raise BadInput("terminal id %r: 12 lower-case hex digits" % text)
    return text


def topic(tid: str | bytes, what: str) -> str:
    """``ykt/o/TID/WHAT`` (office -> terminal: ack, resend, time, upd/NAME)."""
    return "ykt/o/%s/%s" % (tid_hex(tid), what)


def terminal_topic(tid: str | bytes, what: str) -> str:
    """``ykt/t/TID/WHAT`` (terminal -> office: rec, hb)."""
    return "ykt/t/%s/%s" % (tid_hex(tid), what)


def parse_topic(name: str) -> tuple[str, str]:
    """(TID, what) of a terminal's topic ``ykt/t/TID/rec|hb|get``; BadInput otherwise."""
    parts = name.split("/")
    if len(parts) != 4 or parts[:2] != ["ykt", "t"] or parts[3] not in ("rec", "hb", "get"):
        raise BadInput("topic %r is not ykt/t/TID/rec, hb or get" % name)
    return tid_hex(parts[2]), parts[3]


# -- time -------------------------------------------------------------------------------------

def secs2000(when: datetime.datetime) -> int:
    """Seconds since 2000-01-01 of a local (naive) time, as a terminal's RTC counts."""
    return int((when.replace(tzinfo=None) - EPOCH).total_seconds())


def from_secs2000(secs: int) -> datetime.datetime:
    return EPOCH + datetime.timedelta(seconds=int(secs))


def _u32(value: int, what: str) -> bytes:
    if not 0 <= value <= UINT32_MAX:
        raise BadInput("%s %d: out of 0..%d" % (what, value, UINT32_MAX))
    return struct.pack(">I", value)


def _head(data: bytes, what: str, size: int | None = None, least: int = 1) -> bytes:
    data = bytes(data)
    if not data:
        raise BadInput("%s: empty message" % what)
    if data[0] != VERSION:
        raise BadInput("%s: version byte 0x%02x, not 0x%02x" % (what, data[0], VERSION))
    if size is not None and len(data) != size:
        raise BadInput("%s: %d bytes, not %d" % (what, len(data), size))
    if len(data) < least:
        raise BadInput("%s: %d bytes, too short" % (what, len(data)))
    return data


# -- records ----------------------------------------------------------------------------------

def encode_records(raws: list[bytes]) -> bytes:
    """A rec message: 1..16 whole journal records (64 bytes each)."""
    if not 1 <= len(raws) <= MAX_BATCH:
        raise BadInput("a record batch holds 1..%d records, not %d" % (MAX_BATCH, len(raws)))
    if any(len(r) != journal.RECORD for r in raws):
        raise BadInput("a journal record is %d bytes" % journal.RECORD)
    return bytes((VERSION,)) + b"".join(bytes(r) for r in raws)


def decode_records(data: bytes) -> list[bytes]:
    """The records (64 bytes each) of a rec message, in the order sent. Their CRCs and chain
    are the ingest's business (a bad record is quarantined, not refused here)."""
    data = _head(data, "records", least=1 + journal.RECORD)
    body = data[1:]
    if len(body) % journal.RECORD:
        raise BadInput("records: %d bytes after the version byte, not a multiple of %d"
                       % (len(body), journal.RECORD))
    n = len(body) // journal.RECORD
    if n > MAX_BATCH:
        raise BadInput("records: %d records, at most %d a message" % (n, MAX_BATCH))
    return [body[i:i + journal.RECORD] for i in range(0, len(body), journal.RECORD)]


# -- heartbeat --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Heartbeat:
    id: str
    role: str
    fw: str
    tariff: int
    deny: int
    config: int
    staff: int
    canteen: int
    clock: int  # RTC seconds since 2000-01-01 local
    used: int
    free: int
    last: int
    acked: int
    backlog: int
    pending: int
    v: int = VERSION

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def installed(self, name: str) -> int:
        """The installed version of update ``name`` (a key of :data:`UPDATE_NAMES`)."""
        return int(getattr(self, UPDATE_NAMES[name]))


def encode_heartbeat(hb: Heartbeat) -> bytes:
    return json.dumps(hb.as_dict(), separators=(",", ":")).encode()


def decode_heartbeat(data: bytes, tid: str | None = None) -> Heartbeat:
    """A heartbeat (JSON object, docs/sync.md); ``tid``: the topic's terminal, which its
    ``id`` must name. Keys beyond the contract's are ignored (a newer firmware)."""
    try:
        doc = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadInput("heartbeat: not a JSON object") from None
    if not isinstance(doc, dict):
        raise BadInput("heartbeat: not a JSON object")
    if doc.get("v") != VERSION:
        raise BadInput("heartbeat: version %r, not %d" % (doc.get("v"), VERSION))
    hid = tid_hex(doc["id"]) if isinstance(doc.get("id"), str) else None
    if hid is None:
        raise BadInput("heartbeat: no terminal id")
    if tid is not None and hid != tid:
        raise BadInput("heartbeat names terminal %s, sent as %s" % (hid, tid))
    for key in ("role", "fw"):
        if not isinstance(doc.get(key), str):
            raise BadInput("heartbeat: %r must be a string" % key)
    vals: dict[str, int] = {}
    for key in HEARTBEAT_INTS:
        v = doc.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= UINT32_MAX:
            raise BadInput("heartbeat: %r must be a whole number 0..%d, not %r"
                           % (key, UINT32_MAX, v))
        vals[key] = v
    return Heartbeat(id=hid, role=doc["role"][:40], fw=doc["fw"][:40], **vals)


# -- ack --------------------------------------------------------------------------------------

def ack_mac(journal_key: bytes, tid: bytes, seq: int) -> bytes:
    """HMAC-SHA256(journal key, b"ykt sync ack" + terminal id + seq)[:8]."""
    if len(tid) != 6:
        raise BadInput("terminal id must be 6 bytes")
    msg = ACK_MAC_LABEL + bytes(tid) + _u32(seq, "ack seq")
    return hmac.new(journal_key, msg, hashlib.sha256).digest()[:ACK_MAC_SIZE]


def encode_ack(journal_key: bytes, tid: bytes, seq: int) -> bytes:
    return bytes((VERSION,)) + _u32(seq, "ack seq") + ack_mac(journal_key, tid, seq)


def decode_ack(data: bytes, journal_key: bytes | None = None,
               tid: bytes | None = None) -> tuple[int, bytes]:
    """(seq, mac) of an ack; with the key and terminal id the MAC is checked (BadInput)."""
    data = _head(data, "ack", size=1 + 4 + ACK_MAC_SIZE)
    seq = int.from_bytes(data[1:5], "big")
    mac = data[5:]
    if journal_key is not None and tid is not None and not hmac.compare_digest(
            mac, ack_mac(journal_key, tid, seq)):
        raise BadInput("ack: MAC does not verify for seq %d" % seq)
    return seq, mac


# -- resend -----------------------------------------------------------------------------------

def encode_resend(first: int, last: int) -> bytes:
    if not 1 <= first <= last:
        raise BadInput("resend %d..%d: need 1 <= from <= to" % (first, last))
    return bytes((VERSION,)) + _u32(first, "resend from") + _u32(last, "resend to")


def decode_resend(data: bytes) -> tuple[int, int]:
    data = _head(data, "resend", size=9)
    first, last = struct.unpack(">II", data[1:])
    if not 1 <= first <= last:
        raise BadInput("resend %d..%d: need 1 <= from <= to" % (first, last))
    return first, last


# -- update -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Update:
    apply_by: int  # seconds since 2000 local; 0 = at once
    file: bytes  # the signed update file (updates.sign)
    kind: str
    terminal: str
    version: int


def encode_update(apply_by: int, signed: bytes) -> bytes:
    """The retained update message: apply-by and a signed update file."""
    updates.parse(signed)  # BadInput if it is not one
    return bytes((VERSION,)) + _u32(apply_by, "apply-by") + bytes(signed)


def decode_update(data: bytes) -> Update | None:
    """The update of a retained message; None for an empty payload (the office cleared it)."""
    if not data:
        return None
    data = _head(data, "update", least=5 + updates.HEADER_SIZE + updates.MAC_SIZE)
    info = updates.parse(data[5:])
    if not info["complete"]:
        raise BadInput("update: the file is cut short or has bytes after its MAC")
    return Update(int.from_bytes(data[1:5], "big"), data[5:], str(info["kind"]),
                  str(info["terminal"]), int(info["version"]))


# -- updates in parts -------------------------------------------------------------------------

@dataclass(frozen=True)
class Manifest:
    apply_by: int
    size: int  # bytes of the signed update file
    part: int  # bytes a part carries (the last one: what is left)
    digest: bytes  # SHA-256 of the whole file
    kind: str
    terminal: str
    version: int

    @property
    def count(self) -> int:
        return -(-self.size // self.part)


def inline(apply_by: int, signed: bytes) -> bool:
    """Whether the update goes whole in its retained message (else: manifest and parts)."""
    return len(encode_update(apply_by, signed)) <= INLINE_MAX


def encode_manifest(apply_by: int, signed: bytes, part: int = PART_SIZE) -> bytes:
    """The retained message of an update sent in parts: 0x02, apply-by, size, part size,
    SHA-256 of the file, the file's header (so a terminal checks kind, terminal and
    version before asking for anything)."""
    updates.parse(signed)
    if not 1 <= part <= 0xFFFF:
        raise BadInput("part size %d: 1..65535" % part)
    return (bytes((MANIFEST,)) + _u32(apply_by, "apply-by") + _u32(len(signed), "size")
            + struct.pack(">H", part) + hashlib.sha256(signed).digest()
            + bytes(signed[:updates.HEADER_SIZE]))


def decode_manifest(data: bytes) -> Manifest:
    data = bytes(data)
    if len(data) != MANIFEST_SIZE or data[0] != MANIFEST:
        raise BadInput("manifest: %d bytes starting 0x%02x, not %d starting 0x%02x"
                       % (len(data), data[0] if data else 0, MANIFEST_SIZE, MANIFEST))
    apply_by, size, part = struct.unpack(">IIH", data[1:11])
    info = updates.parse(data[43:] + bytes(size))  # the header alone
    if not part or size < updates.HEADER_SIZE + updates.MAC_SIZE:
        raise BadInput("manifest: size %d, part size %d" % (size, part))
    return Manifest(apply_by, size, part, data[11:43], str(info["kind"]),
                    str(info["terminal"]), int(info["version"]))


def decode_retained(data: bytes) -> Update | Manifest | None:
    """A retained ``upd/NAME`` message: a whole update, a manifest, or None (cleared)."""
    if data and data[0] == MANIFEST:
        return decode_manifest(data)
    return decode_update(data)


def encode_get(version: int, first: int, count: int, name: str) -> bytes:
    """A terminal's request for ``count`` parts of update ``name`` v``version``."""
    if not 1 <= count <= 255:
        raise BadInput("get: %d parts" % count)
    return (bytes((VERSION,)) + _u32(version, "version") + _u32(first, "part")
            + bytes((count,)) + name.encode())


def decode_get(data: bytes) -> tuple[str, int, int, int]:
    """(name, version, first part, count) of a request for parts."""
    data = _head(data, "get", least=11)
    version, first, count = struct.unpack(">IIB", data[1:10])
    try:
        name = data[10:].decode("ascii")
    except UnicodeDecodeError:
        name = ""
    if name not in UPDATE_NAMES:
        raise BadInput("get: update name %r: one of %s" % (name, ", ".join(UPDATE_NAMES)))
    if not 1 <= count <= MAX_GET:
        raise BadInput("get: %d parts asked for, 1..%d" % (count, MAX_GET))
    return name, version, first, count


def encode_part(version: int, index: int, data: bytes) -> bytes:
    return bytes((VERSION,)) + _u32(version, "version") + _u32(index, "part") + bytes(data)


def decode_part(data: bytes) -> tuple[int, int, bytes]:
    data = _head(data, "part", least=9)
    version, index = struct.unpack(">II", data[1:9])
    return version, index, data[9:]


def parts(signed: bytes, part: int, first: int, count: int) -> list[tuple[int, bytes]]:
    """Parts ``first`` .. ``first + count - 1`` of a file (fewer at its end)."""
    out = []
    for i in range(first, first + count):
        chunk = signed[i * part:(i + 1) * part]
        if not chunk:
            break
        out.append((i, chunk))
    return out


# -- time -------------------------------------------------------------------------------------

def encode_time(secs: int) -> bytes:
    return bytes((VERSION,)) + _u32(secs, "office time")


def decode_time(data: bytes) -> int:
    data = _head(data, "time", size=5)
    return int.from_bytes(data[1:], "big")
