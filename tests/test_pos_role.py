"""The canteen POS role end to end: staff, keypad, LCD, printer, purse card, journal.

Every case runs the firmware on the simulated S3 canteen board against purse cards
carrying a canteen record (canteens/putuo-example.json; docs/canteen.md section 8
has the figures) and asserts the fen that moved on the card, the journal records
and what the receipt says.
"""

import pytest
from poskit import Day

ELDER = "31012300000000000001"
BOB = "31012300000000000002"
TEACHER = "31012300000000000003"
RESIDENT_HUKOU = ["resident", "hukou"]


def sales(res):
    return [x for x in res.journal() if x["kind"] == "sale"]


# -- the seed's cases -----------------------------------------------------------------------------

def test_retired_teachers_breakfast_is_charged_20_percent_off_on_her_card(tmp_path):
    d = Day(start="2025-03-05T07:20:00")
    d.card("teacher", TEACHER, balance=5000, category=1).staff_card("wang")
    d.sign_in("wang").tap("teacher")
    res = d.run(tmp_path)
    assert res.balance("teacher") == 5000 - 400
    [sale] = sales(res)
    assert (sale["amount"], sale["tseq"], sale["card"]) == (400, 500, TEACHER)
    assert "Retiree breakfast          -1.00" in res.receipts()[0]


def test_three_dishes_and_a_soup_are_the_12_yuan_set_meal(tmp_path):
    d = Day(start="2025-03-05T11:30:00", mode="menu")
    d.card("worker", BOB, balance=5000).staff_card("wang")
    d.sign_in("wang").type("101#103#104#201#").tap("worker")
    res = d.run(tmp_path)
    assert res.balance("worker") == 5000 - 1200
    receipt = res.receipts()[0]
    assert "3 dishes + soup            -5.00" in receipt
    assert "实付                       12.00" in receipt


def test_menu_quantity_is_keyed_with_star(tmp_path):
    d = Day(start="2025-03-05T11:30:00", mode="menu")
    d.card("worker", BOB, balance=5000).staff_card("wang")
    d.sign_in("wang").type("301*3#").tap("worker")
    res = d.run(tmp_path)
    assert res.balance("worker") == 5000 - 150
    assert "米饭 x3                     1.50" in res.receipts()[0]


# -- Putuo age tiers and the daily subsidy --------------------------------------------------------

@pytest.mark.parametrize("birth, flags, net", [
    (19550101, RESIDENT_HUKOU, 1150),  # 70: 10 % off, subsidy B 2.00
    (19400101, RESIDENT_HUKOU, 975),  # 85: 15 % off, subsidy C 3.00
    (19550101, RESIDENT_HUKOU + ["dibao"], 850),  # subsidy A 5.00 comes first
    (19550101, ["hukou"], 1300),  # not a resident: no age discount, subsidy B
])
def test_lunch_price_follows_the_age_tier_and_the_daily_subsidy(tmp_path, birth, flags, net):
    d = Day(start="2025-03-05T11:30:00")
    d.card("elder", ELDER, balance=5000, birth=birth, flags=flags).staff_card("wang")
    d.sign_in("wang").tap("elder")
    res = d.run(tmp_path)
    assert res.balance("elder") == 5000 - net
    assert res.record("elder").subsidy_used


def test_second_lunch_the_same_day_gets_no_subsidy(tmp_path):
    d = Day(start="2025-03-05T11:30:00")
    d.card("elder", ELDER, balance=5000, birth=19550101, flags=RESIDENT_HUKOU)
    d.staff_card("wang").sign_in("wang").tap("elder").tap("elder")
    res = d.run(tmp_path)
    assert [x["amount"] for x in sales(res)] == [1150, 1350]
    assert res.balance("elder") == 5000 - 1150 - 1350
    assert res.record("elder").counts[1] == 2


# -- stacked promotions, limits, PIN --------------------------------------------------------------

