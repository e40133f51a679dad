"""What the page shows, as it changes: a live run (:class:`LiveFeed`) or a replay
(:class:`ReplayFeed`) publishing to a :class:`Hub` that any number of pages read.

A feed runs in its own thread and never waits for a page: pages come and go (``closing the
page stops nothing``); each asks the hub for what changed since the version it has. Each
terminal's state is published as JSON text when it differs from the last published, so 50
terminals of which one changes cost one terminal's bytes.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
import time
from typing import Any

from host_tools.lib.errors import BadInput, YktError
from hw_sim.view import metro
from hw_sim.view.lines import LineTracker
from hw_sim.view.observe import Observer, describe
from hw_sim.view.pace import TICK_S, Pacer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_TARIFF = os.path.join(ROOT, "tariffs", "shanghai-2017.json")
KEY_HOLD_MS = 80  # a key clicked on the page is held this long (virtual ms)
KEY_GAP_MS = 120  # and the next one pressed no sooner than this after its release


class Closed(BaseException):
    """The view was closed: the run it paces stops (raised in the run's thread)."""


class Hub:
    """The latest state of one feed, versioned, for the pages (thread-safe)."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.meta = json.dumps(meta, ensure_ascii=False)
        self._cond = threading.Condition()
        self.version = 0
        self._terms: dict[str, tuple[int, str]] = {}
        self._status: tuple[int, str] = (0, "{}")
        self._console: tuple[int, str] | None = None  # a board's console (ConsoleTail)

    def publish(self, terms: dict[str, dict[str, Any]], status: dict[str, Any]) -> None:
        with self._cond:
            changed = False
            for tid, state in terms.items():
                text = json.dumps(state, ensure_ascii=False)
                old = self._terms.get(tid)
                if old is None or old[1] != text:
                    self.version += 1
                    self._terms[tid] = (self.version, text)
                    changed = True
            text = json.dumps(status, ensure_ascii=False)
            if text != self._status[1]:
                self.version += 1
                self._status = (self.version, text)
                changed = True
            if changed:
                self._cond.notify_all()

    def close(self) -> None:
        """Wake the pages waiting for changes (the server is going away)."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    closed = False

    def changes(self, since: int, timeout: float) -> tuple[str | None, int]:
        """(a JSON object of what changed after version ``since``, the version it is at), or
        (None, since) when nothing did within ``timeout`` seconds (or the hub was closed)."""
        with self._cond:
            self._cond.wait_for(lambda: self.version > since or self.closed, timeout)
            if self.version <= since:
                return None, since
            terms = ", ".join("%s: %s" % (json.dumps(tid), text)
                              for tid, (v, text) in self._terms.items() if v > since)
            console = ""
            if self._console is not None and self._console[0] > since:
                console = ', "console": %s' % self._console[1]
            return ('{"version": %d, "terms": {%s}, "status": %s%s}'
                    % (self.version, terms, self._status[1], console)), self.version

    def publish_console(self, console: dict[str, Any]) -> None:
        with self._cond:
            self.version += 1
            self._console = (self.version, json.dumps(console, ensure_ascii=False))
            self._cond.notify_all()

    def state(self) -> dict[str, Any]:
        """Everything as it is now (``GET /state``)."""
        with self._cond:
            out = {"version": self.version,
                   "terms": {tid: json.loads(text) for tid, (_, text) in self._terms.items()},
                   "status": json.loads(self._status[1])}
            if self._console is not None:
                out["console"] = json.loads(self._console[1])
            return out


class _Feed:
    kind = "feed"

    def __init__(self, name: str, start: datetime.datetime, speed: str, paused: bool) -> None:
        self.name = name
        self.start_time = start
        self.pacer = Pacer(speed, paused)
        self.tracker = LineTracker()
        self.map: dict[str, Any] | None = None
        self.done = False
        self.error: str | None = None
        self.hub: Hub
        self._published = 0.0
        self._steps_shown = 0
        self._paths: dict[tuple[int, int], list[int]] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._main, daemon=True, name="ykt-view")

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the feed (a live run stops its terminals) and wait for its thread."""
        self._closed = True
        self.pacer.kick()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _main(self) -> None:
        raise NotImplementedError

    def lines_so_far(self) -> int:
        return self.tracker.count

    # -- control from the page -----------------------------------------------------------
    def control(self, req: dict[str, Any]) -> None:
        """``{"speed": "1"|"10"|"100"|"max"}``, ``{"pause": bool}`` or ``{"step": true}``."""
        if "speed" in req:
            try:
                self.pacer.set_speed(str(req["speed"]))
            except ValueError as e:
                raise BadInput(str(e)) from None
        elif "pause" in req:
            self.pacer.pause(bool(req["pause"]))
        elif req.get("step"):
            self.pacer.step(self.lines_so_far())
        else:
            raise BadInput("control: give speed, pause or step")
        self.pacer.kick()

    def press(self, tid: str, key: str) -> None:
        raise BadInput("a replay has no keypad to press")

    # -- publishing ------------------------------------------------------------------------
    def _wait(self, virtual_us: int | None) -> None:
        if self._closed:
            raise Closed()
        self.pacer.wait(virtual_us, self.lines_so_far(), self._tick)
        if self._closed:
            raise Closed()

    def _tick(self) -> None:
        if self._closed:
            raise Closed()
        self._before_publish()
        now = time.monotonic()
        if now - self._published >= TICK_S or self.pacer.steps != self._steps_shown:
            self.publish()

    def _before_publish(self) -> None:
        pass

    def _terms(self) -> dict[str, dict[str, Any]]:
        raise NotImplementedError

    def _stations(self) -> dict[str, list[str]]:
        return {}

    def _trips(self) -> list[dict[str, Any]]:
        out = []
        for trip in self.tracker.trips:
            t = dict(trip)
            a, b = trip["from"], trip["to"]
            if self.map is not None and a is not None and b is not None:
                if (a, b) not in self._paths:
                    self._paths[(a, b)] = metro.path(self.map, a, b)
                t["path"] = self._paths[(a, b)]
            out.append(t)
        return out

    def publish(self) -> None:
        self._published = time.monotonic()
        self._steps_shown = self.pacer.steps
        when = self.start_time + datetime.timedelta(microseconds=self.pacer.virtual_us)
        status = dict(self.pacer.state(), virtual=when.isoformat(timespec="milliseconds"),
                      lines=self.tracker.count, done=self.done, error=self.error,
                      progress=self._progress(), cards=self.tracker.cards,
                      stations=self._stations(), trips=self._trips())
        self.hub.publish(self._terms(), status)

    def _progress(self) -> float:
        return 1.0 if self.done else 0.0


class LiveFeed(_Feed):
    """A scenario run on ``runtime``, paced, observed between its steps."""

    kind = "live"

    def __init__(self, scenario: Any, runtime: str = "cpython", heap: str | None = None,
                 speed: str = "1", paused: bool = False, tariff: str | None = None) -> None:
        from hw_sim.scenario import Run

        super().__init__(scenario.name, scenario.start, speed, paused)
        self.runtime, self.heap = runtime, heap
        self.run = Run(scenario)
        names = {id(card): name for name, card in self.run.cards.items()}
        self.described = {t["id"]: describe(t["id"], t) for t in scenario.terminals}
        self.observers = {t["id"]: Observer(t["id"], self.run.terms[t["id"]], t, names)
                          for t in scenario.terminals}
        self.map = self._load_map(scenario, tariff)
        self._keys: list[tuple[str, str]] = []
        self._key_free: dict[str, int] = {}  # terminal -> when its keypad may take a key
        self._keys_lock = threading.Lock()
        self.hub = Hub({"mode": "live", "name": scenario.name, "source": scenario.source,
                        "start": scenario.start.isoformat(), "runtime": runtime,
                        "terminals": list(self.described.values()), "map": self.map})
        self.publish()

    @staticmethod
    def _load_map(scenario: Any, tariff: str | None) -> dict[str, Any] | None:
        if tariff:
            return metro.load(tariff)
        for t in scenario.terminals:
            cfg = t.get("config", {})
            if cfg.get("tariff") and "station" in cfg:
                return metro.load(os.path.normpath(os.path.join(scenario.base_dir,
                                                                cfg["tariff"])))
        return None

    def _main(self) -> None:
        try:
            self.run.run(self.runtime, self.heap, on_line=self._line, on_step=self._step)
        except Closed:
            pass
        except YktError as e:
            self.error = str(e)
        except Exception as e:  # shown on the page, one line
            self.error = "%s: %s" % (type(e).__name__, e)
        finally:
            self.done = True
            self.pacer.virtual_us = max(self.pacer.virtual_us, self.run.end_us)
            if not self._closed:
                self.publish()

    def _line(self, text: str) -> None:
        try:
            line = json.loads(text)
        except ValueError:
            return
        if isinstance(line, dict):
            self.tracker.apply(line)

    def lines_so_far(self) -> int:
        """What a step counts: output lines, and the gates' arms moving (which print
        nothing)."""
        return len(self.run.lines) + sum(obs.arm_moves for obs in self.observers.values())

    def _step(self) -> None:
        for obs in self.observers.values():  # here, while no firmware runs
            obs.watch()
        self._wait(self.run.next_us())

    def press(self, tid: str, key: str) -> None:
        """A key pressed on the page: pressed on the terminal's keypad model at the run's
        next step (the firmware scans it as it scans any key)."""
        sim = self.run.terms.get(tid)
        if sim is None:
            raise BadInput("no terminal %r in this run" % tid)
        if sim.keypad is None:
            raise BadInput("terminal %s has no keypad" % tid)
        if not (isinstance(key, str) and len(key) == 1 and key in sim.keypad.layout):
            raise BadInput("no key %r on %s's keypad (%s)" % (key, tid, sim.keypad.layout))
        if self.done:
            raise BadInput("the run is over: keys reach no firmware now")
        with self._keys_lock:
            self._keys.append((tid, key))
        self.pacer.kick()

    def _before_publish(self) -> None:
        with self._keys_lock:
            keys, self._keys = self._keys, []
        if not keys:
            return
        from hw_sim.scenario import SETTLE_MS

        for tid, key in keys:
            sim = self.run.terms[tid]
            at = max(sim.clock.now_us(), self.run.next_us() or 0, self.pacer.virtual_us,
                     self._key_free.get(tid, 0))
            released = sim.keypad.press(key, KEY_HOLD_MS, at_us=at)
            # clicks faster than a finger: each key after the last one's release and a gap
            self._key_free[tid] = released + KEY_GAP_MS * 1000
            self.run.extend(released + SETTLE_MS * 1000)
        self._published = 0.0  # show the key held at once

    def _terms(self) -> dict[str, dict[str, Any]]:
        out = {}
        for tid, obs in self.observers.items():
            state = obs.snapshot(fresh=self.done)
            state.update(self.tracker.term(tid).view())
            out[tid] = state
        return out

    def _stations(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for tid, d in self.described.items():
            if isinstance(d.get("station"), int):
                out.setdefault(str(d["station"]), []).append(tid)
        return out

    def _progress(self) -> float:
        return 1.0 if self.done else self.run.progress()


class ReplayFeed(_Feed):
    """A recording played back at its own times: what its lines say (the pole display's
    text, outcomes, console, journeys); pins, the arm, the LCD and the printer are not in a
    recording."""

    kind = "replay"

    def __init__(self, entries: list[tuple[int | None, dict[str, Any]]], name: str,
                 speed: str = "1", paused: bool = False, tariff: str | None = None) -> None:
        first = next(line for us, line in entries if us is not None)
        start = datetime.datetime.fromisoformat(first["t"])
        super().__init__(name, start, speed, paused)
        self.entries = entries
        self.end_us = max((us for us, _ in entries if us is not None), default=0)
        order: list[str] = []
        boots: dict[str, dict[str, Any]] = {}
        for _, line in entries:
            tid = line.get("terminal")
            if isinstance(tid, str) and tid not in order:
                order.append(tid)
            if line.get("event") == "boot" and isinstance(tid, str):
                boots.setdefault(tid, line)
        self.described = {tid: _describe_recorded(tid, boots.get(tid)) for tid in order}
        if any(isinstance(line.get("station"), int) for _, line in entries):
            path = tariff or DEFAULT_TARIFF
            self.map = metro.load(path) if os.path.exists(path) else None
        self.hub = Hub({"mode": "replay", "name": name, "source": name,
                        "start": start.isoformat(), "terminals": list(self.described.values()),
                        "map": self.map})
        self.publish()

    def _main(self) -> None:
        try:
            for us, line in self.entries:
                if us is not None:
                    self._wait(us)
                self.tracker.apply(line)
        except Closed:
            pass
        finally:
            self.done = True
            self.pacer.virtual_us = max(self.pacer.virtual_us, self.end_us)
            if not self._closed:
                self.publish()

    def _terms(self) -> dict[str, dict[str, Any]]:
        out = {}
        for tid in self.described:
            t = self.tracker.term(tid)
            state = t.view()
            if t.display is not None:
                state["display"] = t.display
            out[tid] = state
        return out

    def _stations(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for tid, station in self.tracker.stations.items():
            out.setdefault(str(station), []).append(tid)
        return out

    def _progress(self) -> float:
        if self.done or not self.end_us:
            return 1.0
        return min(1.0, self.pacer.virtual_us / self.end_us)


def _describe_recorded(tid: str, boot: dict[str, Any] | None) -> dict[str, Any]:
    """What a recorded terminal has, from its boot line's board (a board unknown here: a
    pole display only). Only the pole display's text is in a recording."""
    from host_tools.lib import boards

    out: dict[str, Any] = {"id": tid, "role": None, "board": None, "recorded": True,
                           "display": {"kind": "pole", "width": 20, "rows": 2}}
    if boot is None:
        return out
    out["role"], out["board"] = boot.get("role"), boot.get("board")
    try:
        board = boards.load(str(boot.get("board")))
    except (YktError, ValueError, OSError):
        return out
    d = describe(tid, {"role": out["role"], "board_data": board, "config": {}})
    return {"id": tid, "role": out["role"], "board": out["board"], "recorded": True,
            "display": d.get("display") or out["display"]}


