"""Run several terminals' firmware side by side on virtual time, deterministically.

Each terminal has its own :class:`~hw_sim.clock.VirtualClock`; its firmware runs
as a *process* (a greenlet on CPython, or a MicroPython VM) that only ever stops
when it sleeps. The scheduler always resumes the process whose wake-up time is
earliest (ties: terminal order), after moving that terminal's clock there, so
exactly one firmware runs at a time and a card that leaves one gate at t is
seen at the next gate only after t. Same inputs, same interleaving, same bytes.

A sleep hands control to the scheduler and back only when that could change
anything. When the step between has nothing to do (no output line waiting, no
process exited) the sleeping process asks the scheduler's rule itself
(``Scheduler.successor``): still the earliest to wake, no later than the end, it
advances its own clock in place and runs on; else, when the earliest is another
terminal's greenlet that wakes no later than the end, it switches to that one
directly, one switch instead of two (a MicroPython VM, served by the scheduler
itself, only runs on: ``VmProcess._run_on``). ``FAST_PATH`` off: every sleep goes
through the scheduler; the bytes are the same either way
(tests/test_scheduler_fast_path.py holds it). Greenlets, not threads: a switch is
a jump between stacks in one OS thread, where a thread hand-off took two
semaphores, the GIL and the kernel (a network day of 900 gates a process spent a
quarter of its CPU in the kernel switching threads).

A process ends when the scenario is over (its sleep raises
``SimulationEnd``), when power is cut (``PowerCut`` from the flash model: the
runner may boot it again from its flash) or on an error.
"""

import heapq

import greenlet

from hw_sim.clock import SimulationEnd

END, POWER_CUT, ERROR = "end", "power-cut", "error"

# False: every sleep goes to the scheduler thread and back (the reference behaviour the fast
# path and the direct switch must equal; tests switch it off to compare)
FAST_PATH = True


class PowerCutSignal(BaseException):
    """Stand-in raised when the flash model has no PowerCut class of its own."""


def power_cut_types():
    try:
        from hw_sim.flash import PowerCut

        return (PowerCut, PowerCutSignal)
    except ImportError:
        return (PowerCutSignal,)


class ThreadProcess:
    """A terminal's firmware on CPython, in a greenlet of its own (its own stack, run only when
    switched to: no OS thread, no lock to hand over, no GIL to wait for). The name stays from
    when it was a thread; it behaves as one that runs only when resumed."""

    def __init__(self, terminal, target):
        self.terminal = terminal
        self._target = target
        self.wake_us = None
        self.exited = None
        self.error = None
        self._ending = False
        self.scheduler = None  # set by Scheduler.add: asked whether a sleep may skip it
        self._home = None  # the scheduler's greenlet, where control goes back
        self._g = None

    def _sleep(self, us):
        clock = self.terminal.clock
        self.wake_us = clock.now_us() + max(0, int(us))
        sched = self.scheduler
        nxt = None if sched is None else sched.successor(self)
        if nxt is not self:
            (self._home if nxt is None else nxt._g).switch()
            self.terminal.wiring.activate()  # whoever ran meanwhile made theirs active
            if self._ending:
                raise SimulationEnd()
        if self.terminal.power_off_due(self.wake_us):
            from hw_sim.flash import PowerCut

            raise PowerCut("power cut")
        clock.advance(self.wake_us - clock.now_us())

    def _main(self):
        self.terminal.wiring.activate()
        self.terminal.clock.on_sleep = self._sleep
        try:
            self._target()
            self.exited = END
        except SimulationEnd:
            self.exited = END
        except power_cut_types():
            self.exited = POWER_CUT
        except BaseException as e:  # reported by the runner, with the terminal's name
            self.exited, self.error = ERROR, "%s: %s" % (type(e).__name__, e)
        finally:
            self.terminal.clock.on_sleep = None
            self.wake_us = None
        # returning ends the greenlet: control goes to its parent, the scheduler's greenlet

    def start(self):
        self._home = greenlet.getcurrent()
        self._g = greenlet.greenlet(self._main, parent=self._home)
        self._g.switch()

    def resume(self):
        self._g.switch()

    def stop(self):
        if self.exited is None:
            self._ending = True
            self.resume()


