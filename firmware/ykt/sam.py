"""Software SAM: the only firmware object that holds key material.

Implements the terminal side of docs/purse.md section 5: it diversifies the
card keys, derives the session keys and makes or checks the MACs. It keeps no
session state: every call gets what it needs (the pending-transaction values
of section 6.1 step 4) and recomputes the session key, so a MAC2 that comes
back later through GET TRANSACTION PROVE is checked the same way as one from
DEBIT. A hardware PSAM can implement the same methods.

The terminal transaction sequence must never repeat, across reboots and power
cuts too (a PSAM keeps it in its own non-volatile memory). With a ``lease``
(``load() -> int``, ``store(int)``; ``ykt.store.counter.Counter`` on the
terminal) the SAM persists a high-water mark ``LEASE`` numbers ahead before it
hands out the first number of each block: after a reboot it starts at the mark,
never re-using a number and skipping at most ``LEASE - 1`` it never handed out;
the flash is written once per ``LEASE`` purchases (and once after each boot, at
the first purchase). docs/purse.md section 7.

The TAC master key is never here: only the back office checks TACs.
"""

import os

from micropython import const

from ykt import crypto
from ykt.errors import SequenceError, YktError

_KEY_VERSION = const(1)
_ALG_AES = const(0x10)
_TX_LOAD = const(0x02)
_SEQ_MASK = const(0xFFFFFFFF)
LEASE = const(256)  # sequence numbers per persisted high-water mark


def _tx_msg(amount, tx_type, terminal_id, datetime7):
    return (
        amount.to_bytes(4, "big")
        + bytes((tx_type,))
        + bytes(terminal_id)
        + bytes(datetime7)
    )


