"""Staff lists for the canteen POS (docs/canteen.md §9): entries with a salted PIN hash.

A staff file is the JSON list the POS takes as config ``staff`` or as a staff update
(``ykt update sign --kind staff``); each entry is what ``firmware/ykt/pos/staff.py`` reads::

    {"card": "31012300000000009001", "name": "WANG", "role": "cashier",
     "salt": "<hex, 16 random bytes>", "pin_sha256": "<hex of sha256(salt || PIN digits)>"}

``add(entries, card, name, role, pin)`` appends one member, hashing the PIN with a fresh
salt from ``os.urandom``; it refuses, in one line, what the POS would refuse (a card not of
20 digits, a name not of 1 to 12 ASCII characters, an unknown role, a PIN not of 4 to 8 digits,
more than 255 members) and a card or name already listed. The PIN itself is never kept.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from host_tools.lib.errors import BadInput
from host_tools.lib.files import write_atomic

ROLES = ("cashier", "supervisor")  # as ykt.pos.staff.ROLES
PIN_MIN, PIN_MAX = 4, 8  # as ykt.pos.staff.PIN_MIN / PIN_MAX
NAME_MAX = 12
MAX_STAFF = 255
SALT_BYTES = 16

Entry = dict[str, Any]


def pin_digest(salt: bytes, pin: str) -> bytes:
    """sha256(salt || PIN digits), as the POS computes it (ykt.pos.staff.pin_digest)."""
    return hashlib.sha256(bytes(salt) + check_pin(pin).encode("ascii")).digest()


def check_pin(pin: str) -> str:
    """The PIN's digits; BadInput unless it is 4 to 8 digits (ASCII 0-9, the keypad's)."""
    if not (PIN_MIN <= len(pin) <= PIN_MAX and pin.isascii() and pin.isdigit()):
        raise BadInput("a PIN must be %d to %d digits (0-9), got %d character%s"
                       % (PIN_MIN, PIN_MAX, len(pin), "" if len(pin) == 1 else "s"))
    return pin


def _check_fields(card: str, name: str, role: str) -> None:
    if not (isinstance(card, str) and len(card) == 20 and card.isascii() and card.isdigit()):
        raise BadInput("card must be the card's 20 digits, got %r" % (card,))
    if not (0 < len(name) <= NAME_MAX and name.isascii() and name.isprintable()):
        raise BadInput("name must be 1 to %d ASCII characters (the LCD and the receipts print "
                       "it), got %r" % (NAME_MAX, name))
    if role not in ROLES:
        raise BadInput("role must be %s, got %r" % (" or ".join(ROLES), role))


def entry(card: str, name: str, role: str, pin: str, salt: bytes | None = None) -> Entry:
    """One staff entry; ``salt`` defaults to 16 bytes from os.urandom."""
    _check_fields(card, name, role)
    salt = os.urandom(SALT_BYTES) if salt is None else bytes(salt)
    if not 8 <= len(salt) <= 32:
        raise BadInput("salt must be 8 to 32 bytes")
    return {"card": card, "name": name, "role": role, "salt": salt.hex(),
            "pin_sha256": pin_digest(salt, pin).hex()}


def check_new(entries: list[Entry], card: str, name: str, role: str) -> None:
    """BadInput unless a member with these fields can join ``entries``: the fields as the
    POS wants them, the card and the name not listed yet, room in the list."""
    _check_fields(card, name, role)
    for i, e in enumerate(entries):
        if e.get("card") == card:
            raise BadInput("card %s is already listed (staff %d, %s)" % (card, i + 1,
                                                                        e.get("name")))
        if e.get("name") == name:
            raise BadInput("name %s is already listed (staff %d, card %s)"
                           % (name, i + 1, e.get("card")))
    if len(entries) >= MAX_STAFF:
        raise BadInput("a staff list holds at most %d members" % MAX_STAFF)


def add(entries: list[Entry], card: str, name: str, role: str, pin: str,
        salt: bytes | None = None) -> list[Entry]:
    """``entries`` with a new member at the end (its staff number is its position);
    BadInput as ``check_new`` says, or for a bad PIN."""
    check_new(entries, card, name, role)
    return list(entries) + [entry(card, name, role, pin, salt)]


def load(path: str) -> list[Entry]:
    """The entries of a staff file; [] when it does not exist yet."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return []
    try:
        entries = json.loads(raw)
    except ValueError:
        raise BadInput("%s: not JSON (a staff file is a JSON list of entries)" % path) from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise BadInput("%s: not a staff file (a JSON list of entries)" % path)
    return entries


def dumps(entries: list[Entry]) -> bytes:
    """A staff file's bytes: one entry a line, keys in the documented order."""
    lines = [json.dumps(e, ensure_ascii=False) for e in entries]
    return ("[\n" + ",\n".join(" " + line for line in lines) + "\n]\n").encode("utf-8")


def save(path: str, entries: list[Entry]) -> None:
    """Write the staff file whole (through a temporary file), readable by its owner only:
    the hashes of short PINs can be brute-forced by whoever holds them."""
    write_atomic(path, dumps(entries), 0o600)
