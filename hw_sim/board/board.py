"""The virtual ESP32: flash, ROM loader, MicroPython application and their boot sequencing.

:class:`Board` has one UART: :meth:`Board.uart_rx` takes the host's bytes and
``Board.tx`` (a callable, or None when nobody listens) gets the board's. It is
in one of three modes:

* ``"rom"``: the ROM serial bootloader (:mod:`hw_sim.board.rom`) owns the UART.
* ``"app"``: a MicroPython VM (:mod:`hw_sim.board.vm`) runs on the flash's
  ``vfs`` partition and the REPL (:mod:`hw_sim.board.repl`) owns the UART.
* ``"off"``: power cut (or the VM kept crashing): nothing answers.

Boot rule (the host cannot pulse EN/GPIO0 over ``socket://``):

1. ``power_on("rom")`` starts in download mode, as if BOOT were held at power-on;
   ``power_on("app")`` boots the application.
2. The ROM leaves download mode on FLASH_END / FLASH_DEFL_END, which esptool
   sends for ``--after soft-reset`` ("run user code"): the application boots.
3. ``machine.reset()`` (``mpremote reset``) hard-resets into the application;
   ``machine.bootloader()`` (``mpremote bootloader``) resets into download mode.
4. Ctrl-D / ``machine.soft_reset()`` / SystemExit: soft reboot (new VM; main.py
   runs only when the reboot came from the friendly REPL, as on the chip).

A hard reset or power-on boot runs ``boot.py`` then ``main.py``; UART input that
arrives meanwhile waits for the REPL, except Ctrl-C, which interrupts the
running code (KeyboardInterrupt), so mpremote's ``\\r\\x03`` stops a main.py that
never returns.

Hooks (the seam for the firmware's hardware): ``hooks.handle(request)`` answers
any VM request the board does not know (``["ticks_us"]``, ``["new", "SPI", ...]``,
... as :mod:`hw_sim.vm_bridge` serves them); ``hooks.vm_path`` (host directories
searched first) and ``hooks.preload`` (module names) choose the modules the VM
imports before its filesystem becomes the board's, e.g. ``hw_sim/vm`` with
``["machine", "time"]``; ``hooks.on_boot(kind)`` is told of every boot
(``"power_on"``, ``"hard"``, ``"soft"``, ``"rom"``).
"""

import datetime
import hashlib
import select
import time

from hw_sim.board.repl import Repl, cook
from hw_sim.board.rom import RomLoader
from hw_sim.board.vm import MPY_DIR, BoardVM, FlashRequest, vm_relpath
from hw_sim.flash import NorFlash, PowerCut

# MicroPython ESP32_GENERIC partition table (ports/esp32/partitions-4MiB.csv):
# factory app at 0x10000 (0x1F0000), "vfs" data partition from 0x200000 to the
# end of the flash (0x200000 bytes on 4 MiB boards).
VFS_OFFSET = 0x200000
BLOCK = 4096
MAX_CRASHES = 3
INTR_SIGNAL_S = 0.25  # a Ctrl-C not picked up by a request this soon gets a SIGINT
SWEEP_S = 5.0  # the soft-reset sweep (closing open files) gets this long
CONSOLE_MAX = 8192  # bytes of the console since the last boot kept for a new connection

ROM_BANNER = b"ets Jul 29 2019 12:21:46\r\n\r\n"
BOOT_FLASH = b"boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
BOOT_DOWNLOAD = b"boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n"
PWRON_RESET, SOFT_RESET = 1, 5  # machine.reset_cause(): esp_reset_reason() POWERON / SW
RTC_POWER_ON = datetime.datetime(2000, 1, 1)  # the ESP32 port's RTC after power-on


def default_mac(name):
    """A stable Espressif-OUI MAC for a board name."""
    return b"\x24\x0a\xc4" + hashlib.sha256(name.encode()).digest()[:3]


