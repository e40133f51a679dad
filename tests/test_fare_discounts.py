"""The discount chain and the metro policies, to the fen (docs/fares.md).

Reference trips on the 2017 tariff (their base fares are checked against the independently
computed rule in test_fare_table.py and restated by the first test here):
People's Square -> Xinzhuang 500 fen, People's Square -> Lujiazui 300 fen,
Xinzhuang -> Jianchuan Road (Line 5 only) 400 - 100 = 300 fen. Bus 926 is 200 fen, bus 1 is
100 fen, the Dongjin ferry 200 fen. 2026-11-30 is a Monday, 2026-11-28 a Saturday.
"""

import farekit
import pytest
from farekit import HOME, TERMINAL, secs

from ykt.errors import CardRefused
from ykt.fare import engine
from ykt.fare.tariff import BUS, FERRY, METRO
from ykt.fare.transit_record import FLAG_EMERGENCY_EXIT, TransitState

SRC = farekit.source()
PS = farekit.station_id(SRC, "People's Square")
XZ = farekit.station_id(SRC, "Xinzhuang")
LJZ = farekit.station_id(SRC, "Lujiazui")
JC = farekit.station_id(SRC, "Jianchuan Road")
OTHER_CITY = 0x1000
REFUSED_CITY = 0x7777
SENIOR, STUDENT, DISABLED = 1, 2, 3


@pytest.fixture(scope="module")
def t():
    return farekit.tariff()


def modified(change):
    src = farekit.source()
    change(src)
    return farekit.tariff(src)


def card(month=None, spend=0, last_mode=0, last_time=None):
    s = TransitState()
    s.month = month
    s.month_spend = spend
    if last_mode:
        s.last_mode = last_mode
        s.last_time = secs(last_time)
    return s


def metro(t, state, entry, exit_, a=PS, b=XZ, category=0, city=HOME):
    return engine.metro_ride(t, state, a, b, secs(entry), secs(exit_), category, city)


def bus(t, state, at, route="926", category=0, city=HOME, mode=BUS):
    return engine.flat_ride(t, state, mode, route, secs(at), category, city)


def test_reference_trips_have_their_table_fares(t):
    s = card()
    assert metro(t, s, "2026-11-30T08:00", "2026-11-30T08:40").fen == 500
    assert metro(t, s, "2026-11-30T08:00", "2026-11-30T08:20", b=LJZ).fen == 300
    assert metro(t, s, "2026-11-30T08:00", "2026-11-30T08:20", a=XZ, b=JC).fen == 300
    assert bus(t, s, "2026-11-30T08:00").fen == 200


# -- transfers ---------------------------------------------------------------------------------

def test_bus_then_metro_within_120_minutes_takes_1_yuan_off_the_metro(t):
    s = bus(t, card(), "2026-11-30T08:00").state
    q = metro(t, s, "2026-11-30T09:30", "2026-11-30T10:10")
    assert q.fen == 400
    assert q.steps == [("distance", 0, 500), ("transfer", 500, 400)]


def test_bus_then_metro_at_exactly_120_minutes_still_counts(t):
    s = bus(t, card(), "2026-11-30T08:00").state
    assert metro(t, s, "2026-11-30T10:00", "2026-11-30T10:40").fen == 400


def test_bus_then_metro_after_120_minutes_is_full_price(t):
    s = bus(t, card(), "2026-11-30T08:00").state
    assert metro(t, s, "2026-11-30T10:01", "2026-11-30T10:40").fen == 500


def test_bus_to_metro_gap_is_measured_to_the_metro_entry_not_the_exit(t):
    s = bus(t, card(), "2026-11-30T08:00").state
    assert metro(t, s, "2026-11-30T09:50", "2026-11-30T10:30").fen == 400


def test_metro_then_bus_within_120_minutes_takes_1_yuan_off_the_bus(t):
    s = metro(t, card(), "2026-11-30T07:20", "2026-11-30T08:00").state
    q = bus(t, s, "2026-11-30T09:59")
    assert q.fen == 100
    assert q.steps == [("flat", 0, 200), ("transfer", 200, 100)]