def test_stacked_campaigns_hit_the_cap_and_the_coupon_applies(tmp_path):
    d = Day(start="2025-07-15T12:00:00", mode="amount")
    d.card("bob", BOB, balance=10000, pin="123456").staff_card("wang")
    d.sign_in("wang").type("4000#B8866#").pay_with_pin("bob", "123456")
    res = d.run(tmp_path)
    assert res.balance("bob") == 10000 - 3000
    [sale] = sales(res)
    assert (sale["tseq"], sale["amount"], int(sale["tac"], 16)) == (4000, 3000, 1000)
    assert "Summer 10% off (cap)       -3.00" in res.receipts()[0]


def test_second_breakfast_is_refused_by_the_period_count_limit(tmp_path):
    d = Day(start="2025-03-05T07:20:00")
    d.card("teacher", TEACHER, balance=5000, category=1).staff_card("wang")
    d.sign_in("wang").tap("teacher").tap("teacher")
    res = d.run(tmp_path)
    assert res.balance("teacher") == 5000 - 400
    assert [e["reason"] for e in res.events("refused")] == ["count limit reached: 1 per breakfast"]
    assert [(x["tx_type"], x["card"]) for x in res.kinds("denied")] == [(6, TEACHER)]


def test_sale_over_the_daily_amount_is_refused(tmp_path):
    rules = Day().rules
    rules["limits"]["daily_amount"] = 2000
    d = Day(start="2025-03-05T11:30:00", rules=rules)
    d.card("bob", BOB, balance=5000).staff_card("wang")
    d.sign_in("wang").tap("bob").set_clock("17:00:00").tap("bob")
    res = d.run(tmp_path)
    assert res.balance("bob") == 5000 - 1500
    assert [e["reason"] for e in res.events("refused")] == [
        "daily amount limit exceeded: 20.00"]


def test_sale_over_the_single_sale_limit_is_refused(tmp_path):
    d = Day(start="2025-03-05T11:30:00", mode="amount")
    d.card("bob", BOB, balance=10000).staff_card("wang")
    d.sign_in("wang").type("5001#").tap("bob")
    res = d.run(tmp_path)
    assert res.balance("bob") == 10000
    assert [e["reason"] for e in res.events("refused")] == ["single sale limit exceeded: 50.00"]


def test_sale_above_the_pin_threshold_is_paid_after_the_card_verifies_the_pin(tmp_path):
    d = Day(start="2025-03-05T11:30:00", mode="amount")
    d.card("bob", BOB, balance=10000, pin="123456").staff_card("wang")
    d.sign_in("wang").type("2001#").pay_with_pin("bob", "123456")
    res = d.run(tmp_path)
    assert res.balance("bob") == 10000 - 2001
    assert res.apps["bob"].pins_verified == 1


def test_wrong_card_pin_is_refused_and_nothing_is_charged(tmp_path):
    d = Day(start="2025-03-05T11:30:00", mode="amount")
    d.card("bob", BOB, balance=10000, pin="123456").staff_card("wang")
    d.sign_in("wang").type("2001#").pay_with_pin("bob", "654321")
    res = d.run(tmp_path)
    assert res.balance("bob") == 10000
    assert res.apps["bob"].pin_tries == 2
    assert [e["reason"] for e in res.events("refused")][0] == "wrong card PIN"
    assert res.kinds("purchase-intent") == []


def test_wrong_then_right_card_pin_is_the_same_on_the_micropython_vm(tmp_path):
    d = Day(start="2025-03-05T11:30:00", mode="amount")
    d.card("bob", BOB, balance=10000, pin="123456").staff_card("wang")
    d.sign_in("wang").type("2001#").pay_with_pin("bob", "111111#123456", hold_ms=9000)
    cp = d.run(tmp_path / "cp")
    mp = d.run(tmp_path / "mp", runtime="micropython")
    assert mp.balance("bob") == 10000 - 2001
    assert [e["tries_left"] for e in mp.events("refused")] == [2]
    assert (mp.apps["bob"].pin_tries, mp.apps["bob"].pins_verified) == (3, 1)
    assert mp.run.lines == cp.run.lines


def test_card_pin_digits_appear_nowhere(tmp_path):
    d = Day(start="2025-03-05T11:30:00", mode="amount")
    d.card("bob", BOB, balance=10000, pin="918273").staff_card("wang")
    d.sign_in("wang").type("2001#").pay_with_pin("bob", "918273")
    res = d.run(tmp_path)
    assert res.balance("bob") == 10000 - 2001
    seen = "\n".join(res.run.lines) + "\n".join(res.receipts())
    seen += "\n".join(line for screen in res.lcd.history for line in screen)
    assert "918273" not in seen
    assert "1357" not in seen  # the cashier's PIN


