"""The real mpremote against the virtual board's MicroPython over socket://.

Files are checked in the flash itself: the board's ``vfs`` partition is mounted
with littlefs-python (MicroPython's VfsLfs2 geometry) and read back.
"""

import hashlib
import os
import subprocess
import sys
import time

import littlefs
import pytest

from hw_sim.board.board import VFS_OFFSET, Board
from hw_sim.board.server import BoardServer
from hw_sim.flash import NorFlash

MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")
ESPTOOL = os.path.join(os.path.dirname(sys.executable), "esptool")
FLASH_SIZE = 4 << 20
PART_SIZE = FLASH_SIZE - VFS_OFFSET
GEOMETRY = dict(block_size=4096, block_count=PART_SIZE // 4096, read_size=32, prog_size=32,
                lookahead_size=32, cache_size=128)


def partition_fs(flash):
    """The vfs partition's LittleFS, mounted from a copy of the flash bytes (no format)."""
    ctx = littlefs.UserContext(buffer=bytearray(flash.read(VFS_OFFSET, PART_SIZE)))
    fs = littlefs.LittleFS(context=ctx, mount=False, **GEOMETRY)
    fs.mount()
    return fs


def flash_with_files(files):
    """A flash whose vfs partition already holds ``files`` (LittleFS made on the host)."""
    ctx = littlefs.UserContext(buffsize=PART_SIZE)
    fs = littlefs.LittleFS(context=ctx, mount=False, **GEOMETRY)
    fs.format()
    fs.mount()
    for name, data in files.items():
        with fs.open(name, "wb") as f:
            f.write(data)
    fs.unmount()
    flash = NorFlash(FLASH_SIZE)
    flash.program(VFS_OFFSET, bytes(ctx.buffer))
    return flash


def read_file(flash, name):
    fs = partition_fs(flash)  # keep the filesystem alive while its file is open
    with fs.open(name, "rb") as f:
        return f.read()


def wait_for(condition, timeout=20.0):
    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        time.sleep(0.02)
    return condition()


def serve(flash):
    board = Board(flash, name="mpremote-test")
    server = BoardServer(board)
    board.power_on("app")
    server.start(max_seconds=120)
    return board, server


@pytest.fixture
def app_board():
    """A board with an erased flash, powered on into MicroPython."""
    board, server = serve(NorFlash(FLASH_SIZE))
    yield board, server
    server.stop()


@pytest.fixture
def make_board():
    servers = []

    def make(files):
        board, server = serve(flash_with_files(files))
        servers.append(server)
        return board, server

    yield make
    for server in servers:
        server.stop()


