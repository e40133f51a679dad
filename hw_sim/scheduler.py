"""Run several terminals' firmware side by side on virtual time, deterministically.

Each terminal has its own :class:`~hw_sim.clock.VirtualClock`; its firmware runs
as a *process* (a CPython thread or a MicroPython VM) that only ever stops
when it sleeps. The scheduler always resumes the process whose wake-up time is
earliest (ties: terminal order), after moving that terminal's clock there, so
exactly one firmware runs at a time and a card that leaves one gate at t is
seen at the next gate only after t. Same inputs, same interleaving, same bytes.

A process ends when the scenario is over (its sleep raises
``SimulationEnd``), when power is cut (``PowerCut`` from the flash model: the
runner may boot it again from its flash) or on an error.
"""

import threading

from hw_sim.clock import SimulationEnd

END, POWER_CUT, ERROR = "end", "power-cut", "error"


class PowerCutSignal(BaseException):
    """Stand-in raised when the flash model has no PowerCut class of its own."""


def power_cut_types():
    try:
        from hw_sim.flash import PowerCut

        return (PowerCut, PowerCutSignal)
    except ImportError:
        return (PowerCutSignal,)


class ThreadProcess:
    """A terminal's firmware on CPython, in a thread that runs only when resumed."""

    def __init__(self, terminal, target):
        self.terminal = terminal
        self._target = target
        self._go = threading.Semaphore(0)
        self._back = threading.Semaphore(0)
        self.wake_us = None
        self.exited = None
        self.error = None
        self._ending = False
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _sleep(self, us):
        clock = self.terminal.clock
        self.wake_us = clock.now_us() + max(0, int(us))
        self._back.release()
        self._go.acquire()
        if self._ending:
            raise SimulationEnd()
        if self.terminal.power_off_due(self.wake_us):
            from hw_sim.flash import PowerCut

            raise PowerCut("power cut")
        clock.advance(self.wake_us - clock.now_us())

    def _main(self):
        self._go.acquire()
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
            self._back.release()

    def start(self):
        self._thread.start()
        self._go.release()
        self._back.acquire()

    def resume(self):
        self._go.release()
        self._back.acquire()

    def stop(self):
        if self.exited is None:
            self._ending = True
            self.resume()
        self._thread.join()


class Scheduler:
    """Earliest wake-up first over processes; nothing runs past ``end_us``.

    ``on_exit(order, process)`` is called for a process that ended on its own
    (power cut, error); it may return a new process for the same slot (a reboot).
    ``on_step()`` is called between steps, in the scheduling thread, while no process runs.
    """

    def __init__(self, end_us, on_exit=None, on_step=None):
        self.end_us = end_us
        self.on_exit = on_exit
        self.on_step = on_step
        self.slots = {}  # order -> process
        self.current = None

    def _enter(self, proc, action):
        self.current = proc
        try:
            action()
        finally:
            self.current = None

    def add(self, order, proc):
        self.slots[order] = proc
        self._enter(proc, proc.start)

    def _reap(self):
        for order in sorted(self.slots):
            proc = self.slots[order]
            while proc is not None and proc.exited is not None:
                del self.slots[order]
                proc = self.on_exit(order, proc) if self.on_exit else None
                if proc is not None:
                    self.add(order, proc)
                    proc = self.slots.get(order)

    def run(self):
        while True:
            if self.on_step is not None:
                self.on_step()
            self._reap()
            if not self.slots:
                return
            order, proc = min(self.slots.items(), key=lambda kv: (kv[1].wake_us, kv[0]))
            if proc.wake_us > self.end_us:
                for o in sorted(self.slots):
                    self._enter(self.slots[o], self.slots[o].stop)
                self.slots.clear()
                return
            self._enter(proc, proc.resume)
