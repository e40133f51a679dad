# MicroPython-side `machine` of the virtual board when no hardware is attached:
# the resets, identity and RTC of ports/esp32 modmachine.c, served by the board
# (hw_sim/board/board.py). A board with hooks may preload its own `machine`
# (e.g. hw_sim/vm/machine.py) from a directory earlier on the preload path.
from _rpc import rpc

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5


def reset():
    rpc("reset")  # the board ends this process and boots again


def soft_reset():
    raise SystemExit  # as the ESP32 port: the REPL turns it into a soft reboot


def bootloader():
    rpc("bootloader")  # the board ends this process and enters the ROM loader


def reset_cause():
    return rpc("reset_cause")


def unique_id():
    return rpc("unique_id")


def freq(hz=None):
    return 160000000 if hz is None else None


def idle():
    pass


class RTC:
    # ports/esp32 machine_rtc.c: the board keeps the time (it runs across soft and
    # hard resets and starts at 2000-01-01 00:00:00 at power-on, as the chip's RTC).
    def __init__(self, id=0):
        pass

    def datetime(self, datetimetuple=None):
        # (year, month, day, weekday 0=Monday, hours, minutes, seconds, microseconds)
        if datetimetuple is None:
            return tuple(rpc("rtc"))
        rpc("rtc", list(datetimetuple))

    def init(self, datetimetuple):
        # (year, month, day[, hour[, minute[, second[, microsecond[, tzinfo]]]]])
        t = list(datetimetuple) + [0] * (7 - len(datetimetuple))
        self.datetime((t[0], t[1], t[2], 0, t[3], t[4], t[5], t[6]))
