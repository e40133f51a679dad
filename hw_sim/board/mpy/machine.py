# MicroPython-side `machine` of the virtual board when no hardware is attached:
# the resets and identity of ports/esp32 modmachine.c, served by the board
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