def test_sale_at_the_pin_threshold_needs_no_pin(tmp_path):
    d = Day(start="2025-03-05T11:30:00", mode="amount")
    d.card("bob", BOB, balance=10000, pin="123456").staff_card("wang")
    d.sign_in("wang").type("2000#").tap("bob")
    res = d.run(tmp_path)
    assert res.balance("bob") == 10000 - 2000
    assert res.apps["bob"].pins_verified == 0


# -- the two purses -------------------------------------------------------------------------------

def test_subsidy_purse_pays_first_and_both_purses_move_in_one_debit(tmp_path):
    d = Day(start="2025-03-05T11:30:00", mode="amount")
    d.card("bob", BOB, balance=5000, subsidy_balance=500, subsidy_expiry=20250331)
    d.staff_card("wang").sign_in("wang").type("1200#").tap("bob")
    res = d.run(tmp_path)
    assert (res.balance("bob"), res.record("bob").subsidy_balance) == (5000 - 700, 0)
    assert res.apps["bob"].offline_atc == 1
    [sale] = sales(res)
    assert (sale["amount"], sale["balance"]) == (1200, 500)


def test_cash_first_purse_order_takes_the_rest_from_the_subsidy_purse(tmp_path):
    rules = Day().rules
    rules["purse_order"] = ["cash", "subsidy"]
    d = Day(start="2025-03-05T11:30:00", mode="amount", rules=rules)
    d.card("bob", BOB, balance=300, subsidy_balance=1000, subsidy_expiry=20250331)
    d.staff_card("wang").sign_in("wang").type("1200#").tap("bob")
    res = d.run(tmp_path)
    assert (res.balance("bob"), res.record("bob").subsidy_balance) == (0, 100)


def test_expired_subsidy_purse_is_not_used(tmp_path):
    d = Day(start="2025-03-05T11:30:00", mode="amount")
    d.card("bob", BOB, balance=5000, subsidy_balance=500, subsidy_expiry=20250304)
    d.staff_card("wang").sign_in("wang").type("1200#").tap("bob")
    res = d.run(tmp_path)
    assert (res.balance("bob"), res.record("bob").subsidy_balance) == (5000 - 1200, 500)


# -- voids and refunds ----------------------------------------------------------------------------

def _void_day(**card):
    d = Day(start="2025-03-05T11:30:00")
    d.card("elder", ELDER, balance=5000, birth=19550101, flags=RESIDENT_HUKOU, **card)
    d.staff_card("wang").staff_card("zhao")
    d.sign_in("wang").tap("elder")
    d.authorise("2").type("#").tap("elder")
    return d


def test_void_gives_both_purses_and_the_days_subsidy_back(tmp_path):
    res = _void_day(subsidy_balance=500, subsidy_expiry=20250331).run(tmp_path)
    rec = res.record("elder")
    assert (res.balance("elder"), rec.subsidy_balance) == (5000, 500)
    assert (rec.counts[1], rec.day_spend, rec.subsidy_used) == (0, 0, False)


def test_void_is_written_as_compensating_records_linked_to_the_sale(tmp_path):
    res = _void_day(subsidy_balance=500, subsidy_expiry=20250331).run(tmp_path)
    [purchase] = [x for x in res.kinds("purchase") if x["amount"] > 0]
    [give_back] = res.kinds("give-back")
    assert (give_back["link"], give_back["amount"], give_back["balance"]) == (
        purchase["seq"], 650, 500)
    by_seq = {x["seq"]: x for x in res.journal()}
    voids = res.kinds("void")
    assert [(x["tx_type"], x["amount"]) for x in voids] == [(9, -500), (2, -650)]
    assert [by_seq[x["link"]]["link"] for x in voids] == [give_back["seq"]] * 2
    assert [by_seq[x["link"]]["kind"] for x in voids] == ["purchase-intent", "load-intent"]
    assert purchase["amount"] == 650  # nothing edited


