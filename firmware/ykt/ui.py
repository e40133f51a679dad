"""What a passenger or cashier sees and hears: display, two LEDs, buzzer.

Any part may be absent (``None``) on a board. The buzzer is a plain
active-buzzer pin: one short beep for success, three for a refusal.
"""

from ykt import clock


class Ui:
    def __init__(self, display=None, green=None, red=None, buzzer=None):
        self.display = display
        self._green = green
        self._red = red
        self._buzzer = buzzer
        self._set(self._green, 0)
        self._set(self._red, 0)
        self._set(self._buzzer, 0)

    @staticmethod
    def _set(pin, level):
        if pin is not None:
            pin.value(level)

    def show(self, line1, line2=""):
        if self.display is not None:
            self.display.show(line1, line2)

    def _beep(self, times):
        if self._buzzer is None:
            return
        for _ in range(times):
            self._buzzer.value(1)
            clock.sleep_ms(80)
            self._buzzer.value(0)
            clock.sleep_ms(60)

    def ok(self, line1, line2=""):
        self._set(self._red, 0)
        self._set(self._green, 1)
        self.show(line1, line2)
        self._beep(1)

    def fail(self, line1, line2=""):
        self._set(self._green, 0)
        self._set(self._red, 1)
        self.show(line1, line2)
        self._beep(3)

    def idle(self, line1, line2=""):
        self._set(self._green, 0)
        self._set(self._red, 0)
        self.show(line1, line2)
