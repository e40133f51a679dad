"""The card's 48-byte transit state record (SFI 0x17 record 1) and the fare calendar."""

import datetime
import struct

import pytest

from ykt import caltime
from ykt.fare import transit_record as tr


def _state():
    s = tr.TransitState()
    s.flags = tr.FLAG_ENTRY_OPEN
    s.entry_station = 2035
    s.entry_time = caltime.secs(2026, 11, 30, 8, 0, 5)
    s.entry_terminal = bytes.fromhex("0102030405a1")
    s.last_mode = 2
    s.last_time = caltime.secs(2026, 11, 30, 7, 40)
    s.last_fare = 200
    s.month = (2026, 11)
    s.month_spend = 7450
    s.month_rides = 17
    return s


def test_record_is_48_bytes():
    assert len(tr.encode(_state())) == tr.SIZE == 48


def test_encode_decode_round_trip():
    assert tr.decode(tr.encode(_state())) == _state()


def test_fields_sit_at_their_documented_offsets():
    b = tr.encode(_state())
    assert b[0] == 1
    assert b[1] == tr.FLAG_ENTRY_OPEN
    assert struct.unpack(">H", b[2:4])[0] == 2035
    assert struct.unpack(">I", b[4:8])[0] == caltime.secs(2026, 11, 30, 8, 0, 5)
    assert b[8:14] == bytes.fromhex("0102030405a1")
    assert b[14] == 2
    assert struct.unpack(">I", b[20:24])[0] == 200
    assert struct.unpack(">HB", b[24:27]) == (2026, 11)
    assert struct.unpack(">I", b[28:32])[0] == 7450
    assert struct.unpack(">H", b[32:34])[0] == 17
    assert b[34:46] == bytes(12)  # no exit yet: last station 0, the rest reserved


def test_crc_is_crc16_ccitt_false_over_the_first_46_bytes():
    b = tr.encode(_state())
    crc = 0xFFFF
    for byte in b[:46]:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    assert struct.unpack(">H", b[46:48])[0] == crc
    assert tr.crc16(b"123456789", 9) == 0x29B1  # the published check value


def test_blank_card_record_is_a_blank_state():
    s = tr.decode(bytes(48))
    assert (s.entry_open, s.last_mode, s.month, s.month_spend) == (False, 0, None, 0)


def test_corrupted_record_is_refused():
    b = bytearray(tr.encode(_state()))
    b[30] ^= 0x01
    with pytest.raises(ValueError, match="bad CRC"):
        tr.decode(bytes(b))


def test_unknown_layout_version_is_refused():
    b = bytearray(tr.encode(_state()))
    b[0] = 7
    with pytest.raises(ValueError, match="layout version 7"):
        tr.decode(bytes(b))


def test_wrong_length_is_refused():
    with pytest.raises(ValueError, match="47 bytes"):
        tr.decode(bytes(47))


def test_value_that_does_not_fit_is_refused():
    s = _state()
    s.entry_station = 70000
    with pytest.raises(ValueError, match="entry station"):
        tr.encode(s)


@pytest.mark.parametrize("when", ["2000-01-01T00:00:00", "2024-02-29T23:59:59",
                                  "2026-11-30T08:00:00", "2100-03-01T12:00:00",
                                  "2099-12-31T00:00:01"])
def test_calendar_seconds_agree_with_python_datetime(when):
    d = datetime.datetime.fromisoformat(when)
    t = caltime.secs(d.year, d.month, d.day, d.hour, d.minute, d.second)
    assert t == int((d - datetime.datetime(2000, 1, 1)).total_seconds())
    assert caltime.civil(t) == (d.year, d.month, d.day, d.hour, d.minute, d.second)
    assert caltime.weekday(t) == d.weekday()


def test_every_day_from_2000_to_2060_round_trips():
    day = datetime.date(2000, 1, 1)
    end = datetime.date(2060, 1, 1)
    while day < end:
        t = caltime.secs(day.year, day.month, day.day)
        assert caltime.civil(t)[:3] == (day.year, day.month, day.day)
        day += datetime.timedelta(days=1)
