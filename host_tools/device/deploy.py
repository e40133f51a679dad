"""Copy only what changed to a running terminal with the real mpremote (`ykt deploy`).

The local side is :func:`host_tools.lib.image.bundle`: the ``.mpy`` tree under
``/lib/ykt``, ``/main.py``, and ``/board.json`` / ``/config.json`` when given.
One ``mpremote exec`` prints the sha256 of every file under ``/lib/ykt`` and of
the top-level files on the board; files whose hash differs (or that are
missing) are copied with ``mpremote fs cp``, directories made with ``fs
mkdir``, ``.mpy`` files under ``/lib/ykt`` that the build no longer has are
removed, the copies are hashed again on the board, then ``reset``. "Bytes
sent" counts the bytes of the copied files (mpremote's encoding adds more on
the wire).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable

from host_tools.lib.errors import Failed
from host_tools.lib.files import write_atomic
from host_tools.lib.image import LIB, MAIN_PY, Board, bundle, firmware_mpy

MPREMOTE_TIMEOUT = 300
TOP_FILES = ("/main.py", "/board.json", "/config.json")
_TAG = "@@ykt "
# mpremote's reset resets 100 ms after mpremote has gone; the sleep keeps the next
# mpremote from talking to the board in that window (the reset drops what it sent).
RESET = ["reset", "+", "sleep", "0.5"]

# Runs on the board: "@@ykt F path sha256" per file, "@@ykt D path" per directory.
HASH_SCRIPT = """
import os, hashlib, binascii
def _h(p):
    d = hashlib.sha256()
    b = bytearray(512)
    m = memoryview(b)
    with open(p, 'rb') as f:
        while True:
            n = f.readinto(b)
            if not n:
                break
            d.update(m[:n])
    return binascii.hexlify(d.digest()).decode()
def _w(p):
    for e in os.ilistdir(p):
        q = p + '/' + e[0]
        if e[1] & 0x4000:
            print('@@ykt D', q)
            _w(q)
        else:
            print('@@ykt F', q, _h(q))
def _d(p):
    try:
        if os.stat(p)[0] & 0x4000:
            print('@@ykt D', p)
    except OSError:
        pass
def _top(ps):
    for p in ps:
        try:
            print('@@ykt F', p, _h(p))
        except OSError:
            pass
