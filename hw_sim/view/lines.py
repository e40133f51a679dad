"""What the JSON Lines of a run say, per terminal: its console, its last outcome, the pole
display's text (a replay has nothing else), and each card's journeys through the metro.

The same for a live run (``Run.lines`` as they are output) and a replay (a recorded file).
"""

from __future__ import annotations

import collections
from typing import Any

CONSOLE = 14  # lines of each terminal's console kept for the page
QUIET = ("display", "console", "read", "boot", "update", "ready", "gate")  # not an outcome


class TermLines:
    def __init__(self) -> None:
        self.console: collections.deque[dict[str, Any]] = collections.deque(maxlen=CONSOLE)
        self.outcome: dict[str, Any] | None = None
        self.display: list[str] | None = None
        self.boot: dict[str, Any] | None = None
        self.version = 0

    def view(self) -> dict[str, Any]:
        return {"console": list(self.console), "outcome": self.outcome}


class LineTracker:
    """Folds output lines (dicts) into what the page shows."""

    def __init__(self) -> None:
        self.terms: dict[str, TermLines] = {}
        self.trips: list[dict[str, Any]] = []  # {"card", "from", "to"} in the order entered
        self._open: dict[str, dict[str, Any]] = {}  # card -> its trip with no exit yet
        self.cards: list[dict[str, Any]] = []  # the run's closing "card" lines
        self.stations: dict[str, int] = {}  # terminal -> the station its ready line names
        self.count = 0
        self.last_t: str | None = None

    def term(self, tid: str) -> TermLines:
        if tid not in self.terms:
            self.terms[tid] = TermLines()
        return self.terms[tid]

    def apply(self, line: dict[str, Any]) -> None:
        self.count += 1
        event = line.get("event")
        if event == "card":
            self.cards.append(line)
            return
        tid = line.get("terminal")
        if not isinstance(tid, str):
            return
        if isinstance(line.get("t"), str):
            self.last_t = line["t"]
        t = self.term(tid)
        t.version += 1
        t.console.append(line)
        if event == "display":
            t.display = str(line.get("text", "")).split(" | ")
        elif event == "boot":
            t.boot = line
        elif event == "ready" and isinstance(line.get("station"), int):
            self.stations[tid] = line["station"]
        elif event not in QUIET:
            t.outcome = line
        self._journey(tid, line)

    def _journey(self, tid: str, line: dict[str, Any]) -> None:
        event, card, station = line.get("event"), line.get("card"), line.get("station")
        if not isinstance(card, str) or not isinstance(station, int):
            return
        if event == "entry":
            trip = {"card": card, "from": station, "to": None, "at": tid}
            self._open[card] = trip
            self.trips.append(trip)
        elif event == "exit":
            trip = self._open.pop(card, None)
            if trip is None:
                self.trips.append({"card": card, "from": None, "to": station, "at": tid})
            else:
                trip["to"] = station
