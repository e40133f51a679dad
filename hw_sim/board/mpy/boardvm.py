# Runs on the MicroPython unix port: one boot of the virtual ESP32 (hw_sim/board/vm.py).
#
# Two pipes (fd numbers in argv: board -> VM, VM -> board) carry messages: u32 LE length + JSON.
# stdout/stderr are the board's UART (the board adds the \r of \r\n).
# VM -> board: [seq, op, args...] requests (seq > 0, answered ["r", seq, value]) and
# [0, event, ...] notices ("run" before executing Python code, "booted", "done").
# board -> VM: replies, and ["exec", id, source, kind] when the VM is idle.
# The VM asks "hello" for its configuration, imports the modules the board preloads
# (machine, ...) from the board's host directories, then swaps the host filesystem
# for the board's LittleFS partition at "/" (as ports/esp32 _boot.py does,
# formatting an empty partition on first boot), runs boot.py, and main.py on a
# friendly boot. rpc() (hw_sim/vm/_rpc.py, its `call` set to this pipe) sends any
# other request: the board answers it or hands it to its hooks.
# Ctrl-C arrives as SIGINT (KeyboardInterrupt). A reply that an interrupt
# abandoned is recognised by its seq and dropped, so the link never desyncs.
# ["sweep"] (board -> VM, before a soft reset) closes every file code left open,
# as gc_sweep_all() does on the chip, answers [0, "swept"] and ends the VM.
import builtins
import io
import json
import os
import struct
import sys

import vfs

_cin = open("/dev/fd/" + sys.argv[1], "rb")
_cout = open("/dev/fd/" + sys.argv[2], "wb")
_SELF = 'File "%s"' % sys.argv[0]
_g = {"__name__": "__main__"}


def _send(msg):
    body = json.dumps(msg).encode()
    _cout.write(struct.pack("<I", len(body)) + body)


def _recv():
    while True:
        (n,) = struct.unpack("<I", _cin.read(4))
        body = _cin.read(n & ~_BIN)
        if not n & _BIN:  # a binary flash reply here is one an interrupt abandoned
            return json.loads(body.decode())


# The partition's reads, programs and erases use binary messages (length word with
# bit 31 set) through buffers allocated here once: LittleFS calls the block device
# from inside its C code, where a MemoryError would abandon an operation half-way,
# and on the chip esp32.Partition is C that never touches the heap.
#   request  <I len|bit31> <B op R|W|I> <I seq> <I block|ioctl op> <I offset|arg> <I size>
#            then, for W, the data (in the same write)
#   reply    <I len|bit31> <I seq> <B status: 0 ok, 1 OSError> then the data (R)
#            or <i value> <B is-None> (I, and the errno of an OSError)
_BIN = 0x80000000
_NONE = 0xFFFFFFFF
_HEAD = 21
_WMAX = 512  # programs up to this size go out without allocating (LittleFS: 128)
_breq = bytearray(_HEAD + _WMAX)
_brep = bytearray(9)
_bval = bytearray(5)


def _u32(buf, i):
    return buf[i] | buf[i + 1] << 8 | buf[i + 2] << 16 | buf[i + 3] << 24


def _flash(op, a, b, size, data):
    _seq[0] += 1
    seq = _seq[0]
    n = _HEAD if data is None else _HEAD + len(data)
    struct.pack_into("<IBIIII", _breq, 0, (n - 4) | _BIN, op, seq, a, b, size)
    if n <= len(_breq):
        for i in range(n - _HEAD):
            _breq[_HEAD + i] = data[i]
        _cout.write(_breq, n)  # one write: a Ctrl-C cannot split a message
    else:
        _cout.write(bytes(_breq[:_HEAD]) + bytes(data))
    while True:
        _cin.readinto(_brep)
        got = _u32(_brep, 0)
        if got & _BIN and _u32(_brep, 4) == seq:
            break
        _cin.read((got & ~_BIN) - 5)  # not ours: a reply an interrupt abandoned
    if _brep[8]:
        _cin.readinto(_bval)
        raise OSError(_i32(_bval))