def test_metro_then_bus_after_120_minutes_is_full_price(t):
    s = metro(t, card(), "2026-11-30T07:20", "2026-11-30T08:00").state
    assert bus(t, s, "2026-11-30T10:01").fen == 200


def test_metro_to_bus_gap_is_measured_from_the_metro_exit(t):
    s = metro(t, card(), "2026-11-30T06:00", "2026-11-30T08:00").state
    assert bus(t, s, "2026-11-30T09:30").fen == 100


def test_bus_then_bus_has_no_transfer_rule(t):
    s = bus(t, card(), "2026-11-30T08:00").state
    assert bus(t, s, "2026-11-30T08:30", route="71").fen == 200


def test_ferry_then_metro_has_no_transfer_rule(t):
    s = bus(t, card(), "2026-11-30T08:00", route="DONGJIN", mode=FERRY).state
    assert metro(t, s, "2026-11-30T08:30", "2026-11-30T09:00").fen == 500


def test_transfer_discount_never_makes_a_fare_negative(t):
    s = metro(t, card(), "2026-11-30T07:20", "2026-11-30T08:00").state
    q = bus(t, s, "2026-11-30T08:10", route="1")
    assert q.fen == 0


def test_transfer_window_and_amount_are_tariff_data(t):
    def change(src):
        src["transfers"] = [{"from": "bus", "to": "metro", "within_minutes": 60, "off_fen": 150}]
    t2 = modified(change)
    s = bus(t2, card(), "2026-11-30T08:00").state
    assert metro(t2, s, "2026-11-30T09:00", "2026-11-30T09:40").fen == 350
    assert metro(t2, s, "2026-11-30T09:01", "2026-11-30T09:40").fen == 500


def test_metro_entry_keeps_the_bus_ride_for_the_transfer_at_exit(t):
    s = bus(t, card(), "2026-11-30T08:00").state
    s = engine.metro_entry(t, s, PS, secs("2026-11-30T09:00"), TERMINAL).state
    q = engine.metro_exit(t, s, XZ, secs("2026-11-30T09:45"))
    assert q.fen == 400


# -- monthly -----------------------------------------------------------------------------------

def test_monthly_spend_below_threshold_pays_full_fare(t):
    assert metro(t, card((2026, 11), 6400), "2026-11-30T08:00", "2026-11-30T08:40").fen == 500


def test_ride_that_crosses_the_threshold_is_full_price_and_the_next_is_10_percent_off(t):
    q1 = metro(t, card((2026, 11), 6900), "2026-11-30T08:00", "2026-11-30T08:40")
    assert q1.fen == 500
    assert q1.state.month_spend == 7400
    q2 = metro(t, q1.state, "2026-11-30T18:00", "2026-11-30T18:40")
    assert q2.fen == 450
    assert q2.steps == [("distance", 0, 500), ("monthly", 500, 450)]


def test_spend_exactly_at_threshold_gets_the_monthly_discount(t):
    assert metro(t, card((2026, 11), 7000), "2026-11-30T08:00", "2026-11-30T08:40").fen == 450


def test_split_crossing_discounts_only_the_part_above_the_threshold(t):
    def change(src):
        src["monthly"][0]["crossing"] = "split"
    t2 = modified(change)
    q = metro(t2, card((2026, 11), 6800), "2026-11-30T08:00", "2026-11-30T08:40")
    assert q.fen == 200 + 270
    assert q.steps[-1] == ("monthly", 500, 470)


def test_month_change_restarts_the_monthly_spend(t):
    q = metro(t, card((2026, 10), 9000), "2026-11-01T08:00", "2026-11-01T08:40")
    assert q.fen == 500
    assert (q.state.month, q.state.month_spend, q.state.month_rides) == ((2026, 11), 500, 1)


def test_ride_across_midnight_at_month_end_counts_in_the_month_of_exit(t):
    q = metro(t, card((2026, 10), 9000), "2026-10-31T23:50", "2026-11-01T00:20")
    assert q.fen == 500
    assert q.state.month == (2026, 11)


def test_same_month_spend_accumulates_the_fare_actually_paid(t):
    q = metro(t, card((2026, 11), 8000), "2026-11-30T08:00", "2026-11-30T08:40")
    assert q.state.month_spend == 8450


