"""What the canteen POS prints: sale receipts, void / refund slips, the shift Z report.

Layout only; the printer driver (``ykt.drivers.escpos``) turns it into ESC/POS
bytes. Labels are Chinese with the figures in yuan (no currency sign); names
from the rule set (steps, categories, staff) are ASCII; an item's Chinese name
is printed when the driver's table has all of its characters, else its ASCII
name. Card numbers are masked to their last four digits.
"""

from ykt import clock
from ykt.money import yuan
from ykt.report import mask

PERIODS = {"breakfast": "早餐", "lunch": "午餐", "dinner": "晚餐", "supper": "夜宵"}
MODES = {"fixed": "定额", "menu": "菜单", "amount": "随机"}


def period_label(name):
    if name is None:
        return ""
    return PERIODS.get(name, name)


def _when(secs):
    from ykt import caltime

    return clock.iso(caltime.civil(secs)).replace("T", " ")


def _head(p, title, terminal, seq, secs, who):
    p.begin()
    p.line(title, bold=True, align=1)
    p.pair("终端", terminal)
    if seq:
        p.pair("单号", str(seq))
    p.pair("时间", _when(secs))
    if who:
        p.pair("收银员", who)


def sale(p, encodable, canteen, terminal, seq, secs, cashier, card_no, s, balance,
         subsidy_balance, menu):
    """Receipt of one sale (``s``: the priced ``Sale``; ``balance``: cash purse after)."""
    _head(p, canteen or "食堂", terminal, seq, secs, cashier)
    p.pair("卡号", mask(card_no))
    label = period_label(s.period)
    if label:
        p.pair(label, MODES.get(s.mode, s.mode))
    for line in s.lines:
        name = line.name
        if line.code is not None:
            item = menu.item(line.code)
            if item is not None and item.gb and encodable(item.gb):
                name = item.gb
        elif s.mode == "fixed":
            name = label or name
        p.pair("%s x%d" % (name, line.qty), yuan(line.amount))
    p.pair("合计", yuan(s.gross))
    for step in s.steps:
        p.pair(step.name, yuan(step.delta))
    p.pair("实付", yuan(s.net), bold=True)
    if s.subsidy:
        p.pair("补助钱包", yuan(s.subsidy))
    p.pair("现金钱包", yuan(s.cash))
    p.pair("余额", yuan(balance))
    if subsidy_balance:
        p.pair("补助余额", yuan(subsidy_balance))
    p.line("谢谢惠顾", align=1)
    p.cut()


def give_back(p, kind, terminal, secs, supervisor, card_no, sale_no, cash, subsidy, balance):
    """Slip of a void (``kind`` "void") or refund: what went back to each purse."""
    _head(p, "撤销 VOID" if kind == "void" else "退款 REFUND", terminal, 0, secs, None)
    p.pair("主管", supervisor)
    p.pair("卡号", mask(card_no))
    p.pair("单号", str(sale_no))
    if subsidy:
        p.pair("补助钱包", yuan(subsidy))
    p.pair("现金钱包", yuan(cash))
    p.pair("合计", yuan(cash + subsidy), bold=True)
    p.pair("余额", yuan(balance))
    p.cut()


def _table(p, title, rows):
    if rows:
        p.line(title, bold=True)
    for label, count, fen in rows:
        p.pair("%s %d" % (label, count), yuan(fen))


def z_report(p, z, terminal, supervisor, period_names, category_name, staff_name):
    """The shift's Z report (``z``: a closed ``zreport.ZReport``)."""
    _head(p, "日结报表 Z REPORT", terminal, 0, z.closed, None)
    p.pair("班次", str(z.shift))
    p.pair("开始", _when(z.opened))
    p.pair("主管", supervisor)
    p.pair("笔数", str(z.sales))
    p.pair("合计", yuan(z.gross))
    p.pair("套餐", yuan(-z.sets))
    p.pair("优惠", yuan(-z.discounts))
    p.pair("补贴", yuan(-z.subsidies))
    p.pair("实付", yuan(z.net), bold=True)
    p.pair("现金钱包", yuan(z.cash))
    p.pair("补助钱包", yuan(z.subsidy_purse))
    _table(p, "餐次", [(period_label(period_names(k)), v[0], v[1])
                      for k, v in sorted(z.by_period.items())])
    _table(p, "模式", [(MODES.get(k, k), v[0], v[1]) for k, v in sorted(z.by_mode.items())])
    _table(p, "卡类别", [(category_name(k), v[0], v[1])
                       for k, v in sorted(z.by_category.items())])
    _table(p, "收银员", [(staff_name(k), v[0], v[1]) for k, v in sorted(z.by_cashier.items())])
    p.pair("撤销 %d" % z.voids[0], yuan(-z.voids[1]))
    p.pair("退款 %d" % z.refunds[0], yuan(-z.refunds[1]))
    if z.unclassified[0]:
        p.pair("未分类 %d" % z.unclassified[0], yuan(z.unclassified[1]))
    p.pair("净额", yuan(z.takings()), bold=True)
    p.cut()
