"""A simulated canteen day on one POS, and a card torn in the middle of a sale.

The day: cashier WANG sells breakfast at the fixed price, signs out; cashier LI
sells lunch from the menu (set meals, age tiers, daily subsidies, the subsidy
purse) and has supervisor ZHAO void one sale; WANG comes back for dinner in
amount mode (one sale above the PIN threshold, one partly refunded); ZHAO closes
the shift. Three figures must agree to the fen: the Z report, the sum of the
journal's records, and the sum of what every card lost from its two purses.
"""

import pytest
from poskit import Day

CARDS = {
    # name: (number, cash, category, canteen record fields)
    "teacher": ("31012300000000000001", 10000, 1, {}),
    "elder70": ("31012300000000000002", 8000, 0,
                {"birth": 19550101, "flags": ["resident", "hukou"], "subsidy_balance": 1000,
                 "subsidy_expiry": 20250331}),
    "elder85": ("31012300000000000003", 8000, 0,
                {"birth": 19400101, "flags": ["resident", "hukou"]}),
    "worker": ("31012300000000000004", 20000, 0, {}),
    "student": ("31012300000000000005", 5000, 2, {}),
}


def _cards(d):
    for name, (number, cash, cat, rec) in CARDS.items():
        d.card(name, number, balance=cash, category=cat, pin="246810", **dict(rec))
    for s in ("wang", "li", "zhao"):
        d.staff_card(s)
    return d


def canteen_day():
    d = _cards(Day(start="2025-03-05T06:50:00"))
    d.set_clock("07:10:00").sign_in("wang")
    for name in ("teacher", "elder70", "worker"):
        d.tap(name)
    d.sign_out()
    d.set_clock("11:40:00").sign_in("li").type("D5", after=1)  # menu mode
    for name, keys in (("worker", "101#103#104#201#"), ("elder85", "105#202#301#"),
                       ("elder70", "101#102#103#104#202#"), ("student", "103*2#")):
        d.type(keys).tap(name)
    d.authorise("2").type("#").tap("student")  # void the student's lunch
    d.sign_out()
    d.set_clock("17:05:00").sign_in("wang").type("D5", after=1)  # amount mode
    d.type("2500#").pay_with_pin("worker", "246810")
    d.type("1800#").tap("teacher")
    d.authorise("3").type("#300#").tap("teacher")  # refund 3.00 of the last sale
    d.authorise("4")  # close the shift
    return d


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    return canteen_day().run(tmp_path_factory.mktemp("day"))


def _journal_sums(res):
    rows = res.journal()
    sales = [x for x in rows if x["kind"] == "sale"]
    back = [x for x in rows if x["kind"] in ("void", "refund")]
    return {
        "sales": len(sales),
        "net": sum(x["amount"] for x in sales),
        "cash": sum(x["amount"] - x["balance"] for x in sales),
        "subsidy_purse": sum(x["balance"] for x in sales),
        "returned": -sum(x["amount"] for x in back),
    }


def _card_changes(res):
    total = 0
    for name, (_, cash, _, rec) in CARDS.items():
        total += cash - res.balance(name)
        total += rec.get("subsidy_balance", 0) - res.record(name).subsidy_balance
    return total


def test_day_sells_every_meal_and_closes_the_shift(day):
    assert len(day.events("sale")) == 9
    assert [e["name"] for e in day.events("signin")] == ["WANG", "LI", "WANG"]
    assert len(day.events("z-report")) == 1


def test_z_report_equals_the_sum_of_the_journal(day):
    [z] = day.events("z-report")
    j = _journal_sums(day)
    assert (z["sales"], z["net"], z["cash"], z["subsidy_purse"]) == (
        j["sales"], j["net"], j["cash"], j["subsidy_purse"])
    assert z["voids"][1] + z["refunds"][1] == j["returned"]
    assert z["takings"] == j["net"] - j["returned"]


def test_journal_equals_what_the_cards_lost_from_both_purses(day):
    j = _journal_sums(day)
    assert _card_changes(day) == j["net"] - j["returned"]
    cash_paid = sum(x["amount"] for x in day.kinds("purchase"))
    cash_back = -sum(x["amount"] for x in day.kinds("void", "refund") if x["tx_type"] == 2)
    assert sum(c[1] - day.balance(n) for n, c in CARDS.items()) == cash_paid - cash_back