"""


class DeviceError(Failed):
    """The device could not be reached or did not do what it was asked."""


def check_port(port: str) -> None:
    if "://" not in port and not os.path.exists(port):
        raise DeviceError("no such port %s" % port)


def _run_mpremote(port: str, args: Iterable[str],
                  timeout: float) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "mpremote", "connect", port, *args]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise DeviceError("%s: mpremote timed out after %d s" % (port, timeout)) from None


def mpremote(port: str, *args: str, timeout: float = MPREMOTE_TIMEOUT, attempts: int = 3) -> str:
    """Run ``mpremote connect PORT ARGS...``; its stdout, or DeviceError with one line.

    "could not enter raw repl" happens before anything ran (e.g. the board was
    resetting and its UART FIFO dropped mpremote's Ctrl-A), so it is retried.
    """
    check_port(port)
    for attempt in range(attempts):
        r = _run_mpremote(port, args, timeout)
        text = (r.stderr.strip() or r.stdout.strip() or "mpremote failed").splitlines()
        if r.returncode == 0:
            return r.stdout
        if "could not enter raw repl" not in text[-1] or attempt == attempts - 1:
            break
        time.sleep(0.5)
    last = text[-1].strip()
    if "failed to access" in last:
        last = "cannot open %s (no device there, or it is in use)" % port
    elif "could not enter raw repl" in last:
        last = "no MicroPython REPL answers on %s" % port
    elif last.startswith("mpremote."):
        last = last.split(": ", 1)[-1]
    raise DeviceError("%s: %s" % (port, last))


def tagged(output: str) -> list[list[str]]:
    """The ``@@ykt`` lines of an exec's output, split into fields."""
    return [line[len(_TAG):].split() for line in output.splitlines() if line.startswith(_TAG)]


def board_hashes(port: str, lib_dir: str = LIB + "/ykt",
                 extra: Iterable[str] = ()) -> tuple[dict[str, str], set[str]]:
    """({path: sha256} of files, set of directories) on the board."""
    code = HASH_SCRIPT + "_top(%r)\nfor _p in %r:\n    _d(_p)\ntry:\n    _w(%r)\n" \
        "except OSError:\n    pass\n" % (list(TOP_FILES) + list(extra), [LIB, lib_dir, "/inbox"],
                                        lib_dir)
    files: dict[str, str] = {}
    dirs: set[str] = set()
    for fields in tagged(mpremote(port, "exec", code)):
        if fields[0] == "F" and len(fields) == 3:
            files[fields[1]] = fields[2]
        elif fields[0] == "D" and len(fields) == 2:
            dirs.add(fields[1])
    return files, dirs


class Result:
    def __init__(self) -> None:
        self.copied: list[tuple[str, int]] = []    # (device path, bytes)
        self.skipped: list[str] = []   # device paths
        self.removed: list[str] = []   # device paths
        self.made: list[str] = []      # directories

    @property
    def bytes_sent(self) -> int:
        return sum(n for _, n in self.copied)


def _dirs_to_make(paths: Iterable[str], have: set[str]) -> list[str]:
    need: list[str] = []
    for path in sorted(paths):
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/" + "/".join(parts[:i])
            if d not in have and d not in need:
                need.append(d)
    return need


def local_files(board_name: str | None = None,
                config_path: str | None = None) -> dict[str, bytes]:
    if board_name is not None:
        return bundle(Board(board_name), config_path)
    files = firmware_mpy("xtensawin")  # ESP32 and ESP32-S3 alike
    files["/main.py"] = MAIN_PY
    if config_path is not None:
        from host_tools.lib.image import load_config

        files["/config.json"] = load_config(config_path)[0]
    return files


def _quiet(line: str) -> None:
    pass


def deploy(port: str, board_name: str | None = None, config_path: str | None = None,
           say: Callable[[str], None] | None = None, reset: bool = True,
           verbose: bool = False) -> Result:
    """Make the board's files equal to the local build; returns a Result.
    ``say`` takes each progress line (the library prints nothing)."""
    if say is None:
        say = _quiet
    check_port(port)
    files = local_files(board_name, config_path)
    remote, dirs = board_hashes(port)
    res = Result()
    changed = []
    for path, data in files.items():
        if remote.get(path) == hashlib.sha256(data).hexdigest():
            res.skipped.append(path)
        else:
            changed.append(path)
    prefix = LIB + "/ykt/"
    res.removed = sorted(p for p in remote if p.startswith(prefix) and p.endswith(".mpy")
                         and p not in files)
    res.made = _dirs_to_make(changed, dirs)
    args: list[str] = []
    for d in res.made:
        args += ["fs", "--no-verbose", "mkdir", ":" + d, "+"]
    for p in res.removed:
        args += ["fs", "--no-verbose", "rm", ":" + p, "+"]
    with tempfile.TemporaryDirectory(prefix="ykt-deploy-") as stage:
        for i, path in enumerate(changed):
            local = os.path.join(stage, "%03d-%s" % (i, path.rsplit("/", 1)[1]))
            write_atomic(local, files[path])
            args += ["fs", "--no-verbose", "cp", "-f", local, ":" + path, "+"]
        if changed:
            check = HASH_SCRIPT + "_top(%r)\n" % changed
            args += ["exec", check, "+"]
        if reset:
            args += RESET
        elif args:
            args.pop()
        # "resume": the board was soft-reset by the hash exec just before; skip another.
        out = mpremote(port, "resume", *args) if args else ""
    after = {f[1]: f[2] for f in tagged(out) if f[0] == "F" and len(f) == 3}
    for path in changed:
        want = hashlib.sha256(files[path]).hexdigest()
        if after.get(path) != want:
            raise DeviceError("%s: %s did not arrive intact on the board" % (port, path))
        res.copied.append((path, len(files[path])))
    for d in res.made:
        say("made     %s/" % d)
    for p in res.removed:
        say("removed  %s" % p)
    for path, n in res.copied:
        say("copied   %s (%d bytes)" % (path, n))
    if verbose:
        for path in res.skipped:
            say("skipped  %s (unchanged)" % path)
    say("%d copied (%d bytes sent), %d unchanged skipped, %d removed%s"
        % (len(res.copied), res.bytes_sent, len(res.skipped), len(res.removed),
           "; board reset" if reset else ""))
    return res
