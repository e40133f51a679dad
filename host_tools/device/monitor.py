"""The board's console (`ykt monitor`): a read loop on the port or URL.

Everything the board sends goes to stdout byte for byte until Ctrl-C or
``seconds`` have passed. Nothing is sent to the board (so a running main.py is
not interrupted, unlike an mpremote REPL session).

A ``socket://HOST:PORT`` URL (the virtual board, docs/virtual-board.md) is read
with a plain TCP connection, not pyserial's ``socket://`` handler: pyserial empties
its input when it opens the port, and the virtual board's first bytes to a new
connection are its console since its last boot (the boot lines of a terminal that
cannot boot). A serial port is read with pyserial; a real board prints its boot
lines when it is reset (EN button).
"""

from __future__ import annotations

import os
import select
import socket
import sys
import time
import urllib.parse
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


class _SocketPort:
    """A ``socket://HOST:PORT`` URL read as a plain TCP stream (keeps the first bytes)."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if not parts.hostname or parts.port is None:
            raise OSError("cannot open %s: give socket://HOST:PORT" % url)
        try:
            self.sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
        except OSError as e:
            raise OSError("cannot open %s: %s" % (url, e.strerror or e)) from None
        self.closed = False

    def read(self, n: int) -> bytes:
        if self.closed:
            raise serial.SerialException("the board closed the connection")
        ready, _, _ = select.select([self.sock], [], [], 0.1)
        if not ready:
            return b""
        data = self.sock.recv(n)
        if not data:
            self.closed = True
            raise serial.SerialException("the board closed the connection")
        return data

    def __enter__(self) -> _SocketPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def monitor(port: str, seconds: float | None = None, out: BinaryIO | None = None,
            baudrate: int = 115200) -> int:
    """Copy the console to ``out`` (stdout's bytes); returns the number of bytes seen."""
    out = out or sys.stdout.buffer
    deadline = None if seconds is None else time.monotonic() + seconds
    total = 0
    opened = _SocketPort(port) if port.startswith("socket://") else open_port(port, baudrate)
    with opened as ser:
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