class SoftSam:
    """Software SAM over issuer master keys.

    ``keys`` is a dict: ``"purchase"`` (16 bytes, required), ``"load"``
    (16 bytes, only on terminals that load or refund) and ``"match"`` (the holder
    match-key secret, only on venue gates). ``sequence`` is the
    next terminal transaction sequence number. ``lease`` keeps it across
    reboots (module docstring); without one it lives in RAM only.
    """

    def __init__(self, keys, terminal_id, sequence=0, key_version=_KEY_VERSION, lease=None):
        if len(terminal_id) != 6:
            raise ValueError("terminal id must be 6 bytes")
        self._purchase = bytes(keys["purchase"])
        self._load = keys.get("load")
        self._match = keys.get("match")  # the holder match-key secret (venue gates)
        self._terminal_id = bytes(terminal_id)
        self._key_version = key_version
        self.sequence = sequence
        self._lease = lease
        self._auth = crypto.auth_master(self._purchase)
        self._challenges = 0  # challenges made since boot
        self._left = 0  # numbers from ``sequence`` on below the persisted mark
        self._loaded = False  # the lease's mark has been read

    def terminal_id(self):
        """The 6-byte terminal id that goes into INITIALIZE and the MACs."""
        return self._terminal_id

    def next_sequence(self):
        """Allocate the terminal sequence number for the next purchase.

        With a lease, raises SequenceError when the mark cannot be read or saved
        (nothing is handed out; the next call tries again).
        """
        if self._lease is not None:
            if not self._left:
                self._reserve()
            self._left -= 1
        seq = self.sequence
        self.sequence = (seq + 1) & _SEQ_MASK
        return seq

    def advance_to(self, n):
        """Never hand out a number below ``n`` from now on."""
        n &= _SEQ_MASK
        if n > self.sequence:
            self._left = max(0, self._left - (n - self.sequence))
            self.sequence = n

    def check(self):
        """Read the lease's mark now (at boot), so a damaged or unreadable counter is
        known before the first sale. Raises SequenceError."""
        if self._lease is None or self._loaded:
            return
        try:
            mark = self._lease.load()  # SequenceError if damaged
        except OSError as e:
            raise SequenceError("sequence counter I/O error %s" % (e.args[0] if e.args else 0))
        if mark > self.sequence:
            self.sequence = mark
        self._loaded = True

    def _reserve(self):
        """Persist the mark of a new block of LEASE numbers starting at ``sequence``."""
        self.check()
        try:
            self._lease.store((self.sequence + LEASE) & _SEQ_MASK)
        except OSError as e:
            raise SequenceError("sequence counter I/O error %s" % (e.args[0] if e.args else 0))
        self._left = LEASE

    def match_key(self, id_number):
        """The holder's match key, HMAC-SHA256(match secret, ID number)[:16] (docs/venue.md
        §2): what bookings and e-card codes carry instead of the ID number."""
        if self._match is None:
            raise YktError("SAM has no match secret")
        return crypto.hmac_sha256(self._match, id_number)[:16]

    def supports(self, key_version, algorithm):
        """True if this SAM holds the keys a card with these ids uses."""
        return key_version == self._key_version and algorithm == _ALG_AES

    def can_load(self):
        """True if this SAM holds the load master key."""
        return self._load is not None

    def _sesp(self, serial8, card_random, atc, term_seq):
        card_key = crypto.diversify(self._purchase, serial8)
        return crypto.purchase_session(card_key, card_random, atc, term_seq)

    def _sesl(self, serial8, card_random, online_atc):
        if self._load is None:
            raise YktError("SAM has no load key")
        card_key = crypto.diversify(self._load, serial8)
        return crypto.load_session(card_key, card_random, online_atc)

    def purchase_mac1(
        self, serial8, card_random, atc, amount, tx_type, terminal_id, datetime7, term_seq
    ):
        """MAC1 for DEBIT FOR PURCHASE (``atc`` as INITIALIZE answered it)."""
        ses = self._sesp(serial8, card_random, atc, term_seq)
        return crypto.mac4(ses, _tx_msg(amount, tx_type, terminal_id, datetime7))

    def verify_purchase_mac2(self, serial8, card_random, atc, term_seq, amount, mac2):
        """Check the card's MAC2 from DEBIT or GET TRANSACTION PROVE."""
        ses = self._sesp(serial8, card_random, atc, term_seq)
        return crypto.equal(crypto.mac4(ses, amount.to_bytes(4, "big")), mac2)

    def verify_load_mac1(
        self, serial8, card_random, online_atc, balance, amount, terminal_id, mac1
    ):
        """Check the MAC1 the card answered to INITIALIZE FOR LOAD."""
        ses = self._sesl(serial8, card_random, online_atc)
        msg = (
            balance.to_bytes(4, "big")
            + amount.to_bytes(4, "big")
            + bytes((_TX_LOAD,))
            + bytes(terminal_id)
        )
        return crypto.equal(crypto.mac4(ses, msg), mac1)

    def challenge(self):
        """8 unpredictable bytes for INTERNAL AUTHENTICATE: the chip's random numbers
        (``os.urandom``) and a count, through a MAC under a key only SAMs hold, so a
        weak generator still never repeats a challenge within a boot."""
        self._challenges += 1
        msg = os.urandom(8) + (self._challenges & 0xFFFFFFFF).to_bytes(4, "big")
        return crypto.cmac(self._auth, self._terminal_id + msg)[:8]

    def verify_card_auth(self, serial8, card_bcd10, challenge, counters, mac):
        """Check the card's answer to INTERNAL AUTHENTICATE (purse.md 3.12): it holds
        the authentication key of this issuer for this card number."""
        key = crypto.diversify(self._auth, serial8)
        return crypto.equal(
            crypto.mac4(key, bytes(challenge) + bytes(counters) + bytes(card_bcd10)), mac)

    def verify_load_proof(self, serial8, card_random, online_atc, amount, mac):
        """Check the load proof GET TRANSACTION PROVE answers for a committed load."""
        ses = self._sesl(serial8, card_random, online_atc)
        return crypto.equal(crypto.mac4(ses, amount.to_bytes(4, "big") + bytes((_TX_LOAD,))),
                            mac)

    def load_mac2(self, serial8, card_random, online_atc, amount, terminal_id, datetime7):
        """MAC2 for CREDIT FOR LOAD."""
        ses = self._sesl(serial8, card_random, online_atc)
        return crypto.mac4(ses, _tx_msg(amount, _TX_LOAD, terminal_id, datetime7))
