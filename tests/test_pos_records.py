"""The card's canteen record (record 2 of SFI 0x17): 48 bytes, docs/canteen.md section 7."""

import pytest

from ykt.pos.canteen_record import SIZE, CanteenRecord, RecordError, age_on, flag_bits
from ykt.pos.pricing import Sale

FULL = CanteenRecord(day=20250305, counts=[1, 2, 0, 0, 0, 255], day_spend=123456,
                     subsidy_used=True, subsidy_balance=4321, subsidy_expiry=20250331,
                     subsidy_batch=513, birth=19550228, flags=flag_bits(["resident", "dibao"]))


def sale(net, cash, subsidy=0, slot=1, daily_subsidy=0):
    s = Sale("fixed")
    s.net, s.cash, s.subsidy, s.period_slot, s.daily_subsidy = net, cash, subsidy, slot, \
        daily_subsidy
    return s


def test_record_encodes_to_48_bytes():
    assert len(FULL.encode()) == SIZE == 48


def test_record_round_trips_through_its_bytes():
    assert CanteenRecord.decode(FULL.encode()) == FULL


def test_record_fields_sit_at_their_documented_offsets():
    b = FULL.encode()
    assert b[0] == 0x01
    assert b[1:5] == bytes.fromhex("20250305")
    assert b[5:11] == bytes([1, 2, 0, 0, 0, 255])
    assert b[11:15] == (123456).to_bytes(4, "big")
    assert b[15] == 0x01
    assert b[16:20] == (4321).to_bytes(4, "big")
    assert b[20:24] == bytes.fromhex("20250331")
    assert b[24:26] == (513).to_bytes(2, "big")
    assert b[26:30] == bytes.fromhex("19550228")
    assert b[30] == 0x05
    assert b[31:] == bytes(17)


def test_blank_record_of_a_new_card_decodes_as_empty():
    r = CanteenRecord.decode(bytes(48))
    assert (r.day, r.counts, r.day_spend, r.subsidy_balance, r.birth) == (0, [0] * 6, 0, 0, 0)


def test_record_of_the_wrong_length_is_refused():
    with pytest.raises(RecordError, match="47 bytes, need 48"):
        CanteenRecord.decode(bytes(47))


def test_record_with_an_unknown_format_is_refused():
    data = bytearray(FULL.encode())
    data[0] = 2
    with pytest.raises(RecordError, match="format 2 not supported"):
        CanteenRecord.decode(bytes(data))


def test_record_with_a_non_bcd_date_is_refused():
    data = bytearray(FULL.encode())
    data[2] = 0x2A
    with pytest.raises(RecordError, match="day is not BCD"):
        CanteenRecord.decode(bytes(data))


def test_record_with_an_impossible_date_is_refused():
    data = bytearray(FULL.encode())
    data[20:24] = bytes.fromhex("20250230")
    with pytest.raises(RecordError, match="subsidy expiry 20250230 is not a date"):
        CanteenRecord.decode(bytes(data))


def test_record_cannot_encode_an_out_of_range_count():
    r = FULL.copy()
    r.counts[0] = 256
    with pytest.raises(RecordError, match="period count 256"):
        r.encode()


def test_counters_of_another_day_read_as_zero_today():
    r = FULL.on(20250306)
    assert (r.day, r.counts, r.day_spend, r.subsidy_used) == (20250306, [0] * 6, 0, False)
    assert (r.subsidy_balance, r.birth) == (4321, 19550228)


def test_counters_of_today_are_kept():
    assert FULL.on(20250305) == FULL


def test_sale_raises_its_period_count_and_the_days_spend():
    r = CanteenRecord().after_sale(sale(net=1150, cash=1150, slot=1), 20250305)
    assert (r.day, r.counts, r.day_spend) == (20250305, [0, 1, 0, 0, 0, 0], 1150)


def test_sale_takes_its_subsidy_part_from_the_subsidy_purse():
    before = CanteenRecord(subsidy_balance=500, subsidy_expiry=20250331)
    r = before.after_sale(sale(net=1200, cash=700, subsidy=500), 20250305)
    assert r.subsidy_balance == 0


def test_sale_with_a_daily_subsidy_marks_it_used():
    r = CanteenRecord().after_sale(sale(net=1150, cash=1150, daily_subsidy=200), 20250305)
    assert r.subsidy_used is True


def test_sale_on_a_new_day_starts_the_counters_afresh():
    r = FULL.after_sale(sale(net=100, cash=100, slot=0), 20250306)
    assert (r.counts, r.day_spend, r.subsidy_used) == ([1, 0, 0, 0, 0, 0], 100, False)


def test_sale_cannot_spend_an_expired_subsidy_purse():
    before = CanteenRecord(subsidy_balance=500, subsidy_expiry=20250304)
    with pytest.raises(RecordError, match="subsidy purse has less than 500"):
        before.after_sale(sale(net=500, cash=0, subsidy=500), 20250305)


def test_refused_sale_is_not_written():
    s = sale(net=0, cash=0)
    s.refused = "outside meal periods"
    with pytest.raises(RecordError, match="refused"):
        CanteenRecord().after_sale(s, 20250305)


@pytest.mark.parametrize("birth,today,age", [
    (19650306, 20250305, 59), (19650306, 20250306, 60), (19450101, 20241231, 79),
    (19600229, 20250228, 64), (19600229, 20250301, 65),
])
def test_age_is_counted_in_completed_years(birth, today, age):
    assert age_on(birth, today) == age
