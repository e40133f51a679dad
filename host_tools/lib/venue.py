"""The venue gate's data (docs/venue.md): a day's timed-entry bookings as the payload of an
update of kind 10 ``bookings``, the venue's price rules, the Yangtze River Delta's cities.

A bookings source (JSON, what a booking system exports)::

    {"date": "2026-12-05",
     "slots": [{"start": "09:00", "end": "10:00", "capacity": 6}, ...],
     "bookings": [{"id": 1001, "id_number": "320502199001011234", "slot": "09:00",
                   "people": 2, "paid_fen": 4000}, ...]}

A booking names its holder by ``id_number`` (turned into the match key here, with the match
secret, and never written anywhere) or by ``match_key`` (32 hex digits, from a system that
already holds only match keys); ``due_fen`` is what the gate debits from the card at entry.

The payload (big-endian; ``firmware/ykt/venue/bookings.py`` reads it): ``YKTB``, format 1,
version (4, the envelope's), date YYYYMMDD (4), slot count (1), booking count (2); per slot
start and end (minutes after midnight, 2 each) and capacity (2); per booking id (4), match key
(16), slot index (1), people (1), paid (4), due (4) in fen.
"""

from __future__ import annotations

import datetime
import struct
from typing import Any

from host_tools.lib.errors import BadInput
from host_tools.lib.qr import match_key

MAGIC = b"YKTB"
FORMAT = 1
HEAD = ">4sBIIBH"
HEAD_SIZE = struct.calcsize(HEAD)
SLOT = ">HHH"
BOOKING = ">I16sBBII"
BOOKING_SIZE = struct.calcsize(BOOKING)
MAX_SLOTS = 48
MAX_BOOKINGS = 20000
MAX_PEOPLE = 20

# The Yangtze River Delta's 41 cities (长三角: Shanghai and every prefecture-level city of
# Jiangsu, Zhejiang and Anhui) by the first 4 digits of the region code (GB/T 2260) an ID
# number starts with; Shanghai by its 2 (3101 districts, 3102 the former counties).
YRD_CITIES = {
    "31": "Shanghai",
    "3201": "Nanjing", "3202": "Wuxi", "3203": "Xuzhou", "3204": "Changzhou", "3205": "Suzhou",
    "3206": "Nantong", "3207": "Lianyungang", "3208": "Huai'an", "3209": "Yancheng",
    "3210": "Yangzhou", "3211": "Zhenjiang", "3212": "Taizhou (Jiangsu)", "3213": "Suqian",
    "3301": "Hangzhou", "3302": "Ningbo", "3303": "Wenzhou", "3304": "Jiaxing", "3305": "Huzhou",
    "3306": "Shaoxing", "3307": "Jinhua", "3308": "Quzhou", "3309": "Zhoushan",
    "3310": "Taizhou (Zhejiang)", "3311": "Lishui",
    "3401": "Hefei", "3402": "Wuhu", "3403": "Bengbu", "3404": "Huainan", "3405": "Ma'anshan",
    "3406": "Huaibei", "3407": "Tongling", "3408": "Anqing", "3410": "Huangshan",
    "3411": "Chuzhou", "3412": "Fuyang", "3413": "Suzhou (Anhui)", "3415": "Lu'an",
    "3416": "Bozhou", "3417": "Chizhou", "3418": "Xuancheng",
}


def _minutes(text: Any, where: str) -> int:
    try:
        t = datetime.datetime.strptime(str(text), "%H:%M")
    except ValueError:
        raise BadInput("%s: %r is not a time like 09:30" % (where, text)) from None
    return t.hour * 60 + t.minute


