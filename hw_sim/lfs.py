"""LittleFS on the simulated flash under CPython (littlefs-python).

``LfsVfs(flash)`` mounts a real LittleFS v2 on a :class:`hw_sim.flash.NorFlash`
with MicroPython's ``os.VfsLfs2`` geometry, so an image made here mounts on
the MicroPython VM (and on a board) and the other way round. It offers the fs
interface of docs/architecture.md "Files on flash"; errors are ``OSError``
with the errno MicroPython would give (littlefs code negated, as
extmod/vfs_lfsx.c does). A power cut inside any call raises ``PowerCut``
after littlefs has unwound; the object is then dead: remount a new one.
"""

from littlefs import LittleFSError, lfs

# MicroPython VfsLfs2's geometry, one definition shared with the host's image tools.
from host_tools.lib.lfs_image import (
    BLOCK_CYCLES,
    BLOCK_SIZE,
    CACHE_SIZE,
    LOOKAHEAD,
    PROG_SIZE,
    READ_SIZE,
)
from hw_sim.flash import PowerCut

S_IFDIR = 0x4000
S_IFREG = 0x8000
MAGIC_OFFSET = 8  # "littlefs" follows the revision count and the superblock name tag

_O_RDONLY, _O_WRONLY, _O_RDWR = 1, 2, 3
_O_CREAT, _O_TRUNC, _O_APPEND = 0x100, 0x400, 0x800
_MODES = {
    "rb": _O_RDONLY,
    "wb": _O_WRONLY | _O_CREAT | _O_TRUNC,
    "ab": _O_WRONLY | _O_CREAT | _O_APPEND,
    "r+b": _O_RDWR,
    "w+b": _O_RDWR | _O_CREAT | _O_TRUNC,
    "a+b": _O_RDWR | _O_CREAT | _O_APPEND,
}


def _config(flash):
    if flash.erase_size != BLOCK_SIZE:
        raise ValueError("LittleFS here uses %d-byte blocks" % BLOCK_SIZE)
    return lfs.LFSConfig(
        context=flash.lfs_context(), block_size=BLOCK_SIZE, block_count=flash.block_count,
        read_size=READ_SIZE, prog_size=PROG_SIZE, cache_size=CACHE_SIZE,
        lookahead_size=LOOKAHEAD, block_cycles=BLOCK_CYCLES)


def _call(cfg, fn, *args):
    """Run one littlefs call: PowerCut if the power died in it, else OSError(errno)."""
    ctx = cfg.user_context
    try:
        result = fn(*args)
    except LittleFSError as e:
        if ctx.cut is not None:
            raise PowerCut(str(ctx.cut)) from None
        raise OSError(-e.code, e.name) from None
    if ctx.cut is not None:
        raise PowerCut(str(ctx.cut))
    return result


def format_flash(flash):
    """Make an empty LittleFS on the flash (what ``os.VfsLfs2.mkfs`` does)."""
    cfg = _config(flash)
    _call(cfg, lfs.format, lfs.LFSFilesystem(), cfg)


def has_superblock(flash):
    """True when block 0 or 1 carries the LittleFS magic: a filesystem was made here.

    A cut filesystem keeps it (littlefs rewrites the superblock pair copy on
    write), so only a blank flash or one cut during its very first format lacks it.
    """
    for block in (0, 1):
        at = block * flash.erase_size + MAGIC_OFFSET
        if flash.read(at, 8) == b"littlefs":
            return True
    return False


def mount_or_format(flash):
    """Mount the filesystem; format first only if the flash never held one."""
    try:
        return LfsVfs(flash)
    except OSError:
        if has_superblock(flash):
            raise
    format_flash(flash)
    return LfsVfs(flash)


class LfsFile:
    """A binary file on LfsVfs, behaving like a MicroPython VfsLfs2 file."""

    def __init__(self, vfs, fh):
        self._vfs = vfs
        self._fh = fh
        self.closed = False

    def _do(self, fn, *args):
        if self.closed:
            raise ValueError("I/O operation on closed file")
        return self._vfs._do(fn, self._vfs._fs, self._fh, *args)

    def read(self, n=-1):
        if n is None or n < 0:
            n = max(0, self._do(lfs.file_size) - self._do(lfs.file_tell))
        return bytes(self._do(lfs.file_read, n))

    def readinto(self, buf):
        data = self._do(lfs.file_read, len(buf))
        buf[:len(data)] = data
        return len(data)

    def write(self, data):
        return self._do(lfs.file_write, bytes(data))

    def seek(self, offset, whence=0):
        return self._do(lfs.file_seek, offset, whence)

    def tell(self):
        return self._do(lfs.file_tell)

    def flush(self):
        self._do(lfs.file_sync)

    def close(self):
        if not self.closed:
            try:
                self._vfs._do(lfs.file_close, self._vfs._fs, self._fh)
            finally:
                self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class LfsVfs:
    """The fs interface (docs/architecture.md "Files on flash") over littlefs-python."""

    def __init__(self, flash):
        self.flash = flash
        self._cfg = _config(flash)
        self._fs = lfs.LFSFilesystem()
        self._do(lfs.mount, self._fs, self._cfg)

    def _do(self, fn, *args):
        return _call(self._cfg, fn, *args)

    def open(self, path, mode="rb"):
        flags = _MODES.get(mode)
        if flags is None:
            raise ValueError("unsupported mode %r (binary modes only)" % (mode,))
        return LfsFile(self, self._do(lfs.file_open, self._fs, path, flags))

    def remove(self, path):
        self._do(lfs.remove, self._fs, path)

    def rename(self, old, new):
        self._do(lfs.rename, self._fs, old, new)

    def mkdir(self, path):
        self._do(lfs.mkdir, self._fs, path)

    def listdir(self, path="/"):
        dh = self._do(lfs.dir_open, self._fs, path)
        names = []
        try:
            while True:
                info = self._do(lfs.dir_read, self._fs, dh)
                if info is None:
                    break
                if info.name not in (".", ".."):
                    names.append(info.name)
        finally:
            self._do(lfs.dir_close, self._fs, dh)
        return names

    def stat(self, path):
        info = self._do(lfs.stat, self._fs, path)
        if info.type == 2:  # littlefs leaves a directory's size unset
            return (S_IFDIR, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        return (S_IFREG, 0, 0, 0, 0, 0, info.size, 0, 0, 0)

    def _count_dirs(self, path):
        n = 0
        for name in self.listdir(path):
            sub = path.rstrip("/") + "/" + name
            if self._do(lfs.stat, self._fs, sub).type == 2:
                n += 1 + self._count_dirs(sub)
        return n

    def statvfs(self, path="/"):
        # MicroPython counts with lfs_fs_traverse, which visits each directory's
        # block pair twice (tail list and its entry): match it, block for block.
        used = self._do(lfs.fs_size, self._fs) + 2 * self._count_dirs("/")
        free = self._cfg.block_count - used
        return (BLOCK_SIZE, BLOCK_SIZE, self._cfg.block_count, free, free, 0, 0, 0, 0, 255)

    def unmount(self):
        self._do(lfs.unmount, self._fs)
