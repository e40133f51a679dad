"""Reading a compiled tariff payload back (tests, inspection): ``read_payload(data)`` decodes
a whole payload (docs/fares.md §6) into plain Python values; a payload whose header or CRC
is wrong raises ``PayloadError``. The device's own, hardened reader is
``firmware/ykt/fare/tariff.py``."""

from __future__ import annotations

import struct
from typing import Any

from host_tools.lib.errors import BadInput
from host_tools.lib.tariff_format import (
    CROSSINGS,
    DAYS,
    DISCOUNTS,
    FORMAT,
    ISSUER_ACCEPT,
    ISSUER_WILDCARD,
    KINDS,
    MAGIC,
    MODE_NAMES,
    NO_MAX,
    payload_crc,
)


class PayloadError(BadInput):
    pass


def read_payload(data: bytes | bytearray | memoryview) -> dict[str, Any]:
    """Decode a whole payload into plain Python values (dict)."""
    data = bytes(data)
    fmt, version, length, n, nlines, sec = _header(data)
    out: dict[str, Any] = {"format": fmt, "version": version, "length": length, "sections": sorted(
        (t.decode(), len(v)) for t, v in sec.items())}
    lines = _lines(sec[b"LINE"], nlines)
    out["lines"] = lines
    stations = _stations(sec, n, lines)
    out["stations"] = stations
    out["dam"] = _dist(sec[b"DIST"], n)
    out["metro_fare"] = _fare(sec[b"FARE"])
    out["line_exceptions"] = _lexc(sec[b"LEXC"], lines, stations)
    out["policies"] = _poli(sec[b"POLI"])
    out["transfers"] = _xfer(sec[b"XFER"])
    out["monthly"] = _mnth(sec[b"MNTH"])
    out["categories"] = _catg(sec[b"CATG"])
    out["issuers"] = _issu(sec[b"ISSU"])
    out["routes"] = _rout(sec[b"ROUT"])
    return out


def _header(data: bytes) -> tuple[int, int, int, int, int, dict[bytes, bytes]]:
    """Format, version, length, station count, line count, sections by tag; checks the
    header and the CRC."""
    if len(data) < 24:
        raise PayloadError("payload too short")
    magic, fmt, _, nsec, version, length, n, nlines, _ = struct.unpack_from(">4sBBHIIHHI", data, 0)
    if magic != MAGIC:
        raise PayloadError("not a tariff payload (magic %r)" % magic)
    if fmt != FORMAT:
        raise PayloadError("payload format %d not supported" % fmt)
    if length != len(data):
        raise PayloadError("payload is %d bytes, header says %d" % (len(data), length))
    if payload_crc(data[:20], data[24:]) != struct.unpack_from(">I", data, 20)[0]:
        raise PayloadError("payload damaged (checksum mismatch)")
    sec = {}
    for i in range(nsec):
        tag, off, size = struct.unpack_from(">4sII", data, 24 + 12 * i)
        sec[tag] = data[off:off + size]
    return fmt, version, length, n, nlines, sec


def _s8(b: bytes, p: int) -> tuple[str, int]:
    """The string at ``p`` and the offset after it."""
    k = b[p]
    return b[p + 1:p + 1 + k].decode(), p + 1 + k


def _lines(b: bytes, nlines: int) -> list[dict[str, Any]]:
    p, lines = 0, []
    for _ in range(nlines):
        lid, p = _s8(b, p)
        name, p = _s8(b, p)
        lines.append({"id": lid, "name": name})
    return lines


