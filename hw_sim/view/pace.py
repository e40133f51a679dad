"""Pacing a run on virtual time against the wall clock: real time, x10, x100 or as fast as
it goes; paused; one step at a time (a step ends at the next output line or, in a live run,
the next move of a gate's arm: whatever the feed counts).

The run's thread calls :meth:`Pacer.wait` before each step with the virtual time (us) the
step starts at; it returns when the step may go. The page's requests change the pace from
other threads (:meth:`set_speed`, :meth:`pause`, :meth:`step`).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

SPEEDS = {"1": 1.0, "10": 10.0, "100": 100.0, "max": 0.0}
TICK_S = 0.04  # while waiting, ``tick`` runs at least this often (the page's frame rate)
BEHIND_S = 0.5  # a run further behind its pace than this starts counting again from now
AHEAD_S = 0.005  # a step due sooner than this goes at once (no wait shorter than a frame's bit)


class Pacer:
    def __init__(self, speed: str = "1", paused: bool = False) -> None:
        if speed not in SPEEDS:
            raise ValueError("speed %r: one of %s" % (speed, ", ".join(SPEEDS)))
        self.speed = speed
        self.paused = paused
        self._cond = threading.Condition()
        self._anchor: tuple[float, int] | None = None  # (wall, virtual us) pacing counts from
        self._step_from: int | None = None  # while stepping: the line count it started at
        self.virtual_us = 0
        self.steps = 0  # steps ended (paused at their line)

    # -- from the page ---------------------------------------------------------------------
    def set_speed(self, speed: str) -> None:
        if speed not in SPEEDS:
            raise ValueError("speed %r: one of %s" % (speed, ", ".join(SPEEDS)))
        with self._cond:
            self.speed, self._anchor = speed, None
            self._cond.notify_all()

    def pause(self, on: bool) -> None:
        with self._cond:
            self.paused, self._anchor, self._step_from = bool(on), None, None
            self._cond.notify_all()

    def step(self, lines_now: int) -> None:
        """Run on until a line is output after the ``lines_now`` there are, then pause."""
        with self._cond:
            self.paused, self._anchor, self._step_from = True, None, lines_now
            self._cond.notify_all()

    def state(self) -> dict[str, object]:
        return {"speed": self.speed, "paused": self.paused and self._step_from is None,
                "steps": self.steps}

    def kick(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # -- from the run's thread ---------------------------------------------------------------
    def wait(self, virtual_us: int | None, lines: int, tick: Callable[[], None]) -> None:
        """Return when the step at ``virtual_us`` may run (``lines``: output lines so far);
        ``tick()`` runs meanwhile, at least every TICK_S."""
        while True:
            tick()
            with self._cond:
                if self.paused:
                    if self._step_from is None or lines > self._step_from:
                        if self._step_from is not None:
                            self._step_from = None
                            self.steps += 1
                            continue  # tick at once: the step's end is shown
                        self._cond.wait(TICK_S)
                        continue
                    delay = 0.0  # stepping: as fast as it goes until the next line
                else:
                    delay = self._delay(virtual_us)
                if delay <= AHEAD_S:
                    if virtual_us is not None:
                        self.virtual_us = max(self.virtual_us, virtual_us)
                    return
                self._cond.wait(min(delay, TICK_S))

    def _delay(self, virtual_us: int | None) -> float:
        rate = SPEEDS[self.speed]
        if not rate or virtual_us is None:
            return 0.0
        now = time.monotonic()
        if self._anchor is None:
            self._anchor = (now, self.virtual_us)
        wall, virt = self._anchor
        delay = wall + (virtual_us - virt) / 1e6 / rate - now
        if delay < -BEHIND_S:  # the run could not keep up: pace from here on
            self._anchor = (now, virtual_us)
            return 0.0
        return delay
