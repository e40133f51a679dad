"""Social security application client: the holder data of a third-generation card
(docs/venue.md §1), over an ``Iso7816`` as ``card/purse.py`` is.

The application is selected by its AID; EF05 (the card) and EF06 (the holder) are
selected by file id and read record by record, each record one TLV whose tag is the record
number (READ RECORD, P1 the tag, P2 04)::

    holder = SscCard(iso).read(sam.match_key, caltime.date_of(clock.now()))

What the terminal keeps of it is ``Holder``: the card number, its dates, sex, birth date
and region code (from the ID number, GB 11643), the match key (a keyed hash of the ID
number, made by the SAM) and the ID number's last 4 characters. The ID number itself lives
only inside ``read``; the name is never read.

A card without the application refuses its SELECT (6A82): ``CardRefused("no social
security application")``; a record that is not what the layout says, or an ID number whose
check character is wrong: ``CardRefused("holder data unreadable")``. Select the purse again
before a purchase.
"""

from collections import namedtuple

from micropython import const

from ykt.errors import ApduError, CardRefused

AID = b"sx1.sh." + b"\xc9\xe7\xbb\xe1\xb1\xa3\xd5\xcf"  # "社会保障" in GBK
_EF05 = b"\xef\x05"
_EF06 = b"\xef\x06"
_TAG_CARD_NO = const(0x07)
_TAG_ISSUED = const(0x05)
_TAG_EXPIRES = const(0x06)
_TAG_ID = const(0x08)
_TAG_SEX = const(0x0A)
_SW_NOT_FOUND = const(0x6A82)
_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # GB 11643 weights

Holder = namedtuple(
    "Holder",
    (
        "card_id",  # the social security card number, 9 characters (EF05 tag 07)
        "issued",  # int YYYYMMDD
        "expires",  # int YYYYMMDD
        "sex",  # 1 male, 2 female (EF06 tag 0A)
        "birth",  # int YYYYMMDD, from the ID number
        "region",  # int, the ID number's 6-digit region code
        "match",  # 16 bytes: the SAM's keyed hash of the ID number
        "last4",  # the ID number's last 4 characters (what staff may see)
    ),
)

_UNREADABLE = "holder data unreadable"


def _bcd_date(b):
    if len(b) != 4:
        raise CardRefused(_UNREADABLE)
    v = 0
    for byte in b:
        hi, lo = byte >> 4, byte & 0x0F
        if hi > 9 or lo > 9:
            raise CardRefused(_UNREADABLE)
        v = v * 100 + hi * 10 + lo
    return v


def id_check(idn):
    """True if ``idn`` (18 ASCII bytes) is 17 digits and its ISO 7064 MOD 11-2 check
    character (GB 11643)."""
    if len(idn) != 18:
        return False
    total = 0
    for i in range(17):
        c = idn[i]
        if not 0x30 <= c <= 0x39:
            return False
        total += (c - 0x30) * _W[i]
    return idn[17] == b"10X98765432"[total % 11]


def age(birth, today):
    """Whole years from ``birth`` to ``today`` (both YYYYMMDD)."""
    years = today // 10000 - birth // 10000
    if today % 10000 < birth % 10000:
        years -= 1
    return years


class SscCard:
    """The social security application on one card, over an ``Iso7816``."""

    def __init__(self, iso):
        self._iso = iso

    def select(self):
        """SELECT the application by its AID."""
        try:
            self._iso.exchange(0x00, 0xA4, 0x04, 0x00, AID, 0)
        except ApduError as e:
            if e.sw == _SW_NOT_FOUND:
                raise CardRefused("no social security application")
            raise

    def _ef(self, fid):
        self._iso.exchange(0x00, 0xA4, 0x02, 0x00, fid)

    def _record(self, tag, size):
        r = self._iso.exchange(0x00, 0xB2, tag, 0x04, None, size + 2)
        if len(r) != size + 2 or r[0] != tag or r[1] != size:
            raise CardRefused(_UNREADABLE)
        return r[2:]

    def read(self, keyed_hash):
        """Select the application, read EF05 and EF06 -> ``Holder``. ``keyed_hash(id
        number bytes)`` makes the match key (``SoftSam.match_key``)."""
        self.select()
        self._ef(_EF05)
        raw_id = bytes(self._record(_TAG_CARD_NO, 9))
        issued = _bcd_date(self._record(_TAG_ISSUED, 4))
        expires = _bcd_date(self._record(_TAG_EXPIRES, 4))
        self._ef(_EF06)
        idn = bytes(self._record(_TAG_ID, 18))
        if not id_check(idn):
            raise CardRefused(_UNREADABLE)
        sex = self._record(_TAG_SEX, 1)[0] - 0x30
        birth = int(idn[6:14])
        region = int(idn[0:6])
        match = keyed_hash(idn)
        last4 = idn[14:18].decode()
        del idn
        try:
            card_id = raw_id.decode()
        except UnicodeError:
            raise CardRefused(_UNREADABLE)
        return Holder(card_id, issued, expires, sex, birth, region, match, last4)
