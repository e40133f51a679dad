"""Supervisor operations of the canteen POS: void, refund and the shift close (Z report).

Kept apart from ``ykt.roles.pos`` to keep that module readable; each function
takes the ``PosTerminal``. See ``ykt.roles.pos`` for the flows and ``ykt.pos.zreport``
for the journal records they write.
"""

from micropython import const

from ykt import clock, report
from ykt.card.purse import TX_CAPP
from ykt.errors import CardRefused, YktError
from ykt.payment import OutcomeUnknown
from ykt.money import yuan
from ykt.pos import zreport as zr
from ykt.pos.canteen_record import RECORD_NO
from ykt.roles.pos import (S_GIVE_CARD, S_REFUND_AMOUNT, S_REFUND_NO, S_SALE,
                           S_VOID_CONFIRM, pair)

_ENTRY_MAX = const(8)


class GiveBack:
    """A void or refund: what goes back to each purse, and how far it got.

    It is a transaction like a sale (docs/canteen.md "Voids and refunds"): the
    ``give-back`` record ``seq`` (written when the card is first tapped) claims
    the sale, then each part is an intent linked to it and a ``void`` /
    ``refund`` completion once the card proves it: the subsidy purse and the
    day's counters with a 0-fen composite purchase (``record``), the cash with
    CREDIT FOR LOAD (``cash``). Which parts are done is read from the journal,
    so a power cut, a torn card or a cancelled screen can neither repeat a part
    nor lose one: the card's next tap finishes it.
    """

    def __init__(self, kind, sale_card, sale_no, cash, subsidy, restore, supervisor, seq=0,
                 sale_time=0):
        self.kind = kind  # "void" or "refund"
        self.card = sale_card
        self.sale_no = sale_no  # the sale's purchase seq
        self.cash = cash
        self.subsidy = subsidy
        self.restore = restore  # also give back the day's count, spend and subsidy flag
        self.supervisor = supervisor  # a staff member, or None once restored from flash
        self.seq = seq  # the give-back record (0: not written yet)
        self.sale_time = sale_time
        self.balance = None  # cash purse after

    def parts(self, role):
        """(record part done, cash part done, a part pending on the card)."""
        rec = not (self.subsidy or self.restore)
        cash = not self.cash
        if not self.seq:
            return rec, cash, False
        intents = {}
        for r in role.journal.records(self.seq):
            if r.link == self.seq and r.kind in (zr.K_INTENT, zr.K_LOAD_INTENT):
                intents[r.seq] = r.tx_type
            elif r.link in intents and r.kind in (zr.K_VOID, zr.K_REFUND):
                if intents[r.link] == zr.TX_LOAD:
                    cash = True
                else:
                    rec = True
        pending = False
        for h in role.payments.held(self.card):
            if h.link == self.seq:
                pending = True
        return rec, cash, pending


def _give_back_of(record, supervisor=None):
    """The GiveBack a ``give-back`` journal Record describes."""
    return GiveBack("void" if record.tx_type == zr.GB_VOID else "refund", record.card,
                    record.link, record.amount, record.balance, bool(record.tseq & 1),
                    supervisor, record.seq, record.time)


def open_give_backs(role, records):
    """Card number -> GiveBack for every give-back among ``records`` (and of any
    pending intent) whose parts are not all done."""
    out = {}
    for r in records:
        if r.kind == zr.K_GIVE_BACK:
            out[r.card] = _give_back_of(r)
    for held in role.payments.pending.values():
        for h in held:
            if h.link and h.pending.card_no not in out:
                for r in role.journal.records(h.link):
                    if r.kind == zr.K_GIVE_BACK:
                        out[r.card] = _give_back_of(r)
                    break
    for card in list(out):
        rec, cash, pending = out[card].parts(role)
        if rec and cash and not pending:
            del out[card]
    return out


