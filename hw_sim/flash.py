"""Simulated SPI NOR flash with power cuts.

``NorFlash`` is a byte array that starts erased (0xFF). Programming can only
clear bits (new = old & data); erasing a 4096-byte block sets it back to 0xFF.
Every program and every erase is one *operation*; ``cut_at(n)`` makes the
n-th operation from now lose power, optionally after applying part of it, by
raising :class:`PowerCut`. With the power off every access raises
``PowerCut`` until ``power_on()``.

The same flash is reachable three ways: directly (``read``/``program``/
``erase``), through MicroPython's block-device protocol (``readblocks``/
``writeblocks``/``ioctl``, as ``os.VfsLfs2`` drives it) and through
littlefs-python (``flash.lfs_context()``).
"""

import littlefs

# MicroPython block-device ioctl operations (extmod/vfs.h)
IOCTL_INIT = 1
IOCTL_DEINIT = 2
IOCTL_SYNC = 3
IOCTL_BLOCK_COUNT = 4
IOCTL_BLOCK_SIZE = 5
IOCTL_BLOCK_ERASE = 6

LFS_ERR_IO = -5


class PowerCut(BaseException):
    """The simulated supply died during (or before) a flash operation."""


def _forget(mapped, fd):
    import os

    mapped.close()
    os.close(fd)


