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
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any, cast

from host_tools.lib import lfs_image
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
    """One port's flashing: ``mac``, ``ok``, ``reason``, ``step``, ``percent``; ``images``
    (what it gets, when each device has its own) and ``terminal`` (the terminal id in its
    image's /config.json, or None)."""

    def __init__(self, port: str, images: list[Image] | None = None,
                 terminal: str | None = None) -> None:
        self.port = port
        self.images = images
        self.terminal = terminal
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


class Target:
    """One port of a fleet: the images it gets and the terminal they make it."""

    def __init__(self, port: str, board: Board, images: list[Image]) -> None:
        self.port, self.board, self.images = port, board, images
        vfs = [img for img in images if img.what == "vfs"]
        self.terminal = terminal_of(vfs[0].path) if vfs else None


def terminal_of(image_path: str) -> str | None:
    """The terminal id in a vfs image's /config.json (``ykt image --config``), or None when
    the image holds no terminal config (or is no LittleFS image)."""
    data = read_input(image_path, "image")
    try:
        files = lfs_image.read_dir(data, "/", image_path)
    except BadInput:
        return None
    try:
        cfg = json.loads(files.get("config.json", b""))
    except ValueError:
        return None
    tid = cfg.get("terminal_id") if isinstance(cfg, dict) else None
    return tid.lower() if isinstance(tid, str) else None


def split_port(spec: str) -> tuple[str, str | None]:
    """``PORT=IMAGE`` -> (PORT, IMAGE); a bare PORT -> (PORT, None). The split is at the first
    ``=`` whose right side is a file (a pyserial URL may hold ``=`` itself), else the first."""
    cuts = [i for i, ch in enumerate(spec) if ch == "="]
    for i in cuts:
        if os.path.isfile(spec[i + 1:]):
            return spec[:i], spec[i + 1:]
    if cuts and "?" not in spec[:cuts[0]]:
        return spec[:cuts[0]], spec[cuts[0] + 1:]
    return spec, None


def plan_fleet(board_name: str | None, ports: list[str], image_path: str | None = None,
               firmware_path: str | None = None, fleet_file: str | None = None) -> list[Target]:
    """[Target] for ``--port P`` / ``--port P=IMAGE`` and a fleet file, every image checked
    against its board's partitions; BadInput, before anything is flashed, for a port given
    twice, a port without an image or two ports that would become the same terminal."""
    entries: list[tuple[str, str | None, str | None, str | None]] = []
    for spec in ports:
        port, image = split_port(spec)
        entries.append((port, board_name, image or image_path, firmware_path))
    if fleet_file is not None:
        entries += read_fleet(fleet_file, board_name, firmware_path)
    if not entries:
        raise BadInput("no port to flash: give --port PORT[=IMAGE] or --fleet FILE")
    seen: dict[str, str] = {}
    for port, _, _, _ in entries:
        if port in seen:
            raise BadInput("port %s is given twice" % port)
        seen[port] = port
    boards: dict[str, Board] = {}
    planned: dict[tuple[str, str | None, str | None], list[Image]] = {}
    targets = []
    for port, bname, image, firmware in entries:
        if bname is None:
            raise BadInput("%s: no board (give --board or a \"board\" in the fleet file)" % port)
        if image is None:
            raise BadInput("%s: no image (give --port %s=IMAGE, --image or an \"image\" in "
                           "the fleet file)" % (port, port))
        if bname not in boards:
            boards[bname] = Board(bname)
        key = (bname, image, firmware)
        if key not in planned:
            planned[key] = plan(bname, image, firmware)[1]
        targets.append(Target(port, boards[bname], planned[key]))
    owner: dict[str, str] = {}
    for t in targets:
        if t.terminal is None:
            continue
        if t.terminal in owner:
            raise BadInput("%s and %s would both become terminal %s: give each port its own "
                           "image (`ykt provision --terminal-id`, `ykt image`), e.g. --port "
                           "%s=gate-2.img" % (owner[t.terminal], t.port, t.terminal, t.port))
        owner[t.terminal] = t.port
    return targets