def _stations(sec: dict[bytes, bytes], n: int, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stations = []
    for i in range(n):
        sid, mx, mask, noff, nlen, _ = struct.unpack_from(">HHIHBB", sec[b"STNS"], 12 * i)
        stations.append({"id": sid, "name": sec[b"NAME"][noff:noff + nlen].decode(),
                         "lines": [lines[k]["id"] for k in range(len(lines)) if mask & (1 << k)],
                         "max_dam": mx})
    return stations


def _dist(b: bytes, n: int) -> list[list[int]]:
    """The whole decametre table from its upper triangle."""
    tri = struct.unpack(">%dH" % (n * (n - 1) // 2), b)
    dam = [[0] * n for _ in range(n)]
    k = 0
    for i in range(n):
        for j in range(i + 1, n):
            dam[i][j] = dam[j][i] = tri[k]
            k += 1
    return dam


def _fare(b: bytes) -> dict[str, Any]:
    base_fen, base_dam, max_fen, ns = struct.unpack_from(">IHIB", b, 0)
    return {
        "base_fen": base_fen, "base_dam": base_dam,
        "max_fen": None if max_fen == NO_MAX else max_fen,
        "steps": [dict(zip(("from_dam", "to_dam", "every_dam", "add_fen"),
                           struct.unpack_from(">HHHI", b, 11 + 10 * i))) for i in range(ns)]}


def _lexc(b: bytes, lines: list[dict[str, Any]],
          stations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Line exceptions, with the trips inside each as (station id, station id) pairs."""
    p, lexc = 1, []
    for _ in range(b[0]):
        bit, _, adjust, kk = struct.unpack_from(">BBiH", b, p)
        p += 8
        members = struct.unpack_from(">%dH" % kk, b, p)
        p += 2 * kk
        nbytes = (kk * kk + 7) // 8
        bm = b[p:p + nbytes]
        p += nbytes
        pairs = set()
        for r in range(kk):
            for c in range(kk):
                q = r * kk + c
                if bm[q >> 3] & (0x80 >> (q & 7)):
                    pairs.add((stations[members[r]]["id"], stations[members[c]]["id"]))
        lexc.append({"line": lines[bit]["id"], "adjust_fen": adjust, "pairs": pairs})
    return lexc


def _poli(b: bytes) -> dict[str, Any]:
    kinds = {v: k for k, v in KINDS.items()}
    v = struct.unpack(">HIHBIBIBIH", b)
    return {
        "same_station": {"grace_minutes": v[0], "grace_fen": v[1]},
        "time_limit": {"minutes": v[2], "surcharge": {"kind": kinds[v[3]], "fen": v[4]}},
        "missing_entry": {"kind": kinds[v[5]], "fen": v[6]},
        "unclosed_journey": {"kind": kinds[v[7]], "fen": v[8]},
        "network_max_dam": v[9]}


def _xfer(b: bytes) -> list[dict[str, Any]]:
    out = []
    for i in range(b[0]):
        fr, to, mins, off_fen = struct.unpack_from(">BBHI", b, 1 + 8 * i)
        out.append({"from": MODE_NAMES[fr], "to": MODE_NAMES[to],
                    "within_minutes": mins, "off_fen": off_fen})
    return out


def _mnth(b: bytes) -> list[dict[str, Any]]:
    crossings = {v: k for k, v in CROSSINGS.items()}
    out = []
    for i in range(b[0]):
        mode, cr, pct, _, thr = struct.unpack_from(">BBBBI", b, 1 + 8 * i)
        out.append({"mode": MODE_NAMES[mode], "crossing": crossings[cr],
                    "percent_off": pct, "threshold_fen": thr})
    return out


def _catg(b: bytes) -> list[dict[str, Any]]:
    p, cats = 1, []
    for _ in range(b[0]):
        code, nr = b[p], b[p + 1]
        name, p = _s8(b, p + 2)
        rules = []
        for _ in range(nr):
            modes, days, fr, to, pct = struct.unpack_from(">BBHHB", b, p)
            p += 7
            rules.append({"modes": [MODE_NAMES[k] for k in sorted(MODE_NAMES) if modes & (1 << k)],
                          "days": [DAYS[d] for d in range(7) if days & (1 << d)],
                          "from_min": fr, "to_min": to, "percent_off": pct})
        cats.append({"code": code, "name": name, "rules": rules})
    return cats


def _issu(b: bytes) -> list[dict[str, Any]]:
    p, iss = 1, []
    for _ in range(b[0]):
        code, flags, pct = struct.unpack_from(">HBH", b, p)
        name, p = _s8(b, p + 5)
        iss.append({"city": "*" if flags & ISSUER_WILDCARD else "%04X" % code, "name": name,
                    "accept": bool(flags & ISSUER_ACCEPT),
                    "discounts": [d for d, bit in DISCOUNTS.items() if flags & bit],
                    "percent": pct})
    return iss


def _rout(b: bytes) -> list[dict[str, Any]]:
    p, routes = 2, []
    for _ in range(struct.unpack_from(">H", b, 0)[0]):
        mode = b[p]
        rid, p = _s8(b, p + 1)
        fen = struct.unpack_from(">I", b, p)[0]
        name, p = _s8(b, p + 4)
        routes.append({"mode": MODE_NAMES[mode], "route": rid, "fen": fen, "name": name})
    return routes