def test_bus_ride_does_not_count_as_metro_spend(t):
    q = bus(t, card((2026, 11), 6000), "2026-11-30T08:00")
    assert q.state.month_spend == 6000


def test_bus_ride_in_a_new_month_resets_the_metro_counters(t):
    q = bus(t, card((2026, 10), 9000), "2026-11-01T08:00")
    assert (q.state.month, q.state.month_spend) == ((2026, 11), 0)


def test_percentages_round_half_up_to_the_fen(t):
    def change(src):
        src["metro_fare"]["base_fen"] = 305
    t2 = modified(change)
    q = metro(t2, card((2026, 11), 7000), "2026-11-30T08:00", "2026-11-30T08:20", b=LJZ)
    assert q.steps == [("distance", 0, 305), ("monthly", 305, 275)]  # 274.5 -> 275


# -- rider categories --------------------------------------------------------------------------

def test_senior_rides_free_inside_the_off_peak_window(t):
    q = metro(t, card(), "2026-11-30T10:00", "2026-11-30T10:40", category=SENIOR)
    assert q.fen == 0
    assert q.steps == [("distance", 0, 500), ("category", 500, 0)]


def test_senior_pays_full_fare_before_the_window(t):
    assert metro(t, card(), "2026-11-30T08:59", "2026-11-30T09:40", category=SENIOR).fen == 500


def test_category_window_start_is_inclusive_and_end_exclusive(t):
    assert metro(t, card(), "2026-11-30T09:00", "2026-11-30T09:40", category=SENIOR).fen == 0
    assert metro(t, card(), "2026-11-30T16:00", "2026-11-30T16:40", category=SENIOR).fen == 500


def test_category_is_judged_at_the_entry_time(t):
    assert metro(t, card(), "2026-11-30T15:50", "2026-11-30T16:30", category=SENIOR).fen == 0


def test_student_half_fare_on_a_weekday(t):
    assert metro(t, card(), "2026-11-30T08:00", "2026-11-30T08:40", category=STUDENT).fen == 250


def test_student_pays_full_fare_on_saturday(t):
    assert metro(t, card(), "2026-11-28T08:00", "2026-11-28T08:40", category=STUDENT).fen == 500


def test_student_half_fare_on_the_bus(t):
    assert bus(t, card(), "2026-11-30T08:00", category=STUDENT).fen == 100


def test_disabled_rides_the_ferry_free(t):
    assert bus(t, card(), "2026-11-30T08:00", route="DONGJIN", mode=FERRY,
               category=DISABLED).fen == 0


def test_unknown_category_pays_as_ordinary(t):
    assert metro(t, card(), "2026-11-30T10:00", "2026-11-30T10:40", category=9).fen == 500


def test_category_window_may_cross_midnight(t):
    def change(src):
        src["categories"][1]["rules"][0].update({"from": "22:00", "to": "06:00",
                                                 "percent_off": 20})
    t2 = modified(change)
    assert metro(t2, card(), "2026-11-30T23:00", "2026-11-30T23:30", category=SENIOR).fen == 400
    assert metro(t2, card(), "2026-11-30T05:59", "2026-11-30T06:30", category=SENIOR).fen == 400
    assert metro(t2, card(), "2026-11-30T12:00", "2026-11-30T12:30", category=SENIOR).fen == 500


# -- issuers -----------------------------------------------------------------------------------

def test_other_t_union_city_card_pays_full_price_without_any_discount(t):
    s = bus(t, card((2026, 11), 9000), "2026-11-30T09:30", city=OTHER_CITY).state
    q = metro(t, s, "2026-11-30T10:00", "2026-11-30T10:40", category=SENIOR, city=OTHER_CITY)
    assert q.fen == 500
    assert q.steps == [("distance", 0, 500)]


def test_refused_issuer_is_refused_at_metro_exit(t):
    with pytest.raises(CardRefused, match="issuer 7777 refused"):
        metro(t, card(), "2026-11-30T08:00", "2026-11-30T08:40", city=REFUSED_CITY)


def test_refused_issuer_is_refused_at_metro_entry(t):
    with pytest.raises(CardRefused):
        engine.metro_entry(t, card(), PS, secs("2026-11-30T08:00"), TERMINAL, city=REFUSED_CITY)


