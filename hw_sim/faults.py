"""Faults between the chip and the host: a noisy line.

``NoisyLine`` sits between a bus and a device (it speaks both the UART and the
I2C device protocols) and corrupts every byte the device sends during a
window of virtual time, like an EMI burst on the wire. The device itself is
untouched: it still believes it sent a good frame.
"""


class NoisyLine:
    def __init__(self, dev, clock, start_us, end_us, xor=0x5A):
        self._dev = dev
        self._clock = clock
        self.window = (start_us, end_us)
        self._xor = xor
        self.corrupted = 0
        self.i2c_address = getattr(dev, "i2c_address", None)

    def _noise(self, data):
        start, end = self.window
        if not start <= self._clock.now_us() < end or not data:
            return data
        self.corrupted += len(data)
        return bytes(b ^ self._xor for b in data)

    def uart_write(self, data):
        self._dev.uart_write(data)

    def uart_read(self):
        return self._noise(self._dev.uart_read())

    def i2c_write(self, data):
        self._dev.i2c_write(data)

    def i2c_read(self, n):
        return self._noise(self._dev.i2c_read(n))
