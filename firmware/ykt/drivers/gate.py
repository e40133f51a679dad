"""Turnstile / flap gate I/O: one actuator output, passage sensors, emergency input.

The actuator pin high releases the barrier (a relay or the gate controller's
"open" input). Each passage sensor (through-beam, active low) reads 0 while a
passenger is in the beam; a passage is a beam interruption that ends. The
emergency input (active low, from the station's fire panel) opens every gate.

    gate = Gate(Pin(32, Pin.OUT), Pin(34, Pin.IN), emergency=Pin(39, Pin.IN))
    gate.open(); passed = gate.wait_passage(8000); gate.close()
"""

from micropython import const

from ykt import clock

_POLL_MS = const(20)


class Gate:
    def __init__(self, actuator, sensor, *, emergency=None):
        self._actuator = actuator
        self._sensor = sensor
        self._emergency = emergency
        self.close()

    def open(self):
        self._actuator.value(1)

    def close(self):
        self._actuator.value(0)

    def emergency(self):
        """True while the emergency input is asserted (active low)."""
        return self._emergency is not None and self._emergency.value() == 0

    def emergency_wake(self, asserted):
        """The light-sleep wake-up source for a change of the emergency input from
        ``asserted``: ``((pin,), high)`` (wake when it goes high while asserted, low while
        not; ``ykt.clock.light_sleep``), or None without the input."""
        if self._emergency is None:
            return None
        return ((self._emergency,), asserted)

    def wait_passage(self, timeout_ms):
        """Wait for one passenger to pass through the beam; False on time-out."""
        start = clock.ticks_ms()
        seen = False
        while clock.elapsed_ms(start) < timeout_ms:
            blocked = self._sensor.value() == 0
            if blocked:
                seen = True
            elif seen:
                return True
            clock.sleep_ms(_POLL_MS)
        return False