def test_z_report_splits_by_period_mode_cashier_and_category(day):
    [z] = day.events("z-report")
    assert {k: v[0] for k, v in z["by_period"].items()} == {
        "breakfast": 3, "lunch": 4, "dinner": 2}
    assert {k: v[0] for k, v in z["by_mode"].items()} == {"fixed": 3, "menu": 4, "amount": 2}
    assert {k: v[0] for k, v in z["by_cashier"].items()} == {"WANG": 5, "LI": 4}
    assert {k: v[0] for k, v in z["by_category"].items()} == {
        "ordinary": 6, "retiree": 2, "student": 1}
    assert z["gross"] - z["sets"] - z["discounts"] - z["subsidies"] == z["net"]


def test_z_report_counts_the_void_and_the_refund(day):
    [z] = day.events("z-report")
    [student] = [x for x in day.kinds("sale") if x["card"] == CARDS["student"][0]]
    assert z["voids"] == [1, student["amount"]]
    assert z["refunds"] == [1, 300]


def test_z_report_is_journaled_and_printed(day):
    [z] = day.events("z-report")
    [close] = day.kinds("shift-close")
    [opened] = day.kinds("shift-open")
    assert (close["amount"], close["link"]) == (z["takings"], opened["seq"])
    assert int(close["random"], 16) == z["sales"]
    printed = day.receipts()[-1]
    assert printed.startswith("日结报表 Z REPORT")
    assert "净额%s" % ("%.2f" % (z["takings"] / 100)).rjust(28) in printed


def test_every_receipt_masks_the_card_number(day):
    for receipt in day.receipts():
        for number, *_ in CARDS.values():
            assert number not in receipt
    assert sum("卡号        ****************" in r for r in day.receipts()) == 9 + 2


# -- a card torn in the middle of a sale --------------------------------------------------------

# APDUs of a sale: SELECT, GET BALANCE, READ RECORD 2, INITIALIZE, UPDATE CAPP DATA CACHE, DEBIT
@pytest.mark.parametrize("tear", [{"tear_at_apdu": 6}, {"remove_after_apdu": 5}],
                         ids=["debit-answer-lost", "left-before-debit"])
def test_torn_sale_is_charged_once_after_the_card_comes_back(tmp_path, tear):
    d = _cards(Day(start="2025-03-05T11:40:00"))
    d.sign_in("li").tap("elder70", **tear).tap("elder70")
    res = d.run(tmp_path)
    # 15.00 lunch, 10 % off -> 13.50, subsidy B -2.00 -> 11.50: 10.00 subsidy purse + 1.50 cash
    assert (res.balance("elder70"), res.record("elder70").subsidy_balance) == (8000 - 150, 0)
    assert res.record("elder70").counts[1] == 1
    assert res.apps["elder70"].offline_atc == 1
    assert [(x["amount"], x["balance"]) for x in res.kinds("sale")] == [(1150, 1000)]
    settled = "purchase" if "tear_at_apdu" in tear else "unpaid"
    assert [x["kind"] for x in res.kinds("purchase", "unpaid", "abandoned")
            if x["card"] == CARDS["elder70"][0]][0] == settled


def test_torn_sale_keeps_the_z_report_equal_to_the_cards(tmp_path):
    d = _cards(Day(start="2025-03-05T11:40:00"))
    d.sign_in("li").tap("worker").tap("elder70", tear_at_apdu=6).tap("teacher")
    d.tap("elder70").authorise("4")
    res = d.run(tmp_path)
    [z] = res.events("z-report")
    assert z["sales"] == 3
    assert z["takings"] == _card_changes(res) == 1500 + 1150 + 1500


def test_shift_survives_a_power_cut_and_its_z_report_counts_the_sales_before_it(tmp_path):
    d = _cards(Day(start="2025-03-05T11:40:00"))
    d.sign_in("li").tap("worker").wait(2).power_cut().wait(2)
    d.sign_in("li").tap("teacher").authorise("4")
    res = d.run(tmp_path)
    assert len(res.events("boot")) == 2
    assert [e["shift"] for e in res.events("signin")] == [2, 2]
    [z] = res.events("z-report")
    assert (z["sales"], z["takings"]) == (2, 3000)
    assert len(res.kinds("shift-open")) == 1


def test_pos_day_is_the_same_on_the_micropython_vm(tmp_path):
    d = _cards(Day(start="2025-03-05T11:40:00", mode="menu"))
    d.sign_in("li").type("101#103#104#201#").tap("elder70", tear_at_apdu=6).tap("elder70")
    d.authorise("2").type("#").tap("elder70").authorise("4")
    cp = d.run(tmp_path / "cp")
    mp = d.run(tmp_path / "mp", runtime="micropython")
    assert mp.run.lines == cp.run.lines
    assert mp.journal() == cp.journal()
    assert mp.receipts() == cp.receipts()