def read_fleet(path: str, board_name: str | None,
               firmware_path: str | None) -> list[tuple[str, str | None, str | None, str | None]]:
    """(port, board, image, firmware) of each device in a fleet file (JSON)::

        {"board": "devkitc-turnstile", "firmware": "micropython.bin",
         "devices": [{"port": "/dev/ttyUSB0", "image": "gate-1.img"},
                     {"port": "/dev/ttyUSB1", "image": "gate-2.img", "board": "..."}]}

    Relative paths are next to the fleet file; a device's own ``board``/``firmware`` win
    over the file's, the file's over ``--board``/``--firmware``."""
    raw = read_input(path, "fleet")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadInput("%s: not a fleet file (not JSON)" % path) from None
    devices = doc.get("devices") if isinstance(doc, dict) else None
    if not isinstance(devices, list) or not devices:
        raise BadInput("%s: a fleet file needs \"devices\": [{\"port\": ..., \"image\": ...}]"
                       % path)
    here = os.path.dirname(os.path.abspath(path))

    def where(value: Any, what: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise BadInput("%s: %s must be a path" % (path, what))
        return value if os.path.isabs(value) else os.path.join(here, value)

    def board_of(value: Any, what: str) -> str | None:
        if value is None or (isinstance(value, str) and not value.endswith(".json")):
            return value
        return where(value, what)

    top_board = board_of(doc.get("board"), "board") or board_name
    top_fw = where(doc.get("firmware"), "firmware") or firmware_path
    out = []
    for i, dev in enumerate(devices):
        name = "devices[%d]" % i
        if not isinstance(dev, dict) or not isinstance(dev.get("port"), str):
            raise BadInput("%s: %s needs a \"port\"" % (path, name))
        unknown = sorted(set(dev) - {"port", "image", "board", "firmware"})
        if unknown:
            raise BadInput("%s: %s.%s: unknown key (port, image, board, firmware)"
                           % (path, name, unknown[0]))
        out.append((dev["port"], board_of(dev.get("board"), name + ".board") or top_board,
                    where(dev.get("image"), name + ".image"),
                    where(dev.get("firmware"), name + ".firmware") or top_fw))
    return out


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


def flash_device(dev: Device, images: list[Image] | None = None,
                 progress: Progress = lambda dev: None,
                 attempts: int = CONNECT_ATTEMPTS, after: str | None = None) -> Device:
    """Flash and verify one device (``images``, else its own); fills in ``dev`` (never
    raises for device trouble)."""
    images = images if images is not None else (dev.images or [])
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
    """Flash every port with the same images in parallel; [Device] in port order."""
    return flash_fleet([Device(p, images) for p in ports], progress, attempts, after)


def flash_fleet(devices: list[Device], progress: Progress = lambda dev: None,
                attempts: int = CONNECT_ATTEMPTS, after: str | None = None) -> list[Device]:
    """Flash every device with its own images in parallel (one thread each); ``devices``,
    filled in. Make them from a plan with ``[Device(t.port, t.images, t.terminal) ...]``."""

    def guarded(dev: Device) -> None:
        try:
            flash_device(dev, None, progress, attempts, after)
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


def report(devices: list[Device], images: list[Image] | None = None) -> list[str]:
    """The per-device report lines: port, MAC, result and terminal id, then each image."""
    ok = sum(1 for d in devices if d.ok)
    lines = ["ykt flash: %d device%s, %d OK, %d FAILED"
             % (len(devices), "" if len(devices) == 1 else "s", ok, len(devices) - ok)]
    for d in devices:
        lines.append("%s  mac %s  %s  terminal %s" % (d.port, d.mac or "-",
                                                      "OK" if d.ok else "FAILED",
                                                      d.terminal or "-"))
        if d.ok:
            for img in _images(d, images):
                lines.append("    %s at 0x%x: %d bytes, sha256 %s, verified"
                             % (img.what, img.offset, img.size, img.sha256))
        else:
            lines.append("    reason: %s" % d.reason)
    macs = [d.mac for d in devices if d.mac]
    for mac in sorted({m for m in macs if macs.count(m) > 1}):
        lines.append("warning: mac %s answered on %s: one board on two ports?"
                     % (mac, ", ".join(d.port for d in devices if d.mac == mac)))
    return lines


def _images(dev: Device, images: list[Image] | None) -> list[Image]:
    return dev.images if dev.images is not None else (images or [])


def as_json(devices: list[Device], images: list[Image] | None = None) -> dict[str, Any]:
    return {"devices": [{"port": d.port, "mac": d.mac, "terminal": d.terminal,
                         "result": "OK" if d.ok else "FAILED", "reason": d.reason,
                         "images": [{"what": i.what, "offset": i.offset, "size": i.size,
                                     "sha256": i.sha256} for i in _images(d, images)]
                         if d.ok else []}
                        for d in devices]}
