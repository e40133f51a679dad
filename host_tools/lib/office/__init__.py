"""The back office's core (docs/office.md): a database (:mod:`.db`), idempotent ingest of
terminals' journal records with their MAC chain and TAC checks (:mod:`.ingest`), per-card
clearing (:mod:`.clearing`) and settlement per issuer × operator × day (:mod:`.settlement`).

Card numbers are whole in the database (clearing needs them) and masked
(:func:`mask_card`) in everything these modules make for people.
"""

from __future__ import annotations

ISSUER_DIGITS = 6  # a card's issuer: the first digits of its number (shown when masked)
OPERATOR_DIGITS = 6  # a terminal's operator by default: the first digits of its id


def mask_card(card: str) -> str:
    """``310123**********0001``: the issuer digits and the last 4, the rest starred."""
    if len(card) <= ISSUER_DIGITS + 4:
        return "*" * max(len(card) - 4, 0) + card[-4:]
    return card[:ISSUER_DIGITS] + "*" * (len(card) - ISSUER_DIGITS - 4) + card[-4:]


def issuer_of(card: str) -> str:
    return card[:ISSUER_DIGITS]


def default_operator(terminal: str) -> str:
    return terminal[:OPERATOR_DIGITS]