def _i32(buf):
    v = _u32(buf, 0)
    return v - (1 << 32) if v & _BIN else v


_seq = [0]


def _call(req):
    _seq[0] += 1
    n = _seq[0]
    _send([n] + list(req))
    while True:
        m = _recv()
        if m[0] == "r" and m[1] == n:
            if len(m) > 3:  # a Ctrl-C came in: raised now the reply is read
                raise KeyboardInterrupt
            return m[2]


sys.path.insert(0, sys.argv[3])  # hw_sim/vm: its _rpc, over the control pipe
import _rpc  # noqa: E402

sys.path.pop(0)
_rpc.raw = lambda msg: _call(json.loads(msg[1:]))  # a request line's JSON, as a request
rpc = _rpc.rpc
# the board answers every request: a posted one is waited for, as any call
_rpc.post_raw = lambda msg: _rpc.rpc_raw(msg)
_rpc.post_still = _rpc.post_raw


class _Partition:
    # The "vfs" data partition as esp32.Partition offers it to VfsLfs2, over the
    # binary messages above. The board does the work (writeblocks without offset
    # erases first), so these hold no Python-level branch where a Ctrl-C could land.
    def readblocks(self, n, buf, off=0):
        _flash(82, n, off, len(buf), None)  # "R"
        _cin.readinto(buf)

    def writeblocks(self, n, buf, off=None):
        _flash(87, n, _NONE if off is None else off, len(buf), buf)  # "W"

    def ioctl(self, op, arg):
        _flash(73, op, arg or 0, 0, None)  # "I"
        _cin.readinto(_bval)
        return None if _bval[4] else _i32(_bval)


# Files opened on the board's filesystem, closed by the soft-reset sweep (on the chip,
# gc_sweep_all() runs every file's finaliser, which flushes and closes it; the unix
# port does not sweep at exit, so what was written would be lost).
_files = []


def _is_open(f):
    try:
        f.tell()
        return True
    except (OSError, ValueError):  # a closed file raises ValueError
        return False


class _Lfs:
    # VfsLfs2 with its open() noted. A wrapper, not a subclass: the VFS layer hands a
    # subclass instance to VfsLfs2's C import_stat as if it were the C object (segfault).
    def __init__(self, part):
        fs = self._fs = vfs.VfsLfs2(part)
        for name in ("mount", "umount", "ilistdir", "chdir", "getcwd", "mkdir", "remove",
                     "rename", "rmdir", "stat", "statvfs"):
            setattr(self, name, getattr(fs, name))

    def open(self, path, mode="r"):
        f = self._fs.open(path, mode)
        _files[:] = [x for x in _files if _is_open(x)]
        _files.append(f)
        return f


def _sweep():
    for f in _files:
        try:
            f.close()
        except Exception:
            pass
    del _files[:]
    _send([0, "swept"])


# The ESP32 port's built-in (C) modules, which Tab offers after "import ".
_ESP32_MODULES = ("array", "binascii", "bluetooth", "btree", "builtins", "cmath", "collections",
                  "cryptolib", "deflate", "errno", "esp", "esp32", "framebuf", "gc", "hashlib",
                  "heapq", "io", "json", "machine", "math", "micropython", "network", "os",
                  "platform", "random", "re", "select", "socket", "ssl", "struct", "sys",
                  "time", "tls", "uctypes", "vfs", "websocket")


def _complete(text):
    # py/repl.c mp_repl_autocomplete() over the REPL's globals and the builtins:
    # [text to insert, names to list] for the name chain (a.b.c) that ends the line.
    i = len(text)
    while i > 0 and (text[i - 1].isalpha() or text[i - 1].isdigit() or text[i - 1] in "_."):
        i -= 1
    chain = text[i:].split(".")
    prefix = chain[-1]
    obj = None
    try:
        for w in chain[:-1]:
            obj = _g[w] if obj is None and w in _g else getattr(builtins if obj is None else obj, w)
    except Exception:
        return ["", []]
    if text.startswith("import "):
        names = _ESP32_MODULES  # after "import ": the port's built-in modules
    else:
        names = dir(obj) if obj is not None else list(_g) + dir(builtins)
    found = sorted(set(n for n in names if n.startswith(prefix) and (prefix or n[0] != "_")))
    if not found:
        if i == 0 and prefix and "import ".startswith(prefix) and len(prefix) < 7:
            return ["import "[len(prefix):], []]
        return ["", []]
    common = found[0]
    for n in found[1:]:
        k = 0
        while k < len(common) and k < len(n) and common[k] == n[k]:
            k += 1
        common = common[:k]
    if len(found) == 1 or len(common) > len(prefix):
        return [common[len(prefix):], []]
    return ["", found]


