"""A gate and the passengers walking through it, as the board's pins see them.

Watches the actuator pin; when the barrier opens and a passenger is waiting
(``expect_passage``), the passenger steps into the beam ``walk_ms`` later and
clears it ``beam_ms`` after that (the sensor reads 0 while the beam is broken).
The emergency input follows ``set_emergency``. ``log`` keeps what happened.
"""


class GateModel:
    def __init__(self, wiring, open_pin, sensor_pin, emergency_pin=None, walk_ms=700, beam_ms=400):
        self._wiring = wiring
        self._clock = wiring.clock
        self.walk_us = walk_ms * 1000
        self.beam_us = beam_ms * 1000
        self._in_beam = False
        self._emergency = False
        self.waiting = 0  # passengers who will walk through when it opens
        self.passages = 0
        self.log = []  # (time us, what)
        wiring.watch_pin(open_pin, self._actuator)
        wiring.drive_pin(sensor_pin, lambda: 0 if self._in_beam else 1)
        if emergency_pin is not None:
            wiring.drive_pin(emergency_pin, lambda: 0 if self._emergency else 1)

    def expect_passage(self, n=1):
        self.waiting += n

    def set_emergency(self, on):
        self._emergency = bool(on)
        self.log.append((self._clock.now_us(), "emergency on" if on else "emergency off"))

    def _actuator(self, level):
        now = self._clock.now_us()
        self.log.append((now, "open" if level else "closed"))
        if level and self.waiting:
            self.waiting -= 1
            self._clock.schedule(now + self.walk_us, self._enter_beam)

    def _enter_beam(self):
        self._in_beam = True
        self._clock.schedule(self._clock.now_us() + self.beam_us, self._leave_beam)

    def _leave_beam(self):
        self._in_beam = False
        self.passages += 1
        self.log.append((self._clock.now_us(), "passed"))
