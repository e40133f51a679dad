"""Sign update files for a terminal (docs/stores.md, "Update files").

``sign(kind, version, terminal_id, payload, update_master)`` builds the envelope the
firmware's ``ykt/store/updates.py`` installs: a 20-byte header, the payload and the
AES-CMAC of both under the device's update key ``device_key(update_master, terminal_id)``
= AES_master(FF FF ‖ terminal id ‖ NOT(FF FF ‖ terminal id)), the purse diversification
(purse.md §5.2) with ``FF FF ‖ terminal id`` in place of the card serial.
"""

from __future__ import annotations

import struct
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from host_tools.lib import denylist
from host_tools.lib.errors import BadInput

MAGIC = b"YKUP"
FORMAT = 1
HEADER_FMT = ">4sBB6sII"
HEADER_SIZE = struct.calcsize(HEADER_FMT)
MAC_SIZE = 16
UINT32_MAX = 0xFFFFFFFF

KINDS = {"tariff": 1, "denylist": 2, "denylist-delta": 3, "config": 4, "staff": 5, "clock": 6,
         "canteen": 7, "trust": 8, "trust-test": 9, "bookings": 10}
CLOCK_YEARS = (2024, 2099)  # as the firmware (ykt.store.updates.CLOCK_YEARS)


def kind_code(kind: str | int) -> int:
    """Code of a kind name or number (any 1..255 number is accepted, for tests)."""
    if isinstance(kind, int) or str(kind).isdigit():
        code = int(kind)
        if not 1 <= code <= 255:
            raise BadInput("kind code must be 1..255")
        return code
    if kind not in KINDS:
        raise BadInput("unknown kind %r (one of %s)" % (kind, ", ".join(KINDS)))
    return KINDS[kind]


def kind_name(code: int) -> str:
    for name, c in KINDS.items():
        if c == code:
            return name
    return "kind-%d" % code


def terminal_id(text: str) -> bytes:
    """6-byte terminal id from 12 hex digits."""
    try:
        tid = bytes.fromhex(text)
    except ValueError:
        tid = b""
    if len(tid) != 6:
        raise BadInput("terminal id must be 12 hex digits, got %r" % text)
    return tid


def _key16(key: bytes) -> bytes:
    if len(key) != 16:
        raise BadInput("the update master key must be 16 bytes (AES-128)")
    return bytes(key)


def device_key(update_master: bytes, tid: bytes) -> bytes:
    """The device's update key (same as ykt.store.updates.device_key)."""
    block8 = b"\xff\xff" + bytes(tid)
    if len(block8) != 8:
        raise BadInput("terminal id must be 6 bytes")
    enc = Cipher(algorithms.AES(_key16(update_master)), modes.ECB()).encryptor()
    return enc.update(block8 + bytes(b ^ 0xFF for b in block8)) + enc.finalize()


def cmac(key: bytes, msg: bytes) -> bytes:
    c = CMAC(algorithms.AES(key))
    c.update(msg)
    return c.finalize()


def clock_payload(text: str) -> bytes:
    """The payload of a clock update: the terminal's new local time as
    ``YYYY-MM-DDThh:mm:ss`` (ASCII). ``text`` is that (a space for the T, and seconds left
    out, are accepted) or ``now`` (this computer's local time). ValueError if it is not a
    time the terminal would take."""
    import datetime

    text = str(text).strip()
    if text == "now":
        when = datetime.datetime.now().replace(microsecond=0)
    else:
        try:
            when = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise BadInput("clock: %r is not a time like 2026-11-29T07:00:00" % text) from None
        if when.tzinfo is not None or when.microsecond:
            raise BadInput("clock: %r: give local time to the second, no zone" % text)
    if not CLOCK_YEARS[0] <= when.year <= CLOCK_YEARS[1]:
        raise BadInput("clock: year %d outside %d..%d" % (when.year, *CLOCK_YEARS))
    return when.strftime("%Y-%m-%dT%H:%M:%S").encode()


