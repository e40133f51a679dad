"""Build denylist files for the terminal (docs/stores.md, "Denylist").

- ``parse_list(lines, source)``: text/CSV input, one card number a line with an
  optional reason (name or code), ``#`` comments and blank lines ignored.
- ``build_base(entries, version)`` and ``build_delta(base_version, version, add,
  remove)`` return the file bytes (the payload of an update file).
- ``read_base`` / ``read_delta`` decode them; ``merge`` folds a delta into a new base.
- ``sample_numbers(n)``: card numbers as an issuer's denylist looks (bench/denylist.py
  measures a 250,000-entry file).
"""

from __future__ import annotations

import binascii
import os
import random
import struct
from collections.abc import Iterable

from host_tools.lib.errors import BadInput

MAGIC = b"YKDL"
DELTA_MAGIC = b"YKDD"
FORMAT = 1
HEADER_FMT = ">4sBBHIIIIII"
DELTA_FMT = ">4sBBHIIII"
HEADER_SIZE = struct.calcsize(HEADER_FMT)
DELTA_HEADER_SIZE = struct.calcsize(DELTA_FMT)
KEY_SIZE = 9
REC_SIZE = 10
DEFAULT_PAGE_SIZE = 1024
UINT32_MAX = 0xFFFFFFFF

REASONS = {
    "lost": 1,
    "stolen": 2,
    "blocked": 3,
    "cancelled": 4,
    "replaced": 5,
    "fraud": 6,
    "other": 7,
}
DEFAULT_REASON = REASONS["other"]


def _reason(text: str, where: str) -> int:
    text = text.strip().lower()
    if text.isdigit() and 1 <= int(text) <= 255:
        return int(text)
    if text in REASONS:
        return REASONS[text]
    raise BadInput("%s: bad reason %r (a code 1-255 or one of %s)"
                     % (where, text, ", ".join(REASONS)))


