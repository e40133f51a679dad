"""The fs interface's behaviour, the same source on every fs (tests/test_lfs_vfs.py runs
``parity`` on the VM's LittleFS, littlefs-python and a host directory): what each call returns
or the errno it raises. ``h`` turns bytes into hex."""


def parity(fs, h):
    out = []

    def err(fn, *args):
        try:
            fn(*args)
        except OSError as e:
            return e.errno
        return 0

    fs.mkdir("/j")
    with fs.open("/j/a", "wb") as f:
        out.append(f.write(b"0123456789"))
    with fs.open("/j/a", "ab") as f:
        f.write(b"abc")
    with fs.open("/j/a", "r+b") as f:
        f.seek(2)
        f.write(b"XY")
    buf = bytearray(5)
    with fs.open("/j/a", "rb") as f:
        out += [h(f.read(3)), f.seek(-4, 2), f.tell(), f.readinto(buf), h(buf), h(f.read())]
    with fs.open("/j/b.tmp", "wb") as f:
        f.write(b"new")
    fs.rename("/j/b.tmp", "/j/a")
    out += [sorted(fs.listdir("/j")), fs.stat("/j/a")[6], bool(fs.stat("/j")[0] & 0x4000)]
    fs.remove("/j/a")
    out += [fs.listdir("/j"), err(fs.stat, "/j/a"), err(fs.open, "/j/a", "r+b"),
            err(fs.mkdir, "/j")]
    out += [err(fs.remove, "/nope"), err(fs.rename, "/nope", "/j/x"), err(fs.listdir, "/nope")]
    return out