def mpremote(server, *args, cwd=None, timeout=60):
    return subprocess.run([MPREMOTE, "connect", server.url, *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)


def test_first_boot_formats_an_empty_partition_as_littlefs_with_boot_py(app_board):
    board, server = app_board
    assert wait_for(lambda: board.busy is None)
    assert partition_fs(board.flash).listdir("/") == ["boot.py"]
    assert read_file(board.flash, "boot.py").startswith(b"# This file is executed on every boot")


def test_fs_cp_writes_the_file_into_the_littlefs_partition(app_board, tmp_path):
    board, server = app_board
    data = bytes(range(256)) * 20 + b"tail"
    (tmp_path / "blob.bin").write_bytes(data)
    r = mpremote(server, "fs", "cp", str(tmp_path / "blob.bin"), ":blob.bin")
    assert r.returncode == 0, r.stdout + r.stderr
    assert read_file(board.flash, "blob.bin") == data


def test_fs_ls_lists_the_files_a_host_put_in_the_partition(make_board):
    board, server = make_board({"config.json": b'{"terminal": "T1"}', "notes.txt": b"x" * 1000})
    r = mpremote(server, "fs", "ls")
    assert r.returncode == 0, r.stdout + r.stderr
    listing = [line.split() for line in r.stdout.splitlines()[1:]]
    assert ["18", "config.json"] in listing
    assert ["1000", "notes.txt"] in listing


def test_fs_cat_prints_the_file(make_board):
    board, server = make_board({"hello.txt": b"hello from flash\n"})
    r = mpremote(server, "fs", "cat", ":hello.txt")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "hello from flash" in r.stdout


def test_fs_sha256sum_equals_hashlib_of_the_file(make_board):
    data = os.urandom(3000)
    board, server = make_board({"data.bin": data})
    r = mpremote(server, "fs", "sha256sum", ":data.bin")
    assert r.returncode == 0, r.stdout + r.stderr
    assert hashlib.sha256(data).hexdigest() in r.stdout


def test_fs_rm_removes_the_file_from_the_partition(make_board):
    board, server = make_board({"old.txt": b"bye", "keep.txt": b"stay"})
    r = mpremote(server, "fs", "rm", ":old.txt")
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(partition_fs(board.flash).listdir("/")) == ["keep.txt"]


def test_exec_runs_the_code_on_micropython(app_board):
    _, server = app_board
    r = mpremote(server, "exec", "import sys; print(1+1, sys.implementation.name)")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "2 micropython"


def test_a_raising_exec_prints_a_micropython_traceback_and_fails(app_board):
    _, server = app_board
    r = mpremote(server, "exec", "import os\nos.stat('missing.txt')")
    assert r.returncode != 0
    assert "Traceback (most recent call last):" in r.stdout
    assert 'File "<stdin>", line 2, in <module>' in r.stdout
    assert "OSError: [Errno 2] ENOENT" in r.stdout


def test_run_executes_a_local_script_on_the_board(app_board, tmp_path):
    board, server = app_board
    (tmp_path / "job.py").write_text("with open('made.txt', 'w') as f:\n    f.write('by run')\n")
    r = mpremote(server, "run", str(tmp_path / "job.py"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert read_file(board.flash, "made.txt") == b"by run"


def test_soft_reset_starts_a_fresh_interpreter(app_board):
    _, server = app_board
    r = mpremote(server, "exec", "x = 5", "exec", "print('x' in globals())",
                 "soft-reset", "exec", "print('x' in globals())")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split() == ["True", "False"]


MAIN_COUNTS_BOOTS = b"with open('boots.txt', 'a') as f:\n    f.write('x')\n"


def test_reset_reboots_the_board_and_runs_main_py_again(make_board):
    board, server = make_board({"main.py": MAIN_COUNTS_BOOTS})
    assert wait_for(lambda: board.busy is None)
    r = mpremote(server, "reset")
    assert r.returncode == 0, r.stdout + r.stderr
    assert wait_for(lambda: board.boots == ["power_on", "soft", "hard"] and board.busy is None)
    assert read_file(board.flash, "boots.txt") == b"xx"


MAIN_NEVER_RETURNS = (b"import time\nopen('started', 'w').close()\n"
                      b"while True:\n    time.sleep_ms(20)\n")


def test_ctrl_c_from_mpremote_interrupts_a_main_py_that_never_returns(make_board):
    board, server = make_board({"main.py": MAIN_NEVER_RETURNS})
    assert wait_for(lambda: board.running == "main.py")
    r = mpremote(server, "exec", "import os; print(sorted(os.listdir()))")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "['main.py', 'started']"


def test_bootloader_puts_the_board_back_in_rom_download_mode(app_board):
    board, server = app_board
    r = mpremote(server, "bootloader")
    assert r.returncode == 0, r.stdout + r.stderr
    assert wait_for(lambda: board.mode == "rom")
    r = subprocess.run([ESPTOOL, "--port", server.url, "--before", "no-reset", "--no-stub",
                        "read-mac"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_fs_cp_copies_a_board_file_to_the_host(make_board, tmp_path):
    data = os.urandom(700)
    board, server = make_board({"log.bin": data})
    r = mpremote(server, "fs", "cp", ":log.bin", str(tmp_path / "log.bin"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "log.bin").read_bytes() == data


def test_the_next_mpremote_interrupts_code_a_previous_one_left_running(app_board):
    board, server = app_board
    r = mpremote(server, "exec", "--no-follow", "while True:\n    pass")
    assert r.returncode == 0, r.stdout + r.stderr
    assert wait_for(lambda: board.running == "<stdin>")
    r = mpremote(server, "exec", "print('interrupted')")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "interrupted"
