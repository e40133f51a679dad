"""Helpers shared by the fare tests: the repository tariff, modified copies, times."""

import copy
import io
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "tariffs", "shanghai-2017.json")
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "shanghai-metro-2017")
HOME = 0x2900
TERMINAL = bytes.fromhex("0102030405a1")

_cache = {}


def source():
    """A fresh copy of the repository tariff source (a dict to modify)."""
    if "src" not in _cache:
        with open(SOURCE, encoding="utf-8") as f:
            _cache["src"] = json.load(f)
    return copy.deepcopy(_cache["src"])


def payload(src=None, version=1):
    from host_tools.lib import tariff as host_tariff

    if src is None:
        if version not in _cache:
            _cache[version] = host_tariff.compile_payload(host_tariff.validate(source()), version)
        return _cache[version]
    return host_tariff.compile_payload(host_tariff.validate(src), version)


def tariff(src=None, version=1):
    """The firmware Tariff over the compiled payload of ``src`` (default: the repo source)."""
    from ykt.fare.tariff import Tariff

    return Tariff(io.BytesIO(payload(src, version)))


def secs(text):
    """``"2026-11-30T08:00"`` -> seconds since 2000 (firmware caltime)."""
    from ykt import caltime

    d, t = text.split("T")
    y, mo, dd = (int(x) for x in d.split("-"))
    parts = [int(x) for x in t.split(":")]
    return caltime.secs(y, mo, dd, *parts)


def station_id(src, name):
    for s in src["stations"]:
        if s["name"] == name:
            return s["id"]
    raise KeyError(name)
