"""Card issuer and back office for the simulated purse cards (docs/purse.md §2.1, §5).

``issue_card`` personalises a ``PurseApplication``: file 0x15, the three
diversified card keys, the opening balance, the cardholder PIN if any. A forged
card is simply one issued with another issuer's ``IssuerKeys``. ``verify_tac`` /
``verify_load_tac`` are the back-office checks of the TACs terminals collect
(terminals cannot check them: they never hold the TAC master key).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

from hw_sim.purse_app import (
    DEFAULT_MAX_BALANCE,
    DEFAULT_PIN_TRIES,
    TX_LOAD,
    PurseApplication,
    auth_master,
    cmac4,
    diversify,
)


@dataclass(frozen=True)
class IssuerKeys:
    """An issuer's three AES-128 master keys."""

    purchase_master: bytes  # DPK: in every terminal's SAM
    load_master: bytes  # DLK: in load/refund terminals' SAMs
    tac_master: bytes  # DTK: back office only
    key_version: int = 1

    @classmethod
    def from_seed(cls, seed: bytes) -> IssuerKeys:
        """Deterministic keys for tests and scenarios."""

        def derive(label: bytes) -> bytes:
            return hashlib.sha256(b"ykt-issuer|" + label + b"|" + seed).digest()[:16]

        return cls(derive(b"DPK"), derive(b"DLK"), derive(b"DTK"))

    def sam_keys(self, *, load: bool = True) -> dict:
        """The ``keys`` dict for ``ykt.sam.SoftSam`` (never the TAC key)."""
        keys = {"purchase": self.purchase_master}
        if load:
            keys["load"] = self.load_master
        return keys

    def card_keys(self, card_no: str) -> tuple[bytes, bytes, bytes]:
        """(purchase, load, TAC) card keys of ``card_no``."""
        s8 = serial8(card_no)
        return (
            diversify(self.purchase_master, s8),
            diversify(self.load_master, s8),
            diversify(self.tac_master, s8),
        )


def card_number_bcd(card_no: str) -> bytes:
    if len(card_no) != 20 or not card_no.isdigit():
        raise ValueError("card number must be 20 digits")
    return bytes.fromhex(card_no)


def serial8(card_no: str) -> bytes:
    """The last 8 BCD bytes (16 digits) of the card number."""
    return card_number_bcd(card_no)[2:]


def _bcd_date(yyyymmdd: int) -> bytes:
    return bytes.fromhex("%08d" % yyyymmdd)


def public_info(
    card_no: str,
    *,
    category: int = 0,
    start: int = 20240101,
    end: int = 20341231,
    city: int = 0x2900,
    issuer_code: int = 0x0001,
    industry: int = 0x0001,
    app_type: int = 0x01,
    app_version: int = 0x01,
) -> bytes:
    """The 30 bytes of file 0x15."""
    return (
        struct.pack(">HHHHBB", issuer_code, city, industry, 0, app_type, app_version)
        + card_number_bcd(card_no)
        + _bcd_date(start)
        + _bcd_date(end)
        + bytes((category, 0))
    )


def issue_card(
    number: str,
    *,
    balance_fen: int,
    issuer_keys: IssuerKeys,
    max_balance: int = DEFAULT_MAX_BALANCE,
    records: dict | None = None,
    blocked: bool = False,
    fci_public_info: bool = True,
    pin: str | None = None,
    pin_tries: int = DEFAULT_PIN_TRIES,
    rng_seed=None,
    **info,
) -> PurseApplication:
    """Personalise a purse card; ``info`` are the ``public_info`` fields (category, dates, ...).

    ``pin``: the cardholder PIN (2-12 digits) VERIFY checks, with ``pin_tries`` tries.
    """
    dpk, dlk, dtk = issuer_keys.card_keys(number)
    return PurseApplication(
        public_info=public_info(number, **info),
        purchase_key=dpk,
        load_key=dlk,
        tac_key=dtk,
        auth_key=diversify(auth_master(issuer_keys.purchase_master), serial8(number)),
        balance=balance_fen,
        key_version=issuer_keys.key_version,
        max_balance=max_balance,
        records=records,
        blocked=blocked,
        fci_public_info=fci_public_info,
        pin=pin,
        pin_tries=pin_tries,
        rng_seed=rng_seed,
    )


def _tac_key(keys: IssuerKeys, card_no: str) -> bytes:
    return diversify(keys.tac_master, serial8(card_no))


def verify_tac(
    keys: IssuerKeys,
    card_no: str,
    tac: bytes,
    *,
    balance_after: int,
    atc: int,
    amount: int,
    tx_type: int,
    terminal_id: bytes,
    term_seq: int,
    datetime7: bytes,
) -> bool:
    """Back office: check a purchase TAC (``atc`` = the one INITIALIZE answered)."""
    msg = (
        struct.pack(">IHIB", balance_after, atc, amount, tx_type)
        + bytes(terminal_id)
        + struct.pack(">I", term_seq)
        + bytes(datetime7)
    )
    return hmac.compare_digest(cmac4(_tac_key(keys, card_no), msg), bytes(tac))


def verify_load_tac(
    keys: IssuerKeys,
    card_no: str,
    tac: bytes,
    *,
    balance_after: int,
    online_atc: int,
    amount: int,
    terminal_id: bytes,
    datetime7: bytes,
) -> bool:
    """Back office: check a load (or refund) TAC."""
    msg = (
        struct.pack(">IHIB", balance_after, online_atc, amount, TX_LOAD)
        + bytes(terminal_id)
        + bytes(datetime7)
    )
    return hmac.compare_digest(cmac4(_tac_key(keys, card_no), msg), bytes(tac))
