"""Board files (boards/NAME.json): found by name or path, read as JSON."""

import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARDS = os.path.join(ROOT, "boards")


class BoardError(ValueError):
    """A board that cannot be found or read; the message names it."""


def names():
    return sorted(f[:-5] for f in os.listdir(BOARDS) if f.endswith(".json"))


def load(name_or_path):
    path = name_or_path
    if not os.path.exists(path):
        path = os.path.join(BOARDS, name_or_path + ".json")
    if not os.path.exists(path):
        raise BoardError("unknown board %r (known: %s)" % (name_or_path, ", ".join(names())))
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise BoardError("%s: not valid JSON (line %d: %s)" % (path, e.lineno, e.msg))
