"""Flash terminals with the real esptool (`ykt flash`), several ports in parallel.

Per device, each step its own esptool subprocess (``--before no-reset
--no-stub``, ROM loader, as docs/virtual-board.md and real ESP32s in download
mode take it):

1. ``read-mac``: the MAC for the report (and a quick check that the device
   answers);
2. ``write-flash -z``: the firmware (if given) at the board's ``firmware``
   offset and the image at its ``vfs`` offset, ``--after no-reset``; its
   "Writing at ... NN.N%" lines drive the progress display;
3. ``verify-flash`` of the same files (``--after soft-reset`` on socket://
   ports, which cannot pulse EN; ``hard-reset`` otherwise): the device boots.

One thread per port; a device that fails does not stop the others. The
report gives each port's MAC, the sha256 of each image written and OK or
FAILED with esptool's reason.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any, cast

from host_tools.lib.errors import BadInput
from host_tools.lib.files import read_input
from host_tools.lib.image import Board

CONNECT_ATTEMPTS = 3
STEP_TIMEOUT = 600  # seconds, per esptool run
_WRITING = re.compile(r"Writing at 0x([0-9a-fA-F]+)\s.*?(\d+(?:\.\d+)?)%")
_WROTE = re.compile(r"Wrote \d+ bytes .*?at 0x([0-9a-fA-F]+)")
_MAC = re.compile(r"MAC:\s+([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})")


class Image:
    def __init__(self, what: str, offset: int, path: str) -> None:
        self.what, self.offset, self.path = what, offset, path
        data = read_input(path, what)
        self.size = len(data)
        self.sha256 = hashlib.sha256(data).hexdigest()


class Device:
    """One port's flashing: ``mac``, ``ok``, ``reason``, ``step``, ``percent``."""

    def __init__(self, port: str) -> None:
        self.port = port
        self.mac: str | None = None
        self.ok: bool | None = None
        self.reason = ""
        self.step = "waiting"
        self.percent = 0.0


def plan(board_name: str, image_path: str | None,
         firmware_path: str | None = None) -> tuple[Board, list[Image]]:
    """[Image] to write, checked against the board's partitions."""
    board = Board(board_name)
    images = []
    for what, path in (("firmware", firmware_path), ("vfs", image_path)):
        if path is None:
            continue
        if not os.path.isfile(path):
            raise BadInput("no such %s file: %s" % ("image" if what == "vfs" else what, path))
        offset, size = board.partition(what)
        img = Image(what, offset, path)
        if img.size > size:
            raise BadInput("%s is %d bytes, larger than the %d-byte %s partition of %s"
                             % (path, img.size, size, what, board.name))
        if img.size == 0:
            raise BadInput("%s is empty" % path)
        images.append(img)
    return board, images


def esptool_cmd(port: str, *args: str, after: str = "no-reset",
                attempts: int = CONNECT_ATTEMPTS) -> list[str]:
    return [sys.executable, "-m", "esptool", "--port", port, "--before", "no-reset",
            "--no-stub", "--after", after, "--connect-attempts", str(attempts), *args]


