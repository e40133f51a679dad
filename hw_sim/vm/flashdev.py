# MicroPython-side flash for the simulator: a block device whose reads, programs
# and erases go over the bridge to hw_sim.flash.NorFlash (served by
# hw_sim/vm_flash.py), and mount() to put a real os.VfsLfs2 on it.
#
# On the board the block device is esp32.Partition, C code that never touches
# the heap. This stand-in keeps that property: LittleFS calls it from inside its
# own C code, where a MemoryError would leave the filesystem half-way through an
# operation. So the three calls use a small binary protocol on the same pipes,
# through buffers allocated once at import (no JSON, no per-call objects):
#
#   VM -> sim   "\x02" op(R|W|I) a b c "\n", a/b/c as 8 hex digits each
#               R: block, offset, length      W: block, offset, length (data follow)
#               w: as W, posted: no status is sent back
#               F: fence, answered once every write posted before it is done
#               e: block, 0, 0: erase, posted
#               I: op, arg, 0                 (offset 0xFFFFFFFF: erase first)
#   sim -> VM   one status byte (0 ok, 1 end of run, 2 OSError), then a value
#               for I and for OSError (the errno): 4 bytes signed big-endian and
#               a byte 1 if the value is None; for R the data.
#
# Formatting rule: mount() formats only when mounting fails AND neither block 0
# nor block 1 holds the "littlefs" superblock magic, i.e. the flash never held
# a filesystem (blank, or cut during its very first format). A filesystem that
# was cut mid-write keeps its superblock and is mounted as is, never formatted.
#
# mtime is off by default: the unix port would stamp files with the host's wall
# clock, making images differ between runs and from hw_sim.lfs (which writes
# no mtime); the board's own mount keeps MicroPython's default.
import os
import sys

import _rpc

MAGIC_OFFSET = 8
_NO_OFFSET = 0xFFFFFFFF
_HEX = b"0123456789abcdef"

_req = bytearray(b"\x02R00000000 00000000 00000000\n")
_status = bytearray(1)
_word = bytearray(5)
_ERASED = b"\xff" * 128  # an erase writes it 32 times: 4 KB would cost the heap 4 KB
_write = _rpc.queue  # in order with the bridge's posted requests (hw_sim/vm/_rpc.py)
_stdin_readinto = sys.stdin.buffer.readinto  # loops until the buffer is full


def _readinto(buf):
    _rpc.flush()  # what is queued goes first: the answer follows it
    _stdin_readinto(buf)


def _put(pos, v):
    i = pos + 7
    while i >= pos:
        _req[i] = _HEX[v & 15]
        v >>= 4
        i -= 1


def _send(op, a, b, c):
    _req[1] = op
    _put(2, a)
    _put(11, b)
    _put(20, c)
    _write(_req)


def _check():
    _readinto(_status)
    if _status[0] == 1:
        raise SystemExit(0)
    if _status[0]:
        _readinto(_word)
        raise OSError(_value())


def _value():
    v = (_word[0] << 24) | (_word[1] << 16) | (_word[2] << 8) | _word[3]
    return v - (1 << 32) if v & 0x80000000 else v


class FlashDev:
    # ``path``: the flash's contents as a file (NorFlash.share), this VM's own view of the
    # flash: reads come from it, and programs and erases go into it as they are posted to
    # the simulator, so nothing here waits for an answer. Without a file every read is a
    # round trip ("R"), after the writes posted before it.
    def __init__(self, path=None):
        self._f = open(path, "r+b") if path else None
        self._blocks = 0
        if path:
            self._blocks = self._f.seek(0, 2) // 4096

    def readblocks(self, n, buf, off=0):
        f = self._f
        if f is None:
            _send(82, n, off, len(buf))  # "R"
            _check()
            _readinto(buf)
            return
        f.seek(n * 4096 + off)  # 4 KB blocks: NorFlash.erase_size, the ESP32 flash sector
        f.readinto(buf)

    def writeblocks(self, n, buf, off=None):
        # posted ("w"): no status awaited. The simulator's flash cannot fail a write but by a
        # power cut, and then this VM is ended at its next request, before anything it did
        # after the cut is seen (hw_sim/vm_bridge.py _after_cut). LittleFS programs only
        # erased space, so the view takes the data as written (the simulator checks that)
        _send(119, n, _NO_OFFSET if off is None else off, len(buf))  # "w"
        _write(buf)
        f = self._f
        if f is not None:
            f.seek(n * 4096 + (off or 0))
            f.write(buf)

    def ioctl(self, op, arg):
        if self._f is not None:
            if op == 6:  # erase, posted ("e") and done in the view
                _send(101, arg, 0, 0)
                f = self._f
                f.seek(arg * 4096)
                i = 0
                while i < 32:
                    f.write(_ERASED)
                    i += 1
                return 0
            if op == 4:
                return self._blocks
            if op == 5:
                return 4096
            if op in (1, 2, 3):
                return 0
        _send(73, op, arg or 0, 0)  # "I"
        _check()
        _readinto(_word)
        return None if _word[4] else _value()


def has_superblock(dev):
    buf = bytearray(8)
    for block in (0, 1):
        dev.readblocks(block, buf, MAGIC_OFFSET)
        if buf == b"littlefs":
            return True
    return False


def mount(path="/flash", dev=None, mtime=False, file=None):
    """Mount LittleFS on the simulated flash at ``path`` (``file``: its contents' file, read
    directly); returns the VfsLfs2."""
    if dev is None:
        dev = FlashDev(file)
    try:
        vfs = os.VfsLfs2(dev, mtime=mtime)
    except OSError:
        if has_superblock(dev):
            raise
        os.VfsLfs2.mkfs(dev)
        vfs = os.VfsLfs2(dev, mtime=mtime)
    os.mount(vfs, path)
    return vfs