def _check_payload(code: int, version: int, payload: bytes) -> None:
    """A denylist or canteen payload must carry the envelope's version (the firmware checks
    it too)."""
    if code == KINDS["clock"]:
        try:
            text = bytes(payload).decode("ascii")
        except UnicodeDecodeError:
            raise BadInput("clock: payload is not a time like 2026-11-29T07:00:00") from None
        if clock_payload(text) != text.strip().encode() or len(text.strip()) != 19:
            raise BadInput("clock: payload %r is not a time like 2026-11-29T07:00:00" % text)
        return
    if code == KINDS["canteen"]:
        pver = canteen_version(payload)
    elif code in (KINDS["trust"], KINDS["trust-test"]):
        pver = trust_version(code, payload)
    elif code == KINDS["bookings"]:
        from host_tools.lib.venue import bookings_version

        pver = bookings_version(payload)
    elif code == KINDS["denylist"]:
        pver, _ = denylist.read_base(payload)
    elif code == KINDS["denylist-delta"]:
        _, pver, _ = denylist.read_delta(payload)
    else:
        return
    if pver != version:
        raise BadInput("payload is %s v%d, not v%d" % (kind_name(code), pver, version))


def canteen_version(payload: bytes) -> int:
    """The ``version`` a canteen rule set (JSON, docs/canteen.md section 2) gives itself: a
    canteen update's version must be it (the firmware checks that too)."""
    import json

    try:
        rules = json.loads(payload)
    except ValueError:
        raise BadInput("canteen: the payload is not JSON (a rule set like "
                       "canteens/putuo-example.json)") from None
    version = rules.get("version", 0) if isinstance(rules, dict) else None
    if not isinstance(version, int) or isinstance(version, bool):
        raise BadInput("canteen: the rule set needs a whole-number 'version'")
    return version


def trust_version(code: int, payload: bytes) -> int:
    """The version a trust-anchor payload (docs/qr.md §6) gives itself; its set must be the
    kind's (production for ``trust``, test for ``trust-test``)."""
    from host_tools.lib import qr

    kset, version, _ = qr.read_anchors(bytes(payload))
    if (kset == "test") != (code == KINDS["trust-test"]):
        raise BadInput("%s: the payload holds the %s keys" % (kind_name(code), kset))
    return version


def sign(kind: str | int, version: int, tid: bytes, payload: bytes, update_master: bytes,
         check: bool = True) -> bytes:
    """The envelope bytes of ``payload`` for terminal ``tid`` (6 bytes)."""
    code = kind_code(kind)
    if not 1 <= version <= UINT32_MAX:
        raise BadInput("version must be 1..%d" % UINT32_MAX)
    if len(tid) != 6:
        raise BadInput("terminal id must be 6 bytes")
    if len(payload) > UINT32_MAX:
        raise BadInput("payload too large")
    if check:
        _check_payload(code, version, payload)
    head = struct.pack(HEADER_FMT, MAGIC, FORMAT, code, bytes(tid), version, len(payload))
    body = head + bytes(payload)
    return body + cmac(device_key(update_master, tid), body)


def parse(data: bytes) -> dict[str, Any]:
    """Header fields of an envelope (no MAC check): dict; ValueError if not one."""
    if len(data) < HEADER_SIZE or data[:4] != MAGIC:
        raise BadInput("not an update file")
    magic, fmt, code, tid, version, plen = struct.unpack(HEADER_FMT, data[:HEADER_SIZE])
    return {"format": fmt, "kind": kind_name(code), "kind_code": code, "terminal": tid.hex(),
            "version": version, "payload_bytes": plen,
            "complete": len(data) == HEADER_SIZE + plen + MAC_SIZE}


def verify(data: bytes, update_master: bytes) -> bool:
    """True if the envelope's MAC is right for the terminal its header names."""
    info = parse(data)
    end = HEADER_SIZE + info["payload_bytes"]
    if not info["complete"]:
        return False
    key = device_key(update_master, bytes.fromhex(info["terminal"]))
    return cmac(key, data[:end]) == data[end:]


def read_key_file(path: str) -> bytes:
    """A 16-byte key from a file: 32 hex digits (whitespace ignored) or 16 raw bytes."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        key = bytes.fromhex(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        key = raw
    if len(key) != 16:
        raise BadInput("%s: expected a 16-byte key (32 hex digits)" % path)
    return key
