"""Tariff source -> compact binary payload (docs/fares.md §6).

``build(path, version)`` is the payload of a source file, ``compile_payload(model, version)``
the payload of a validated model (``tariff_validate``: ``load_source``, ``validate``,
``TariffSourceError``, re-exported here), one section at a time; the device reads it by seek
(``firmware/ykt/fare/tariff.py``) and ``tariff_payload.read_payload`` decodes it back.
``distance_fare`` is the metro fare rule on the host (the same rule as the firmware engine).
"""

from __future__ import annotations

import struct
from typing import Any

from host_tools.lib.tariff_format import FORMAT, MAGIC, NO_MAX, OPEN_END, SECTIONS, payload_crc
from host_tools.lib.tariff_validate import Model, TariffSourceError, load_source, validate

__all__ = ["Model", "TariffSourceError", "build", "compile_payload", "distance_fare",
           "load_source", "validate"]


def build(source_path: str, version: int) -> bytes:
    """Payload bytes of the source file at ``source_path``."""
    return compile_payload(load_source(source_path), version)


def distance_fare(m: Model, dam: int) -> int:
    """The metro fare rule on the host (same rule as the firmware engine)."""
    fen = m.base_fen
    for fr, to, every, add in m.steps:
        if dam <= fr:
            break
        top = dam if to == OPEN_END or dam < to else to
        fen += -(-(top - fr) // every) * add
    if m.max_fen is not None and fen > m.max_fen:
        fen = m.max_fen
    return fen


def compile_payload(m: Model | dict[str, Any], version: int) -> bytes:
    """The binary tariff (docs/fares.md "Compiled tariff") of a validated model."""
    if isinstance(m, dict):
        m = validate(m)
    if not isinstance(version, int) or not 1 <= version <= 0xFFFFFFFF:
        raise TariffSourceError("version must be a whole number 1..4294967295")
    line = b"".join(_s8(lid) + _s8(name) for lid, name in m.lines)
    stns, names = _stations(m)
    sec = {b"LINE": line, b"STNS": stns, b"NAME": names, b"DIST": _dist(m), b"FARE": _fare(m),
           b"LEXC": _lexc(m), b"POLI": _poli(m), b"XFER": _xfer(m), b"MNTH": _mnth(m),
           b"CATG": _catg(m), b"ISSU": _issu(m), b"ROUT": _rout(m)}
    return _assemble(sec, version, len(m.ids), len(m.lines))


def _assemble(sec: dict[bytes, bytes], version: int, n: int, nlines: int) -> bytes:
    """Header (with the CRC), directory and the sections in ``SECTIONS`` order."""
    head_len = 24 + 12 * len(SECTIONS)
    directory = b""
    body = b""
    off = head_len
    for tag in SECTIONS:
        data = sec[tag]
        directory += struct.pack(">4sII", tag, off, len(data))
        body += data
        off += len(data)
    header = struct.pack(">4sBBHIIHH", MAGIC, FORMAT, 0, len(SECTIONS), version, off, n, nlines)
    rest = directory + body
    return header + struct.pack(">I", payload_crc(header, rest)) + rest


# -- the sections ------------------------------------------------------------------------------

def _s8(text: str | bytes) -> bytes:
    """A string: length (1) and UTF-8."""
    b = text.encode() if isinstance(text, str) else bytes(text)
    if len(b) > 255:
        raise TariffSourceError("text %r longer than 255 bytes" % text)
    return bytes([len(b)]) + b


def _stations(m: Model) -> tuple[bytes, bytes]:
    """``STNS`` (12 bytes a station) and ``NAME`` (the names back to back)."""
    names = b""
    rows = []
    for i in range(len(m.ids)):
        nb = m.names[i].encode()
        if len(nb) > 255 or len(names) + len(nb) > 0xFFFF:
            raise TariffSourceError("station %d: names do not fit the name table" % m.ids[i])
        rows.append(struct.pack(">HHIHBB", m.ids[i], m.max_dam[i], m.masks[i], len(names),
                                len(nb), 0))
        names += nb
    return b"".join(rows), names


def _dist(m: Model) -> bytes:
    """``DIST``: the upper triangle of the decametre table."""
    tri: list[int] = []
    for i in range(len(m.ids)):
        tri.extend(m.dam[i][i + 1:])
    return struct.pack(">%dH" % len(tri), *tri)


def _fare(m: Model) -> bytes:
    fare = struct.pack(">IHIB", m.base_fen, m.base_dam, NO_MAX if m.max_fen is None else m.max_fen,
                       len(m.steps))
    return fare + b"".join(struct.pack(">HHHI", *s) for s in m.steps)


def _lexc(m: Model) -> bytes:
    """``LEXC``: per line exception its members and the k x k bitmap of trips inside it."""
    lexc = bytes([len(m.line_exceptions)])
    for (bit, adjust), (members, pairs) in zip(m.line_exceptions, m.exception_pairs):
        k = len(members)
        lexc += struct.pack(">BBiH", bit, 0, adjust, k)
        lexc += struct.pack(">%dH" % k, *members)
        bitmap = bytearray((k * k + 7) // 8)
        for r, i in enumerate(members):
            for c, j in enumerate(members):
                if (i, j) in pairs:
                    b = r * k + c
                    bitmap[b >> 3] |= 0x80 >> (b & 7)
        lexc += bytes(bitmap)
    return lexc


def _poli(m: Model) -> bytes:
    return struct.pack(">HIHBIBIBIH", m.grace_min, m.grace_fen, m.limit_min,
                       m.overtime[0], m.overtime[1], m.missing[0], m.missing[1],
                       m.unclosed[0], m.unclosed[1], m.network_max_dam)


def _xfer(m: Model) -> bytes:
    return bytes([len(m.transfers)]) + b"".join(struct.pack(">BBHI", *t) for t in m.transfers)


def _mnth(m: Model) -> bytes:
    return bytes([len(m.monthly)]) + b"".join(struct.pack(">BBBBI", mode, crossing, pct, 0, thr)
                                              for mode, crossing, pct, thr in m.monthly)


def _catg(m: Model) -> bytes:
    catg = bytes([len(m.categories)])
    for code, name, rules in m.categories:
        catg += bytes([code, len(rules)]) + _s8(name)
        catg += b"".join(struct.pack(">BBHHB", *r) for r in rules)
    return catg


def _issu(m: Model) -> bytes:
    issu = bytes([len(m.issuers)])
    for code, flags, pct, name in m.issuers:
        issu += struct.pack(">HBH", code, flags, pct) + _s8(name)
    return issu


def _rout(m: Model) -> bytes:
    rout = struct.pack(">H", len(m.routes))
    for mode, rid, fen, name in m.routes:
        rout += bytes([mode]) + _s8(rid) + struct.pack(">I", fen) + _s8(name)
    return rout
