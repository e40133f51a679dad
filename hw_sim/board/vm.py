"""One boot of the virtual board's application: a real MicroPython unix-port process.

:class:`BoardVM` starts ``micropython hw_sim/board/mpy/boardvm.py`` (see that
file for the VM side) with:

* stdout and stderr: the board's UART output, read without blocking
  (:meth:`read_output`);
* a command pipe (board -> VM) and a control pipe (VM -> board) passed as
  extra file descriptors (and ``hw_sim/vm``, whose ``_rpc`` the VM sends its
  requests with); messages are a u32 little-endian length + JSON,
  each written with one ``write`` so a Ctrl-C never splits one, except the
  partition's reads, programs and erases: bit 31 of the length marks their
  binary form (:class:`FlashRequest`, :meth:`BoardVM.reply_flash`), which the
  VM handles through buffers allocated once;
* SIGINT for Ctrl-C (:meth:`interrupt`): the unix port turns it into
  KeyboardInterrupt while its script runs.

Paths reach the VM relative to its working directory (``hw_sim/board/mpy``,
:func:`vm_relpath`): the unix port interns a script's or a module's file name
as a qstr and dies ("name too long") past 255 bytes, which an absolute path in a
deep checkout exceeds.

The process has no filesystem of its own once booted: its ``/`` is the board's
LittleFS partition, read and written through control-pipe requests that the
board serves from its flash. A soft reset, a hard reset or entering the ROM
bootloader ends the process (:meth:`stop`); the next boot is a new one, so the
heap, ``sys.modules`` and the REPL globals start fresh as on the chip.
"""

import json
import os
import signal
import struct
import subprocess

from hw_sim.vm_bridge import VM_DIR, micropython_binary

MPY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mpy")
SCRIPT = os.path.join(MPY_DIR, "boardvm.py")
DEFAULT_HEAP = "128K"  # ESP32 without PSRAM: ~110 KB GC heap, plus room for boardvm.py


def vm_relpath(path):
    """``path`` as the VM should see it: relative to its working directory (MPY_DIR)."""
    return os.path.relpath(path, MPY_DIR)


BINARY = 0x80000000  # length-word bit of the partition's binary messages
NO_OFFSET = 0xFFFFFFFF


class FlashRequest:
    """A partition read (``op`` "R"), program ("W", with ``data``) or ioctl ("I": ``block``
    is the ioctl op, ``offset`` its argument) from the VM's ``_Partition``; ``offset`` is
    None for a program that erases first."""

    def __init__(self, body):
        op, self.seq, self.block, offset, self.size = struct.unpack_from("<BIIII", body)
        self.op = chr(op)
        self.offset = None if offset == NO_OFFSET else offset
        self.data = body[17:]


class BoardVM:
    def __init__(self, heap=DEFAULT_HEAP, executable=None):
        self.heap = heap
        self.executable = executable or micropython_binary()
        self.proc = None
        self._cmd_w = self._ctl_r = None
        self._ctl_buf = bytearray()
        self.exit_code = None

    # -- life ------------------------------------------------------------------------
    def start(self):
        cmd_r, self._cmd_w = os.pipe()
        self._ctl_r, ctl_w = os.pipe()
        try:  # the VM opens /dev/fd/<cmd_r> and /dev/fd/<ctl_w>
            self.proc = subprocess.Popen(
                [self.executable, "-X", "heapsize=" + self.heap, vm_relpath(SCRIPT), str(cmd_r),
                 str(ctl_w), vm_relpath(VM_DIR)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                pass_fds=(cmd_r, ctl_w), cwd=MPY_DIR)
        finally:
            os.close(cmd_r)
            os.close(ctl_w)
        os.set_blocking(self.proc.stdout.fileno(), False)
        os.set_blocking(self._ctl_r, False)
        self._ctl_buf.clear()
        self.exit_code = None

    def stop(self):
        """End the process (any state); returns the output it left unread."""
        if self.proc is None:
            return b""
        if self.proc.poll() is None:
            self.proc.kill()
        self.exit_code = self.proc.wait(timeout=10)
        rest = self.read_output()
        self.proc.stdout.close()
        for fd in (self._cmd_w, self._ctl_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc = None
        return rest

    @property
    def running(self):
        return self.proc is not None

    def fds(self):
        """File descriptors to wait on: UART output, control messages."""
        if self.proc is None:
            return []
        return [self.proc.stdout.fileno(), self._ctl_r]

    # -- traffic -----------------------------------------------------------------------
    def read_output(self):
        if self.proc is None:
            return b""
        out = bytearray()
        while True:
            try:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def read_messages(self):
        """Complete control messages received so far; None once the VM has gone."""
        closed = False
        while True:
            try:
                chunk = os.read(self._ctl_r, 65536)
            except BlockingIOError:
                break
            if not chunk:
                closed = True
                break
            self._ctl_buf += chunk
        msgs = []
        buf = self._ctl_buf
        while len(buf) >= 4:
            (n,) = struct.unpack_from("<I", buf)
            size = n & ~BINARY
            if len(buf) < 4 + size:
                break
            body = bytes(buf[4:4 + size])
            del buf[:4 + size]
            msgs.append(FlashRequest(body) if n & BINARY else json.loads(body.decode()))
        if closed and not msgs:
            return None
        return msgs

    def send(self, msg):
        """One message to the VM (a reply or an ``exec``); False if the VM has gone."""
        body = json.dumps(msg).encode()
        return self._write(struct.pack("<I", len(body)) + body)

    def _write(self, data):
        try:
            while data:
                data = data[os.write(self._cmd_w, data):]
        except (BrokenPipeError, OSError):
            return False
        return True

    def reply(self, seq, value, interrupt=False):
        """Answer request ``seq``; ``interrupt``: the VM raises KeyboardInterrupt once
        it has read the reply (a Ctrl-C that came in meanwhile)."""
        return self.send(["r", seq, value, 1] if interrupt else ["r", seq, value])

    def reply_flash(self, req, status=0, data=b"", value=None):
        """Answer a :class:`FlashRequest`: ``data`` for a read; ``value`` for an ioctl
        (None allowed) or, with ``status`` 1, the errno of an OSError."""
        body = struct.pack("<IB", req.seq, status) + data
        if req.op == "I" or status:
            body += struct.pack("<iB", value or 0, value is None)
        return self._write(struct.pack("<I", len(body) | BINARY) + body)

    def interrupt(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
