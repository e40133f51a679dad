"""Order entry: what the cashier keys for the next sale, in the terminal's sale mode.

``fixed``: nothing (a tap pays the meal period's price); ``menu``: item codes and
quantities (code ``*`` qty ``#``, or code ``#`` for one); ``amount``: an amount in fen,
then ``#``. In any mode ``B`` keys a coupon code; ``C`` clears the entry, or the last
item / the amount / the coupon.
"""

from collections import namedtuple

from micropython import const

from ykt import clock
from ykt.money import yuan
from ykt.pos.periods import period_at
from ykt.pos.zreport import MODES
from ykt.roles.pos.screen import pair

_F_MAIN = const(0)
_F_QTY = const(1)
_F_COUPON = const(2)
_ENTRY_MAX = const(8)

# What to charge: the sale mode, and the basket ([(code, qty)], menu), the amount in fen
# (amount) or None (fixed), as ``ykt.pos.pricing.price_sale`` takes them.
Order = namedtuple("Order", ("mode", "basket_or_amount"))


class Digits:
    """The digits being keyed on the screen the terminal is in: an item code, a
    quantity, an amount, a coupon, a sale number, the time (``text``)."""

    def __init__(self):
        self.text = ""

    def add(self, k, n):
        """Digit ``k``, unless ``n`` are keyed already."""
        if len(self.text) < n:
            self.text += k

    def pop(self):
        """The digits keyed; none are left."""
        text = self.text
        self.text = ""
        return text

    def clear(self):
        self.text = ""


class OrderEntry:
    def __init__(self, rules, mode, entry, ui):
        self.rules = rules
        self.ui = ui  # the Screen
        self.mode = mode
        self.entry = entry  # the Digits being keyed
        self.number = 0  # counts the orders (a sale remembers which order it was for)
        self.clear()

    def clear(self):
        """A new, empty order."""
        self.number += 1
        self.basket = []
        self.amount = 0
        self.coupon = None
        self.entry.clear()
        self.field = _F_MAIN
        self._code = 0

    def next_mode(self):
        """Switch to the next sale mode (the order is cleared); the new mode."""
        self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        self.clear()
        return self.mode

    def order(self):
        """The Order ready to charge, or None when nothing is keyed."""
        if self.mode == "fixed":
            return Order("fixed", None)
        if self.mode == "menu":
            return Order("menu", list(self.basket)) if self.basket else None
        return Order("amount", self.amount) if self.amount else None

    def period(self):
        """The meal period now (None: outside them)."""
        t = clock.now()
        return period_at(self.rules.periods, t[3], t[4])

    def gross(self):
        g = 0
        for code, qty in self.basket:
            g += self.rules.menu.item(code).price * qty
        return g

    # -- screens -----------------------------------------------------------------------
    def pole(self):
        """The customer display between taps."""
        if self.mode == "fixed":
            p = self.period()
            if p is None or p.price is None:
                return ("CLOSED", "")
            return (p.name.upper(), yuan(p.price))
        if self.mode == "menu":
            return ("TOTAL", yuan(self.gross()))
        return ("PAY", yuan(self.amount))

    def rows(self, cashier):
        """The LCD's two rows while the order is keyed (``cashier``: a name)."""
        entry = self.entry.text
        if self.field == _F_COUPON:
            return ("COUPON CODE:", entry)
        if self.mode == "fixed":
            p = self.period()
            top = "CLOSED" if p is None or p.price is None else pair(p.name.upper(),
                                                                      yuan(p.price))
            return (top[:20], pair("TAP CARD", cashier))
        if self.mode == "menu":
            units = 0
            for _, q in self.basket:
                units += q
            top = pair("ITEMS %d" % units, yuan(self.gross()))
            if self.field == _F_QTY:
                return (top, "%d QTY: %s" % (self._code, entry))
            return (top, "CODE: " + entry)
        if entry:
            return ("AMOUNT:", yuan(int(entry)))
        return (pair("AMOUNT", yuan(self.amount)), pair("TAP CARD", cashier))

    # -- keys --------------------------------------------------------------------------
    def key(self, k):
        """A key of the sale screen (digits, ``#``, ``*``, ``B``, ``C``)."""
        if k == "B":
            self.field = _F_COUPON
            self.entry.clear()
            return
        if "0" <= k <= "9":
            if self.mode != "fixed" or self.field == _F_COUPON:
                self.entry.add(k, _ENTRY_MAX)
            return
        if k == "C":
            if self.entry.text:
                self.entry.clear()
            elif self.field != _F_MAIN:
                self.field = _F_MAIN
            elif self.mode == "menu" and self.basket:
                self.basket.pop()
            else:
                self.amount = 0
                self.coupon = None
            return
        if k == "*":
            if self.mode == "menu" and self.field == _F_MAIN and self.entry.text:
                self._code = int(self.entry.pop())
                self.field = _F_QTY
            return
        if k != "#":
            return
        entry = self.entry.pop()
        field = self.field
        self.field = _F_MAIN
        if field == _F_COUPON:
            self.coupon = entry or None
            self.ui.message("COUPON " + entry if entry else "NO COUPON", "")
        elif self.mode == "menu":
            if field == _F_QTY:
                self._add_item(self._code, int(entry) if entry else 1)
            elif entry:
                self._add_item(int(entry), 1)
        elif self.mode == "amount" and entry:
            self.amount = int(entry)
            self.ui.message("PAY " + yuan(self.amount), "TAP CARD")

    def _add_item(self, code, qty):
        item = self.rules.menu.item(code)
        if item is None:
            self.ui.message("NO ITEM %d" % code, "")
            return
        if not 1 <= qty <= 99:
            self.ui.message("BAD QUANTITY %d" % qty, "")
            return
        for i in range(len(self.basket)):
            if self.basket[i][0] == code:
                self.basket[i] = (code, self.basket[i][1] + qty)
                break
        else:
            self.basket.append((code, qty))
        self.ui.message(("%s x%d" % (item.name, qty))[:20], yuan(item.price * qty))
