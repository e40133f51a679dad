"""LittleFS on the simulated flash: the fs interface, power-cut safety, and images shared
between littlefs-python (CPython) and os.VfsLfs2 on the MicroPython VM over the bridge."""

import hashlib
import json
import os
import subprocess

import pytest
import vmscripts

from hw_sim import vm_flash
from hw_sim.flash import NorFlash, PowerCut
from hw_sim.lfs import LfsVfs, format_flash, has_superblock, mount_or_format
from ykt.store.vfs import Vfs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VM_PATH = [os.path.join(ROOT, "hw_sim", "vm"), os.path.join(ROOT, "firmware")]
BLOCKS = 16


def formatted(blocks=BLOCKS):
    flash = NorFlash(blocks * 4096)
    format_flash(flash)
    return flash


def remount(flash):
    flash.power_on()
    return LfsVfs(NorFlash.from_image(flash.image()))


def read(fs, path):
    with fs.open(path, "rb") as f:
        return f.read()


def errno_of(fn, *args):
    with pytest.raises(OSError) as e:
        fn(*args)
    return e.value.errno


@pytest.fixture(params=["littlefs", "dir"])
def fs(request, tmp_path):
    if request.param == "littlefs":
        return LfsVfs(formatted())
    return Vfs(str(tmp_path))


# -- the fs interface, on LfsVfs and on the firmware's Vfs over a directory ----------------

def test_written_file_reads_back(fs):
    with fs.open("/a.bin", "wb") as f:
        assert f.write(b"\x00\x01yikatong") == 10
    assert read(fs, "/a.bin") == b"\x00\x01yikatong"


def test_append_mode_adds_at_the_end(fs):
    for part in (b"one,", b"two,", b"three"):
        with fs.open("/log", "ab") as f:
            f.write(part)
    assert read(fs, "/log") == b"one,two,three"


def test_write_mode_truncates(fs):
    with fs.open("/a", "wb") as f:
        f.write(b"long contents")
    with fs.open("/a", "wb") as f:
        f.write(b"s")
    assert read(fs, "/a") == b"s"


def test_seek_tell_and_partial_reads(fs):
    with fs.open("/a", "wb") as f:
        f.write(bytes(range(200)))
    with fs.open("/a", "rb") as f:
        assert f.read(3) == b"\x00\x01\x02"
        assert f.seek(150) == 150 and f.tell() == 150
        assert f.read(4) == bytes([150, 151, 152, 153])
        assert f.seek(-2, 2) == 198 and f.read() == bytes([198, 199])


def test_readinto_fills_buffer_and_returns_count(fs):
    with fs.open("/a", "wb") as f:
        f.write(b"abcdef")
    buf = bytearray(4)
    with fs.open("/a", "rb") as f:
        assert f.readinto(buf) == 4 and buf == b"abcd"
        assert f.readinto(buf) == 2 and buf[:2] == b"ef"


def test_update_mode_overwrites_in_place(fs):
    with fs.open("/a", "wb") as f:
        f.write(b"0123456789")
    with fs.open("/a", "r+b") as f:
        f.seek(4)
        f.write(b"xy")
    assert read(fs, "/a") == b"0123xy6789"


def test_rename_replaces_the_target(fs):
    for name, data in (("/state", b"old"), ("/state.tmp", b"new")):
        with fs.open(name, "wb") as f:
            f.write(data)
    fs.rename("/state.tmp", "/state")
    assert read(fs, "/state") == b"new" and sorted(fs.listdir("/")) == ["state"]


def test_remove_deletes_the_file(fs):
    with fs.open("/a", "wb") as f:
        f.write(b"x")
    fs.remove("/a")
    assert fs.listdir("/") == [] and errno_of(fs.stat, "/a") == 2


def test_mkdir_and_listdir_of_a_subdirectory(fs):
    fs.mkdir("/journal")
    for name in ("00000002.seg", "00000001.seg"):
        with fs.open("/journal/" + name, "wb") as f:
            f.write(b"s")
    assert sorted(fs.listdir("/journal")) == ["00000001.seg", "00000002.seg"]
    assert fs.listdir("/") == ["journal"]


def test_stat_gives_size_and_directory_bit(fs):
    fs.mkdir("/d")
    with fs.open("/d/f", "wb") as f:
        f.write(b"x" * 777)
    assert fs.stat("/d/f")[6] == 777 and not fs.stat("/d/f")[0] & 0x4000
    assert fs.stat("/d")[0] & 0x4000


def test_statvfs_gives_block_size_and_counts(fs):
    st = fs.statvfs("/")
    assert st[0] > 0 and 0 <= st[3] <= st[2]


def test_missing_paths_are_enoent(fs):
    assert errno_of(fs.stat, "/nope") == 2
    assert errno_of(fs.open, "/nope", "rb") == 2
    assert errno_of(fs.open, "/nope", "r+b") == 2
    assert errno_of(fs.remove, "/nope") == 2
    assert errno_of(fs.rename, "/nope", "/other") == 2
    assert errno_of(fs.listdir, "/nope") == 2


