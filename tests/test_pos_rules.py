"""Canteen rule-set validation: every error is one clear line naming where it is."""

import json
from pathlib import Path

import pytest

from ykt.pos import RuleError, rules
from ykt.pos.periods import period_at

EXAMPLE = Path(__file__).resolve().parents[1] / "canteens" / "putuo-example.json"


def example():
    with open(EXAMPLE, encoding="utf-8") as f:
        return json.load(f)


def error_of(change):
    d = example()
    change(d)
    with pytest.raises(RuleError) as e:
        rules.load(d)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_example_rule_set_loads():
    r = rules.load(example())
    assert [p.name for p in r.periods] == ["breakfast", "lunch", "dinner"]
    assert r.purse_order == ["subsidy", "cash"]


def test_overlapping_periods_are_refused():
    msg = error_of(lambda d: d["periods"][1].update(start="08:30"))
    assert msg == "periods[1] 'lunch': 08:30-13:30 overlaps 'breakfast' 06:30-09:00"


def test_period_crossing_midnight_is_refused():
    msg = error_of(lambda d: d["periods"][2].update(start="22:00", end="02:00"))
    assert msg == ("periods[2] 'dinner': ends at 02:00, not after its start 22:00 "
                   "(periods may not cross midnight)")


def test_period_with_a_malformed_time_is_refused():
    msg = error_of(lambda d: d["periods"][0].update(start="6:30"))
    assert msg == "periods[0] 'breakfast': start must be a time HH:MM, got '6:30'"


def test_more_periods_than_the_card_record_counts_are_refused():
    def seven(d):
        d["periods"] = [{"name": "p%d" % i, "start": "%02d:00" % i, "end": "%02d:30" % i}
                        for i in range(7)]
    assert error_of(seven) == "periods: 7 periods, at most 6"


def test_count_limit_out_of_range_is_refused():
    msg = error_of(lambda d: d["periods"][0].update(count_limit=100))
    assert msg == "periods[0] 'breakfast': count_limit 100 out of range 1..99"


def test_unknown_item_in_a_set_meal_is_refused():
    msg = error_of(lambda d: d["set_meals"][1]["parts"].append({"code": 999}))
    assert msg == "set_meals[1] 'Breakfast set': unknown item 999"


def test_unknown_tag_in_a_set_meal_is_refused():
    msg = error_of(lambda d: d["set_meals"][0]["parts"][1].update(tag="soups"))
    assert msg == "set_meals[0] '3 dishes + soup': no item has tag 'soups'"


def test_percentage_out_of_range_is_refused():
    msg = error_of(lambda d: d["discounts"][0].update(off_bp=12000))
    assert msg == "discounts[0] 'Retiree breakfast': off_bp 12000 out of range 0..10000"


def test_campaign_percentage_out_of_range_is_refused():
    msg = error_of(lambda d: d["campaigns"][0].update(off_bp=-5))
    assert msg == "campaigns[0] 'Summer 10% off': off_bp -5 out of range 0..10000"


def test_percentage_given_as_a_fraction_is_refused():
    msg = error_of(lambda d: d["discounts"][1].update(off_bp=0.1))
    assert msg == "discounts[1] 'Elder 60-79 10%': off_bp must be a whole number, got 0.1"


def test_money_given_as_a_fraction_is_refused():
    msg = error_of(lambda d: d["items"][0].update(price=8.5))
    assert msg == "items[0] 101 'Braised pork': price must be a whole number, got 8.5"


def test_misspelt_key_is_refused():
    msg = error_of(lambda d: d["discounts"][0].update(period=["lunch"]))
    assert msg == "discounts[0]: unknown key 'period'"


def test_unknown_category_in_a_rule_is_refused():
    msg = error_of(lambda d: d["discounts"][0].update(categories=["pensioner"]))
    assert msg == "discounts[0] 'Retiree breakfast': unknown category 'pensioner'"


def test_unknown_period_in_a_rule_is_refused():
    msg = error_of(lambda d: d["discounts"][0].update(periods=["brunch"]))
    assert msg == "discounts[0] 'Retiree breakfast': unknown period 'brunch'"


def test_overlapping_age_tiers_are_refused():
    msg = error_of(lambda d: d["age_tiers"][1].update(min_age=75))
    assert msg == "age_tiers[1] '80+': ages overlap tier '60-79'"


def test_duplicate_coupon_code_is_refused():
    def twice(d):
        d["campaigns"].append(dict(d["campaigns"][2], name="Coupon again"))
    assert error_of(twice) == "campaigns[3] 'Coupon again': coupon code 8866 used twice"


def test_campaign_ending_before_it_starts_is_refused():
    msg = error_of(lambda d: d["campaigns"][1].update(to="2025-06-30"))
    assert msg == "campaigns[1] 'Summer 30 get 5': 'to' is before 'from'"


def test_unknown_purse_in_the_purse_order_is_refused():
    assert error_of(lambda d: d.update(purse_order=["cash", "coupon"])) == \
        "purse_order: unknown purse 'coupon'"


def test_period_start_minute_is_inside_and_end_minute_is_outside():
    r = rules.load(example())
    assert period_at(r.periods, 6, 30).name == "breakfast"
    assert period_at(r.periods, 9, 0) is None