def test_refused_issuer_is_refused_on_the_bus(t):
    with pytest.raises(CardRefused):
        bus(t, card(), "2026-11-30T08:00", city=REFUSED_CITY)


def test_issuer_price_percentage_applies_last_and_rounds_half_up(t):
    def change(src):
        src["issuers"][1].update({"percent": 115, "discounts": ["category"]})
    t2 = modified(change)
    q = metro(t2, card(), "2026-11-30T08:00", "2026-11-30T08:40", category=STUDENT,
              city=OTHER_CITY)
    assert q.steps == [("distance", 0, 500), ("category", 500, 250), ("issuer", 250, 288)]
    assert q.fen == 288  # 287.5 -> 288


def test_issuer_policy_can_allow_only_the_transfer_discount(t):
    def change(src):
        src["issuers"][1]["discounts"] = ["transfer"]
    t2 = modified(change)
    s = bus(t2, card((2026, 11), 9000), "2026-11-30T09:30", city=OTHER_CITY).state
    q = metro(t2, s, "2026-11-30T10:00", "2026-11-30T10:40", category=SENIOR, city=OTHER_CITY)
    assert q.steps == [("distance", 0, 500), ("transfer", 500, 400)]


# -- combinations, in the documented order -----------------------------------------------------

def test_category_then_transfer_then_monthly(t):
    s = bus(t, card((2026, 11), 7500), "2026-11-30T07:30", category=STUDENT).state
    q = metro(t, s, "2026-11-30T08:00", "2026-11-30T08:40", category=STUDENT)
    # 500 -> 50 % -> 250 -> -100 -> 150 -> -10 % -> 135 (percent before fixed: not 200)
    assert q.steps == [("distance", 0, 500), ("category", 500, 250), ("transfer", 250, 150),
                       ("monthly", 150, 135)]
    assert q.fen == 135


def test_line_exception_comes_before_the_category(t):
    q = metro(t, card(), "2026-11-30T08:00", "2026-11-30T08:30", a=XZ, b=JC, category=STUDENT)
    assert q.steps == [("distance", 0, 400), ("line", 400, 300), ("category", 300, 150)]


def test_transfer_then_split_monthly_crossing(t):
    def change(src):
        src["monthly"][0]["crossing"] = "split"
    t2 = modified(change)
    s = bus(t2, card((2026, 11), 6900), "2026-11-30T07:30").state
    q = metro(t2, s, "2026-11-30T08:00", "2026-11-30T08:40")
    # 500 -> transfer 400; 100 below the threshold at full price, 300 above at 90 % = 270
    assert q.fen == 370


def test_free_category_ride_still_counts_as_the_previous_ride_for_a_transfer(t):
    s = metro(t, card(), "2026-11-30T10:00", "2026-11-30T10:40", category=SENIOR).state
    assert bus(t, s, "2026-11-30T17:00").fen == 200
    assert bus(t, s, "2026-11-30T11:00").fen == 100


# -- metro policies ----------------------------------------------------------------------------

def _host_max_fare(station):
    from host_tools.lib import tariff as host_tariff

    m = host_tariff.validate(farekit.source())
    return host_tariff.distance_fare(m, m.max_dam[m.index[station]])


def test_exit_without_entry_charges_the_maximum_fare_from_that_station(t):
    q = engine.metro_exit(t, card(), XZ, secs("2026-11-30T08:00"))
    assert q.fen == _host_max_fare(XZ)
    assert q.fen > 500
    assert q.steps == [("missing-entry", 0, q.fen)]


def test_missing_entry_fare_is_not_discounted(t):
    q = engine.metro_exit(t, card(), XZ, secs("2026-11-30T10:00"), category=SENIOR)
    assert q.fen == _host_max_fare(XZ)


def test_missing_entry_fixed_policy(t):
    def change(src):
        src["policies"]["missing_entry"] = {"kind": "fixed", "fen": 1000}
    assert engine.metro_exit(modified(change), card(), XZ, secs("2026-11-30T08:00")).fen == 1000


