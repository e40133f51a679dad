"""The canteen POS role's codes, each with its text in a table (as nfcpy's error tables).

Code passes codes around and never reads text: a refused tap raises ``refused(code)``,
a ``CardRefused`` whose text is ``REFUSED[code]`` (the console's ``reason``, the
display's second row); a sale pricing refused has its code in ``Sale.refusal``
(``ykt.pos.pricing.REFUSED`` holds those texts) and is journaled ``denied`` with the
reason ``DENIED`` gives for it. The texts are exactly what the terminal always showed.

Every name here is a qstr in the VM's RAM (a ``const`` is inlined only in its own
module), so there are only as many as the other modules need.
"""

from micropython import const

from ykt.errors import CardRefused
from ykt.pos import pricing

# Why a tap is refused: codes, then their text (a ``%d`` takes the argument named).
NO_CASHIER = const(0)
SUPERVISOR_NEEDED = const(1)
STAFF_LOCKED = const(2)  # seconds left
STAFF_FORGED = const(3)
PIN_FIRST = const(4)
FINISH_KEYING = const(5)
RECORD_UNREADABLE = const(6)
NO_ITEMS = const(7)
NO_AMOUNT = const(8)
PIN_TRIES = const(9)
PIN_CANCELLED = const(10)
NOT_THE_CARD = const(11)  # the sale's number
GIVE_BACK_PENDING = const(12)
CANNOT_LOAD = const(13)
GIVEN_BACK = const(14)  # the sale's number

REFUSED = (
    "no cashier signed in",
    "supervisor card needed",
    "staff card locked: %d s",
    "staff card failed authentication",
    "enter the PIN first",
    "finish keying first",
    "canteen record unreadable",
    "no items keyed",
    "no amount keyed",
    "too many wrong PINs",
    "PIN entry cancelled",
    "not the card of sale %d",
    "give-back pending: see the back office",
    "this terminal cannot load cards",
    "sale %d already given back",
)

# ``denied`` journal reasons (``tx_type`` of kind 0x40, docs/stores.md).
_DENIED_BALANCE = const(4)
DENIED_FORGED = const(5)
_DENIED_LIMIT = const(6)

# The ``denied`` reason of a sale pricing refused (Sale.refusal); others are not journaled.
DENIED = {
    pricing.COUNT_LIMIT: _DENIED_LIMIT,
    pricing.SINGLE_LIMIT: _DENIED_LIMIT,
    pricing.DAILY_LIMIT: _DENIED_LIMIT,
    pricing.INSUFFICIENT: _DENIED_BALANCE,
    pricing.MIN_BALANCE: _DENIED_BALANCE,
}


def refused(code, arg=None):
    """The CardRefused for refusal ``code`` (its text, with ``arg`` when it takes one)."""
    text = REFUSED[code]
    return CardRefused(text if arg is None else text % arg)