def test_mkdir_of_existing_name_is_eexist(fs):
    fs.mkdir("/d")
    assert errno_of(fs.mkdir, "/d") == 17


# -- LittleFS specifics -----------------------------------------------------------

def test_statvfs_free_blocks_shrink_as_files_grow():
    fs = LfsVfs(formatted())
    st = fs.statvfs("/")
    with fs.open("/big", "wb") as f:
        f.write(b"z" * 3 * 4096)
    assert st[:3] == (4096, 4096, BLOCKS) and fs.statvfs("/")[3] <= st[3] - 3


def test_filling_the_flash_is_enospc_and_keeps_older_files():
    fs = LfsVfs(formatted(8))
    with fs.open("/keep", "wb") as f:
        f.write(b"k" * 1000)
    with pytest.raises(OSError) as e:
        with fs.open("/fill", "wb") as f:
            for _ in range(64):
                f.write(b"f" * 1024)
    assert e.value.errno == 28 and read(remount(fs.flash), "/keep") == b"k" * 1000


def test_flush_commits_an_open_file_to_flash():
    fs = LfsVfs(formatted())
    f = fs.open("/log", "ab")
    f.write(b"committed")
    f.flush()
    f.write(b"pending")
    assert read(remount(fs.flash), "/log") == b"committed"


def test_write_without_flush_is_not_on_flash():
    fs = LfsVfs(formatted())
    f = fs.open("/log", "wb")
    f.write(b"data" * 10)
    assert read(remount(fs.flash), "/log") == b""


def test_text_modes_are_refused():
    with pytest.raises(ValueError):
        LfsVfs(formatted()).open("/a", "w")


def test_mount_or_format_formats_a_blank_flash():
    flash = NorFlash(BLOCKS * 4096)
    assert mount_or_format(flash).listdir("/") == [] and has_superblock(flash)


def test_mount_or_format_keeps_an_existing_filesystem():
    flash = formatted()
    with LfsVfs(flash).open("/a", "wb") as f:
        f.write(b"kept")
    assert read(mount_or_format(flash), "/a") == b"kept"


def damaged(flash):
    """Zero both superblock commits after the magic: unmountable, yet clearly a filesystem."""
    for block in (0, 1):
        flash.program(block * 4096 + 16, b"\x00" * 48)
    return flash


def test_mount_or_format_never_formats_a_damaged_filesystem():
    flash = damaged(formatted())
    before = flash.image()
    with pytest.raises(OSError):
        mount_or_format(flash)
    assert flash.image() == before


# -- power cuts ---------------------------------------------------------------------

def record(i):
    return b"%03d|" % i + bytes([65 + i % 26]) * (40 + 7 * i)


def appends(fs, n, done):
    for i in range(n):
        with fs.open("/log", "ab") as f:
            f.write(record(i))
        done[0] = i + 1


def workload_ops(base, n):
    flash = NorFlash.from_image(base)
    appends(LfsVfs(flash), n, [0])
    return flash.ops


def test_a_cut_raises_power_cut_and_the_mount_stays_dead():
    fs = LfsVfs(formatted())
    fs.flash.cut_at(1)
    with pytest.raises(PowerCut):
        appends(fs, 1, [0])
    fs.flash.power_on()
    with pytest.raises(PowerCut):
        fs.listdir("/")


def prefix(k):
    return b"".join(record(i) for i in range(k))


@pytest.mark.parametrize("partial", [None, 13, 2000])
def test_committed_appends_survive_a_cut_at_any_operation(partial):
    base = formatted().image()
    total = workload_ops(base, 30)
    for n in range(1, total + 1):
        flash = NorFlash.from_image(base)
        fs, done = LfsVfs(flash), [0]
        flash.cut_at(n, partial)
        with pytest.raises(PowerCut):
            appends(fs, 30, done)
        after = remount(flash)
        names = after.listdir("/")
        data = read(after, "/log") if names else b""
        assert names in ([], ["log"]), "cut at op %d of %d" % (n, total)
        assert data in (prefix(done[0]), prefix(done[0] + 1)), "cut at op %d of %d" % (n, total)


def test_a_cut_filesystem_takes_new_writes_after_remount():
    base = formatted().image()
    total = workload_ops(base, 10)
    for n in range(1, total + 1):
        flash = NorFlash.from_image(base)
        fs, done = LfsVfs(flash), [0]
        flash.cut_at(n)
        with pytest.raises(PowerCut):
            appends(fs, 10, done)
        after = remount(flash)
        before = read(after, "/log") if after.listdir("/") else b""
        with after.open("/log", "ab") as f:
            f.write(b"+after")
        assert read(remount(after.flash), "/log") == before + b"+after", "cut at op %d" % n


# -- the same flash on the MicroPython VM (os.VfsLfs2 over hw_sim/vm/flashdev.py) ---------