class Scheduler:
    """Earliest wake-up first over processes; nothing runs past ``end_us``.

    ``on_exit(order, process)`` is called for a process that ended on its own
    (power cut, error); it may return a new process for the same slot (a reboot).
    ``on_step()`` is called between steps, in the scheduling thread, while no process runs;
    ``step_due()``, if given, says whether it has anything to do now (when it has not, a
    sleeping process the scheduler would resume anyway runs on without a step: ``keeps``).
    Without ``step_due`` an ``on_step`` runs at every sleep, as before.
    """

    def __init__(self, end_us, on_exit=None, on_step=None, step_due=None):
        self.end_us = end_us
        self.on_exit = on_exit
        self.on_step = on_step
        self.step_due = step_due
        self.slots = {}  # order -> process
        self.current = None
        # while run() resumes a process, or it was handed control directly: (it, the others'
        # least (wake, order), its order)
        self._resumed = None
        self.kept = 0  # sleeps that ran on in place (successor)
        self.switched = 0  # sleeps that handed control to another process directly
        # (wake_us, order) of each sleeping process, a heap: an entry whose process has since
        # woken (or was replaced) is stale and skipped, so finding the earliest costs log n
        self._heap = []
        self._fresh = []  # processes added since the last step (they may have exited at start)

    def _enter(self, proc, action):
        self.current = proc
        try:
            action()
        finally:
            self.current = None

    def add(self, order, proc):
        self.slots[order] = proc
        proc.scheduler = self
        self._enter(proc, proc.start)
        self._fresh.append(order)
        self._asleep(order, proc)

    def _asleep(self, order, proc):
        """``proc`` (in slot ``order``) sleeps until its ``wake_us``: it may be chosen."""
        if proc.exited is None and proc.wake_us is not None:
            heapq.heappush(self._heap, (proc.wake_us, order))

    def _earliest(self):
        """The least ``(wake, order)`` of the sleeping processes (stale entries dropped), or
        None; it stays on the heap."""
        heap = self._heap
        while heap:
            wake, order = heap[0]
            proc = self.slots.get(order)
            if proc is not None and proc.wake_us == wake and proc.exited is None:
                return heap[0]
            heapq.heappop(heap)
        return None

    def next_wake_us(self):
        """When the next step resumes a process (virtual us), or None when none sleeps (for
        an ``on_step`` that paces the run against the wall clock)."""
        top = self._earliest()
        return None if top is None else top[0]

    def successor(self, proc):
        """What the next step would resume after ``proc``'s sleep (until ``proc.wake_us``)
        when that step has nothing else to do, so ``proc`` may act on it in its own greenlet:
        ``proc`` itself (it runs on), another asleep ThreadProcess (``proc`` hands control to
        it directly; ``current`` is it from now), or None (hand control to the scheduler).

        Not None only for the process ``run`` resumed or was handed control (not one starting
        or stopping), when ``on_step`` has nothing to do and no process has exited (only
        ``proc`` ran). The others are all asleep, so their wake-ups cannot move while it runs:
        their least (wake, order) is kept from the resume. The chosen one must wake no later
        than the end, as in ``run``. A terminal's own scheduled events, power cut and end are
        handled after its sleep, on either path. Called in ``proc``'s greenlet."""
        resumed = self._resumed
        if not FAST_PATH or resumed is None or resumed[0] is not proc:
            return None
        if self.on_step is not None and (self.step_due is None or self.step_due()):
            return None
        wake, bound = proc.wake_us, resumed[1]
        if bound is None or (wake, resumed[2]) < bound:
            if wake > self.end_us:
                return None
            self.kept += 1
            return proc
        nxt_wake, nxt_order = bound
        nxt = self.slots[nxt_order]
        if (nxt_wake > self.end_us or not isinstance(nxt, ThreadProcess)
                or not isinstance(proc, ThreadProcess)):
            return None
        heapq.heappop(self._heap)  # nxt's entry: the bound was the heap's top
        self._asleep(resumed[2], proc)
        self._resumed = (nxt, self._earliest(), nxt_order)
        self.current = nxt
        self.switched += 1
        return nxt

    def _reap(self, orders):
        for order in sorted(set(orders)):
            proc = self.slots.get(order)
            while proc is not None and proc.exited is not None:
                del self.slots[order]
                proc = self.on_exit(order, proc) if self.on_exit else None
                if proc is not None:
                    self.add(order, proc)
                    proc = self.slots.get(order)

    def run(self):
        ran = []
        while True:
            if self.on_step is not None:
                self.on_step()
            fresh, self._fresh = self._fresh, []
            self._reap(ran + fresh)
            if not self.slots:
                return
            top = self._earliest()
            if top is None or top[0] > self.end_us:
                for o in sorted(self.slots):
                    self._enter(self.slots[o], self.slots[o].stop)
                self.slots.clear()
                return
            heapq.heappop(self._heap)
            order = top[1]
            proc = self.slots[order]
            self._resumed = (proc, self._earliest(), order)
            try:
                self._enter(proc, proc.resume)
            finally:
                last, _, last_order = self._resumed
                self._resumed = None
            self._asleep(last_order, last)
            ran = [last_order]
