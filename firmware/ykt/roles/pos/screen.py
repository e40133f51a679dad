"""What the canteen POS shows: the operator's LCD, the customer display, the receipts.

The LCD has four rows of 20: the two of the screen the terminal is in, then the two of
the last message (an outcome, or what a key did), unless a page of four rows (the last
sale's price steps, the Z report) is shown instead. The customer display, LEDs and
buzzer are the Context's ``ui``; outcomes shown there (``ok``, ``fail``) are also the
LCD's message.
"""

from ykt import clock, report


def pair(left, right, width=20):
    gap = width - len(left) - len(right)
    if gap < 1:
        return (left + " " + right)[:width]
    return left + " " * gap + right


class Screen:
    """The displays, and the role's ``ui`` (``TapRole``: ``show``, ``ok``, ``fail``,
    ``idle``). ``role`` is the terminal: ``role.rows()`` gives the two rows of the screen
    it is in, ``role.pole()`` what the customer display shows between taps (None: leave
    it as it is)."""

    def __init__(self, ui, lcd, role):
        self._ui = ui
        self._role = role
        if lcd is not None:
            try:
                lcd.init()
            except OSError as e:
                report.emit("error", ("reason", "LCD not answering (errno %d)" % e.args[0]))
                lcd = None
        self.lcd = lcd  # None: no LCD, or it stopped answering
        self.msg = ("", "")  # the message rows (set it to show them at the next render)
        self.page = None  # four rows shown instead of the screen and message until set None
        self._pole = None  # what the customer display shows
        self.lines = []  # the last sale's lines, paged through with key A (``next``)
        self._review_at = 0

    # -- the customer display (and the message rows) -----------------------------------
    def show(self, line1, line2=""):
        self._ui.show(line1, line2)

    def ok(self, line1, line2=""):
        self.message(line1, line2)
        self._ui.ok(line1, line2)

    def fail(self, line1, line2=""):
        self.message(line1, line2)
        self._ui.fail(line1, line2)

    def idle(self, line1, line2=""):
        self._ui.idle(line1, line2)
        self._pole = (line1, line2)
        self.render()

    # -- the operator's LCD ------------------------------------------------------------
    def message(self, line1, line2=""):
        self.msg = (line1, line2)
        self.render()

    def rows(self, rows):
        """Four rows on the LCD now; an LCD that stops answering is reported and given up
        on (sales go on with the customer display)."""
        try:
            self.lcd.show(rows)
        except OSError as e:
            report.emit("error", ("reason", "LCD not answering (errno %d)" % e.args[0]))
            self.lcd = None

    def next(self):
        """The next page of the last sale's lines (the first unless they are shown)."""
        lines = self.lines
        if not lines:
            return
        if self.page is None:
            self._review_at = 0
        at = self._review_at
        self.page = tuple(lines[at:at + 4]) + ("",) * (4 - len(lines[at:at + 4]))
        self._review_at = at + 4 if at + 4 < len(lines) else 0

    def render(self):
        if self.lcd is not None:
            rows = self.page
            if rows is None:
                top = self._role.rows()
                rows = (top[0], top[1], self.msg[0], self.msg[1])
            self.rows(rows)
        pole = self._role.pole()
        if pole is not None and pole != self._pole:
            self._pole = pole
            self._ui.show(pole[0], pole[1])


class Receipts:
    """Receipts on the printer, if one is fitted (``ykt.pos.receipt``); a printer out of
    paper or not answering is reported and nothing is printed."""

    def __init__(self, printer, canteen, terminal, menu):
        self.printer = printer
        self.canteen = canteen  # the rule set's name
        self.terminal = terminal  # the terminal's name
        self.menu = menu
        if printer is not None:
            # imported now, not when first needed: a long-running heap gets too fragmented
            # to load a module's code later
            from ykt.drivers.escpos import encodable
            from ykt.pos import receipt

            self._receipt = receipt
            self._encodable = encodable

    def _paper(self):
        """True when there is a printer, it answers and has paper (else say so)."""
        if self.printer is None:
            return False
        st = self.printer.paper()
        if st == "ok" or st == "near-end":
            return True
        report.emit("warning", ("reason", "printer out of paper" if st else
                                "printer not answering"))
        return False

    def sale(self, seq, cashier, card_no, s, balance, subsidy_balance):
        if self._paper():
            self._receipt.sale(self.printer, self._encodable, self.canteen, self.terminal,
                               seq, clock.seconds(), cashier, card_no, s, balance,
                               subsidy_balance, self.menu)

    def give_back(self, kind, supervisor, card_no, sale_no, cash, subsidy, balance):
        if self._paper():
            self._receipt.give_back(self.printer, kind, self.terminal, clock.seconds(),
                                    supervisor, card_no, sale_no, cash, subsidy, balance)

    def z_report(self, z, supervisor, period_names, category_name, staff_name):
        if self._paper():
            self._receipt.z_report(self.printer, z, self.terminal, supervisor, period_names,
                                   category_name, staff_name)