def test_a_sale_is_voided_only_once(tmp_path):
    d = _void_day()
    d.authorise("2")
    res = d.run(tmp_path)
    assert res.balance("elder") == 5000
    assert len(res.kinds("void")) == 2  # the record part and the cash part, once
    assert res.lcd.seen("ALREADY VOIDED")


# APDUs of a void tap: SELECT, READ RECORD 2, INITIALIZE, UPDATE CAPP, DEBIT 0 (the subsidy
# purse and counters back), INITIALIZE FOR LOAD, CREDIT FOR LOAD (the cash back)
@pytest.mark.parametrize("tear", [{"tear_at_apdu": 7}, {"remove_after_apdu": 6}],
                         ids=["credit-answer-lost", "left-before-credit"])
def test_void_interrupted_at_the_credit_gives_the_cash_back_once(tmp_path, tear):
    d = Day(start="2025-03-05T11:30:00")
    d.card("elder", ELDER, balance=5000, birth=19550101, flags=RESIDENT_HUKOU)
    d.staff_card("wang").staff_card("zhao")
    d.sign_in("wang").tap("elder")
    d.authorise("2").type("#").tap("elder", **tear).tap("elder")
    res = d.run(tmp_path)
    assert res.balance("elder") == 5000
    assert res.apps["elder"].online_atc == 1
    assert [(x["tx_type"], x["amount"]) for x in res.kinds("void")] == [(9, 0), (2, -1150)]
    assert [e["event"] for e in res.events("pending")] == ["pending"]
    [cash] = [x for x in res.kinds("void") if x["tx_type"] == 2]
    assert cash["tac"] != "00000000"  # proven by the card, lost answer or not


def test_void_whose_credit_answer_was_lost_cancelled_and_voided_again_gives_back_once(tmp_path):
    d = Day(start="2025-03-05T11:30:00")
    d.card("elder", ELDER, balance=5000, birth=19550101, flags=RESIDENT_HUKOU)
    d.staff_card("wang").staff_card("zhao")
    d.sign_in("wang").tap("elder")
    d.authorise("2").type("#").tap("elder", tear_at_apdu=7).type("C")
    d.authorise("2").type("#").tap("elder")
    res = d.run(tmp_path)
    assert res.balance("elder") == 5000
    assert res.apps["elder"].online_atc == 1
    assert len(res.kinds("give-back")) == 1
    assert res.lcd.seen("ALREADY VOIDED")


def test_give_back_torn_after_its_subsidy_debit_credits_the_subsidy_purse_once(tmp_path):
    res = _torn_void(tmp_path, tear_at_apdu=5)  # the 0-fen DEBIT: committed, answer lost
    rec = res.record("elder")
    assert (res.balance("elder"), rec.subsidy_balance) == (5000, 500)
    assert [(x["tx_type"], x["amount"]) for x in res.kinds("void")] == [(9, -500), (2, -650)]


@pytest.mark.parametrize("after_ops", [1, 2, 4, 6, 8, 10, 12])
def test_void_cut_by_a_power_failure_is_finished_once_after_the_reboot(tmp_path, after_ops):
    d = Day(start="2025-03-05T11:30:00", mode="amount")
    d.card("elder", ELDER, balance=5000, birth=19550101, flags=RESIDENT_HUKOU,
           subsidy_balance=500, subsidy_expiry=20250331)
    d.staff_card("wang").staff_card("zhao")
    d.sign_in("wang").type("1000#").tap("elder")
    d.authorise("2").type("#").power_cut(after_ops=after_ops, boot_s=0).tap("elder")
    d.sign_in("wang").tap("elder")  # finishes what the cut left (nothing keyed: no sale)
    d.authorise("2").type("#").tap("elder")  # a second void: refused, or the first one
    res = d.run(tmp_path)
    assert len(res.events("boot")) == 2  # the cut came during the void tap
    rec = res.record("elder")
    assert (res.balance("elder"), rec.subsidy_balance) == (5000, 500)
    assert len(res.kinds("give-back")) == 1
    assert sorted(x["tx_type"] for x in res.kinds("void")) == [2, 9]