def _whole(v: Any, where: str, low: int, high: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        raise BadInput("%s: must be a whole number %d..%d" % (where, low, high))
    return v


def _date(text: Any) -> int:
    try:
        d = datetime.date.fromisoformat(str(text))
    except ValueError:
        raise BadInput("bookings: date %r is not a date like 2026-12-05" % (text,)) from None
    return d.year * 10000 + d.month * 100 + d.day


def _match(b: dict, where: str, secret: bytes | None) -> bytes:
    if ("id_number" in b) == ("match_key" in b):
        raise BadInput("%s: give one of 'id_number' and 'match_key'" % where)
    if "match_key" in b:
        try:
            key = bytes.fromhex(str(b["match_key"]))
        except ValueError:
            key = b""
        if len(key) != 16:
            raise BadInput("%s.match_key: must be 32 hex digits" % where)
        return key
    if secret is None:
        raise BadInput("%s: an id_number needs the match secret (--match-secret-file)" % where)
    from host_tools.lib.qr import id_fields

    try:
        id_fields(str(b["id_number"]))
    except BadInput as e:
        raise BadInput("%s.id_number: %s" % (where, e)) from None
    return match_key(secret, str(b["id_number"]))


def bookings_payload(src: Any, version: int, secret: bytes | None = None) -> bytes:
    """The payload of a bookings update from a source (the module docstring); BadInput names
    the first wrong place."""
    if not isinstance(src, dict):
        raise BadInput("bookings: the source is a JSON object with date, slots, bookings")
    unknown = set(src) - {"date", "slots", "bookings"}
    if unknown:
        raise BadInput("bookings: unknown key %s" % sorted(unknown)[0])
    _whole(version, "bookings: version", 1, 0xFFFFFFFF)
    date = _date(src.get("date"))
    slots = src.get("slots")
    if not isinstance(slots, list) or not 1 <= len(slots) <= MAX_SLOTS:
        raise BadInput("bookings: slots must be a list of 1..%d slots" % MAX_SLOTS)
    out_slots = []
    starts: dict[int, int] = {}
    for i, s in enumerate(slots):
        w = "bookings: slots[%d]" % i
        if not isinstance(s, dict) or set(s) - {"start", "end", "capacity"}:
            raise BadInput("%s: an object with start, end and capacity" % w)
        start, end = _minutes(s.get("start"), w + ".start"), _minutes(s.get("end"), w + ".end")
        if end <= start:
            raise BadInput("%s: ends before it starts" % w)
        cap = _whole(s.get("capacity"), w + ".capacity", 0, 0xFFFF)
        if start in starts:
            raise BadInput("%s: a second slot starting at %s" % (w, s["start"]))
        starts[start] = i
        out_slots.append((start, end, cap))
    books = src.get("bookings", [])
    if not isinstance(books, list) or len(books) > MAX_BOOKINGS:
        raise BadInput("bookings: bookings must be a list of at most %d" % MAX_BOOKINGS)
    seen: set[int] = set()
    booked = [0] * len(out_slots)
    out = []
    for i, b in enumerate(books):
        w = "bookings: bookings[%d]" % i
        if not isinstance(b, dict):
            raise BadInput("%s: must be an object" % w)
        extra = set(b) - {"id", "id_number", "match_key", "slot", "people", "paid_fen",
                          "due_fen"}
        if extra:
            raise BadInput("%s.%s: unknown key" % (w, sorted(extra)[0]))
        bid = _whole(b.get("id"), w + ".id", 1, 0xFFFFFFFF)
        if bid in seen:
            raise BadInput("%s: booking id %d twice" % (w, bid))
        seen.add(bid)
        slot = starts.get(_minutes(b.get("slot"), w + ".slot"))
        if slot is None:
            raise BadInput("%s.slot: no slot starts at %s" % (w, b.get("slot")))
        people = _whole(b.get("people", 1), w + ".people", 1, MAX_PEOPLE)
        paid = _whole(b.get("paid_fen", 0), w + ".paid_fen", 0, 0xFFFFFFFF)
        due = _whole(b.get("due_fen", 0), w + ".due_fen", 0, 100000)
        booked[slot] += people
        out.append(struct.pack(BOOKING, bid, _match(b, w, secret), slot, people, paid, due))
    for i, (start, _, cap) in enumerate(out_slots):
        if booked[i] > cap:
            raise BadInput("bookings: slot %02d:%02d has %d people booked, capacity %d"
                           % (start // 60, start % 60, booked[i], cap))
    head = struct.pack(HEAD, MAGIC, FORMAT, version, date, len(out_slots), len(out))
    return head + b"".join(struct.pack(SLOT, *s) for s in out_slots) + b"".join(out)


def read_bookings(payload: bytes) -> dict[str, Any]:
    """A bookings payload as a dict (match keys shown by their first 4 bytes); BadInput if it
    is not one."""
    if len(payload) < HEAD_SIZE or payload[:4] != MAGIC or payload[4] != FORMAT:
        raise BadInput("bookings: not a bookings payload (YKTB, format 1)")
    _, _, version, date, ns, nb = struct.unpack(HEAD, payload[:HEAD_SIZE])
    if len(payload) != HEAD_SIZE + 6 * ns + BOOKING_SIZE * nb:
        raise BadInput("bookings: %d slots and %d bookings do not make %d bytes"
                       % (ns, nb, len(payload)))
    slots = []
    for i in range(ns):
        start, end, cap = struct.unpack(SLOT, payload[HEAD_SIZE + 6 * i:HEAD_SIZE + 6 * i + 6])
        slots.append({"start": "%02d:%02d" % divmod(start, 60),
                      "end": "%02d:%02d" % divmod(end, 60), "capacity": cap})
    at = HEAD_SIZE + 6 * ns
    books = []
    for i in range(nb):
        bid, key, slot, people, paid, due = struct.unpack(
            BOOKING, payload[at + i * BOOKING_SIZE:at + (i + 1) * BOOKING_SIZE])
        books.append({"id": bid, "match_key": key[:4].hex() + "…", "slot": slot,
                      "people": people, "paid_fen": paid, "due_fen": due})
    return {"version": version, "date": "%04d-%02d-%02d" % (date // 10000, date // 100 % 100,
                                                            date % 100),
            "slots": slots, "bookings": books}


def bookings_version(payload: bytes) -> int:
    """The version a bookings payload gives itself (the envelope's must be it)."""
    return int(read_bookings(payload)["version"])


# -- the venue's rules (config "venue") ------------------------------------

DEFAULT_RULES: dict[str, Any] = {"price_fen": 5000, "walk_in": True, "resident_pct": 80,
                                 "residents": "yrd", "ages": [[70, 0], [60, 50]]}


def rules(obj: Any) -> dict[str, Any]:
    """A venue's price rules, checked (docs/venue.md §3): ``price_fen`` the full walk-in
    price; ``walk_in`` whether walk-ins are sold; ``resident_pct`` what residents pay, in
    percent, of the cities ``residents`` ("yrd": the 41 of ``YRD_CITIES``, or a list of
    region-code prefixes of 2, 4 or 6 digits); ``ages`` [[from age, percent], ...] for
    seniors. The visitor pays the lowest price that applies."""
    r = dict(DEFAULT_RULES)
    if not isinstance(obj, dict):
        raise BadInput("venue rules: a JSON object")
    extra = set(obj) - set(DEFAULT_RULES)
    if extra:
        raise BadInput("venue rules: unknown key %s" % sorted(extra)[0])
    r.update(obj)
    _whole(r["price_fen"], "venue rules: price_fen", 0, 1000000)
    _whole(r["resident_pct"], "venue rules: resident_pct", 0, 100)
    if not isinstance(r["walk_in"], bool):
        raise BadInput("venue rules: walk_in must be true or false")
    res = r["residents"]
    if res != "yrd" and not (isinstance(res, list) and all(
            isinstance(p, str) and p.isdigit() and len(p) in (2, 4, 6) for p in res)):
        raise BadInput("venue rules: residents is \"yrd\" or a list of region-code prefixes")
    ages = r["ages"]
    if not isinstance(ages, list) or not all(
            isinstance(a, list) and len(a) == 2 for a in ages):
        raise BadInput("venue rules: ages is a list of [from age, percent]")
    for a in ages:
        _whole(a[0], "venue rules: ages", 0, 150)
        _whole(a[1], "venue rules: ages", 0, 100)
    return r
