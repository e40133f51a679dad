"""LittleFS (os.VfsLfs2) on the simulated flash, from the MicroPython VM
(tests/test_lfs_vfs.py serves the flash requests as hw_sim/vm_bridge.py does).

``micropython lfs_steps.py STEP...`` (hw_sim/vm and the firmware on MICROPYPATH) mounts the
flash at /flash (``flashdev.mount``: formats a blank one, refuses a damaged one) and runs each
step in turn; a step with a result prints it as JSON:

- ``make-tree``: /a.bin, /d/log and an empty /d/e/x;
- ``show-tree``: ``{path: sha256 hex}`` of those three files and ``"/": listdir("/")``;
- ``appends N``: N appends to /log, growing records, then prints ``done``;
- ``read-log``: /log in hex;
- ``statvfs``, ``listdir``: of "/";
- ``parity``: ``lfs_parity.parity`` on this fs.
"""

import binascii
import json
import sys

import flashdev

from ykt.store.vfs import Vfs


def h(b):
    return binascii.hexlify(bytes(b)).decode()


flashdev.mount("/flash")
fs = Vfs("/flash")


def make_tree():
    fs.mkdir("/d")
    fs.mkdir("/d/e")
    for p, n in (("/a.bin", 3), ("/d/log", 900), ("/d/e/x", 0)):
        with fs.open(p, "wb") as f:
            f.write((bytes(range(256)) if p == "/a.bin" else b"0123456789") * n)


def show_tree():
    import hashlib

    out = {}
    for p in ("/a.bin", "/d/log", "/d/e/x"):
        d = hashlib.sha256()
        with fs.open(p, "rb") as f:
            while True:
                chunk = f.read(512)
                if not chunk:
                    break
                d.update(chunk)
        out[p] = h(d.digest())
    out["/"] = sorted(fs.listdir("/"))
    return out


def appends(n):
    for i in range(int(n)):
        with fs.open("/log", "ab") as f:
            f.write(b"%03d|" % i + bytes([65 + i % 26]) * (40 + 7 * i))
    print("done")


def read_log():
    with fs.open("/log", "rb") as f:
        return h(f.read())


def parity():
    from lfs_parity import parity

    return parity(fs, h)


STEPS = {"make-tree": make_tree, "show-tree": show_tree, "appends": appends,
         "read-log": read_log, "statvfs": lambda: list(fs.statvfs("/")),
         "listdir": lambda: fs.listdir("/"), "parity": parity}

argv = sys.argv[1:]
while argv:
    step = STEPS[argv.pop(0)]
    result = step(argv.pop(0)) if step is appends else step()
    if result is not None:
        print(json.dumps(result))
