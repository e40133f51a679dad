"""Helpers for the host-command tests: the `ykt` CLI as a subprocess, virtual boards
(hw_sim.board) on free loopback ports, and the board's vfs partition read back
with littlefs-python."""

import os
import socket
import subprocess
import sys
import time

import littlefs

from hw_sim.board.board import VFS_OFFSET, Board
from hw_sim.board.server import BoardServer
from hw_sim.flash import NorFlash

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLASH_SIZE = 4 << 20
PART_SIZE = FLASH_SIZE - VFS_OFFSET
GEOMETRY = dict(block_size=4096, block_count=PART_SIZE // 4096, read_size=32, prog_size=32,
                lookahead_size=32, cache_size=128)


def ykt(*args, timeout=300):
    """Run ``ykt ARGS`` (the real CLI, in a subprocess)."""
    return subprocess.run([sys.executable, "-m", "host_tools.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          stdin=subprocess.DEVNULL)


def free_port():
    """A loopback port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_board(flash=None, mode="rom", name="host-test", server_cls=BoardServer):
    """A virtual ESP32 served on a free loopback port; stop it with ``server.stop()``."""
    board = Board(flash if flash is not None else NorFlash(FLASH_SIZE), name=name)
    server = server_cls(board)
    board.power_on(mode)
    server.start(max_seconds=300)
    return board, server


def partition_fs(flash_or_image):
    """The vfs partition's LittleFS (from a NorFlash or a partition image), mounted."""
    if isinstance(flash_or_image, (bytes, bytearray)):
        data = bytes(flash_or_image)
    else:
        data = flash_or_image.read(VFS_OFFSET, PART_SIZE)
    ctx = littlefs.UserContext(buffer=bytearray(data))
    fs = littlefs.LittleFS(context=ctx, mount=False, **dict(GEOMETRY,
                                                            block_count=len(data) // 4096))
    fs.mount()
    return fs


def read_files(flash_or_image, top="/"):
    """{path: bytes} of every file under ``top`` in the partition."""
    fs = partition_fs(flash_or_image)
    out = {}
    for base, _, names in fs.walk(top):
        for name in names:
            path = base.rstrip("/") + "/" + name
            with fs.open(path, "rb") as f:
                out[path] = f.read()
    return out


def flash_with_files(files):
    """A 4 MB flash whose vfs partition holds ``files`` ({path: bytes})."""
    from host_tools.lib.image import make_image

    flash = NorFlash(FLASH_SIZE)
    flash.program(VFS_OFFSET, make_image(files, PART_SIZE))
    return flash


def leftovers(directory):
    """Temporary files a failed command may have left behind."""
    return [n for n in os.listdir(directory) if ".tmp" in n]


def wait_idle(board, timeout=20.0):
    """Wait (bounded) until the board's MicroPython sits in its REPL, e.g. after main.py.

    mpremote's Ctrl-C can land while the firmware's main.py is importing; the
    virtual board's VM then sometimes exits and the board resets, which costs
    mpremote a 10 s raw-REPL timeout (and `ykt` a retry). Waiting keeps tests fast.
    """
    end = time.monotonic() + timeout
    while time.monotonic() < end and not (board.mode == "app" and board.busy is None):
        time.sleep(0.05)
