"""Card issuer and back office for the simulated purse cards (docs/purse.md §2.1, §5).

``issue_card`` personalises a ``PurseApplication``: file 0x15, the three
diversified card keys, the opening balance, the cardholder PIN if any, and with
``holder`` the social security application beside the purse (``ssc_files``: EF05 and
EF06 of a third-generation social security card, docs/venue.md §1). A forged
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
from host_tools.lib.qr import id_fields
from hw_sim.purse_app import (
    DEFAULT_MAX_BALANCE,
    DEFAULT_PIN_TRIES,
    SSC_EF05,
    SSC_EF06,
    PurseApplication,
)

__all__ = ["IssuerKeys", "card_number_bcd", "issue_card", "public_info", "serial8",
           "ssc_files", "verify_load_tac", "verify_tac"]

NAME_SIZE = 30  # EF06 tag 09: the name in GBK, padded with zero bytes
HOLDER_KEYS = ("id_number", "name", "card_id", "issued", "expires", "sex")


def _bcd_date(yyyymmdd: int) -> bytes:
    return bytes.fromhex("%08d" % yyyymmdd)


def ssc_files(id_number: str, *, name: str = "", card_id: str = "A00000000",
              issued: int = 20240101, expires: int = 20340101, sex: int | None = None,
              ethnicity: int = 1) -> dict:
    """EF05 and EF06 of the social security application, ``{file id: {tag: value}}``:
    card identifier (01, 16 bytes: the issuing region code and ``D156000005``), issue
    (05) and expiry (06) dates in BCD, card number (07, 9 ASCII characters); ID number
    (08, 18 ASCII), name (09, GBK, 30 bytes), sex (0A, ``1`` male ``2`` female, by
    default from the ID number's sequence), ethnicity (0B), birth date (0D, BCD).
    ValueError (host_tools' BadInput) for an ID number that is not one (GB 11643)."""
    region, birth = id_fields(id_number)
    idn = id_number.strip().upper()
    if not (isinstance(card_id, str) and len(card_id) == 9 and card_id.isascii()
            and card_id.isalnum()):
        raise ValueError("a social security card number is 9 letters and digits")
    gbk = name.encode("gbk")
    if len(gbk) > NAME_SIZE:
        raise ValueError("a name is at most 30 bytes in GBK")
    if sex is None:
        sex = 1 if int(idn[16]) % 2 else 2
    ef05 = {0x01: ("%06d" % region + "D156000005").encode(), 0x05: _bcd_date(issued),
            0x06: _bcd_date(expires), 0x07: card_id.encode()}
    ef06 = {0x08: idn.encode(), 0x09: gbk.ljust(NAME_SIZE, b"\0"), 0x0A: b"%d" % sex,
            0x0B: bytes((ethnicity,)), 0x0D: _bcd_date(birth)}
    return {SSC_EF05: ef05, SSC_EF06: ef06}


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
    holder: dict | None = None,
    **info,
) -> PurseApplication:
    """Personalise a purse card; ``info`` are the ``public_info`` fields (category, dates, ...).

    ``pin``: the cardholder PIN (2-12 digits) VERIFY checks, with ``pin_tries`` tries.
    ``holder``: the ``ssc_files`` arguments (``id_number``, ``name``, ``card_id``,
    ``issued``, ``expires``, ``sex``): the card also carries the social security application.
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
        ssc=None if holder is None else ssc_files(**holder),
    )
