"""`ykt canteen quote`: what a sale costs, priced by the POS's own ``price_sale``, with the
steps that priced it (docs/canteen.md §8's worked examples, on canteens/putuo-example.json)."""

import json

import pytest
from poskit import canteen

from host_tools import cli


def quote(capsys, *args):
    rc = cli.main(["canteen", "quote", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def quote_json(capsys, *args):
    rc, out, err = quote(capsys, *args, "--json")
    return rc, json.loads(out)


def test_retirees_fixed_price_breakfast_shows_the_category_step_and_the_price(capsys):
    rc, out, _ = quote(capsys, "--category", "retiree", "--at", "2025-03-05T07:30")
    assert rc == 0
    assert "category discount" in out and "Retiree breakfast: 5.00 -> 4.00" in out
    assert out.splitlines()[-1] == ("price: 400 fen (4.00 yuan): 0.00 from the subsidy "
                                    "purse, 4.00 cash")


def test_everything_at_once_gives_the_documented_steps_and_purse_split(capsys):
    rc, q = quote_json(capsys, "--at", "2025-07-15T12:05", "--item", "101", "--item", "102",
                       "--item", "103", "--item", "202", "--item", "301", "--age", "70",
                       "--flags", "resident,hukou", "--subsidy-purse", "300",
                       "--coupon", "8866")
    assert rc == 0
    assert q["gross"] == 2200
    assert [(s["kind"], s["name"], s["delta"]) for s in q["steps"]] == [
        ("set", "3 dishes + soup", -950), ("category", "Elder 60-79 10%", -125),
        ("campaign", "Summer 10% off", -113), ("coupon", "Coupon 8866", -200)]
    assert (q["net"], q["subsidy_purse"], q["cash"], q["tier"]) == (812, 300, 512, "60-79")


def test_steps_chain_each_before_to_the_last_after(capsys):
    _, q = quote_json(capsys, "--at", "2025-07-15T12:05", "--amount", "4000",
                      "--coupon", "8866")
    amounts = [q["gross"]] + [s["after"] for s in q["steps"]]
    assert [s["before"] for s in q["steps"]] == amounts[:-1]
    assert amounts[-1] == q["net"]


def test_summer_campaigns_stack_to_the_cap_and_ask_for_the_pin(capsys):
    _, q = quote_json(capsys, "--at", "2025-07-15T12:05", "--amount", "4000",
                      "--coupon", "8866")
    assert [(s["name"], s["delta"]) for s in q["steps"]] == [
        ("Summer 10% off (cap)", -300), ("Summer 30 get 5", -500), ("Coupon 8866", -200)]
    assert (q["net"], q["pin_required"]) == (3000, True)


def test_a_set_meal_is_quoted_from_its_parts_at_the_set_price(capsys):
    _, q = quote_json(capsys, "--at", "2025-03-05T12:00", "--set", "3 dishes + soup")
    assert [line["code"] for line in q["lines"]] == [101, 102, 103, 202]  # the dearest
    assert [(s["kind"], s["after"]) for s in q["steps"]] == [("set", 1200)]
    assert q["net"] == 1200


def test_elders_lunch_gets_the_daily_subsidy_step(capsys):
    _, q = quote_json(capsys, "--at", "2025-03-05T12:00", "--age", "70",
                      "--flags", "resident,hukou")
    assert [(s["kind"], s["delta"]) for s in q["steps"]] == [("category", -150),
                                                              ("subsidy", -200)]
    assert q["net"] == 1150


def test_the_period_named_prices_the_sale_whatever_the_time(capsys):
    _, q = quote_json(capsys, "--at", "2025-03-05T07:30", "--period", "Dinner")
    assert (q["period"], q["gross"]) == ("dinner", 1200)


def test_items_by_name_with_a_quantity_as_keyed_on_the_pos(capsys):
    _, q = quote_json(capsys, "--at", "2025-03-05T12:00", "--item", "rice*3",
                      "--item", "Greens")
    assert [(line["code"], line["qty"], line["amount"]) for line in q["lines"]] == \
        [(301, 3, 150), (104, 1, 300)]
    assert q["net"] == 450


def test_a_refused_sale_says_why_and_exits_1(capsys):
    rc, out, _ = quote(capsys, "--at", "2025-03-05T10:00")
    assert rc == 1
    assert out.splitlines()[-1] == "refused: outside meal periods"


def test_a_refused_sale_in_json_carries_the_reason(capsys):
    rc, q = quote_json(capsys, "--at", "2025-03-05T12:00", "--category", "student",
                       "--amount", "2500")
    assert rc == 1
    assert q["refused"] == "single sale limit exceeded: 20.00"


def test_another_rule_set_file_prices_the_sale(tmp_path, capsys):
    rules = canteen()
    rules["periods"][1]["price"] = 1800
    f = tmp_path / "rules.json"
    f.write_text(json.dumps(rules))
    _, q = quote_json(capsys, "--rules", str(f), "--at", "2025-03-05T12:00")
    assert q["net"] == 1800 and q["rules"]["from"] == str(f)


@pytest.mark.parametrize("args, says", [
    (["--category", "pilot"], "--category 'pilot': not in the rule set (ordinary (0), "
                              "retiree (1), student (2), staff (4))"),
    (["--item", "999"], "--item '999': no such item code or name in the rule set"),
    (["--item", "101*x"], "--item '101*x': the quantity after '*' must be a whole number >= 1"),
    (["--item", "101*0"], "--item '101*0': the quantity after '*' must be a whole number >= 1"),
    (["--amount", "-5"], "--amount -5: an amount sale is keyed in whole fen >= 1"),
    (["--set", "feast"], "--set 'feast': no such set meal (3 dishes + soup, Breakfast set)"),
    (["--period", "supper"], "--period 'supper': not in the rule set (breakfast, lunch, "
                             "dinner)"),
    (["--flags", "vip"], "--flags: unknown flag 'vip' (resident, hukou, dibao)"),
    (["--at", "noon"], "--at 'noon': expected YYYY-MM-DDTHH:MM"),
    (["--item", "101", "--amount", "5"], "give items (--item), a set meal (--set) or an "
                                         "amount (--amount), one of them"),
])
def test_bad_values_are_one_line_and_exit_2(capsys, args, says):
    rc, out, err = quote(capsys, "--at", "2025-03-05T12:00", *args)
    assert (rc, out, err) == (2, "", "ykt: error: %s\n" % says)


def test_a_rule_set_the_pos_would_refuse_is_one_line_naming_the_file(tmp_path, capsys):
    f = tmp_path / "rules.json"
    f.write_text('{"format": 1, "periods": [{"name": "x", "start": "9", "end": "10:00"}]}')
    rc, _, err = quote(capsys, "--rules", str(f))
    assert rc == 2 and err.startswith("ykt: error: %s: periods[0]" % f)
    assert err.count("\n") == 1
