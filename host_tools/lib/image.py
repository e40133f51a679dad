"""The terminal's files and its LittleFS partition image (`ykt image`).

``bundle(board, config_path, updates)`` is the set of files a terminal holds
(``{device path: bytes}``): the firmware as ``.mpy`` under ``/lib/ykt`` (built
by :mod:`host_tools.lib.build` with ``mpy-cross -march`` for the board's chip),
``/main.py``, ``/board.json``, ``/config.json`` and update files in
``/inbox/``. ``ykt image`` puts them in a LittleFS image of exactly the
board's ``vfs`` partition size (MicroPython ``VfsLfs2`` geometry: block 4096,
read/prog 32, lookahead 32, as :mod:`hw_sim.lfs`); ``ykt deploy`` copies the
same bytes with mpremote. Board files must pass ``ykt board check``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from typing import Any

from host_tools.lib import boardcheck, boards, build, lfs_image, updates
from host_tools.lib.errors import BadInput
from host_tools.lib.files import read_input, write_atomic

ROOT = build.ROOT
# mpy-cross -march per chip: both ESP32 and ESP32-S3 are Xtensa LX6/LX7 "windowed".
MARCH = {"esp32": "xtensawin", "esp32s3": "xtensawin"}
MAIN_PY = b"import ykt.main\nykt.main.start()\n"
LIB = "/lib"
KEY_NAMES = ("purchase", "device", "update")


class Board:
    """A board file that passed ``ykt board check``: ``spec`` (dict), ``raw`` (its bytes)."""

    spec: dict[str, Any]
    raw: bytes
    name: str
    chip: str
    march: str

    def __init__(self, name: str) -> None:
        path = name if os.path.exists(name) else os.path.join(boards.BOARDS, name + ".json")
        self.spec = boards.load(path if os.path.exists(path) else name)  # BoardError names it
        with open(path, "rb") as f:
            self.raw = f.read()
        self.name = self.spec.get("name", name)
        errors = [m for level, m in boardcheck.check(self.spec) if level == "error"]
        if errors:
            more = " (and %d more)" % (len(errors) - 1) if len(errors) > 1 else ""
            raise BadInput("board %s fails `ykt board check`: %s%s"
                             % (name, errors[0], more))
        chip = self.spec.get("chip")
        if chip not in MARCH:
            raise BadInput("board %s: no mpy-cross architecture for chip %r" % (name, chip))
        self.chip = chip
        self.march = MARCH[chip]

    def partition(self, part: str) -> tuple[int, int]:
        """(offset, size) of partition ``part`` ("firmware" or "vfs")."""
        spec = self.spec["partitions"][part]
        return int(spec["offset"]), int(spec["size"])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- configuration ------------------------------------------------------------------------
def _hexfield(value: Any, nbytes: int, what: str, path: str) -> bytes:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != nbytes:
        raise BadInput("%s: %s must be %d hex digits" % (path, what, 2 * nbytes))
    return raw


def load_config(path: str) -> tuple[bytes, dict[str, Any]]:
    """(raw bytes, dict) of a terminal config (``ykt provision``); key values are never shown."""
    raw = read_input(path, "config")
    try:
        cfg = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadInput("%s: not a terminal config (not JSON)" % path) from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("keys"), dict):
        raise BadInput("%s: not a terminal config (no keys; make one with `ykt provision`)"
                         % path)
    _hexfield(cfg.get("terminal_id"), 6, "terminal_id", path)
    if not isinstance(cfg.get("role"), str):
        raise BadInput("%s: role is missing" % path)
    for name in KEY_NAMES:
        _hexfield(cfg["keys"].get(name), 16, "keys.%s" % name, path)
    return raw, cfg


def check_update(path: str, cfg: dict[str, Any], kind: str | None = None) -> bytes:
    """The bytes of a signed update file for this terminal (MAC checked with its key)."""
    data = read_input(path, "update")
    try:
        info = updates.parse(data)
    except ValueError:
        raise BadInput("%s: not an update file (sign it with `ykt update sign`)" % path) \
            from None
    if kind is not None and info["kind"] != kind:
        raise BadInput("%s: a %s update, not a %s" % (path, info["kind"], kind))
    if info["terminal"] != cfg["terminal_id"].lower():
        raise BadInput("%s: signed for terminal %s, not %s"
                         % (path, info["terminal"], cfg["terminal_id"]))
    end = updates.HEADER_SIZE + info["payload_bytes"]
    key = bytes.fromhex(cfg["keys"]["update"])
    if not info["complete"] or updates.cmac(key, data[:end]) != data[end:]:
        raise BadInput("%s: MAC does not verify with this terminal's update key" % path)
    return data


# -- the firmware build -------------------------------------------------------------------
def firmware_mpy(march: str) -> dict[str, bytes]:
    """{"/lib/ykt/...mpy": bytes}, built (or reused) under build/board-MARCH/."""
    out = os.path.join(ROOT, "build", "board-" + march)
    built = build.build_mpy(out, march=march)  # takes turns with concurrent builds
    files = {}
    for path in sorted(built):
        rel = os.path.relpath(path, out).replace(os.sep, "/")
        with open(path, "rb") as f:
            files[LIB + "/" + rel] = f.read()
    return files


def bundle(board: Board, config_path: str | None = None, update_files: Iterable[str] = (),
           tariffs: Iterable[str] = ()) -> dict[str, bytes]:
    """Every file of the terminal: {device path: bytes}, in a stable order."""
    files = firmware_mpy(board.march)
    files["/main.py"] = MAIN_PY
    files["/board.json"] = board.raw
    if config_path is not None:
        raw, cfg = load_config(config_path)
        files["/config.json"] = raw
        names = set()
        for path, kind in [(p, "tariff") for p in tariffs] + [(p, None) for p in update_files]:
            name = os.path.basename(path)
            if name in names:
                raise BadInput("two update files named %s" % name)
            names.add(name)
            files["/inbox/" + name] = check_update(path, cfg, kind)
    elif tariffs or update_files:
        raise BadInput("update files need --config (they are checked with its update key)")
    return files


# -- the image ----------------------------------------------------------------------------
def make_image(files: dict[str, bytes], size: int) -> bytes:
    """A LittleFS image of ``size`` bytes holding ``files``; BadInput if they do not fit."""
    return lfs_image.make(files, size)


def build_image(board_name: str, config_path: str | None, out: str, tariffs: Iterable[str] = (),
                update_files: Iterable[str] = ()) -> tuple[Board, dict[str, bytes], bytes]:
    """Write the vfs image; returns (board, files, image bytes)."""
    board = Board(board_name)
    _, size = board.partition("vfs")
    files = bundle(board, config_path, update_files, tariffs)
    image = make_image(files, size)
    write_atomic(out, image)
    return board, files, image
