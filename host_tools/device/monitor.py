"""The board's console (`ykt monitor`): a plain pyserial read loop on the port or URL.

Everything the board sends goes to stdout byte for byte until Ctrl-C or
``seconds`` have passed. Nothing is sent to the board (so a running main.py is
not interrupted, unlike an mpremote REPL session).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, BinaryIO

import serial


def open_port(port: str, baudrate: int = 115200) -> Any:
    if "://" not in port and not os.path.exists(port):
        raise OSError("no such port %s" % port)
    try:
        return serial.serial_for_url(port, baudrate=baudrate, timeout=0.1)
    except (serial.SerialException, ValueError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise OSError("cannot open %s: %s" % (port, reason)) from None


def monitor(port: str, seconds: float | None = None, out: BinaryIO | None = None,
            baudrate: int = 115200) -> int:
    """Copy the console to ``out`` (stdout's bytes); returns the number of bytes seen."""
    out = out or sys.stdout.buffer
    deadline = None if seconds is None else time.monotonic() + seconds
    total = 0
    with open_port(port, baudrate) as ser:
        while deadline is None or time.monotonic() < deadline:
            try:
                data = ser.read(4096)
            except serial.SerialException as e:
                raise OSError("%s: %s" % (port, e)) from None
            if data:
                out.write(data)
                out.flush()
                total += len(data)
    return total
