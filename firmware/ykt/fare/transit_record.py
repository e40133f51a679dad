"""The card's transit state: record 1 of SFI 0x17 (48 bytes, docs/purse.md §2.3, docs/fares.md).

Gates and validators read it before charging and write the new state with UPDATE CAPP DATA
CACHE inside the composite purchase, so the state and the debit commit together.

Layout (big-endian, times are seconds since 2000-01-01 00:00:00 local time)::

    0  1  layout version: 01 (00 = blank: a new card's all-zero record)
    1  1  flags: bit 0 entry open, bit 1 last journey closed by an emergency exit,
          bit 2 the open entry was re-used once at its station (a torn entry),
          bit 3 the last exit was re-used once at its station (a torn exit)
    2  2  entry station id
    4  4  entry time
    8  6  entry terminal (gate) id
    14 1  last ride mode: 0 none, 1 metro, 2 bus, 3 ferry
    15 1  reserved (0)
    16 4  last ride time (metro: exit; bus/ferry: the tap)
    20 4  last ride fare, fen
    24 2  month of the counters: year (0 = none)
    26 1  month of the counters: month 1-12 (0 = none)
    27 1  reserved (0)
    28 4  month-to-date metro spend, fen
    32 2  month-to-date metro rides
    34 2  last metro exit station id (0: none)
    36 10 reserved (0)
    46 2  CRC-16/CCITT-FALSE (poly 1021, init FFFF) of bytes 0-45
"""

import struct

SIZE = 48
RECORD_NO = 1
SFI = 0x17
VERSION = 1

FLAG_ENTRY_OPEN = 0x01
FLAG_EMERGENCY_EXIT = 0x02
FLAG_REENTERED = 0x04
FLAG_REEXITED = 0x08

_FMT = ">BBHI6sBBIIHBBIH"  # bytes 0-33
_HEAD = 34
_LAST_STATION = 34
_CRC_AT = 46


def crc16(data, n):
    crc = 0xFFFF
    for i in range(n):
        crc ^= data[i] << 8
        for _ in range(8):
            if crc & 0x8000:
                crc = ((crc << 1) ^ 0x1021) & 0xFFFF
            else:
                crc = (crc << 1) & 0xFFFF
    return crc


class TransitState:
    """Decoded record. ``month`` is ``(year, month)`` or ``None``."""

    def __init__(self):
        self.flags = 0
        self.entry_station = 0
        self.entry_time = 0
        self.entry_terminal = bytes(6)
        self.last_mode = 0
        self.last_time = 0
        self.last_fare = 0
        self.month = None
        self.month_spend = 0
        self.month_rides = 0
        self.last_station = 0

    @property
    def entry_open(self):
        return bool(self.flags & FLAG_ENTRY_OPEN)

    def copy(self):
        s = TransitState()
        s.flags = self.flags
        s.entry_station = self.entry_station
        s.entry_time = self.entry_time
        s.entry_terminal = self.entry_terminal
        s.last_mode = self.last_mode
        s.last_time = self.last_time
        s.last_fare = self.last_fare
        s.month = self.month
        s.month_spend = self.month_spend
        s.month_rides = self.month_rides
        s.last_station = self.last_station
        return s

    def as_tuple(self):
        return (self.flags, self.entry_station, self.entry_time, bytes(self.entry_terminal),
                self.last_mode, self.last_time, self.last_fare, self.month, self.month_spend,
                self.month_rides, self.last_station)

    def __eq__(self, other):
        return isinstance(other, TransitState) and self.as_tuple() == other.as_tuple()

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return "TransitState%r" % (self.as_tuple(),)


def _u(v, bits, what):
    if not isinstance(v, int) or v < 0 or v >= 1 << bits:
        raise ValueError("transit record: %s %r out of range" % (what, v))
    return v


def encode(state):
    """48 bytes for UPDATE CAPP DATA CACHE; ValueError if a field does not fit."""
    term = bytes(state.entry_terminal)
    if len(term) != 6:
        raise ValueError("transit record: entry terminal id must be 6 bytes")
    if state.month is None:
        y, mo = 0, 0
    else:
        y, mo = state.month
        if not 1 <= mo <= 12:
            raise ValueError("transit record: month %r out of range" % (mo,))
    buf = bytearray(SIZE)
    struct.pack_into(_FMT, buf, 0, VERSION, _u(state.flags, 8, "flags"),
                     _u(state.entry_station, 16, "entry station"),
                     _u(state.entry_time, 32, "entry time"), term,
                     _u(state.last_mode, 8, "last mode"), 0,
                     _u(state.last_time, 32, "last time"), _u(state.last_fare, 32, "last fare"),
                     _u(y, 16, "year"), mo, 0, _u(state.month_spend, 32, "month spend"),
                     _u(state.month_rides, 16, "month rides"))
    struct.pack_into(">H", buf, _LAST_STATION, _u(state.last_station, 16, "last station"))
    struct.pack_into(">H", buf, _CRC_AT, crc16(buf, _CRC_AT))
    return bytes(buf)


def decode(data):
    """TransitState of a 48-byte record. A blank (all-zero) record is a blank state.

    ValueError for a wrong length, an unknown layout version or a bad CRC: the record was
    written by something else, and the caller decides (docs/fares.md: a gate treats it as
    blank and reports it).
    """
    if len(data) != SIZE:
        raise ValueError("transit record: %d bytes, expected %d" % (len(data), SIZE))
    if data[0] == 0:
        for b in data:
            if b:
                raise ValueError("transit record: version 0 but not blank")
        return TransitState()
    if data[0] != VERSION:
        raise ValueError("transit record: unknown layout version %d" % data[0])
    if struct.unpack_from(">H", data, _CRC_AT)[0] != crc16(data, _CRC_AT):
        raise ValueError("transit record: bad CRC")
    f = struct.unpack_from(_FMT, data, 0)
    s = TransitState()
    s.flags = f[1]
    s.entry_station = f[2]
    s.entry_time = f[3]
    s.entry_terminal = bytes(f[4])
    s.last_mode = f[5]
    s.last_time = f[7]
    s.last_fare = f[8]
    s.month = (f[9], f[10]) if f[10] else None
    s.month_spend = f[12]
    s.month_rides = f[13]
    s.last_station = struct.unpack_from(">H", data, _LAST_STATION)[0]
    return s
