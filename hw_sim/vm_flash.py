"""CPython end of the VM's flash block device (``hw_sim/vm/flashdev.py``).

The VM sends one request line ``b"\\x02" + op + " a b c\\n"`` (three 8-digit hex
fields; see flashdev.py for the layout), followed for a write by the data, and
reads back a status byte, then the data (read) or a 5-byte value (ioctl, error); a posted
write (``w``) or erase (``e``) is answered with nothing, a fence (``F``) with the status once
the writes posted before it are done. A VM given the flash's file (``NorFlash.share``) reads
it itself and keeps its own programs and erases in it: it posts them and never waits.
The binary form keeps the VM side free of heap allocations, as the C block
device on the board is.

:func:`serve` answers one request. :class:`hw_sim.flash.PowerCut` is answered
with status 1 (the VM stops as if its supply died mid-write) and re-raised so
the caller ends the run.
"""

import struct

from hw_sim.flash import PowerCut

PREFIX = b"\x02"
_OK, _END, _OSERROR = 0, 1, 2
_NO_OFFSET = 0xFFFFFFFF


def _value(v):
    return struct.pack(">iB", 0 if v is None else v, v is None)


def is_request(line):
    """Whether a line the VM wrote (bytes) is a flash request."""
    return line[:1] == PREFIX


def is_posted(line):
    """Whether the flash request is a posted write or erase (``w``, ``e``: the VM does not wait
    for a status; a power cut under it is found at the VM's next request)."""
    return line[1:2] in (b"w", b"e")


def refuse(line, rfile, wfile):
    """Answer a request that came after the power died: its data read, the end status
    written (none for a posted write)."""
    a, b, c = (int(x, 16) for x in line[2:].split())
    if line[1:2] in (b"W", b"w"):
        rfile.read(c)
    if not is_posted(line):
        wfile.write(bytes([_END]))
        wfile.flush()


def serve(flash, line, rfile, wfile):
    """Answer the flash request ``line``; a write's data are read from ``rfile``."""
    op = line[1:2]
    a, b, c = (int(x, 16) for x in line[2:].split())
    data = rfile.read(c) if op in (b"W", b"w") else None
    if op == b"w":  # posted: nothing answered; a PowerCut goes to the caller
        if b != _NO_OFFSET and flash._view is not None:
            flash.vm_check(a * flash.erase_size + b, data)
        flash.writeblocks(a, data, None if b == _NO_OFFSET else b)
        return
    if op == b"e":
        flash.erase(a)
        return
    try:
        if op == b"F":  # fence: every posted write before it is on the flash (and its file)
            flash._check_power()
            reply = bytes([_OK])
        elif op == b"R":
            buf = bytearray(c)
            flash.readblocks(a, buf, b)
            reply = bytes([_OK]) + bytes(buf)
        elif op == b"W":
            flash.writeblocks(a, data, None if b == _NO_OFFSET else b)
            reply = bytes([_OK])
        elif op == b"I":
            reply = bytes([_OK]) + _value(flash.ioctl(a, b))
        else:
            raise OSError(22, "unknown flash request %r" % op)
    except PowerCut:
        wfile.write(bytes([_END]))
        wfile.flush()
        raise
    except OSError as e:
        reply = bytes([_OSERROR]) + _value(e.errno or 5)
    wfile.write(reply)
    wfile.flush()
