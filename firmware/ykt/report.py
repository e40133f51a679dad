"""Outcome lines on the terminal's console.

Each outcome (a card read, a debit, a refusal, an error) is printed as one
JSON object with its keys in a fixed order, so a maintenance laptop on the
console -- or the simulator -- can follow the terminal. Card numbers are masked
here exactly as on a receipt: only the last four digits are shown.
"""

import json


def mask(number):
    """``3101230000000001`` -> ``************0001``."""
    number = str(number)
    if len(number) <= 4:
        return number
    return "*" * (len(number) - 4) + number[-4:]


class Pairs(list):
    """A value printed as a JSON object with its keys in this list's order (MicroPython's
    dicts have no order, so a dict value would print differently on the two runtimes)."""


def _json(value):
    if isinstance(value, Pairs):
        return "{" + ", ".join(json.dumps(k) + ": " + _json(v) for k, v in value) + "}"
    return json.dumps(value)


def line(kind, fields):
    """One JSON object: ``{"event": kind, k1: v1, ...}`` in the given order."""
    parts = ['{"event": ' + json.dumps(kind)]
    for key, value in fields:
        parts.append(json.dumps(key) + ": " + _json(value))
    return ", ".join(parts) + "}"


def emit(kind, *fields):
    """Print an outcome; ``fields`` are ``(key, value)`` pairs."""
    print(line(kind, fields))
