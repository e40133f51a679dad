"""Staff cards for the canteen POS: who may sell, who may void, and their PINs.

Signing in takes two factors: the staff member's card (something they have, one
of the purse cards, listed by card number) and a PIN keyed on the terminal
(something they know). The list holds each PIN only as a salted SHA-256::

    {"card": "31012300000000009001", "name": "WANG", "role": "cashier",
     "salt": "<hex, 8..32 bytes>", "pin_sha256": "<hex of sha256(salt || PIN digits)>"}

``role`` is ``cashier`` (sells) or ``supervisor`` (sells, and authorises voids,
refunds and the shift close). A PIN is 4 to 8 digits. After ``max_tries`` wrong
PINs in a row a card is locked for ``lockout_s`` seconds of terminal time; the
count restarts after a right PIN. A PIN is never stored, logged or shown.

A salted hash of a short PIN can be brute-forced by whoever holds the list
(10^6 hashes for six digits), so the list is delivered and kept like the keys
(a MAC-checked update file, docs/stores.md); the lock-out stops guessing at the
terminal.
"""

import binascii
import hashlib

from micropython import const

from ykt import crypto

CASHIER = "cashier"
SUPERVISOR = "supervisor"
ROLES = (CASHIER, SUPERVISOR)
PIN_MIN = const(4)
PIN_MAX = const(8)

OK = "ok"
WRONG = "wrong"
LOCKED = "locked"


def pin_digest(salt, pin):
    """sha256(salt || PIN digits); ``pin`` is bytes or bytearray of ASCII digits."""
    h = hashlib.sha256(salt)
    h.update(pin)
    return h.digest()


class Staff:
    def __init__(self, number, card, name, role, salt, digest):
        self.number = number  # 1-based position in the list (goes into sale records)
        self.card = card
        self.name = name
        self.role = role
        self._salt = salt
        self._digest = digest
        self.wrong = 0  # wrong PINs in a row
        self.locked_until = 0  # terminal seconds (ykt.clock.seconds)

    def is_supervisor(self):
        return self.role == SUPERVISOR


def _hex(v, where, key, lo, hi):
    try:
        b = binascii.unhexlify(v)
    except (TypeError, ValueError):
        raise ValueError("%s: %s must be hex" % (where, key))
    if not lo <= len(b) <= hi:
        raise ValueError("%s: %s must be %d to %d bytes" % (where, key, lo, hi))
    return b


class StaffList:
    def __init__(self, members, max_tries=3, lockout_s=1800):
        self.members = members
        self.max_tries = max_tries
        self.lockout_s = lockout_s

    @staticmethod
    def load(entries, max_tries=3, lockout_s=1800):
        """Validate the list (config "staff" or a staff update; ``ValueError`` naming
        the entry)."""
        if not isinstance(entries, list):
            raise ValueError("config: 'staff' must be a list")
        out = []  # type: list
        for i, e in enumerate(entries):
            where = "staff[%d]" % i
            if not isinstance(e, dict):
                raise ValueError("%s: must be an object" % where)
            card = e.get("card")
            if not isinstance(card, str) or len(card) != 20 or not card.isdigit():
                raise ValueError("%s: card must be 20 digits" % where)
            name = e.get("name", "")
            if not isinstance(name, str) or not 0 < len(name) <= 12:
                raise ValueError("%s: name must be 1 to 12 characters" % where)
            role = e.get("role")
            if role not in ROLES:
                raise ValueError("%s: role must be cashier or supervisor" % where)
            for o in out:
                if o.card == card:
                    raise ValueError("%s: card listed twice" % where)
            out.append(Staff(i + 1, card, name, role, _hex(e.get("salt"), where, "salt", 8, 32),
                             _hex(e.get("pin_sha256"), where, "pin_sha256", 32, 32)))
        if len(out) > 255:
            raise ValueError("at most 255 staff")
        return StaffList(out, max_tries, lockout_s)

    def find(self, card_no):
        for s in self.members:
            if s.card == card_no:
                return s
        return None

    def by_number(self, number):
        if 1 <= number <= len(self.members):
            return self.members[number - 1]
        return None

    def locked_for(self, staff, now_s):
        """Seconds of lock-out left for ``staff`` (0: not locked)."""
        left = staff.locked_until - now_s
        return left if left > 0 else 0

    def check(self, staff, pin, now_s):
        """Check a keyed PIN (bytes of digits): OK, WRONG or LOCKED (this try locked it,
        or it already was)."""
        if self.locked_for(staff, now_s):
            return LOCKED
        if PIN_MIN <= len(pin) <= PIN_MAX and crypto.equal(pin_digest(staff._salt, pin),
                                                           staff._digest):
            staff.wrong = 0
            return OK
        staff.wrong += 1
        if staff.wrong >= self.max_tries:
            staff.wrong = 0
            staff.locked_until = now_s + self.lockout_s
            return LOCKED
        return WRONG

    def tries_left(self, staff):
        return self.max_tries - staff.wrong