class ConsoleTail:
    """A board's console (what ``ykt monitor`` shows), written to as a byte stream by
    whoever reads the port, published line by line to the hubs of the pages that show it."""

    LINES = 200

    def __init__(self, name: str, hubs: list[Hub]) -> None:
        self.name = name
        self.hubs = hubs
        self.lines: list[str] = []
        self._part = b""
        self.error: str | None = None
        self._lock = threading.Lock()
        self._publish()

    def write(self, data: bytes) -> int:
        with self._lock:
            self._part += data
            *whole, self._part = self._part.split(b"\n")
            if not whole:
                return len(data)
            for raw in whole:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\r"))
            del self.lines[:-self.LINES]
        self._publish()
        return len(data)

    def flush(self) -> None:
        pass

    def failed(self, message: str) -> None:
        """The port went away (or could not be opened): shown under the lines."""
        self.error = message
        self._publish()

    def _publish(self) -> None:
        with self._lock:
            console = {"name": self.name, "lines": list(self.lines), "error": self.error}
        for hub in self.hubs:
            hub.publish_console(console)


class BoardOnly(_Feed):
    """No scenario: a page for a board's console alone (``ykt sim view --console PORT``)."""

    kind = "console"

    def __init__(self, name: str) -> None:
        super().__init__(name, datetime.datetime(2000, 1, 1), "1", False)
        self.done = True
        self.hub = Hub({"mode": "console", "name": name, "source": name, "start": None,
                        "terminals": [], "map": None})
        self.publish()

    def _main(self) -> None:
        pass

    def _terms(self) -> dict[str, dict[str, Any]]:
        return {}
