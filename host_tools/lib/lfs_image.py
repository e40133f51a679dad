"""LittleFS partition images, made and read on the host with littlefs-python.

The geometry is MicroPython's ``os.VfsLfs2`` on an ESP32 (extmod/vfs_lfs.c, vfs_lfsx.c):
4 KB blocks, read/prog 32, lookahead 32, cache 128, block cycles 100 — the same numbers the
simulator's flash model (``hw_sim.lfs``) mounts with, so an image made here mounts on a board,
on the VM and in the simulator alike.
"""

import littlefs

from host_tools.lib.errors import BadInput

BLOCK_SIZE, READ_SIZE, PROG_SIZE, LOOKAHEAD, CACHE_SIZE, BLOCK_CYCLES = 4096, 32, 32, 32, 128, 100


def _fs(ctx: littlefs.UserContext, size: int) -> littlefs.LittleFS:
    return littlefs.LittleFS(context=ctx, mount=False, block_size=BLOCK_SIZE,
                             block_count=size // BLOCK_SIZE, read_size=READ_SIZE,
                             prog_size=PROG_SIZE, lookahead_size=LOOKAHEAD,
                             cache_size=CACHE_SIZE, block_cycles=BLOCK_CYCLES)


def make(files: dict[str, bytes], size: int) -> bytes:
    """A LittleFS image of ``size`` bytes holding ``files`` (path: bytes); BadInput if they
    do not fit."""
    if size % BLOCK_SIZE or size < 2 * BLOCK_SIZE:
        raise BadInput("the vfs partition (%d bytes) is not a whole number of 4 KB blocks"
                       % size)
    ctx = littlefs.UserContext(buffsize=size)
    fs = _fs(ctx, size)
    try:
        fs.format()
        fs.mount()
        for path, data in files.items():
            parent = path.rsplit("/", 1)[0]
            if parent:
                fs.makedirs(parent, exist_ok=True)
            with fs.open(path, "wb") as f:
                f.write(data)
        fs.unmount()
    except littlefs.LittleFSError as e:
        if e.code != littlefs.LittleFSError.Error.LFS_ERR_NOSPC:
            raise
        total = sum(len(d) for d in files.values())
        raise BadInput("%d files (%d bytes) do not fit the %d-byte vfs partition"
                       % (len(files), total, size)) from None
    return bytes(ctx.buffer)


def read_dir(image: bytes, directory: str, what: str) -> dict[str, bytes]:
    """The files (not subdirectories) of ``directory`` in a LittleFS image, as {name: bytes}.
    ``what`` names the image in the BadInput raised when it is not one."""
    if not image or len(image) % BLOCK_SIZE:
        raise BadInput("%s: not a LittleFS image (size not a multiple of %d)"
                       % (what, BLOCK_SIZE))
    ctx = littlefs.UserContext(buffsize=len(image))
    ctx.buffer[:] = image
    fs = _fs(ctx, len(image))
    try:
        fs.mount()
    except littlefs.LittleFSError:
        raise BadInput("%s: not a LittleFS image (mount failed)" % what) from None
    try:
        names = fs.listdir(directory)
    except littlefs.LittleFSError:
        raise BadInput("%s: the image holds no %s" % (what, directory)) from None
    out = {}
    for name in names:
        full = "%s/%s" % (directory.rstrip("/"), name)
        if fs.stat(full).type == littlefs.LFSStat.TYPE_DIR:
            continue
        with fs.open(full, "rb") as f:
            out[name] = f.read()
    return out
