"""Canteen sale pricing (docs/canteen.md): seed cases, stacking, limits, purses, rounding.

Every case runs against canteens/putuo-example.json (or a copy with one change), and
asserts the fen the card would be charged.
"""

import copy
import json
import subprocess
from pathlib import Path

import pytest
import vmscripts

from host_tools.lib.build import mpy_cross
from ykt.pos import pricing, rules
from ykt.pos.canteen_record import CanteenRecord, flag_bits
from ykt.pos.pricing import CardState, percent_off, price_sale

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "canteens" / "putuo-example.json"

BREAKFAST = (2025, 3, 5, 7, 30, 0)
LUNCH = (2025, 3, 5, 12, 0, 0)
DINNER = (2025, 3, 5, 17, 0, 0)
SUMMER_LUNCH = (2025, 7, 15, 12, 0, 0)
TODAY = 20250305

RESIDENT_HUKOU = flag_bits(["resident", "hukou"])
BORN_70 = 19550101  # 70 on TODAY
BORN_85 = 19400101  # 85 on TODAY

ORDINARY, RETIREE, STUDENT = 0, 1, 2


def example():
    with open(EXAMPLE, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def putuo():
    return rules.load(example())


def changed(change):
    d = example()
    change(d)
    return rules.load(d)


def card(**kw):
    kw.setdefault("cash", 10000)
    return CardState(**kw)


def steps(sale):
    return [(s.kind, s.name, s.delta) for s in sale.steps]


# --- seed cases -------------------------------------------------------------------------

def test_retired_teachers_fixed_price_breakfast_is_20_percent_off(putuo):
    sale = price_sale(putuo, None, "fixed", None, card(category=RETIREE), BREAKFAST)
    assert (sale.gross, sale.net, sale.cash) == (500, 400, 400)
    assert steps(sale) == [("category", "Retiree breakfast", -100)]


def test_retiree_breakfast_rule_does_not_apply_at_lunch(putuo):
    sale = price_sale(putuo, None, "fixed", None, card(category=RETIREE), LUNCH)
    assert (sale.gross, sale.net) == (1500, 1500)


def test_breakfast_set_is_priced_before_the_retiree_percentage(putuo):
    sale = price_sale(putuo, [(401, 1), (402, 1), (403, 1)], "menu", None,
                      card(category=RETIREE), BREAKFAST)
    assert steps(sale) == [("set", "Breakfast set", -100), ("category", "Retiree breakfast", -60)]
    assert sale.net == 240


def test_sanitation_workers_three_dishes_and_a_soup_cost_12_yuan(putuo):
    sale = price_sale(putuo, [(101, 1), (103, 1), (104, 1), (201, 1)], "menu", None,
                      card(category=ORDINARY), LUNCH)
    assert (sale.gross, sale.net) == (1700, 1200)
    assert steps(sale) == [("set", "3 dishes + soup", -500)]


def test_set_meal_takes_the_most_expensive_dishes_and_charges_the_rest(putuo):
    basket = [(104, 1), (101, 1), (103, 1), (102, 1), (201, 1)]  # 300 800 400 700 200
    sale = price_sale(putuo, basket, "menu", None, card(), LUNCH)
    # set = pork 800 + fish 700 + tomato egg 400 + soup 200 = 2100 -> 1200; greens 300 extra
    assert (sale.gross, sale.net) == (2400, 1500)


def test_set_meal_is_not_applied_when_the_items_cost_less(putuo):
    sale = price_sale(putuo, [(104, 3), (201, 1)], "menu", None, card(), LUNCH)
    assert (sale.gross, sale.net, sale.steps) == (1100, 1100, [])


def test_set_meal_applies_once_per_complete_set(putuo):
    basket = [(101, 2), (102, 2), (103, 2), (201, 2)]
    sale = price_sale(putuo, basket, "menu", None, card(), LUNCH)
    # 800 + 800 + 700 + 200 -> 12.00, then 700 + 400 + 400 + 200 -> 12.00
    assert (sale.gross, sale.net) == (4200, 2400)
    assert [s.kind for s in sale.steps] == ["set", "set"]


def test_set_meal_is_not_offered_outside_its_periods(putuo):
    sale = price_sale(putuo, [(101, 1), (103, 1), (104, 1), (201, 1)], "menu", None, card(),
                      BREAKFAST)
    assert sale.net == 1700


# --- Putuo age tiers and the daily subsidy -------------------------------------------------

def test_elder_60_to_79_gets_10_percent_and_subsidy_b(putuo):
    sale = price_sale(putuo, None, "fixed", None, card(birth=BORN_70, flags=RESIDENT_HUKOU),
                      LUNCH)
    assert sale.tier == "60-79"
    assert steps(sale) == [("category", "Elder 60-79 10%", -150),
                           ("subsidy", "Subsidy B 60-79", -200)]
    assert (sale.net, sale.daily_subsidy) == (1150, 200)


def test_elder_80_plus_gets_15_percent_and_subsidy_c(putuo):
    sale = price_sale(putuo, None, "fixed", None, card(birth=BORN_85, flags=RESIDENT_HUKOU),
                      LUNCH)
    assert steps(sale) == [("category", "Elder 80+ 15%", -225), ("subsidy", "Subsidy C 80+", -300)]
    assert sale.net == 975


def test_minimum_living_allowance_elder_gets_subsidy_a_as_the_first_matching_rule(putuo):
    flags = flag_bits(["resident", "hukou", "dibao"])
    sale = price_sale(putuo, None, "fixed", None, card(birth=BORN_70, flags=flags), LUNCH)
    assert steps(sale)[-1] == ("subsidy", "Subsidy A", -500)
    assert sale.net == 850


def test_daily_subsidy_is_granted_once_a_day(putuo):
    first_rec = CanteenRecord(birth=BORN_70, flags=RESIDENT_HUKOU)
    state = CardState.from_record(0, 10000, first_rec, TODAY)
    first = price_sale(putuo, None, "fixed", None, state, LUNCH)
    after = first_rec.after_sale(first, TODAY)
    second = price_sale(putuo, None, "fixed", None,
                        CardState.from_record(0, 10000 - first.cash, after, TODAY),
                        (2025, 3, 5, 12, 40, 0))
    assert (first.net, second.net) == (1150, 1350)
    assert second.daily_subsidy == 0


def test_daily_subsidy_returns_the_next_day(putuo):
    rec = CanteenRecord(birth=BORN_70, flags=RESIDENT_HUKOU)
    rec = rec.after_sale(price_sale(putuo, None, "fixed", None,
                                    CardState.from_record(0, 10000, rec, TODAY), LUNCH), TODAY)
    next_day = price_sale(putuo, None, "fixed", None,
                          CardState.from_record(0, 10000, rec, 20250306), (2025, 3, 6, 12, 0, 0))
    assert next_day.net == 1150


def test_subsidy_threshold_is_judged_on_the_menu_price_by_default(putuo):
    # 15.00 meets the 15.00 threshold although the elder pays 13.50 after 10 % off.
    sale = price_sale(putuo, 1500, "amount", None, card(birth=BORN_70, flags=RESIDENT_HUKOU),
                      LUNCH)
    assert sale.daily_subsidy == 200


def test_subsidy_threshold_on_running_basis_counts_after_the_discount():
    def running(d):
        for s in d["subsidies"]:
            s["basis"] = "running"
    sale = price_sale(changed(running), 1500, "amount", None,
                      card(birth=BORN_70, flags=RESIDENT_HUKOU), LUNCH)
    assert (sale.net, sale.daily_subsidy) == (1350, 0)


def test_subsidy_below_its_spend_threshold_is_not_granted(putuo):
    sale = price_sale(putuo, None, "fixed", None, card(birth=BORN_70, flags=RESIDENT_HUKOU),
                      DINNER)
    assert (sale.net, sale.daily_subsidy) == (1080, 0)


def test_non_resident_elder_gets_no_age_discount_but_keeps_the_hukou_subsidy(putuo):
    sale = price_sale(putuo, None, "fixed", None,
                      card(birth=BORN_70, flags=flag_bits(["hukou"])), LUNCH)
    assert steps(sale) == [("subsidy", "Subsidy B 60-79", -200)]
    assert sale.net == 1300


def test_age_tier_starts_on_the_60th_birthday(putuo):
    born = 19650306
    before = price_sale(putuo, 1000, "amount", None, card(birth=born, flags=RESIDENT_HUKOU),
                        LUNCH)
    on_day = price_sale(putuo, 1000, "amount", None, card(birth=born, flags=RESIDENT_HUKOU),
                        (2025, 3, 6, 12, 0, 0))
    assert (before.tier, before.net) == (None, 1000)
    assert (on_day.tier, on_day.net) == ("60-79", 900)


def test_best_single_category_rule_wins_and_category_rules_do_not_stack(putuo):
    # A 70-year-old resident retiree at breakfast: 20 % (retiree) beats 10 % (age), not 28 %.
    sale = price_sale(putuo, None, "fixed", None,
                      card(category=RETIREE, birth=BORN_70, flags=flag_bits(["resident"])),
                      BREAKFAST)
    assert steps(sale) == [("category", "Retiree breakfast", -100)]


def test_daily_subsidy_paid_from_the_subsidy_purse_is_not_a_price_reduction():
    def purse_paid(d):
        for s in d["subsidies"]:
            s["paid_by"] = "subsidy_purse"
        d["purse_order"] = ["cash"]
    sale = price_sale(changed(purse_paid), None, "fixed", None,
                      card(birth=BORN_70, flags=RESIDENT_HUKOU, subsidy_balance=5000,
                           subsidy_expiry=20251231), LUNCH)
    assert [s.kind for s in sale.steps] == ["category"]
    assert (sale.net, sale.subsidy, sale.cash, sale.daily_subsidy) == (1350, 200, 1150, 200)


# --- campaigns ---------------------------------------------------------------------------

def test_summer_campaigns_stack_capped_percent_then_spend_get_then_coupon(putuo):
    sale = price_sale(putuo, 4000, "amount", None, card(), SUMMER_LUNCH, coupon="8866")
    assert steps(sale) == [("campaign", "Summer 10% off (cap)", -300),
                           ("spend_get", "Summer 30 get 5", -500),
                           ("coupon", "Coupon 8866", -200)]
    assert sale.net == 3000


def test_campaign_percent_under_its_cap_takes_the_full_percentage(putuo):
    sale = price_sale(putuo, 2000, "amount", None, card(), SUMMER_LUNCH)
    assert steps(sale) == [("campaign", "Summer 10% off", -200)]


def test_campaign_cap_is_applied_to_the_rounded_percentage(putuo):
    # 10 % of 30.05 is 3.005 -> 3.01 rounded, then capped to 3.00.
    sale = price_sale(putuo, 3005, "amount", None, card(), SUMMER_LUNCH)
    assert sale.steps[0].delta == -300


def test_spend_get_threshold_is_judged_after_the_percentage(putuo):
    sale = price_sale(putuo, 3200, "amount", None, card(), SUMMER_LUNCH)
    assert (sale.net, [s.kind for s in sale.steps]) == (2900, ["campaign"])


def test_campaigns_do_not_apply_outside_their_dates(putuo):
    sale = price_sale(putuo, 4000, "amount", None, card(), (2025, 9, 1, 12, 0, 0))
    assert (sale.net, sale.steps) == (4000, [])


def test_campaign_percent_stacks_on_the_category_percentage(putuo):
    sale = price_sale(putuo, None, "fixed", None, card(category=RETIREE), (2025, 7, 15, 7, 0, 0))
    assert steps(sale) == [("category", "Retiree breakfast", -100),
                           ("campaign", "Summer 10% off", -40)]
    assert sale.net == 360


def test_unknown_coupon_refuses_the_sale(putuo):
    sale = price_sale(putuo, 2000, "amount", None, card(), SUMMER_LUNCH, coupon="1234")
    assert sale.refused == "unknown coupon"
    assert sale.cash == 0


def test_coupon_outside_its_dates_refuses_the_sale(putuo):
    sale = price_sale(putuo, 2000, "amount", None, card(), LUNCH, coupon="8866")
    assert sale.refused == "coupon not valid now"


def test_coupon_below_its_minimum_spend_refuses_the_sale(putuo):
    sale = price_sale(putuo, 1100, "amount", None, card(), SUMMER_LUNCH, coupon="8866")
    # 11.00 - 10 % = 9.90 < 10.00
    assert sale.refused == "coupon needs a larger sale: 10.00"


# --- periods and limits -------------------------------------------------------------------

def test_sale_outside_meal_periods_is_refused(putuo):
    sale = price_sale(putuo, 800, "amount", None, card(), (2025, 3, 5, 9, 30, 0))
    assert sale.refused == "outside meal periods"


def test_meal_period_end_minute_is_outside_the_period(putuo):
    last = price_sale(putuo, None, "fixed", None, card(), (2025, 3, 5, 8, 59, 59))
    end = price_sale(putuo, None, "fixed", None, card(), (2025, 3, 5, 9, 0, 0))
    assert (last.period, last.net) == ("breakfast", 500)
    assert end.refused == "outside meal periods"


def test_per_period_count_limit_refuses_a_second_breakfast(putuo):
    sale = price_sale(putuo, None, "fixed", None, card(counts=[1, 0, 0, 0, 0, 0]), BREAKFAST)
    assert sale.refused == "count limit reached: 1 per breakfast"


def test_count_limit_counts_each_period_separately(putuo):
    sale = price_sale(putuo, None, "fixed", None, card(counts=[1, 1, 0, 0, 0, 0]), LUNCH)
    assert (sale.refused, sale.net) == (None, 1500)


def test_count_limit_follows_the_card_record_through_the_day(putuo):
    rec = CanteenRecord()
    for minute in (0, 10):
        sale = price_sale(putuo, None, "fixed", None,
                          CardState.from_record(0, 10000, rec, TODAY), (2025, 3, 5, 12, minute, 0))
        rec = rec.after_sale(sale, TODAY)
    third = price_sale(putuo, None, "fixed", None, CardState.from_record(0, 10000, rec, TODAY),
                       (2025, 3, 5, 12, 20, 0))
    assert third.refused == "count limit reached: 2 per lunch"


def test_daily_amount_limit_refuses_a_sale_that_would_pass_it(putuo):
    sale = price_sale(putuo, 1001, "amount", None, card(day_spend=9000), LUNCH)
    assert sale.refused == "daily amount limit exceeded: 100.00"


def test_daily_amount_limit_can_be_reached_exactly(putuo):
    sale = price_sale(putuo, 1000, "amount", None, card(day_spend=9000), LUNCH)
    assert (sale.refused, sale.cash) == (None, 1000)


def test_daily_amount_limit_is_judged_on_the_discounted_net(putuo):
    # 11.00 gross, 9.90 after 10 % off: fits the 10.00 left today.
    sale = price_sale(putuo, 1100, "amount", None,
                      card(day_spend=9000, birth=BORN_70, flags=flag_bits(["resident"])), LUNCH)
    assert (sale.refused, sale.net) == (None, 990)


def test_single_sale_limit_refuses_above_it(putuo):
    sale = price_sale(putuo, 5001, "amount", None, card(), LUNCH)
    assert sale.refused == "single sale limit exceeded: 50.00"


def test_single_sale_limit_can_be_set_per_category(putuo):
    sale = price_sale(putuo, 2001, "amount", None, card(category=STUDENT), LUNCH)
    assert sale.refused == "single sale limit exceeded: 20.00"


def test_minimum_balance_refuses_a_sale_that_would_go_below_it():
    r = changed(lambda d: d["limits"].update(min_balance=500))
    sale = price_sale(r, 1200, "amount", None, card(cash=1500), LUNCH)
    assert sale.refused == "below minimum balance"


def test_minimum_balance_can_be_reached_exactly():
    r = changed(lambda d: d["limits"].update(min_balance=500))
    sale = price_sale(r, 1000, "amount", None, card(cash=1500), LUNCH)
    assert (sale.refused, sale.cash) == (None, 1000)


def test_sale_above_both_purses_is_insufficient_balance(putuo):
    sale = price_sale(putuo, 1200, "amount", None,
                      card(cash=1000, subsidy_balance=100, subsidy_expiry=20251231), LUNCH)
    assert sale.refused == "insufficient balance"


def test_a_refusal_has_a_code_and_its_text_comes_from_the_code(putuo):
    cases = [
        (price_sale(putuo, 800, "amount", None, card(), (2025, 3, 5, 9, 30, 0)),
         pricing.OUTSIDE_PERIODS),
        (price_sale(putuo, None, "fixed", None, card(counts=[1, 0, 0, 0, 0, 0]), BREAKFAST),
         pricing.COUNT_LIMIT),
        (price_sale(putuo, [(999, 1)], "menu", None, card(), LUNCH), pricing.UNKNOWN_ITEM),
        (price_sale(putuo, [(101, 0)], "menu", None, card(), LUNCH), pricing.BAD_QUANTITY),
        (price_sale(putuo, [], "menu", None, card(), LUNCH), pricing.EMPTY_BASKET),
        (price_sale(putuo, 5001, "amount", None, card(), LUNCH), pricing.SINGLE_LIMIT),
        (price_sale(putuo, 1001, "amount", None, card(day_spend=9000), LUNCH),
         pricing.DAILY_LIMIT),
        (price_sale(putuo, 1200, "amount", None, card(cash=1000), LUNCH), pricing.INSUFFICIENT),
    ]
    for sale, code in cases:
        text = pricing.REFUSED[code]
        assert sale.refusal == code
        assert sale.refused == text or sale.refused.startswith(text + ": ")
    assert [s.refused for s, _ in cases][2:4] == ["unknown item: 999", "bad quantity: 0"]
    assert price_sale(putuo, 1000, "amount", None, card(), LUNCH).refusal == 0


@pytest.mark.parametrize("category,net,pin", [
    (ORDINARY, 2000, False), (ORDINARY, 2001, True),
    (RETIREE, 3000, False), (RETIREE, 3001, True),
    (STUDENT, 1000, False), (STUDENT, 1001, True),
    (0x33, 2001, True),  # a category the rules do not list is ordinary
])
def test_pin_is_needed_only_above_the_card_categorys_threshold(putuo, category, net, pin):
    sale = price_sale(putuo, net, "amount", None, card(category=category), LUNCH)
    assert (sale.refused, sale.net, sale.pin_required) == (None, net, pin)


def test_pin_threshold_is_judged_on_the_net_after_discounts(putuo):
    sale = price_sale(putuo, 2200, "amount", None, card(birth=BORN_70, flags=RESIDENT_HUKOU),
                      LUNCH)
    # 22.00 - 2.20 - 2.00 subsidy = 17.80: below the ordinary 20.00 threshold
    assert (sale.net, sale.pin_required) == (1780, False)


# --- the two purses -----------------------------------------------------------------------

def test_subsidy_purse_pays_first_and_cash_pays_the_rest(putuo):
    sale = price_sale(putuo, 1200, "amount", None,
                      card(subsidy_balance=500, subsidy_expiry=20250331), LUNCH)
    assert (sale.subsidy, sale.cash) == (500, 700)


def test_subsidy_purse_alone_pays_a_sale_it_covers(putuo):
    sale = price_sale(putuo, 1200, "amount", None,
                      card(subsidy_balance=5000, subsidy_expiry=20250331), LUNCH)
    assert (sale.subsidy, sale.cash) == (1200, 0)


def test_cash_first_order_takes_cash_then_the_subsidy_purse():
    r = changed(lambda d: d.update(purse_order=["cash", "subsidy"]))
    sale = price_sale(r, 1200, "amount", None,
                      card(cash=300, subsidy_balance=2000, subsidy_expiry=20250331), LUNCH)
    assert (sale.cash, sale.subsidy) == (300, 900)


def test_cash_first_order_leaves_the_minimum_balance_and_takes_the_rest_from_subsidy():
    def change(d):
        d["purse_order"] = ["cash", "subsidy"]
        d["limits"]["min_balance"] = 500
    sale = price_sale(changed(change), 1200, "amount", None,
                      card(cash=1000, subsidy_balance=2000, subsidy_expiry=20250331), LUNCH)
    assert (sale.cash, sale.subsidy) == (500, 700)


def test_cash_only_order_never_touches_the_subsidy_purse():
    r = changed(lambda d: d.update(purse_order=["cash"]))
    sale = price_sale(r, 1200, "amount", None,
                      card(cash=1000, subsidy_balance=5000, subsidy_expiry=20250331), LUNCH)
    assert sale.refused == "insufficient balance"


def test_expired_subsidy_purse_is_not_used(putuo):
    sale = price_sale(putuo, 1200, "amount", None,
                      card(subsidy_balance=5000, subsidy_expiry=20250304), LUNCH)
    assert (sale.subsidy, sale.cash) == (0, 1200)


def test_subsidy_purse_is_usable_on_its_expiry_day(putuo):
    sale = price_sale(putuo, 1200, "amount", None,
                      card(subsidy_balance=5000, subsidy_expiry=TODAY), LUNCH)
    assert (sale.subsidy, sale.cash) == (1200, 0)


# --- rounding and the floor at zero --------------------------------------------------------

@pytest.mark.parametrize("amount,bp,off", [
    (5, 1000, 1),      # 0.5 fen -> 1 (an exact half goes to the customer)
    (4, 1000, 0),      # 0.4 -> 0
    (6, 1000, 1),      # 0.6 -> 1
    (15, 1000, 2),     # 1.5 -> 2
    (25, 1000, 3),     # 2.5 -> 3 (half-up, not half-even)
    (150, 1500, 23),   # 22.5 -> 23
    (7, 1500, 1),      # 1.05 -> 1
    (3, 5000, 2),      # 1.5 -> 2
    (1, 2500, 0),      # 0.25 -> 0
    (2, 2500, 1),      # 0.5 -> 1
    (1, 10000, 1),     # 100 % off
    (123456789, 1, 12346),  # 12345.6789 -> 12346
])
def test_percentage_reduction_rounds_half_up_to_the_fen(amount, bp, off):
    assert percent_off(amount, bp) == off


def test_exact_half_fen_discount_is_given_to_the_customer_in_a_sale(putuo):
    sale = price_sale(putuo, 150, "amount", None, card(birth=BORN_85, flags=RESIDENT_HUKOU),
                      LUNCH)
    assert (sale.steps[0].delta, sale.net) == (-23, 127)


def test_percentage_below_half_a_fen_takes_nothing_and_adds_no_step(putuo):
    sale = price_sale(putuo, 4, "amount", None, card(birth=BORN_70, flags=RESIDENT_HUKOU),
                      LUNCH)
    assert (sale.net, sale.steps) == (4, [])


def test_reductions_never_take_the_net_below_zero():
    def big_coupon(d):
        d["campaigns"][2].update(off=500, min_spend=0)
    sale = price_sale(changed(big_coupon), 300, "amount", None, card(), SUMMER_LUNCH,
                      coupon="8866")
    assert [(s.before, s.after) for s in sale.steps] == [(300, 270), (270, 0)]
    assert (sale.net, sale.cash) == (0, 0)


def test_free_sale_does_not_use_up_the_daily_subsidy():
    def big_coupon(d):
        d["campaigns"][2].update(off=5000, min_spend=0)
    sale = price_sale(changed(big_coupon), 1500, "amount", None,
                      card(birth=BORN_70, flags=RESIDENT_HUKOU), SUMMER_LUNCH, coupon="8866")
    assert (sale.net, sale.daily_subsidy) == (0, 0)


def test_worked_example_with_every_step_matches_docs_canteen_md(putuo):
    rec = CanteenRecord(birth=BORN_70, flags=RESIDENT_HUKOU, subsidy_balance=300,
                        subsidy_expiry=20250731)
    state = CardState.from_record(ORDINARY, 5000, rec, 20250715)
    basket = [(101, 1), (102, 1), (103, 1), (202, 1), (301, 1)]
    sale = price_sale(putuo, basket, "menu", None, state, (2025, 7, 15, 12, 5, 0), coupon="8866")
    assert [(s.before, s.after) for s in sale.steps] == [(2200, 1250), (1250, 1125), (1125, 1012),
                                                         (1012, 812)]
    assert (sale.net, sale.subsidy, sale.cash, sale.daily_subsidy) == (812, 300, 512, 0)
    assert rec.after_sale(sale, 20250715).encode().hex() == (
        "01" "20250715" "000100000000" "0000032c" "00" "00000000" "20250731" "0000" "19550101"
        "03" + "00" * 17)


# --- basket and display ------------------------------------------------------------------

def test_unknown_item_code_refuses_the_sale(putuo):
    sale = price_sale(putuo, [(101, 1), (999, 1)], "menu", None, card(), LUNCH)
    assert sale.refused == "unknown item: 999"


def test_zero_quantity_refuses_the_sale(putuo):
    sale = price_sale(putuo, [(101, 0)], "menu", None, card(), LUNCH)
    assert sale.refused == "bad quantity: 0"


def test_amount_mode_refuses_a_zero_amount(putuo):
    assert price_sale(putuo, 0, "amount", None, card(), LUNCH).refused == "no amount"


def test_explicit_period_overrides_the_clock(putuo):
    sale = price_sale(putuo, None, "fixed", "dinner", card(), LUNCH)
    assert (sale.period, sale.net) == ("dinner", 1200)


def test_display_shows_gross_every_step_net_and_purses(putuo):
    sale = price_sale(putuo, None, "fixed", None,
                      card(birth=BORN_70, flags=RESIDENT_HUKOU, subsidy_balance=500,
                           subsidy_expiry=TODAY), LUNCH)
    assert sale.display() == [("GROSS", 1500), ("Elder 60-79 10%", -150),
                              ("Subsidy B 60-79", -200), ("NET", 1150),
                              ("SUBSIDY PURSE", 500), ("CASH", 650)]


def test_record_carries_the_steps_and_the_split(putuo):
    sale = price_sale(putuo, [(101, 1), (103, 1), (104, 1), (201, 1)], "menu", None, card(),
                      LUNCH)
    rec = sale.record()
    assert rec["steps"] == [["set", "3 dishes + soup", 1700, 1200, -500]]
    assert (rec["gross"], rec["net"], rec["cash"], rec["subsidy_purse"]) == (1700, 1200, 1200, 0)
    assert rec["lines"] == [[101, 1, 800, 800], [103, 1, 400, 400], [104, 1, 300, 300],
                            [201, 1, 200, 200]]


# --- the same fen on the MicroPython VM ----------------------------------------------------

SEED_CASES = [
    # retired teacher's breakfast, fixed price and as the breakfast set
    {"mode": "fixed", "now": [2025, 3, 5, 7, 30, 0], "category": 1, "cash": 5000,
     "record": {}},
    {"mode": "menu", "basket": [[401, 1], [402, 1], [403, 1]], "now": [2025, 3, 5, 7, 30, 0],
     "category": 1, "cash": 5000, "record": {}},
    # sanitation worker's three dishes and a soup
    {"mode": "menu", "basket": [[101, 1], [103, 1], [104, 1], [201, 1]],
     "now": [2025, 3, 5, 12, 0, 0], "category": 0, "cash": 5000, "record": {}},
    # Putuo tiers with the daily subsidy, then the same card again the same day
    {"mode": "fixed", "now": [2025, 3, 5, 12, 0, 0], "category": 0, "cash": 5000,
     "record": {"birth": 19550101, "flags": 3, "subsidy_balance": 300,
                "subsidy_expiry": 20250331, "subsidy_batch": 7}},
    {"mode": "fixed", "now": [2025, 3, 5, 12, 30, 0], "category": 0, "cash": 5000,
     "record": {"day": 20250305, "counts": [0, 1, 0, 0, 0, 0], "day_spend": 1150,
                "subsidy_used": True, "birth": 19550101, "flags": 3}},
    {"mode": "amount", "basket": 150, "now": [2025, 3, 5, 12, 0, 0], "category": 0,
     "cash": 5000, "record": {"birth": 19400101, "flags": 3}},
    # summer campaigns stacking, hitting the cap
    {"mode": "amount", "basket": 4000, "now": [2025, 7, 15, 12, 0, 0], "category": 0,
     "cash": 5000, "record": {}, "coupon": "8866"},
    {"mode": "amount", "basket": 3005, "now": [2025, 7, 15, 12, 0, 0], "category": 1,
     "cash": 5000, "record": {"birth": 19400101, "flags": 7}},
    # refusals
    {"mode": "fixed", "now": [2025, 3, 5, 7, 45, 0], "category": 0, "cash": 5000,
     "record": {"day": 20250305, "counts": [1, 0, 0, 0, 0, 0]}},
    {"mode": "amount", "basket": 1200, "now": [2025, 3, 5, 12, 0, 0], "category": 0,
     "cash": 1000, "record": {"subsidy_balance": 100, "subsidy_expiry": 20250304}},
]


def _mpy_tree(out):
    """The modules pricing needs, compiled as the simulator's VM runtime loads them."""
    fw = ROOT / "firmware"
    sources = [fw / "ykt" / n for n in ("__init__.py", "caltime.py", "money.py")]
    sources += sorted((fw / "ykt" / "pos").glob("*.py"))
    for src in sources:
        rel = src.relative_to(fw)
        dst = out / rel.with_suffix(".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([mpy_cross(), "-o", str(dst), "-s", str(rel), str(src)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    return out


def test_micropython_vm_prices_the_seed_cases_to_the_same_fen_as_cpython(tmp_path):
    vm = _mpy_tree(tmp_path / "vm")
    rule_dict = example()
    # the cases run verbatim on both runtimes: tests/vm/pos_cases.py
    run_cases = vmscripts.load("pos_cases").run_cases
    expected = json.loads(json.dumps(run_cases(copy.deepcopy(rule_dict), SEED_CASES)))
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps(SEED_CASES))
    proc = vmscripts.run("pos_cases", EXAMPLE, cases, path=vm, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got == expected
    assert [row[4] for row in got] == [400, 240, 1200, 850, 1350, 127, 3000, 1799, 0, 0]
