"""Card issuer and back office for the simulated purse cards (docs/purse.md §2.1, §5).

``issue_card`` personalises a ``PurseApplication``: file 0x15, the three
diversified card keys, the opening balance, the cardholder PIN if any. A forged
card is simply one issued with another issuer's ``IssuerKeys``. ``verify_tac`` /
``verify_load_tac`` are the back-office checks of the TACs terminals collect
(terminals cannot check them: they never hold the TAC master key); they, the keys and the
key diversification live in ``host_tools.lib.issuer`` and are imported here.
"""

from __future__ import annotations

import struct

from host_tools.lib.issuer import (  # the keys and the TAC checks live in the library
    IssuerKeys,
    auth_master,
    card_number_bcd,
    diversify,
    serial8,
    verify_load_tac,
    verify_tac,
)
from hw_sim.purse_app import DEFAULT_MAX_BALANCE, DEFAULT_PIN_TRIES, PurseApplication

__all__ = ["IssuerKeys", "card_number_bcd", "issue_card", "public_info", "serial8",
           "verify_load_tac", "verify_tac"]


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
