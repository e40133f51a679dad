"""Supervisor operations of the canteen POS: void, refund and the shift close (Z report).

Kept apart from ``ykt.roles.pos`` to keep that module readable; each function
takes the ``PosTerminal``. See ``ykt.roles.pos`` for the flows and ``ykt.pos.zreport``
for the journal records they write.
"""

from micropython import const

from ykt import clock, report
from ykt.card.purse import TX_CAPP
from ykt.errors import CardGone, CardRefused, YktError
from ykt.money import yuan
from ykt.pos import zreport as zr
from ykt.pos.canteen_record import RECORD_NO
from ykt.roles.pos import (S_GIVE_CARD, S_REFUND_AMOUNT, S_REFUND_NO, S_SALE,
                           S_VOID_CONFIRM, pair)

_ENTRY_MAX = const(8)


class GiveBack:
    """A void or refund in progress: what goes back to each purse, and what is done."""

    def __init__(self, kind, sale, cash, subsidy, restore, supervisor):
        self.kind = kind  # "void" or "refund"
        self.sale = sale  # zreport.SaleRecord
        self.cash = cash
        self.subsidy = subsidy
        self.restore = restore  # also give back the day's count, spend and subsidy flag
        self.supervisor = supervisor
        self.record_done = not (subsidy or restore)
        self.cash_done = not cash
        self.written = 0  # journal records written by this operation
        self.mine = False  # the card's pending composite purchase is this operation's
        self.load_dt = None  # datetime7 of a CREDIT whose answer was lost
        self.balance = None  # cash purse after


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
            role._found = found
            role.state = S_REFUND_AMOUNT
            return
        s, cash, sub, _ = role._found
        if not 0 < entry <= s.net - cash - sub:
            role._message("TOO MUCH", "MAX " + yuan(s.net - cash - sub))
            return
        back = min(entry, s.cash - cash)
        role._op = GiveBack("refund", s, back, entry - back, False, role._sup)
        role.state = S_GIVE_CARD


def find_sale(role, purchase_seq):
    """The sale whose purchase record is ``purchase_seq`` (None: the shift's last sale),
    with what was given back for it: (SaleRecord, cash, subsidy, void parts) or None."""
    start = purchase_seq or role.shift
    if not start:
        return None
    found = None
    for r in role.journal.records(start):
        if r.kind == zr.K_SALE and (purchase_seq is None or r.link == purchase_seq):
            found = [zr.SaleRecord(r), 0, 0, 0]
        elif found is not None and r.link == found[0].purchase and r.kind in (
                zr.K_VOID, zr.K_REFUND):
            if r.tx_type == zr.TX_LOAD:
                found[1] -= r.amount
            else:
                found[2] -= r.amount
            if r.kind == zr.K_VOID:
                found[3] |= 1 if r.tx_type == zr.TX_CAPP else 2
    return found


def void_prepare(role, sup):
    found = find_sale(role, None)
    if found is None:
        role._message("NO SALE TO VOID", "")
        return
    s, cash, sub, parts = found
    restore = not parts & 1
    if s.cash - cash <= 0 and s.subsidy_purse - sub <= 0 and not restore:
        role._message("ALREADY VOIDED", "NO.%d" % s.purchase)
        return
    role._op = GiveBack("void", s, s.cash - cash, s.subsidy_purse - sub, restore, sup)
    role.state = S_VOID_CONFIRM


def _restored(role, rec, op):
    """The canteen record with the operation's subsidy back (and, for a void on the
    sale's day, its count, spend and daily subsidy flag)."""
    r = rec.copy()
    r.subsidy_balance += op.subsidy
    s = op.sale
    if op.restore and _same_day(rec.day, s.time):
        if s.slot >= 0 and r.counts[s.slot]:
            r.counts[s.slot] -= 1
        r.day_spend = r.day_spend - s.net if r.day_spend > s.net else 0
        if s.daily_subsidy:
            r.subsidy_used = False
    return r