class Board:
    def __init__(self, flash=None, *, flash_size=4 << 20, name="virtual-esp32", mac=None,
                 hooks=None, heap=None, micropython=None, log=None):
        self.flash = flash if flash is not None else NorFlash(flash_size)
        if self.flash.size <= VFS_OFFSET:
            raise ValueError("flash too small for the vfs partition at 0x%x" % VFS_OFFSET)
        self.name = name
        self.mac = bytes(mac) if mac else default_mac(name)
        self.rom = RomLoader(self.flash, self.mac)
        self.hooks = hooks
        self.log = log or (lambda msg: None)
        self.vm = BoardVM(**{k: v for k, v in (("heap", heap), ("executable", micropython)) if v})
        self.repl = Repl(b"")
        self.tx = None
        self.console = bytearray()  # the console since the last boot (see connect())
        self._recording = False
        self.mode = "off"
        self.rx = bytearray()      # UART input waiting for the REPL
        self.busy = None           # None (REPL reads input), "boot", or the id of an exec
        self.running = None        # what the VM executes ("main.py", "<stdin>", ...)
        self.intr_pending = False  # Ctrl-C while no code runs: for the next code run
        self.intr_wanted = None    # when a Ctrl-C for the running code came in
        self.intr_signalled = False  # SIGINT sent, and the VM has said nothing since
        self.boots = []            # ("power_on" | "hard" | "soft" | "rom", ...) in order
        self._exec_id = 0
        self._crashes = 0
        self.reset_cause = PWRON_RESET  # the chip's last reset (soft reboots keep it)
        self._rtc = (RTC_POWER_ON, time.monotonic())  # machine.RTC: (time, when it was set)
        self._friendly = True
        self._gen = 0              # which VM process messages belong to
        self.part_blocks = (self.flash.size - VFS_OFFSET) // BLOCK

    # -- power and resets -------------------------------------------------------------
    def power_on(self, mode="rom"):
        if hasattr(self.flash, "power_on"):
            self.flash.power_on()
        self.reset_cause = PWRON_RESET
        self._rtc = (RTC_POWER_ON, time.monotonic())
        if mode == "rom":
            self._enter_rom(ROM_BANNER + b"rst:0x1 (POWERON_RESET)," + BOOT_DOWNLOAD)
        else:
            self._start_app("power_on", ROM_BANNER + b"rst:0x1 (POWERON_RESET)," + BOOT_FLASH)

    def power_off(self):
        self._stop_vm()
        self.mode = "off"

    def close(self):
        self.power_off()

    def connect(self, tx):
        """A host took the UART over (``tx`` gets the board's bytes from now on).

        In MicroPython the board first sends it :attr:`console`: what the board
        printed since its last boot (power-on, reset, or a soft reset from the friendly
        REPL): the ROM lines, boot.py's and main.py's output, the firmware's console, up
        to the first raw REPL (a tool's session is not console), at most CONSOLE_MAX
        bytes (the newest, from a line start). So `ykt monitor` shows how the board
        booted even if nobody was connected then (a real ESP32 would be reset to show
        it). pyserial's ``socket://`` handler (mpremote, esptool) empties its input
        when it opens the port, and mpremote discards what precedes its raw REPL
        banner, which the kept console never holds. In ROM download mode nothing is
        replayed (esptool would read it as noise)."""
        self.tx = tx
        if tx is not None and self.mode == "app" and self.console:
            tx(bytes(self.console))

    def _send(self, data):
        if not data:
            return
        if self._recording:
            self._record(data)
        if self.tx is not None:
            self.tx(data)

    def _new_console(self):
        self.console.clear()
        self._recording = True

    def _record(self, data):
        if self.mode != "app" or (self.busy != "boot" and self.repl.mode == "raw"):
            self._recording = False  # a tool's raw REPL session from here on
            return
        self.console += data
        if len(self.console) > CONSOLE_MAX:
            cut = len(self.console) - CONSOLE_MAX
            nl = self.console.find(b"\n", cut)
            del self.console[:nl + 1 if nl >= 0 else cut]

    def _stop_vm(self):
        self._gen += 1
        self._send(cook(self.vm.stop()))
        self.busy, self.running, self.intr_pending = None, None, False
        self.intr_wanted, self.intr_signalled = None, False

    def _enter_rom(self, banner):
        self._stop_vm()
        self.rx.clear()
        self.mode = "rom"
        self.rom.reset_link()
        self.boots.append("rom")
        self._notify("rom")
        self._send(banner)

    def _start_app(self, kind, banner=b"", friendly=True):
        self._stop_vm()
        if kind != "soft":
            self.rx.clear()  # a reset empties the UART FIFO
        self.mode = "app"
        self.busy = "boot"
        if kind != "soft":
            self._new_console()
        self._send(banner)
        self._friendly = friendly
        self.boots.append(kind)
        self._notify(kind)
        self.vm.start()

    def _soft_reset(self):
        try:
            self._sweep()
        except PowerCut:
            self.log("power cut at flash operation %d" % self.flash.ops)
            self.power_off()
            return
        if self.repl.mode == "friendly":
            self._new_console()  # a person's Ctrl-D; a tool's soft reset is not console
        self._send(b"MPY: soft reboot\r\n")
        self._start_app("soft", friendly=self.repl.mode == "friendly")

    def _sweep(self):
        """The chip's soft-reset sweep (gc_sweep_all): the idle VM closes the files code
        left open, so what was written reaches the flash; its partition requests are
        served meanwhile. A VM that does not answer within SWEEP_S is ended anyway."""
        if not self.vm.running or self.busy is not None or not self.vm.send(["sweep"]):
            return
        end = time.monotonic() + SWEEP_S
        while time.monotonic() < end:
            select.select(self.vm.fds(), [], [], 0.05)
            msgs = self.vm.read_messages()
            self._send(cook(self.vm.read_output()))
            if msgs is None:
                return
            for msg in msgs:
                if isinstance(msg, FlashRequest):
                    self._flash_request(msg)
                elif msg[0] == 0 and msg[1] == "swept":
                    return
                elif msg[0] != 0:
                    self.vm.reply(msg[0], self._request(msg[1], msg[2:], msg[1:]))

    def _notify(self, kind):
        fn = getattr(self.hooks, "on_boot", None)
        if fn is not None:
            fn(kind)

    # -- UART input -------------------------------------------------------------------
    def uart_rx(self, data):
        try:
            self._uart_rx(data)
        except PowerCut:
            self.log("power cut at flash operation %d" % self.flash.ops)
            self.power_off()

    def _uart_rx(self, data):
        if self.mode == "rom":
            out, event, rest = self.rom.feed(data)
            self._send(out)
            if event == "run":
                self._start_app("hard")
                self._uart_rx(rest)
            return
        if self.mode != "app":
            return
        for c in data:
            if self.busy not in (None, "complete") and c == 3:  # Tab: Ctrl-C waits for the REPL
                self._ctrl_c()
            else:
                self.rx.append(c)
                self._pump()

    def _ctrl_c(self):
        if self.running:
            self._interrupt()
        else:
            self.intr_pending = True  # delivered when the VM starts running code

    def _pump(self):
        while self.busy is None and self.rx and self.mode == "app":
            c = self.rx.pop(0)
            action = self.repl.feed(c)
            self._send(self.repl.take())
            self._act(action)

    def _act(self, action):
        if action is None:
            return
        if action[0] == "soft_reset":
            self._soft_reset()
        elif action[0] == "complete":  # Tab in the friendly REPL: the VM knows the names
            self.busy = "complete"
            if not self.vm.send(["complete", action[1]]):
                self._crashed()
        elif action[0] == "exec" and _is_mount_hook(action[1]):
            self._send(self.repl.take())
            self._act(self.repl.exec_done(MOUNT_REFUSED, False))
            self._send(self.repl.take())
        elif action[0] == "exec":
            self._exec_id += 1
            self.busy = self._exec_id
            if not self.vm.send(["exec", self._exec_id, action[1], action[2]]):
                self._crashed()

    # -- Ctrl-C -------------------------------------------------------------------------
    # On the chip a Ctrl-C raises KeyboardInterrupt at the next bytecode boundary, never
    # inside C code such as a bus transfer or a partition read. Here those are requests
    # to this board, and a SIGINT landing while the VM reads a reply would leave half a
    # message in the pipe. So the interrupt rides on the reply to the VM's next request
    # (the VM raises it once the reply is read); only code that makes no request within
    # INTR_SIGNAL_S (a busy loop) gets a SIGINT, and at most one until the VM speaks
    # again (the unix port exits on a second SIGINT while the first is pending).
    def _interrupt(self):
        if self.intr_wanted is None:
            self.intr_wanted = time.monotonic()

    def tick(self):
        """Deliver a Ctrl-C the running code has not picked up (call periodically)."""
        if (self.intr_wanted is not None and not self.intr_signalled
                and time.monotonic() - self.intr_wanted >= INTR_SIGNAL_S):
            self.intr_wanted = None
            self.intr_signalled = True
            self.vm.interrupt()

    # -- the VM -----------------------------------------------------------------------
    def fds(self):
        return self.vm.fds() if self.mode == "app" else []

    def service(self):
        """Handle what the VM has written (call when one of :meth:`fds` is readable)."""
        if self.mode != "app":
            return
        msgs = self.vm.read_messages()
        # Output read after the messages holds all the VM printed before sending them.
        self._send(cook(self.vm.read_output()))
        if msgs is None:
            self._crashed()
            return
        gen = self._gen
        for msg in msgs:
            if self._gen != gen:
                break  # the VM that sent the rest is gone
            try:
                self._message(msg)
            except PowerCut:
                self.log("power cut at flash operation %d" % self.flash.ops)
                self.power_off()
                return
            except Exception as e:  # a request the board cannot serve: the chip panics
                self.log("VM request %r failed: %r" % (msg[:2], e))
                self._crashed()
                return
        self._pump()

    def _crashed(self):
        self._stop_vm()
        self._crashes += 1
        self.log("MicroPython VM exited (code %s)" % self.vm.exit_code)
        if self._crashes >= MAX_CRASHES:
            self.log("board halted after %d VM crashes" % self._crashes)
            self.mode = "off"
            return
        self._sw_reset()

    def _sw_reset(self):
        self.reset_cause = SOFT_RESET
        self._start_app("hard", ROM_BANNER + b"rst:0xc (SW_CPU_RESET)," + BOOT_FLASH)

    def _message(self, msg):
        self.intr_signalled = False
        if isinstance(msg, FlashRequest):
            return self._flash_request(msg)
        seq, op = msg[0], msg[1]
        if seq == 0:
            return self._notice(op, msg[2:])
        if op == "reset":
            self._sw_reset()
        elif op == "bootloader":
            self.reset_cause = SOFT_RESET
            self._enter_rom(ROM_BANNER + b"rst:0xc (SW_CPU_RESET)," + BOOT_DOWNLOAD)
        else:
            value = self._request(op, msg[2:], msg[1:])
            intr, self.intr_wanted = self.intr_wanted is not None, None
            self.vm.reply(seq, value, interrupt=intr)

    def _notice(self, op, args):
        if op == "run":
            self.running = args[0]
            if self.intr_pending:
                self.intr_pending = False
                self._interrupt()
        elif op == "booted":
            self.busy, self.running, self.intr_pending = None, None, False
            self._crashes = 0
            if args[0]:
                self._soft_reset()
            else:
                self.repl.start("friendly" if self._friendly else "raw")
                self._send(self.repl.take())
        elif op == "completed" and self.busy == "complete":
            self.busy = None
            self.repl.completed(args[0], args[1])
            self._send(self.repl.take())
        elif op == "done" and args[0] == self.busy:
            self.busy, self.running, self.intr_pending = None, None, False
            action = self.repl.exec_done(args[1].encode(), args[2])
            self._send(self.repl.take())
            self._act(action)

    def _flash_request(self, req):
        """The vfs partition as esp32.Partition serves it (PowerCut propagates)."""
        base = VFS_OFFSET + req.block * BLOCK
        try:
            if req.op == "R":
                return self.vm.reply_flash(req, data=self.flash.read(base + req.offset, req.size))
            if req.op == "W":
                if req.offset is None:  # writeblocks without offset: erase first
                    for i in range(len(req.data) // BLOCK):
                        self.flash.erase(base // BLOCK + i)
                self.flash.program(base + (req.offset or 0), req.data)
                return self.vm.reply_flash(req)
            if req.op == "I":
                return self.vm.reply_flash(req, value=self._ioctl(req.block, req.offset))
            raise OSError(22, "unknown partition request %r" % req.op)
        except ValueError:  # out of the partition
            return self.vm.reply_flash(req, 1, value=5)
        except OSError as e:
            return self.vm.reply_flash(req, 1, value=e.errno or 5)

    def _request(self, op, args, req):
        if op == "hello":
            return self._hello(args[0])
        if op == "unique_id":
            return {"b": self.mac.hex()}
        if op == "reset_cause":
            return self.reset_cause
        if op == "rtc":
            return self._rtc_datetime(args[0] if args else None)
        return self._hook(req)

    def _rtc_datetime(self, value):
        """machine.RTC().datetime(): the tuple now, or set it from ``value``."""
        if value is not None:
            y, mo, d, _, h, mi, s, us = (list(value) + [0] * 8)[:8]
            try:
                self._rtc = (datetime.datetime(y, mo, d, h, mi, s, us), time.monotonic())
            except (TypeError, ValueError) as e:
                return {"error": "RTC.datetime: %s" % e}  # a ValueError in the VM
            return None
        base, at = self._rtc
        t = base + datetime.timedelta(seconds=time.monotonic() - at)
        return [t.year, t.month, t.day, t.weekday(), t.hour, t.minute, t.second,
                t.microsecond]

    def _ioctl(self, op, arg):
        if op == 4:
            return self.part_blocks
        if op == 5:
            return BLOCK
        if op == 6:
            self.flash.erase(VFS_OFFSET // BLOCK + arg)
        return 0

    def _hello(self, info):
        version = "v%d.%d.%d" % tuple(info["version"])
        self.repl.banner = (b"MicroPython %s on 2026-01-01; Generic ESP32 module with ESP32\r\n"
                            b'Type "help()" for more information.\r\n' % version.encode())
        path = [vm_relpath(p) for p in list(getattr(self.hooks, "vm_path", ())) + [MPY_DIR]]
        preload = list(getattr(self.hooks, "preload", ()) or ["machine"])
        return {"path": path, "preload": preload, "main": self._friendly}

    def _hook(self, req):
        handle = getattr(self.hooks, "handle", None)
        if handle is None:
            return {"error": "no hardware attached for %r" % (req[0],)}
        try:
            return _enc(handle(req))
        except OSError as e:
            return {"oserror": e.errno or 5}
        except ValueError as e:
            return {"error": str(e)}


# `mpremote mount` runs a filesystem whose every call reads the host's answers from the
# UART while code runs, which the board's VM cannot (its stdin is not the UART). Its hook
# code is refused, as if it raised, before anything is mounted: mpremote stops with this
# message and the board stays in its raw REPL for the next command.
MOUNT_REFUSED = (b"Traceback (most recent call last):\n"
                 b'  File "<stdin>", line 1, in <module>\n'
                 b"OSError: mpremote mount is not supported by the virtual board (running code"
                 b" cannot read the UART); copy files with mpremote fs cp or ykt deploy\n")


def _is_mount_hook(source):
    """Whether ``source`` is mpremote's mount hook (transport_serial.fs_hook_code)."""
    return "class RemoteCommand" in source and "def __mount(" in source


def _enc(v):
    if isinstance(v, (bytes, bytearray)):
        return {"b": bytes(v).hex()}
    if isinstance(v, (list, tuple)):
        return [_enc(x) for x in v]
    return v