def _traceback(e):
    s = io.StringIO()
    sys.print_exception(e, s)
    lines = s.getvalue().split("\n")
    return "\n".join(x for x in lines if _SELF not in x)


def _execute(src, name, kind):
    _send([0, "run", name])
    try:
        exec(compile(src, name, kind), _g)
    except SystemExit:
        return ["", True]
    except BaseException as e:
        return [_traceback(e), False]
    return ["", False]


def _run_file(name):
    # pyexec_file_if_exists(): (ran without an exception, asked for a soft reset)
    try:
        with open(name) as f:
            src = f.read()
    except OSError:
        return True, False
    text, leave = _execute(src, name, "exec")
    sys.stdout.write(text)
    return not text, leave


def _mount():
    part = _Partition()
    try:
        vfs.mount(_Lfs(part), "/")
        return
    except OSError:
        pass
    buf = bytearray(4096)
    part.readblocks(0, buf)
    if buf != b"\xff" * 4096:
        _send([0, "run", "_boot.py"])
        while True:  # as ports/esp32 inisetup.fs_corrupted(): Ctrl-C leaves it
            print("The filesystem appears to be corrupted. If you had important data there,"
                  " you\nmay want to make a flash snapshot to try to recover it. Otherwise,"
                  " perform\nfactory reprogramming of MicroPython firmware (completely erase"
                  " flash, followed\nby firmware programming).\n")
            import time
            time.sleep(3)
    print("Performing initial setup")
    vfs.VfsLfs2.mkfs(part)
    vfs.mount(_Lfs(part), "/")
    with open("/boot.py", "w") as f:
        f.write("# This file is executed on every boot (including wake-boot from deepsleep)\n"
                "#import esp\n#esp.osdebug(None)\n#import webrepl\n#webrepl.start()\n")


def _boot(cfg):
    del sys.path[:]
    sys.path.extend(cfg["path"])
    for name in cfg["preload"]:
        try:
            __import__(name)
        except Exception as e:
            sys.stdout.write(_traceback(e))
    del sys.path[:]
    sys.path.extend(["", ".frozen", "/lib"])
    vfs.umount("/")
    try:
        _mount()
    except KeyboardInterrupt as e:
        sys.stdout.write(_traceback(e))
    os.chdir("/")
    ok, leave = _run_file("boot.py")
    if ok and not leave and cfg["main"]:  # ports/esp32 main.c skips main.py after a failed boot.py
        ok, leave = _run_file("main.py")
    return leave


def _serve():
    cur = None
    res = None
    while True:
        try:
            if cur is not None:
                _send([0, "done", cur, res[0], res[1]])
                cur = None
            res = None
            m = _recv()
            if m[0] == "complete":
                _send([0, "completed"] + _complete(m[1]))
                continue
            if m[0] == "sweep":
                _sweep()
                return
            if m[0] != "exec":
                continue  # a reply an interrupt abandoned
            cur = m[1]
            res = _execute(m[2], "<stdin>", m[3])
        except KeyboardInterrupt as e:  # a Ctrl-C that came in around the executed code
            if cur is not None and res is None:
                res = [_traceback(e), False]


_cfg = rpc("hello", {"version": list(sys.implementation.version[:3])})
try:
    _left = _boot(_cfg)
except KeyboardInterrupt as e:
    sys.stdout.write(_traceback(e))
    _left = False
_send([0, "booted", bool(_left)])
_serve()