def _void_start(**card):
    d = Day(start="2025-03-05T11:30:00")
    d.card("elder", ELDER, balance=5000, birth=19550101, flags=RESIDENT_HUKOU, **card)
    d.staff_card("wang").staff_card("zhao")
    d.sign_in("wang").tap("elder")
    d.authorise("2").type("#")
    return d


def _torn_void(tmp_path, **tear):
    d = _void_start(subsidy_balance=500, subsidy_expiry=20250331)
    d.tap("elder", **tear).tap("elder")
    return d.run(tmp_path)


def test_refund_credits_the_amount_keyed_once(tmp_path):
    d = Day(start="2025-03-05T11:30:00", mode="amount")
    d.card("bob", BOB, balance=5000).staff_card("wang").staff_card("zhao")
    d.sign_in("wang").type("1200#").tap("bob")
    d.authorise("3").type("5#300#").tap("bob")
    res = d.run(tmp_path)
    assert res.balance("bob") == 5000 - 1200 + 300
    [refund] = res.kinds("refund")
    [give_back] = res.kinds("give-back")
    assert (refund["amount"], refund["tx_type"]) == (-300, 2)
    assert (give_back["link"], give_back["amount"]) == (5, 300)
    assert "退款 REFUND" in res.receipts()[1]


def test_refund_above_what_is_left_is_refused(tmp_path):
    d = Day(start="2025-03-05T11:30:00", mode="amount")
    d.card("bob", BOB, balance=5000).staff_card("wang").staff_card("zhao")
    d.sign_in("wang").type("1200#").tap("bob")
    d.authorise("3").type("5#1201#")
    res = d.run(tmp_path)
    assert res.lcd.seen("TOO MUCH")
    assert res.kinds("refund") == []


def test_void_needs_a_supervisor_card(tmp_path):
    d = Day(start="2025-03-05T11:30:00")
    d.card("bob", BOB, balance=5000).staff_card("wang").staff_card("li")
    d.sign_in("wang").tap("bob").authorise("2", supervisor="li").type("#").tap("bob")
    res = d.run(tmp_path)
    assert "supervisor card needed" in [e["reason"] for e in res.events("refused")]
    assert res.balance("bob") == 5000 - 1500
    assert res.kinds("void") == []


# -- staff ----------------------------------------------------------------------------------------

def test_no_sale_without_a_signed_in_cashier(tmp_path):
    d = Day(start="2025-03-05T11:30:00")
    d.card("bob", BOB, balance=5000).tap("bob")
    res = d.run(tmp_path)
    assert res.balance("bob") == 5000
    assert [e["reason"] for e in res.events("refused")] == ["no cashier signed in"]
    assert res.kinds("purchase-intent", "purchase") == []


def test_a_copy_of_the_cashiers_card_from_another_issuer_cannot_sign_in(tmp_path):
    d = Day(start="2025-03-05T11:30:00")
    d.card("bob", BOB, balance=5000).staff_card("wang", issuer_seed="forger")
    d.sign_in("wang").tap("bob")
    res = d.run(tmp_path)
    assert res.events("signin") == []
    assert "staff card failed authentication" in [e["reason"] for e in res.events("refused")]
    assert res.balance("bob") == 5000
    assert [(x["card"], x["tx_type"]) for x in res.kinds("denied")] == [
        ("31012300000000009001", 5)]


def test_a_copy_of_the_supervisors_card_cannot_authorise_a_void(tmp_path):
    d = Day(start="2025-03-05T11:30:00")
    d.card("bob", BOB, balance=5000).staff_card("wang").staff_card("zhao", issuer_seed="forger")
    d.sign_in("wang").tap("bob").authorise("2").type("#").tap("bob")
    res = d.run(tmp_path)
    assert res.balance("bob") == 5000 - 1500
    assert res.kinds("give-back", "void") == []


def test_three_wrong_pins_lock_the_staff_card_even_for_the_right_pin(tmp_path):
    d = Day(start="2025-03-05T11:30:00")
    d.card("bob", BOB, balance=5000).staff_card("wang")
    d.tap("wang", after=2).type("1111#2222#3333#", after=1)
    d.sign_in("wang").tap("bob")
    res = d.run(tmp_path)
    assert [e["event"] for e in res.events("locked")] == ["locked"]
    assert res.events("signin") == []
    assert res.balance("bob") == 5000
    assert [x["card"] for x in res.kinds("staff-locked")] == ["31012300000000009001"]


