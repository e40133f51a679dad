"""The card's canteen state: record 2 of SFI 0x17 (docs/purse.md 2.3), 48 bytes.

Layout (big-endian, docs/canteen.md section 7):

====  ===  ==========================================================
 off  len  field
====  ===  ==========================================================
   0    1  format: ``01`` (a record of all zero bytes is a new card)
   1    4  day the counters belong to, BCD ``YYYYMMDD`` (zero: none)
   5    6  sales today per meal period, one byte per period slot 0..5
  11    4  amount spent today, fen (net of both purses)
  15    1  day flags: bit 0 = today's daily subsidy used
  16    4  subsidy purse balance, fen
  20    4  subsidy purse expiry, BCD ``YYYYMMDD``, last usable day (zero: none)
  24    2  subsidy batch number last loaded (zero: none), for the back office
  26    4  cardholder's birth date, BCD ``YYYYMMDD`` (zero: not enrolled)
  30    1  eligibility flags: bit 0 district resident, bit 1 Shanghai hukou,
           bit 2 minimum-living-allowance (低保); other bits zero
  31   17  reserved, zero
====  ===  ==========================================================

The card's purse has one balance (the *cash purse*); the *subsidy purse* lives here.
The terminal writes this record with UPDATE CAPP DATA CACHE and then sends DEBIT FOR
PURCHASE (type 09) for the cash part (possibly 0): the card commits the record and
the debit together or neither, so the subsidy purse, the day's counters and the cash
purse always move as one transaction.

Dates are whole numbers ``YYYYMMDD`` (20250715) everywhere in ``ykt.pos``.
"""

import struct

from ykt.caltime import is_leap

FORMAT = 1
SIZE = 48
RECORD_NO = 2
SLOTS = 6
FLAG_NAMES = ("resident", "hukou", "dibao")  # eligibility bits 0, 1, 2
_FLAGS_MASK = 0x07
_DAY_SUBSIDY_USED = 0x01
_U32 = 0xFFFFFFFF

# >B 4s 6B I B I 4s H 4s B 17x  = 48 bytes
_FMT = ">B4s6BIBI4sH4sB17x"


class RecordError(ValueError):
    """The canteen record cannot be read or written (``args[0]`` says why)."""


def valid_date(d):
    """True when ``d`` (``YYYYMMDD``) is a real calendar day, years 2000..2099 or 1900..1999."""
    y, m, day = d // 10000, d // 100 % 100, d % 100
    if not 1900 <= y <= 2099 or not 1 <= m <= 12 or day < 1:
        return False
    if m == 2:
        return day <= (29 if is_leap(y) else 28)
    return day <= (30 if m in (4, 6, 9, 11) else 31)


def age_on(birth, today):
    """Completed years between two ``YYYYMMDD`` days (a 29 Feb birthday counts from 1 Mar)."""
    return today // 10000 - birth // 10000 - (1 if today % 10000 < birth % 10000 else 0)


def _bcd_date(d, what):
    if d == 0:
        return b"\x00\x00\x00\x00"
    if not valid_date(d):
        raise RecordError("canteen record: %s %r is not a date" % (what, d))
    s = "%08d" % d
    out = bytearray(4)
    for i in range(4):
        out[i] = (int(s[2 * i]) << 4) | int(s[2 * i + 1])
    return bytes(out)


def _date_bcd(b, what):
    v = 0
    for x in b:
        hi, lo = x >> 4, x & 0x0F
        if hi > 9 or lo > 9:
            raise RecordError("canteen record: %s is not BCD" % what)
        v = v * 100 + hi * 10 + lo
    if v != 0 and not valid_date(v):
        raise RecordError("canteen record: %s %08d is not a date" % (what, v))
    return v