class NorFlash:
    def __init__(self, size, *, erase_size=4096, write_unit=1, log=False):
        if size <= 0 or size % erase_size:
            raise ValueError("flash size must be a positive multiple of the erase size")
        self.size = size
        self.erase_size = erase_size
        self.write_unit = write_unit
        self._data = bytearray(b"\xff" * size)
        self._view = None  # the VM's copy (share)
        self.ops = 0  # program + erase operations started with power on
        self.programs = 0
        self.erases = 0
        self.programmed = 0  # bytes programmed (wear and time on a real chip)
        self.powered = True
        self.cuts = 0
        self._cut_op = None  # value of ``ops`` at which the power dies
        self._partial = None
        self.log = [] if log else None  # ("program", offset, length) / ("erase", block)

    def share(self, directory):
        """A copy of the contents in a file in ``directory`` for a child process, the
        MicroPython VM's block device (hw_sim/vm/flashdev.py): its open file descriptor, for
        the child to inherit and open as ``/dev/fd/N``. The file has no name (unlinked at
        once): nothing is left behind, even when the process is killed.

        The file is the VM's own view: the VM reads it and writes its programs and erases
        into it as it posts them here, so it never waits for this process to catch up
        (``vm_check``). This flash stays the truth: every call copies it into the file
        again, so a VM booted after a power cut sees what the cut left, not what the dead
        VM wrote ahead of it."""
        import mmap
        import os
        import tempfile
        import weakref

        if self._view is None:
            fd, path = tempfile.mkstemp(prefix="flash-", suffix=".bin", dir=directory)
            os.unlink(path)
            os.ftruncate(fd, self.size)
            self._view = mmap.mmap(fd, self.size)
            self._fd = fd
            weakref.finalize(self, _forget, self._view, fd)
        self._view[:] = self._data
        return self._fd

    def vm_check(self, offset, data):
        """Raise ValueError when programming ``data`` at ``offset`` would give anything but
        ``data`` (bits that are already 0 where ``data`` has a 1): the VM's view, which
        takes a program as written, would no longer be this flash. LittleFS programs only
        erased space, so this is a firmware defect, reported rather than simulated wrong."""
        n = len(data)
        new = int.from_bytes(data, "big")
        if int.from_bytes(self._data[offset:offset + n], "big") & new != new:
            raise ValueError("program over programmed bits at 0x%x+%d: the VM's view of the "
                             "flash would differ from the flash" % (offset, n))

    # -- images ---------------------------------------------------------------
    def image(self):
        """The raw contents (bytes), e.g. to write to a board's partition."""
        return bytes(self._data)

    @classmethod
    def from_image(cls, data, *, erase_size=4096, write_unit=1, log=False):
        flash = cls(len(data), erase_size=erase_size, write_unit=write_unit, log=log)
        flash._data[:] = data
        return flash

    @property
    def block_count(self):
        return self.size // self.erase_size

    # -- power ----------------------------------------------------------------
    def cut_at(self, n, partial=None):
        """Lose power at the n-th program/erase operation from now (1-based).

        ``partial``: bytes of that operation applied before the cut (None: none).
        """
        if n < 1:
            raise ValueError("cut_at counts operations from 1")
        self._cut_op = self.ops + n
        self._partial = partial

    def power_on(self):
        """Restore power; contents stay as the cut left them."""
        self.powered = True

    def _check_power(self):
        if not self.powered:
            raise PowerCut("flash accessed with the power off")

    def _begin(self, kind, detail):
        """Count one operation; True when the power dies during it."""
        self._check_power()
        self.ops += 1
        if kind == "program":
            self.programs += 1
        else:
            self.erases += 1
        if self.log is not None:
            self.log.append((kind,) + detail)
        return self._cut_op is not None and self.ops >= self._cut_op

    def _die(self):
        self.powered = False
        self.cuts += 1
        self._cut_op = None
        self._partial = None
        raise PowerCut("power cut at flash operation %d" % self.ops)

    # -- raw access -------------------------------------------------------------
    def _check_range(self, offset, n):
        if offset < 0 or n < 0 or offset + n > self.size:
            raise ValueError("flash access %d+%d outside 0..%d" % (offset, n, self.size))

    def read(self, offset, n):
        self._check_power()
        self._check_range(offset, n)
        return bytes(self._data[offset:offset + n])

    def program(self, offset, data):
        """NOR page program: bits can only go from 1 to 0. One operation."""
        data = bytes(data)
        self._check_range(offset, len(data))
        if offset % self.write_unit or len(data) % self.write_unit:
            raise ValueError("program not aligned to the %d-byte write unit" % self.write_unit)
        cut = self._begin("program", (offset, len(data)))
        n = len(data)
        if cut:
            n = min(n, self._partial or 0)
        d = self._data
        self.programmed += n
        if n:  # bits only clear: the AND of old and new, as one big integer
            old = int.from_bytes(d[offset:offset + n], "big")
            d[offset:offset + n] = (old & int.from_bytes(data[:n], "big")).to_bytes(n, "big")
        if cut:
            self._die()

    def erase(self, block):
        """Erase one block to 0xFF. One operation."""
        if not 0 <= block < self.block_count:
            raise ValueError("erase of block %d outside 0..%d" % (block, self.block_count - 1))
        cut = self._begin("erase", (block,))
        start = block * self.erase_size
        n = self.erase_size
        if cut:
            n = min(n, self._partial or 0)
        self._data[start:start + n] = b"\xff" * n
        if cut:
            self._die()

    # -- MicroPython block-device protocol ----------------------------------------
    def readblocks(self, n, buf, offset=0):
        start = n * self.erase_size + offset
        buf[:] = self.read(start, len(buf))

    def writeblocks(self, n, buf, offset=None):
        """With ``offset``: program only. Without: erase each block, then program it."""
        if offset is not None:
            self.program(n * self.erase_size + offset, buf)
            return
        buf = bytes(buf)
        if len(buf) % self.erase_size:
            raise ValueError("writeblocks without offset needs whole blocks")
        for i in range(len(buf) // self.erase_size):
            self.erase(n + i)
            chunk = buf[i * self.erase_size:(i + 1) * self.erase_size]
            self.program((n + i) * self.erase_size, chunk)

    def ioctl(self, op, arg):
        if op == IOCTL_BLOCK_COUNT:
            return self.block_count
        if op == IOCTL_BLOCK_SIZE:
            return self.erase_size
        if op == IOCTL_BLOCK_ERASE:
            self.erase(arg)
            return 0
        if op in (IOCTL_INIT, IOCTL_DEINIT, IOCTL_SYNC):
            self._check_power()
            return 0
        return None

    # -- littlefs-python ---------------------------------------------------------------
    def lfs_context(self):
        return LfsFlashContext(self)


class LfsFlashContext(littlefs.UserContext):
    """littlefs-python's user context over a NorFlash.

    littlefs-python calls these from C and swallows exceptions, so a power cut
    is turned into LFS_ERR_IO here and recorded in ``cut``; the caller
    (``hw_sim.lfs``) re-raises :class:`PowerCut` when the call returns.
    """

    def __init__(self, flash):  # no buffer: the flash is the storage
        self.flash = flash
        self.in_size = flash.size
        self.cut = None
        self._block = flash.erase_size  # LittleFS's block (hw_sim.lfs checks they are equal)

    def read(self, cfg, block, off, size):
        flash = self.flash
        start = block * self._block + off
        if flash.powered and start + size <= flash.size:  # the hot path: NorFlash.read, inline
            return flash._data[start:start + size]
        try:
            return bytearray(flash.read(start, size))
        except PowerCut as e:
            self.cut = self.cut or e
            return bytearray(b"\xff" * size)

    def prog(self, cfg, block, off, data):
        try:
            self.flash.program(block * cfg.block_size + off, data)
        except PowerCut as e:
            self.cut = self.cut or e
            return LFS_ERR_IO
        return 0

    def erase(self, cfg, block):
        try:
            self.flash.erase(block)
        except PowerCut as e:
            self.cut = self.cut or e
            return LFS_ERR_IO
        return 0

    def sync(self, cfg):
        if not self.flash.powered:
            return LFS_ERR_IO
        return 0