def parse_list(lines: Iterable[str], source: str = "input") -> list[tuple[str, int]]:
    """[(card_no, reason)] from lines ``NUMBER[,REASON]``; the last of duplicates wins."""
    out = {}
    for n, raw in enumerate(lines, 1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        parts = [p for p in text.replace(",", " ").replace(";", " ").split() if p]
        where = "%s line %d" % (source, n)
        number = parts[0]
        if len(number) != 20 or not number.isdigit():
            raise BadInput("%s: bad card number %r (need 20 digits)" % (where, number))
        if len(parts) > 2:
            raise BadInput("%s: expected NUMBER[,REASON], got %r" % (where, text))
        out[number] = _reason(parts[1], where) if len(parts) == 2 else DEFAULT_REASON
    return sorted(out.items())


def read_list(path: str) -> list[tuple[str, int]]:
    """parse_list of a file."""
    with open(path, encoding="utf-8-sig") as f:
        return parse_list(f, os.path.basename(path))


def _check_version(v: int, name: str = "version") -> None:
    if not 1 <= v <= UINT32_MAX:
        raise BadInput("%s must be 1..%d" % (name, UINT32_MAX))


def _varint(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _pages(items: list[tuple[int, int]], page_size: int) -> list[bytes]:
    """Cut sorted (key, reason) into pages: first key and reason, then varint deltas."""
    pages = []
    page: bytearray | None = None
    prev = reason = 0
    for key, r in items:
        if page is not None:
            v = ((key - prev) << 1) | (r != reason)
            enc = _varint(v) + (bytes((r,)) if r != reason else b"")
            if len(page) + len(enc) <= page_size:
                page += enc
                prev, reason = key, r
                continue
            pages.append(bytes(page))
        page = bytearray(key.to_bytes(KEY_SIZE, "big") + bytes((r,)))
        prev, reason = key, r
    if page is not None:
        pages.append(bytes(page))
    return pages


def build_base(entries: Iterable[tuple[str | int, int]], version: int,
               page_size: int = DEFAULT_PAGE_SIZE) -> bytes:
    """The base file for ``entries`` [(card_no, reason)] (any order, no duplicates)."""
    _check_version(version)
    if page_size & (page_size - 1) or not 256 <= page_size <= 4096:
        raise BadInput("page size must be a power of two, 256..4096")
    items = sorted((int(no), r) for no, r in entries)
    for (a, _), (b, _) in zip(items, items[1:]):
        if a == b:
            raise BadInput("duplicate card number %020d" % a)
    for _, r in items:
        if not 1 <= r <= 255:
            raise BadInput("reason codes are 1..255")
    pages = _pages(items, page_size)
    index = b"".join(p[:KEY_SIZE] for p in pages)
    index_off = HEADER_SIZE
    pages_off = -(-(index_off + len(index)) // page_size) * page_size if pages else index_off
    body = bytearray(index)
    body += bytes(pages_off - index_off - len(index))
    for i, p in enumerate(pages):
        body += p
        if i + 1 < len(pages):
            body += bytes(page_size - len(p))
    crc = binascii.crc32(body)
    shift = page_size.bit_length() - 1
    head = struct.pack(HEADER_FMT, MAGIC, FORMAT, shift, 0, version, len(items), len(pages),
                       index_off, pages_off, crc)
    return head + bytes(body)


def read_base(data: bytes) -> tuple[int, list[tuple[str, int]]]:
    """(version, [(card_no, reason)]) of a base file; ValueError if it is not one."""
    if len(data) < HEADER_SIZE:
        raise BadInput("not a denylist file (too short)")
    magic, fmt, shift, _, version, count, npages, index_off, pages_off, crc = struct.unpack(
        HEADER_FMT, data[:HEADER_SIZE])
    if magic != MAGIC or fmt != FORMAT:
        raise BadInput("not a denylist file")
    if binascii.crc32(data[HEADER_SIZE:]) != crc:
        raise BadInput("denylist file corrupt (CRC)")
    size = 1 << shift
    out = []
    for p in range(npages):
        page = data[pages_off + p * size: pages_off + (p + 1) * size]
        key = int.from_bytes(page[:KEY_SIZE], "big")
        reason = page[KEY_SIZE]
        out.append(("%020d" % key, reason))
        i = KEY_SIZE + 1
        while i < len(page):
            v = sh = 0
            while True:
                b = page[i]
                i += 1
                v |= (b & 0x7F) << sh
                sh += 7
                if b < 0x80:
                    break
            if v == 0:
                break
            key += v >> 1
            if v & 1:
                reason = page[i]
                i += 1
            out.append(("%020d" % key, reason))
    if len(out) != count:
        raise BadInput("denylist file corrupt (count)")
    return version, out


def build_delta(base_version: int, version: int, add: Iterable[tuple[str | int, int]] = (),
                remove: Iterable[str | int] = ()) -> bytes:
    """Delta file: ``add`` [(card_no, reason)] and ``remove`` [card_no] against a base."""
    _check_version(version)
    if not 0 <= base_version <= UINT32_MAX:
        raise BadInput("base version must be 0..%d" % UINT32_MAX)
    if version <= base_version:
        raise BadInput("delta version %d must be newer than its base v%d"
                         % (version, base_version))
    codes: dict[int, int] = {}
    for no, r in add:
        if not 1 <= r <= 255:
            raise BadInput("reason codes are 1..255")
        codes[int(no)] = r
    for no in remove:
        k = int(no)
        if k in codes:
            raise BadInput("card %s is both added and removed" % no)
        codes[k] = 0
    recs = b"".join(k.to_bytes(KEY_SIZE, "big") + bytes((c,)) for k, c in sorted(codes.items()))
    head = struct.pack(DELTA_FMT, DELTA_MAGIC, FORMAT, 0, 0, base_version, version, len(codes),
                       binascii.crc32(recs))
    return head + recs


def read_delta(data: bytes) -> tuple[int, int, dict[str, int]]:
    """(base_version, version, {card_no: code}) of a delta file (code 0 = removed)."""
    if len(data) < DELTA_HEADER_SIZE:
        raise BadInput("not a denylist delta file (too short)")
    magic, fmt, _, _, base, version, count, crc = struct.unpack(
        DELTA_FMT, data[:DELTA_HEADER_SIZE])
    recs = data[DELTA_HEADER_SIZE:]
    if magic != DELTA_MAGIC or fmt != FORMAT:
        raise BadInput("not a denylist delta file")
    if len(recs) != count * REC_SIZE or binascii.crc32(recs) != crc:
        raise BadInput("denylist delta file corrupt")
    codes = {}
    for i in range(0, len(recs), REC_SIZE):
        codes["%020d" % int.from_bytes(recs[i:i + KEY_SIZE], "big")] = recs[i + KEY_SIZE]
    return base, version, codes


def merge(base_data: bytes, delta_data: bytes, version: int | None = None,
          page_size: int = DEFAULT_PAGE_SIZE) -> bytes:
    """A new base file: the base with its delta applied (version: the delta's by default)."""
    base_version, entries = read_base(base_data)
    dbase, dversion, codes = read_delta(delta_data)
    if dbase != base_version:
        raise BadInput("delta is for base v%d, base is v%d" % (dbase, base_version))
    table = dict(entries)
    for no, code in codes.items():
        if code:
            table[no] = code
        else:
            table.pop(no, None)
    return build_base(sorted(table.items()), version or dversion, page_size)


# -- sample data (tests, bench/denylist.py) ------------------------------------------------

def sample_numbers(n: int, seed: int = 1, prefixes: tuple[str, ...] = ("31049900", "31050100"),
                   issued: int = 10_000_000) -> list[str]:
    """n distinct card numbers as an issuer's denylist looks: a few 8-digit prefixes
    (city + issuer), serials scattered among ``issued`` cards each."""
    rng = random.Random(seed)
    per = -(-n // len(prefixes))
    out = []
    for p in prefixes:
        for s in rng.sample(range(issued), per):
            out.append("%s%012d" % (p, s))
    return sorted(out[:n])