def test_lock_out_ends_after_the_configured_time(tmp_path):
    d = Day(start="2025-03-05T11:30:00", config={"lockout_s": 30})
    d.card("bob", BOB, balance=5000).staff_card("wang")
    d.tap("wang", after=2).type("1111#2222#3333#", after=1)
    d.wait(31).sign_in("wang").tap("bob")
    res = d.run(tmp_path)
    assert [e["name"] for e in res.events("signin")] == ["WANG"]
    assert res.balance("bob") == 5000 - 1500


def test_signed_out_cashier_sells_no_more(tmp_path):
    d = Day(start="2025-03-05T11:30:00")
    d.card("bob", BOB, balance=5000).staff_card("wang")
    d.sign_in("wang").tap("bob").sign_out().wait(4).tap("bob")
    res = d.run(tmp_path)
    assert res.balance("bob") == 5000 - 1500
    assert [e["reason"] for e in res.events("refused")] == ["no cashier signed in"]
    assert [x["kind"] for x in res.journal()][-1] == "sign-out"


def test_lcd_shows_each_step_and_a_masked_card_number(tmp_path):
    d = Day(start="2025-03-05T11:30:00", mode="menu")
    d.card("worker", BOB, balance=5000).staff_card("wang")
    d.sign_in("wang").type("101#103#104#201#").tap("worker").type("A")
    res = d.run(tmp_path)
    assert res.lcd.seen("3 dishes + s   -5.00")
    assert res.lcd.seen("CARD ****0002")
    assert not res.lcd.seen("31012300000000000002")
    assert res.lcd.violations == [] and res.lcd.init_ok


# -- the clock ------------------------------------------------------------------------------------

def test_supervisor_sets_a_lost_clock_and_sales_resume(tmp_path):
    d = Day(start="2025-03-05T11:30:00", mode="amount")
    d.card("bob", BOB, balance=5000).staff_card("zhao")
    d.events.append({"at": 0.5, "set_clock": "2000-01-01T00:00:00"})  # the RTC lost its time
    d.sign_in("zhao").type("1200#").tap("bob")  # staff may sign in; the sale waits
    d.authorise("6").type("202503051135#")
    d.type("1200#").tap("bob")
    res = d.run(tmp_path)
    assert [e["reason"] for e in res.events("refused")] == ["clock not set"]
    [clock_set] = res.kinds("clock-set")
    assert (clock_set["tx_type"], clock_set["card"]) == (2, "31012300000000009003")
    assert clock_set["time"].startswith("2025-03-05T11:35")
    assert res.balance("bob") == 5000 - 1200


def test_a_keyed_time_that_is_not_a_date_sets_nothing(tmp_path):
    d = Day(start="2025-03-05T11:30:00", mode="amount")
    d.card("bob", BOB, balance=5000).staff_card("zhao")
    d.sign_in("zhao").authorise("6").type("202502301135#")
    res = d.run(tmp_path)
    assert res.kinds("clock-set") == []
    assert res.lcd.seen("BAD TIME")


def test_the_roles_refusals_are_codes_with_their_text_and_denied_reason_in_tables():
    from ykt.errors import CardRefused
    from ykt.pos import pricing
    from ykt.roles.pos import codes

    e = codes.refused(codes.STAFF_LOCKED, 42)
    assert isinstance(e, CardRefused) and str(e) == "staff card locked: 42 s"
    assert str(codes.refused(codes.NO_CASHIER)) == "no cashier signed in"
    assert str(codes.refused(codes.GIVEN_BACK, 7)) == "sale 7 already given back"
    assert len(codes.REFUSED) == codes.GIVEN_BACK + 1
    # journal ``denied`` reasons (docs/stores.md): 4 balance, 6 limit; other refusals none
    assert codes.DENIED == {pricing.COUNT_LIMIT: 6, pricing.SINGLE_LIMIT: 6,
                            pricing.DAILY_LIMIT: 6, pricing.INSUFFICIENT: 4,
                            pricing.MIN_BALANCE: 4}
    assert codes.DENIED_FORGED == 5