def key_refund(role, k):
    if "0" <= k <= "9":
        if len(role.entry) < _ENTRY_MAX:
            role.entry += k
    elif k == "C":
        role.entry = ""
    elif k == "D":
        role.entry = ""
        role.state = S_SALE
    elif k == "#" and (role.entry or role.state == S_REFUND_NO):
        entry = int(role.entry or "0")
        role.entry = ""
        if role.state == S_REFUND_NO:
            found = find_sale(role, entry or None)  # nothing keyed: the last sale
            if found is None:
                role._message("NO SALE %d" % entry if entry else "NO SALE", "")
                return
            if found.given_back:
                role._message("ALREADY GIVEN BACK", "NO.%d" % found.sale.purchase)
                role.state = S_SALE
                return
            role._found = found
            role.state = S_REFUND_AMOUNT
            return
        s = role._found.sale
        if not 0 < entry <= s.net:
            role._message("TOO MUCH", "MAX " + yuan(s.net))
            return
        back = min(entry, s.cash)
        role._op = GiveBack("refund", s.card, s.purchase, back, entry - back, False, role._sup,
                            sale_time=s.time)
        role.state = S_GIVE_CARD


class Found:
    """A sale found in the journal, and whether a void or refund already claimed it."""

    def __init__(self, sale):
        self.sale = sale  # zreport.SaleRecord
        self.given_back = False


def find_sale(role, purchase_seq):
    """The sale whose purchase record is ``purchase_seq`` (None: the shift's last sale),
    as a Found, or None."""
    start = purchase_seq or role.shift
    if not start:
        return None
    found = None
    for r in role.journal.records(start):
        if r.kind == zr.K_SALE and (purchase_seq is None or r.link == purchase_seq):
            found = Found(zr.SaleRecord(r))
        elif found is not None and r.kind == zr.K_GIVE_BACK and r.link == found.sale.purchase:
            found.given_back = True
    return found


def void_prepare(role, sup):
    found = find_sale(role, None)
    if found is None:
        role._message("NO SALE TO VOID", "")
        return
    s = found.sale
    if found.given_back:
        role._message("ALREADY VOIDED", "NO.%d" % s.purchase)
        return
    role._op = GiveBack("void", s.card, s.purchase, s.cash, s.subsidy_purse, True, sup,
                        sale_time=s.time)
    role.state = S_VOID_CONFIRM


def _restored(role, rec, op):
    """The canteen record with the operation's subsidy back (and, for a void on the
    sale's day, its count, spend and daily subsidy flag)."""
    r = rec.copy()
    r.subsidy_balance += op.subsidy
    if op.restore and _same_day(rec.day, op.sale_time):
        found = find_sale(role, op.sale_no)
        s = found.sale if found is not None else None
        if s is not None:
            if s.slot >= 0 and r.counts[s.slot]:
                r.counts[s.slot] -= 1
            r.day_spend = r.day_spend - s.net if r.day_spend > s.net else 0
            if s.daily_subsidy:
                r.subsidy_used = False
    return r


def _same_day(day, secs):
    from ykt import caltime

    return day == caltime.date_of(caltime.civil(secs))


def give_back_tap(role, card, info, op):
    """Do what is left of give-back ``op`` on its card (tapped now)."""
    if info.card_no != op.card:
        raise CardRefused("not the card of sale %d" % op.sale_no)
    rec_done, cash_done, pending = op.parts(role)
    if pending:  # settled by the tap loop before this; still undecided
        raise CardRefused("give-back pending: see the back office")
    if not cash_done and not role.ctx.sam.can_load():
        raise CardRefused("this terminal cannot load cards")
    role._need_room(5)
    kind = op.kind
    if not op.seq:
        found = find_sale(role, op.sale_no)
        if found is not None and found.given_back:
            role._op = None
            role.state = S_SALE
            raise CardRefused("sale %d already given back" % op.sale_no)
        op.seq = role.journal.append(
            zr.K_GIVE_BACK, time=clock.seconds(), card=op.card, amount=op.cash,
            balance=op.subsidy, tx_type=zr.GB_VOID if kind == "void" else zr.GB_REFUND,
            link=op.sale_no, tseq=1 if op.restore else 0)
        role._open_gb[op.card] = op
    if not rec_done:
        rec = _restored(role, role._read_record(card), op)
        if role.charge(card, info, 0, TX_CAPP, (RECORD_NO, rec.encode()), kind, op.seq,
                       -op.subsidy) is None:
            return
    if not cash_done:
        try:
            res = role.payments.load(card, op.cash, kind, op.seq, -op.cash)
        except OutcomeUnknown as e:
            role.pending_again(op.cash, str(e))
            return
        op.balance = res.balance
    finish(role, card, op)