class CanteenRecord:
    def __init__(self, day=0, counts=None, day_spend=0, subsidy_used=False, subsidy_balance=0,
                 subsidy_expiry=0, subsidy_batch=0, birth=0, flags=0):
        self.day = day
        self.counts = list(counts) if counts is not None else [0] * SLOTS
        self.day_spend = day_spend
        self.subsidy_used = subsidy_used
        self.subsidy_balance = subsidy_balance
        self.subsidy_expiry = subsidy_expiry
        self.subsidy_batch = subsidy_batch
        self.birth = birth
        self.flags = flags

    def _fields(self):
        return (self.day, tuple(self.counts), self.day_spend, self.subsidy_used,
                self.subsidy_balance, self.subsidy_expiry, self.subsidy_batch, self.birth,
                self.flags)

    def __eq__(self, other):
        return isinstance(other, CanteenRecord) and self._fields() == other._fields()

    def __repr__(self):
        return "CanteenRecord%r" % (self._fields(),)

    def copy(self):
        return CanteenRecord(self.day, self.counts, self.day_spend, self.subsidy_used,
                             self.subsidy_balance, self.subsidy_expiry, self.subsidy_batch,
                             self.birth, self.flags)

    def encode(self):
        if len(self.counts) != SLOTS:
            raise RecordError("canteen record: %d period counts, need %d" % (len(self.counts),
                                                                           SLOTS))
        for c in self.counts:
            if not 0 <= c <= 255:
                raise RecordError("canteen record: period count %r out of range 0..255" % c)
        for v, what in ((self.day_spend, "day spend"), (self.subsidy_balance,
                                                         "subsidy balance")):
            if not 0 <= v <= _U32:
                raise RecordError("canteen record: %s %r out of range" % (what, v))
        if not 0 <= self.subsidy_batch <= 0xFFFF:
            raise RecordError("canteen record: subsidy batch %r out of range" % self.subsidy_batch)
        if self.flags & ~_FLAGS_MASK:
            raise RecordError("canteen record: unknown eligibility flags %#x" % self.flags)
        c = self.counts
        return struct.pack(_FMT, FORMAT, _bcd_date(self.day, "day"), c[0], c[1], c[2], c[3],
                           c[4], c[5], self.day_spend,
                           _DAY_SUBSIDY_USED if self.subsidy_used else 0,
                           self.subsidy_balance, _bcd_date(self.subsidy_expiry, "subsidy expiry"),
                           self.subsidy_batch, _bcd_date(self.birth, "birth date"), self.flags)

    @staticmethod
    def decode(data):
        """48 bytes -> CanteenRecord. All zero bytes (a new card) decode to an empty record."""
        if len(data) != SIZE:
            raise RecordError("canteen record: %d bytes, need %d" % (len(data), SIZE))
        v = struct.unpack(_FMT, bytes(data))
        if v[0] == 0:
            for b in data:
                if b:
                    raise RecordError("canteen record: format 0 but not blank")
            return CanteenRecord()
        if v[0] != FORMAT:
            raise RecordError("canteen record: format %d not supported" % v[0])
        if v[9] & ~_DAY_SUBSIDY_USED:
            raise RecordError("canteen record: unknown day flags %#x" % v[9])
        if v[14] & ~_FLAGS_MASK:
            raise RecordError("canteen record: unknown eligibility flags %#x" % v[14])
        return CanteenRecord(_date_bcd(v[1], "day"), v[2:8], v[8], bool(v[9]), v[10],
                             _date_bcd(v[11], "subsidy expiry"), v[12],
                             _date_bcd(v[13], "birth date"), v[14])

    def on(self, today):
        """This record as seen on ``today``: a copy whose day counters are reset when the
        counters belong to another day."""
        r = self.copy()
        if r.day != today:
            r.day = today
            r.counts = [0] * SLOTS
            r.day_spend = 0
            r.subsidy_used = False
        return r

    def subsidy_usable(self, today):
        """Fen of the subsidy purse usable on ``today`` (0 once past its expiry day)."""
        if self.subsidy_expiry == 0 or today > self.subsidy_expiry:
            return 0
        return self.subsidy_balance

    def after_sale(self, sale, today):
        """The record to write with the sale's debit (``sale`` from ``pricing.price_sale``)."""
        if sale.refused is not None:
            raise RecordError("canteen record: a refused sale is not written")
        r = self.on(today)
        if sale.period_slot is not None:
            r.counts[sale.period_slot] = min(255, r.counts[sale.period_slot] + 1)
        r.day_spend = min(_U32, r.day_spend + sale.net)
        if sale.daily_subsidy:
            r.subsidy_used = True
        if sale.subsidy > r.subsidy_usable(today):
            raise RecordError("canteen record: subsidy purse has less than %d" % sale.subsidy)
        r.subsidy_balance -= sale.subsidy
        return r


def flag_bits(names):
    """``["resident", "hukou"]`` -> 0x03."""
    m = 0
    for n in names:
        m |= 1 << FLAG_NAMES.index(n)
    return m