def _same_day(day, secs):
    from ykt import caltime

    t = caltime.civil(secs)
    return day == t[0] * 10000 + t[1] * 100 + t[2]


def give_back_tap(role, card, info):
    op = role._op
    s = op.sale
    if info.card_no != s.card:
        raise CardRefused("not the card of sale %d" % s.purchase)
    if not op.cash_done and not role.ctx.sam.can_load():
        raise CardRefused("this terminal cannot load cards")
    if info.card_no in role.payments.pending and not op.mine:
        raise CardRefused("card has an unfinished sale: tap it at a sale")
    role._need_room(4)
    kind = op.kind
    if not op.record_done:
        rec = _restored(role, role._read_record(card), op)
        out = role.charge(card, info, 0, TX_CAPP, (RECORD_NO, rec.encode()))
        if out is None:
            op.mine = True  # torn: settled when the card comes back
            return
        if out[1]:  # settled inside charge: an earlier torn purchase of this card
            role._settled(card, out[0])
            return
        record_part_done(role, card, op, out[0])
    if not op.cash_done:
        _give_cash(role, card, op, kind)
        if not op.cash_done:
            return
    if op.balance is None:
        op.balance = card.balance()
    report.emit(kind, ("card", role.shown), ("fen", op.cash + op.subsidy),
                ("cash", op.cash), ("subsidy", op.subsidy), ("balance", op.balance),
                ("sale", s.purchase))
    role.ui.ok(pair(kind.upper(), yuan(op.cash + op.subsidy)),
               pair("BAL", yuan(op.balance)))
    role._op = None
    role.state = S_SALE
    if role.printer is not None and role._paper():
        role._receipt.give_back(role.printer, kind, role.name, clock.seconds(),
                          op.supervisor.name, s.card, s.purchase, op.cash, op.subsidy,
                          op.balance)


def record_part_done(role, card, op, result):
    """The 0-fen composite purchase gave the subsidy purse (and counters) back."""
    op.mine = False
    after = role._read_record(card).subsidy_balance
    op.written += 1
    role.journal.append(op.kind, time=clock.seconds(), card=op.sale.card, atc=result.atc,
                        amount=-op.subsidy, balance=after, tx_type=zr.TX_CAPP,
                        tac=result.tac, link=op.sale.purchase, tseq=op.written)
    op.record_done = True


def _give_cash(role, card, op, kind):
    """CREDIT FOR LOAD of the cash part; a lost answer is settled from the card's log
    (purse.md 6.3) when the card comes back."""
    s = op.sale
    tid = role.ctx.sam.terminal_id()
    if op.load_dt is not None:
        y, mo, d, h, mi, sec = clock.unbcd7(op.load_dt)
        day = y * 10000 + mo * 100 + d
        hms = h * 10000 + mi * 100 + sec
        for e in card.read_log():
            if (e.tx_type == 0x02 and e.amount == op.cash and e.terminal_id == tid
                    and e.date == day and e.time == hms):
                op.balance = card.balance()
                op.written += 1
                role.journal.append(kind, time=clock.seconds(), card=s.card, atc=e.atc,
                                    amount=-op.cash, balance=op.balance,
                                    tx_type=zr.TX_LOAD, link=s.purchase, tseq=op.written)
                op.cash_done = True
                op.load_dt = None
                return
    op.load_dt = clock.bcd7()
    try:
        res = card.load(role.ctx.sam, op.cash, op.load_dt)
    except CardGone:
        report.emit("pending", ("card", role.shown), ("fen", op.cash),
                    ("reason", "card left during load; tap again"))
        role.ui.fail("TAP CARD AGAIN", "")
        return
    op.load_dt = None
    op.balance = res.balance
    op.written += 1
    role.journal.append(kind, time=clock.seconds(), card=s.card, atc=res.online_atc,
                        amount=-op.cash, balance=res.balance, tx_type=zr.TX_LOAD,
                        tac=res.tac, link=s.purchase, tseq=op.written)
    op.cash_done = True


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
    out = {}
    for k in sorted(table):
        out[name(k)] = table[k]
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
