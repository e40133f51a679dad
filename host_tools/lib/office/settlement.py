"""Settlement (docs/office.md "Settlement"): what each card issuer owes each operator, per
day, T-Union style.

A card's value is the issuer's money: a debit at an operator's terminal is value the issuer
owes that operator; a load (top-up, or the cash part of a refund) at an operator's terminal
is money that operator took in (or gave back) for the issuer. Per issuer (the first digits
of the card number, :func:`host_tools.lib.office.issuer_of`) × operator (the terminal's,
``terminals.operator``) × day (the terminals' local date of the transaction) the office
sums both and nets them: ``net_fen = debit_fen - credit_fen``, what the issuer pays the
operator (negative: the operator pays the issuer). :func:`positions` nets each party over
all its counterparts, so one transfer per party settles the day.

Only records whose TAC verified are settled; the others are listed as ``not_settled`` with
the card masked. Nothing here holds a whole card number.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
from typing import Any, NamedTuple

from host_tools.lib.errors import BadInput
from host_tools.lib.office import issuer_of
from host_tools.lib.office.db import Db
from host_tools.lib.office.ingest import bad_tacs

_EPOCH = datetime.datetime(2000, 1, 1)
COLUMNS = ("issuer", "operator", "day", "debits", "debit_fen", "credits", "credit_fen",
           "net_fen")


class Line(NamedTuple):
    issuer: str
    operator: str
    day: str  # YYYY-MM-DD
    debits: int
    debit_fen: int
    credits: int
    credit_fen: int
    net_fen: int  # debit_fen - credit_fen: the issuer pays the operator


def day_of(secs: int) -> str:
    return (_EPOCH + datetime.timedelta(seconds=secs)).date().isoformat()


def _check_day(day: str | None) -> None:
    if day is not None:
        try:
            datetime.date.fromisoformat(day)
        except ValueError:
            raise BadInput("day %r: YYYY-MM-DD" % day) from None


def settle(db: Db, day: str | None = None) -> list[Line]:
    """The settlement lines (of ``day``, YYYY-MM-DD), by issuer, operator and day."""
    _check_day(day)
    sums: dict[tuple[str, str, str], list[int]] = {}
    for card, operator, secs, fen in db.query(
            "SELECT r.card, t.operator, r.time, r.purse FROM records r "
            "JOIN terminals t ON t.terminal = r.terminal WHERE r.tac_ok = 1"):
        when = day_of(int(secs))
        if day is not None and when != day:
            continue
        s = sums.setdefault((issuer_of(str(card)), str(operator), when), [0, 0, 0, 0])
        if int(fen) >= 0:
            s[0] += 1
            s[1] += int(fen)
        else:
            s[2] += 1
            s[3] -= int(fen)
    return [Line(i, o, d, s[0], s[1], s[2], s[3], s[1] - s[3])
            for (i, o, d), s in sorted(sums.items())]


def positions(lines: list[Line]) -> dict[str, int]:
    """Each party's net over the lines: ``issuer:X`` / ``operator:Y`` -> fen it receives
    (negative: pays). The positions add up to 0."""
    out: dict[str, int] = {}
    for ln in lines:
        out["issuer:" + ln.issuer] = out.get("issuer:" + ln.issuer, 0) - ln.net_fen
        out["operator:" + ln.operator] = out.get("operator:" + ln.operator, 0) + ln.net_fen
    return dict(sorted(out.items()))


def report(db: Db, day: str | None = None) -> dict[str, Any]:
    """Lines, totals, positions and the records not settled (cards masked), as JSON data."""
    lines = settle(db, day)
    return {
        "day": day,
        "lines": [ln._asdict() for ln in lines],
        "totals": {k: sum(getattr(ln, k) for ln in lines)
                   for k in ("debits", "debit_fen", "credits", "credit_fen", "net_fen")},
        "positions": positions(lines),
        "not_settled": [dict(b._asdict(), reason="TAC does not verify") for b in bad_tacs(db)],
    }


def export(db: Db, fmt: str, day: str | None = None) -> str:
    """The settlement as ``csv`` (one row per line) or ``json`` (:func:`report`)."""
    if fmt == "json":
        return json.dumps(report(db, day), indent=2) + "\n"
    if fmt != "csv":
        raise BadInput("export format %r: csv or json" % fmt)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for ln in settle(db, day):
        w.writerow(ln)
    return buf.getvalue()
