"""``ykt sim board``: a virtual ESP32 on loopback TCP, for the real esptool and mpremote.

The TCP connection is the board's UART (a pyserial ``socket://`` URL, raw
bytes both ways, no telnet/RFC 2217). One host at a time: a new connection
takes the UART over from the previous one (a serial port has one owner; the
old one is closed). Output while nobody is connected is lost, as on a UART.

Boot rule (details in :mod:`hw_sim.board.board` and docs/virtual-board.md):
the board powers on in ROM download mode (``--boot app`` to power on into
MicroPython instead); esptool ``--after soft-reset`` (FLASH_END, "run user
code") boots the application; ``mpremote reset`` reboots it;
``mpremote bootloader`` goes back to download mode.

    ykt sim board --listen 127.0.0.1:0 --board devkitc-turnstile
    esptool --port socket://127.0.0.1:PORT --before no-reset --no-stub write-flash 0x1000 fw.bin
    esptool --port socket://127.0.0.1:PORT --before no-reset --no-stub --after soft-reset chip-id
    mpremote connect socket://127.0.0.1:PORT fs ls

The MicroPython VM behind the REPL is not a sandbox (it is the unix port),
so the server listens on loopback addresses only.
"""

import ipaddress
import json
import os
import select
import socket
import threading
import time

from hw_sim.board.board import VFS_OFFSET, Board
from hw_sim.board.rom import CHIPS as ROM_CHIPS
from hw_sim.board.rom import RomLoader
from hw_sim.flash import NorFlash

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOARDS_DIR = os.path.join(ROOT, "boards")
SEND_TIMEOUT = 5.0


class BoardServer:
    """Serves ``board``'s UART on ``host:port`` (port 0: a free one, see ``port``)."""

    def __init__(self, board, host="127.0.0.1", port=0, on_disconnect=None, log=None):
        if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
            raise ValueError("the virtual board listens on loopback addresses only")
        self.board = board
        self.log = log or (lambda msg: None)
        self.on_disconnect = on_disconnect
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(2)
        self.host, self.port = self.sock.getsockname()[:2]
        self.client = None
        self.connections = 0
        self._stop = threading.Event()
        self._thread = None

    @property
    def url(self):
        return "socket://%s:%d" % (self.host, self.port)

    # -- the UART over TCP -----------------------------------------------------------
    def _send(self, data):
        if self.client is None:
            return
        try:
            self.client.sendall(data)
        except OSError:
            self._drop()

    def _drop(self):
        if self.client is None:
            return
        self.board.tx = None
        try:
            self.client.close()
        except OSError:
            pass
        self.client = None
        if self.on_disconnect is not None:
            self.on_disconnect()

    def _accept(self):
        conn, _ = self.sock.accept()
        self._drop()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(SEND_TIMEOUT)
        self.client = conn
        self.connections += 1
        if self.board.mode == "rom":
            self.board.rom.reset_link()
        self.board.connect(self._send)  # MicroPython: its console since the last boot first

    # -- the loop ----------------------------------------------------------------------
    def serve(self, max_seconds=None, max_connections=None):
        """Run until :meth:`stop`, ``max_seconds`` or the end of connection ``max_connections``."""
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        try:
            while not self._stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if (max_connections is not None and self.connections >= max_connections
                        and self.client is None):
                    break
                self._step()
        finally:
            self._drop()
            self.sock.close()
            self.board.close()

    def _step(self):
        waits = [self.sock] + ([self.client] if self.client is not None else [])
        vm_fds = self.board.fds()
        ready, _, _ = select.select(waits + vm_fds, [], [], 0.05)
        if self.sock in ready:
            self._accept()
            return
        if self.client is not None and self.client in ready:
            try:
                data = self.client.recv(65536)
            except OSError:
                data = b""
            if not data:
                self._drop()
            else:
                self.board.uart_rx(data)
        if any(fd in ready for fd in vm_fds):
            self.board.service()
        self.board.tick()

    def start(self, max_seconds=120.0):
        """Serve on a daemon thread (tests); bounded by ``max_seconds``."""
        self._thread = threading.Thread(target=self.serve, kwargs={"max_seconds": max_seconds},
                                        name="virtual-board", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=10.0):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


# -- board files and the command line -------------------------------------------------------
def load_board_file(name):
    """A board file (``boards/NAME.json`` or a path) the virtual board can be: an ESP32 or
    ESP32-S3 whose ``vfs`` partition is where MicroPython's partition table puts it."""
    path = name if name.endswith(".json") else os.path.join(BOARDS_DIR, name + ".json")
    with open(path) as f:
        spec = json.load(f)
    what = spec.get("name", name) if isinstance(spec, dict) else name
    if not isinstance(spec, dict) or spec.get("chip") not in ROM_CHIPS:
        raise ValueError("board %s: the virtual board emulates the ROM of %s only (chip %r)"
                         % (what, " and ".join(ROM_CHIPS),
                            spec.get("chip") if isinstance(spec, dict) else None))
    size = int(spec.get("flash_size", 4 << 20))
    vfs = (spec.get("partitions") or {}).get("vfs")
    if vfs and (vfs.get("offset") != VFS_OFFSET or vfs.get("offset") + vfs.get("size") != size):
        raise ValueError("board %s: the virtual board mounts the vfs partition at 0x%x to the "
                         "end of the flash; the board file has 0x%x, %d bytes"
                         % (what, VFS_OFFSET, vfs.get("offset"), vfs.get("size")))
    return spec


def make_board(spec, flash_image=None, **kw):
    size = int(spec.get("flash_size", 4 << 20))
    flash = NorFlash(size)
    if flash_image and os.path.exists(flash_image):
        with open(flash_image, "rb") as f:
            data = f.read()
        if len(data) > size:
            raise ValueError("%s is larger than the %d-byte flash" % (flash_image, size))
        flash = NorFlash.from_image(data + b"\xff" * (size - len(data)))
    if not kw.get("heap"):  # the VM's heap by the board file's rule (docs/boards.md, Memory)
        from hw_sim.board.taps import board_vm_heap

        kw["heap"] = board_vm_heap(spec)
    board = Board(flash, name=spec.get("name", "virtual-esp32"), **kw)
    chip = spec.get("chip", "esp32")
    if chip != "esp32":  # the ROM esptool meets is the chip's (S3: chip id, registers)
        board.rom = RomLoader(board.flash, board.mac, chip=chip)
    return board