def run_vm(tmp_path, flash, *steps):
    """Run tests/vm/lfs_steps.py with ``steps`` on the VM, ``fs`` on ``flash``; serve its
    flash requests like hw_sim/vm_bridge.py would. Returns (console lines, whether the power
    was cut)."""
    proc = subprocess.Popen(vmscripts.command("lfs_steps", *steps),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=vmscripts.env(VM_PATH), cwd=str(tmp_path))
    console, cut = [], False
    for raw in proc.stdout:
        if vm_flash.is_request(raw):
            try:
                vm_flash.serve(flash, raw, proc.stdout, proc.stdin)
            except PowerCut:
                cut = True
            continue
        console.append(raw.decode().rstrip("\n"))
    proc.stdin.close()
    err = proc.stderr.read().decode()
    assert proc.wait() == 0, "\n".join(console) + err
    return console, cut


def vm_json(tmp_path, flash, step):
    console, cut = run_vm(tmp_path, flash, step)
    assert not cut
    return json.loads(console[-1])


# the files tests/vm/lfs_steps.py "make-tree" writes
TREE = [("/a.bin", bytes(range(256)) * 3), ("/d/log", b"0123456789" * 900), ("/d/e/x", b"")]


def make_tree(fs):
    fs.mkdir("/d")
    fs.mkdir("/d/e")
    for path, data in TREE:
        with fs.open(path, "wb") as f:
            f.write(data)


def test_littlefs_python_image_mounts_on_the_vm(tmp_path):
    flash = formatted()
    make_tree(LfsVfs(flash))
    out = vm_json(tmp_path, NorFlash.from_image(flash.image()), "show-tree")
    expected = dict((p, hashlib.sha256(d).hexdigest()) for p, d in TREE)
    assert out == dict(expected, **{"/": ["a.bin", "d"]})


def test_vm_image_mounts_on_littlefs_python(tmp_path):
    flash = NorFlash(BLOCKS * 4096)
    run_vm(tmp_path, flash, "make-tree")
    fs = LfsVfs(NorFlash.from_image(flash.image()))
    assert [read(fs, p) for p, _ in TREE] == [d for _, d in TREE]
    assert sorted(fs.listdir("/")) == ["a.bin", "d"]


def test_same_work_gives_identical_images_on_both_runtimes(tmp_path):
    on_vm = NorFlash(BLOCKS * 4096)
    run_vm(tmp_path, on_vm, "make-tree", "appends", 12)
    on_cpython = NorFlash(BLOCKS * 4096)
    fs = mount_or_format(on_cpython)
    make_tree(fs)
    appends(fs, 12, [0])
    assert on_vm.ops == on_cpython.ops and on_vm.image() == on_cpython.image()


def test_statvfs_agrees_between_vm_and_littlefs_python(tmp_path):
    flash = formatted()
    make_tree(LfsVfs(flash))
    out = vm_json(tmp_path, flash, "statvfs")
    assert out == list(LfsVfs(flash).statvfs("/"))


def test_vm_mount_formats_a_blank_flash(tmp_path):
    flash = NorFlash(BLOCKS * 4096)
    assert vm_json(tmp_path, flash, "listdir") == []
    assert has_superblock(flash) and LfsVfs(flash).listdir("/") == []


def test_vm_mount_never_formats_a_damaged_filesystem(tmp_path):
    flash = damaged(formatted())
    before = flash.image()
    with pytest.raises(AssertionError, match="OSError: 84"):
        run_vm(tmp_path, flash)
    assert flash.image() == before


def test_vm_stops_at_a_cut_and_remounts_its_committed_appends(tmp_path):
    flash = formatted()
    flash.cut_at(100)
    console, cut = run_vm(tmp_path, flash, "appends", 30)
    flash.power_on()
    out = vm_json(tmp_path, flash, "read-log")
    data = bytes.fromhex(out)
    assert cut and "done" not in console
    assert len(data) > 0 and data in [prefix(k) for k in range(31)]


@pytest.mark.parametrize("n", [1, 9, 40, 77, 123])
def test_a_cut_at_the_same_op_leaves_the_same_image_on_both_runtimes(tmp_path, n):
    base = formatted().image()
    on_vm, on_cpython = NorFlash.from_image(base), NorFlash.from_image(base)
    on_vm.cut_at(n, 7)
    assert run_vm(tmp_path, on_vm, "appends", 20)[1]
    fs = LfsVfs(on_cpython)
    on_cpython.cut_at(n, 7)
    with pytest.raises(PowerCut):
        appends(fs, 20, [0])
    assert on_vm.image() == on_cpython.image()


def run_parity(fs):
    # the same source on the VM: tests/vm/lfs_parity.py
    return vmscripts.load("lfs_parity").parity(fs, lambda b: bytes(b).hex())


def test_fs_interface_behaves_the_same_on_vm_littlefs_python_and_a_directory(tmp_path):
    vm = vm_json(tmp_path, NorFlash(BLOCKS * 4096), "parity")
    (tmp_path / "dir").mkdir()
    assert vm == run_parity(LfsVfs(formatted())) == run_parity(Vfs(str(tmp_path / "dir")))
    assert vm[:8] == [10, "303158", 9, 9, 4, "3961626300", "", ["a"]]
