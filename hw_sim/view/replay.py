"""A recording to replay: the JSON Lines ``ykt sim run X.json > out.jsonl`` printed.

:func:`parse` checks the whole file before anything plays, so a malformed one is one message
naming the line (``out.jsonl: line 3: not JSON (...)``), never a half-played replay.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from host_tools.lib.errors import BadInput

RECORD_HINT = "record one with `ykt sim run SCENARIO.json > FILE.jsonl`"


def _time(text: Any) -> datetime.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return None


def parse(text: str, name: str) -> list[tuple[int | None, dict[str, Any]]]:
    """``[(virtual us since the first line's time, or None for the closing card lines),
    line]`` in file order; BadInput naming the first line that is not what a run prints."""
    out: list[tuple[int | None, dict[str, Any]]] = []
    start = None
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        where = "%s: line %d" % (name, n)
        try:
            line = json.loads(raw)
        except ValueError as e:
            raise BadInput("%s: not JSON (%s); %s" % (where, e.msg, RECORD_HINT)) from None
        if not isinstance(line, dict) or not isinstance(line.get("event"), str):
            raise BadInput("%s: not an output line of a run (a JSON object with an "
                           "\"event\"); %s" % (where, RECORD_HINT))
        if line["event"] == "card":
            out.append((None, line))
            continue
        when = _time(line.get("t"))
        if when is None or not isinstance(line.get("terminal"), str):
            raise BadInput("%s: a %r line needs \"t\" (a time like 2026-11-29T08:00:05.069) "
                           "and \"terminal\"" % (where, line["event"]))
        if start is None:
            start = when
        us = int((when - start).total_seconds() * 1000000)
        out.append((max(0, us), line))
    if start is None:
        raise BadInput("%s: no lines to replay; %s" % (name, RECORD_HINT))
    return out


def load(path: str) -> list[tuple[int | None, dict[str, Any]]]:
    """:func:`parse` of a file; BadInput when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise BadInput("%s: not text (UTF-8 JSON Lines); %s" % (path, RECORD_HINT)) from None
    except OSError as e:
        raise BadInput("%s: cannot read it (%s)" % (path, e.strerror or e)) from None
    return parse(text, path)
