"""The tariff's vocabulary and the compiled payload's constants (docs/fares.md §2 and §6),
shared by the source validator (``tariff_validate``), the compiler (``tariff``) and the
payload reader (``tariff_payload``)."""

from __future__ import annotations

import zlib

MAGIC = b"YKTF"
FORMAT = 2  # 2: the header's last field is a CRC-32 of the file (format 1: reserved 0)
SOURCE_FORMAT = "ykt-tariff-source/1"
SECTIONS = (b"LINE", b"STNS", b"NAME", b"DIST", b"FARE", b"LEXC", b"POLI", b"XFER", b"MNTH",
            b"CATG", b"ISSU", b"ROUT")
MODES = {"metro": 1, "bus": 2, "ferry": 3}
MODE_NAMES = {v: k for k, v in MODES.items()}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KINDS = {"none": 0, "fixed": 1, "max_from_station": 2, "network_max": 3}
CROSSINGS = {"next_ride": 0, "split": 1}
DISCOUNTS = {"category": 0x02, "transfer": 0x04, "monthly": 0x08}
ISSUER_ACCEPT, ISSUER_WILDCARD = 0x01, 0x80
NO_MAX = 0xFFFFFFFF
OPEN_END = 0xFFFF
UNREACHABLE = 0xFFFF
MAX_LINES = 32


def payload_crc(head20: bytes, rest: bytes) -> int:
    """The payload's CRC-32: over bytes 0..19 and 24..end (the CRC field itself left out)."""
    return zlib.crc32(rest, zlib.crc32(head20[:20])) & 0xFFFFFFFF
