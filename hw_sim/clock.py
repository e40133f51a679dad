"""Virtual time for the simulator.

Time only moves when something advances it: the firmware sleeping, or a bus
model charging the time a transfer takes. Scheduled callbacks (a card placed,
a card removed) fire in time order as the clock passes them, so a run is
deterministic and a simulated day takes seconds.
"""

import heapq


class SimulationEnd(BaseException):
    """Raised into the firmware when the scenario has nothing left to do.

    A BaseException so that the firmware's ``except Exception`` guards do not
    swallow it (MicroPython's SystemExit plays the same part on the VM).
    """


class VirtualClock:
    """Microsecond clock with an event queue."""

    def __init__(self, start_us=0):
        self._now = start_us
        self._queue = []
        self._seq = 0
        self.end_at_us = None  # once passed, sleep() raises SimulationEnd
        self.on_sleep = None  # set by the scheduler: sleeps hand control back to it

    def now_us(self):
        return self._now

    def now_ms(self):
        return self._now // 1000

    def next_event_us(self):
        """When the next scheduled callback is due (None: nothing scheduled)."""
        return self._queue[0][0] if self._queue else None

    def schedule(self, at_us, fn):
        """Call ``fn()`` when the clock reaches ``at_us`` (FIFO among equals)."""
        self._seq += 1
        heapq.heappush(self._queue, (max(at_us, self._now), self._seq, fn))

    def advance(self, us):
        """Move time forward by ``us``, firing every callback due on the way."""
        target = self._now + (us if us.__class__ is int and us > 0 else max(0, int(us)))
        queue = self._queue
        if not queue or queue[0][0] > target:  # nothing due on the way
            self._now = target
            return
        while self._queue and self._queue[0][0] <= target:
            at, _, fn = heapq.heappop(self._queue)
            self._now = max(self._now, at)
            fn()
        self._now = target

    def sleep_us(self, us):
        """What the firmware's sleep does: yield to the scheduler, or advance
        (ending the run once ``end_at_us`` has passed) when there is none."""
        if self.on_sleep is not None:
            self.on_sleep(us)
            return
        if self.end_at_us is not None and self._now >= self.end_at_us:
            raise SimulationEnd()
        self.advance(us)