def test_entry_with_an_unclosed_journey_settles_the_maximum_fare_from_its_entry(t):
    s = engine.metro_entry(t, card(), LJZ, secs("2026-11-29T08:00"), TERMINAL).state
    q = engine.metro_entry(t, s, PS, secs("2026-11-30T08:00"), TERMINAL)
    assert q.fen == _host_max_fare(LJZ)
    assert q.steps == [("unclosed", 0, q.fen)]
    assert (q.state.entry_open, q.state.entry_station) == (True, PS)


def test_entry_with_no_open_journey_charges_nothing(t):
    q = engine.metro_entry(t, card(), PS, secs("2026-11-30T08:00"), TERMINAL)
    assert (q.fen, q.steps) == (0, [])
    assert q.state.entry_time == secs("2026-11-30T08:00")


def test_unclosed_policy_none_forgives_the_open_journey(t):
    def change(src):
        src["policies"]["unclosed_journey"] = {"kind": "none"}
    t2 = modified(change)
    s = engine.metro_entry(t2, card(), LJZ, secs("2026-11-29T08:00"), TERMINAL).state
    assert engine.metro_entry(t2, s, PS, secs("2026-11-30T08:00"), TERMINAL).fen == 0


def test_same_station_exit_at_exactly_the_grace_time_is_free(t):
    assert metro(t, card(), "2026-11-30T08:00", "2026-11-30T08:20", b=PS).fen == 0


def test_same_station_exit_after_grace_gets_the_discount_chain(t):
    q = metro(t, card(), "2026-11-30T10:00", "2026-11-30T10:30", b=PS, category=STUDENT)
    assert q.steps == [("distance", 0, 300), ("category", 300, 150)]


def test_overtime_surcharge_is_added_after_240_minutes(t):
    q = metro(t, card(), "2026-11-30T08:00", "2026-11-30T12:01")
    assert q.fen == 800
    assert q.steps[-1] == ("overtime", 500, 800)


def test_exactly_240_minutes_has_no_surcharge(t):
    assert metro(t, card(), "2026-11-30T08:00", "2026-11-30T12:00").fen == 500


def test_overtime_surcharge_is_not_discounted(t):
    q = metro(t, card(), "2026-11-30T10:00", "2026-11-30T14:30", category=SENIOR)
    assert q.steps == [("distance", 0, 500), ("category", 500, 0), ("overtime", 0, 300)]


def test_exit_closes_the_entry_and_records_the_ride(t):
    s = engine.metro_entry(t, card(), PS, secs("2026-11-30T08:00"), TERMINAL).state
    q = engine.metro_exit(t, s, XZ, secs("2026-11-30T08:40"))
    st = q.state
    assert (st.entry_open, st.last_mode, st.last_time, st.last_fare) == \
        (False, METRO, secs("2026-11-30T08:40"), 500)


def test_emergency_exit_is_free_and_flagged_and_the_next_entry_owes_nothing(t):
    s = engine.metro_entry(t, card(), PS, secs("2026-11-30T08:00"), TERMINAL).state
    q = engine.emergency_exit(s, secs("2026-11-30T08:30"))
    assert q.fen == 0
    assert q.state.flags & FLAG_EMERGENCY_EXIT
    assert not q.state.entry_open
    q2 = engine.metro_entry(t, q.state, PS, secs("2026-11-30T09:00"), TERMINAL)
    assert q2.fen == 0
    assert not q2.state.flags & FLAG_EMERGENCY_EXIT


def test_missing_entry_network_max_policy_charges_the_longest_trip(t):
    def change(src):
        src["policies"]["missing_entry"] = {"kind": "network_max"}
    # longest shortest path 107.00 km: 300 + ceil(101.00 / 10) x 100
    assert engine.metro_exit(modified(change), card(), LJZ, secs("2026-11-30T08:00")).fen == 1400


def test_unclosed_journey_from_a_station_the_tariff_no_longer_has_settles_the_network_max(t):
    s = engine.metro_entry(t, card(), PS, secs("2026-11-29T08:00"), TERMINAL).state
    s.entry_station = 9999
    assert engine.metro_entry(t, s, PS, secs("2026-11-30T08:00"), TERMINAL).fen == 1400
