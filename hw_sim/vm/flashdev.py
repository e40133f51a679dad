# MicroPython-side flash for the simulator: a block device whose reads, programs
# and erases go over the bridge to hw_sim.flash.NorFlash (handled by
# hw_sim/vm_flash.py), and mount() to put a real os.VfsLfs2 on it.
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
from _rpc import rpc, b

MAGIC_OFFSET = 8


class FlashDev:
    def readblocks(self, n, buf, off=0):
        buf[:] = rpc("flash_read", n, off, len(buf))

    def writeblocks(self, n, buf, off=None):
        rpc("flash_write", n, off, b(buf))

    def ioctl(self, op, arg):
        return rpc("flash_ioctl", op, arg)


def has_superblock(dev):
    buf = bytearray(8)
    for block in (0, 1):
        dev.readblocks(block, buf, MAGIC_OFFSET)
        if buf == b"littlefs":
            return True
    return False


def mount(path="/flash", dev=None, mtime=False):
    """Mount LittleFS on the simulated flash at ``path``; returns the VfsLfs2."""
    if dev is None:
        dev = FlashDev()
    try:
        vfs = os.VfsLfs2(dev, mtime=mtime)
    except OSError:
        if has_superblock(dev):
            raise
        os.VfsLfs2.mkfs(dev)
        vfs = os.VfsLfs2(dev, mtime=mtime)
    os.mount(vfs, path)
    return vfs