def reason_of(output: str) -> str:
    """esptool's own words for a failure (its "ERROR:" / "fatal error" line), else its last."""
    lines = [ln.strip() for ln in output.replace("\r", "\n").splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if line.startswith("ERROR:") or "A fatal error occurred:" in line:
            text = line.split("ERROR:", 1)[-1].strip()
            text = text.split("A fatal error occurred:", 1)[-1].strip()
            if i + 1 < len(lines) and lines[i + 1].startswith("("):
                text += " " + lines[i + 1]
            return text
    return lines[-1] if lines else "esptool exited without output"


def _run(cmd: list[str], on_line: Callable[[str], None] | None = None) -> tuple[int, str]:
    """(exit code, output) of one esptool run, lines passed to ``on_line`` as they come."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    stdout = cast(io.BufferedReader, proc.stdout)  # stdout=PIPE, binary
    out = []
    timer = threading.Timer(STEP_TIMEOUT, proc.kill)
    timer.start()
    try:
        buf = b""
        while True:
            chunk = stdout.read1(4096)
            if not chunk:
                break
            buf += chunk
            *lines, buf = re.split(rb"[\r\n]", buf)
            for raw in lines:
                line = raw.decode("utf-8", "replace")
                out.append(line)
                if on_line is not None:
                    on_line(line)
        out.append(buf.decode("utf-8", "replace"))
        code = proc.wait()
    finally:
        timer.cancel()
    if code < 0:
        out.append("A fatal error occurred: esptool timed out after %d s" % STEP_TIMEOUT)
    return code, "\n".join(out)


def _is_url(port: str) -> bool:
    return "://" in port


Progress = Callable[["Device"], None]


def flash_device(dev: Device, images: list[Image], progress: Progress = lambda dev: None,
                 attempts: int = CONNECT_ATTEMPTS, after: str | None = None) -> Device:
    """Flash and verify one device; fills in ``dev`` (never raises for device trouble)."""
    if not _is_url(dev.port) and not os.path.exists(dev.port):
        dev.ok, dev.reason = False, "no such port %s" % dev.port
        progress(dev)
        return dev
    after = after or ("soft-reset" if dev.port.startswith("socket://") else "hard-reset")
    dev.step = "connecting"
    progress(dev)
    code, out = _run(esptool_cmd(dev.port, "read-mac", attempts=attempts))
    m = _MAC.search(out)
    if code != 0 or not m:
        dev.ok, dev.reason = False, "read-mac: " + reason_of(out)
        progress(dev)
        return dev
    dev.mac = m.group(1).lower()
    # The vfs image first: esptool 5 stops compressing for the rest of a run once a file
    # does not compress (a test firmware of random bytes), and a 2 MB image sent raw is slow.
    order = sorted(images, key=lambda img: img.what != "vfs")
    args = ["write-flash", "-z"]
    for img in order:
        args += ["0x%x" % img.offset, img.path]
    total = sum(img.size for img in images)
    finished: list[Image] = []

    def on_line(line: str) -> None:
        w = _WROTE.search(line)
        if w is not None:
            finished.extend(i for i in images if i.offset == int(w.group(1), 16))
            return
        w = _WRITING.search(line)
        if w is None:
            return
        addr, pct = int(w.group(1), 16), float(w.group(2))
        done: float = sum(i.size for i in finished)
        for img in images:
            if img not in finished and img.offset <= addr <= img.offset + img.size:
                dev.step = "writing " + img.what
                done += img.size * pct / 100.0
        dev.percent = min(100.0, 100.0 * done / total)
        progress(dev)

    dev.step = "writing"
    code, out = _run(esptool_cmd(dev.port, *args, attempts=attempts), on_line)
    if code != 0 or out.count("Hash of data verified.") != len(images):
        dev.ok, dev.reason = False, "write-flash: " + reason_of(out)
        progress(dev)
        return dev
    dev.step, dev.percent = "verifying", 100.0
    progress(dev)
    args = ["verify-flash"]
    for img in images:
        args += ["0x%x" % img.offset, img.path]
    code, out = _run(esptool_cmd(dev.port, *args, after=after, attempts=attempts))
    if code != 0 or out.count("Verification successful (digest matched).") != len(images):
        dev.ok, dev.reason = False, "verify-flash: " + reason_of(out)
    else:
        dev.ok, dev.step = True, "done"
    progress(dev)
    return dev


def flash_all(ports: Iterable[str], images: list[Image], progress: Progress = lambda dev: None,
              attempts: int = CONNECT_ATTEMPTS, after: str | None = None) -> list[Device]:
    """Flash every port in parallel (one thread each); [Device] in port order."""
    devices = [Device(p) for p in ports]

    def guarded(dev: Device) -> None:
        try:
            flash_device(dev, images, progress, attempts, after)
        except Exception as e:  # e.g. esptool could not be started: this device failed
            dev.ok, dev.reason = False, "%s: %s" % (type(e).__name__, e)
            progress(dev)

    threads = [threading.Thread(target=guarded, args=(d,),
                                name="flash " + d.port, daemon=True) for d in devices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return devices


def report(devices: list[Device], images: list[Image]) -> list[str]:
    """The per-device report lines."""
    ok = sum(1 for d in devices if d.ok)
    lines = ["ykt flash: %d device%s, %d OK, %d FAILED"
             % (len(devices), "" if len(devices) == 1 else "s", ok, len(devices) - ok)]
    for d in devices:
        lines.append("%s  mac %s  %s" % (d.port, d.mac or "-", "OK" if d.ok else "FAILED"))
        if d.ok:
            for img in images:
                lines.append("    %s at 0x%x: %d bytes, sha256 %s, verified"
                             % (img.what, img.offset, img.size, img.sha256))
        else:
            lines.append("    reason: %s" % d.reason)
    return lines


def as_json(devices: list[Device], images: list[Image]) -> dict[str, Any]:
    return {"devices": [{"port": d.port, "mac": d.mac, "result": "OK" if d.ok else "FAILED",
                         "reason": d.reason,
                         "images": [{"what": i.what, "offset": i.offset, "size": i.size,
                                     "sha256": i.sha256} for i in images] if d.ok else []}
                        for d in devices]}