def finish(role, card, op):
    """Every part of ``op`` is done: report it, print its receipt."""
    role._open_gb.pop(op.card, None)
    if op.balance is None:
        op.balance = card.balance()
    report.emit(op.kind, ("card", role.shown), ("fen", op.cash + op.subsidy),
                ("cash", op.cash), ("subsidy", op.subsidy), ("balance", op.balance),
                ("sale", op.sale_no))
    role.ui.ok(pair(op.kind.upper(), yuan(op.cash + op.subsidy)),
               pair("BAL", yuan(op.balance)))
    if role._op is op:
        role._op = None
        role.state = S_SALE
    who = op.supervisor.name if op.supervisor is not None else ""
    if role.printer is not None and role._paper():
        role._receipt.give_back(role.printer, op.kind, role.name, clock.seconds(), who,
                                op.card, op.sale_no, op.cash, op.subsidy, op.balance)


def completion(role, held):
    """(kind, amount) of a give-back part's completion record."""
    for r in role.journal.records(held.link):
        if r.kind == zr.K_GIVE_BACK:
            kind = "void" if r.tx_type == zr.GB_VOID else "refund"
            return kind, -(r.amount if held.pending.tx_type == zr.TX_LOAD else r.balance)
        break
    return "purchase", held.pending.amount


def close_shift(role, sup):
    if not role.shift:
        role._message("NO SHIFT OPEN", "")
        return
    z = zr.scan(role.journal, role.shift)
    amount, balance, tac, rnd, last = z.close_fields()
    now = clock.seconds()
    try:
        role.journal.append(zr.K_SHIFT_CLOSE, time=now, card=sup.card, amount=amount,
                            balance=balance, tac=tac, random=rnd, link=role.shift,
                            tseq=last)
    except YktError as e:
        role._message("CLOSE FAILED", str(e)[:20])
        return
    z.closed = now
    report.emit("z-report", ("shift", z.shift), ("sales", z.sales), ("gross", z.gross),
                ("sets", z.sets), ("discounts", z.discounts), ("subsidies", z.subsidies),
                ("net", z.net), ("cash", z.cash), ("subsidy_purse", z.subsidy_purse),
                ("by_period", _named(z.by_period, lambda k: _period_name(role, k))),
                ("by_mode", _named(z.by_mode, str)),
                ("by_category", _named(z.by_category, lambda k: _category_name(role, k))),
                ("by_cashier", _named(z.by_cashier, lambda k: _staff_name(role, k))),
                ("voids", z.voids), ("refunds", z.refunds),
                ("unclassified", z.unclassified), ("takings", z.takings()),
                ("by", sup.name))
    if role.printer is not None and role._paper():
        role._receipt.z_report(role.printer, z, role.name, sup.name,
                         lambda k: _period_name(role, k), lambda k: _category_name(role, k),
                         lambda k: _staff_name(role, k))
    role.shift = 0
    role._save_state()
    role._sign_out()
    role._page = ("Z REPORT SHIFT %d" % z.shift, pair("SALES %d" % z.sales, yuan(z.net)),
                  pair("VOID/REFUND", yuan(-z.voids[1] - z.refunds[1])),
                  pair("TAKINGS", yuan(z.takings())))
    role._render()


def _named(table, name):
    out = report.Pairs()
    for k in sorted(table):
        out.append((name(k), table[k]))
    return out


def _period_name(role, slot):
    if 0 <= slot < len(role.rules.periods):
        return role.rules.periods[slot].name
    return "none"


def _category_name(role, code):
    return role.rules.category(code).name


def _staff_name(role, number):
    s = role.staff.by_number(number)
    return s.name if s is not None else "#%d" % number
