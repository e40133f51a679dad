"""The virtual board as a person meets it: `ykt sim board` run from a checkout, its
console seen with `ykt monitor`, and the real mpremote's commands (rtc, mount, a soft
reset with a file left open)."""

import datetime
import os
import subprocess
import sys
import time

import pytest
from hostkit import ROOT, flash_with_files, free_port

MPREMOTE = [sys.executable, "-m", "mpremote"]


class SimBoard:
    """`ykt sim board` in a subprocess on a free loopback port."""

    def __init__(self, *args, cwd=ROOT, env=None, seconds=120):
        self.port = free_port()
        self.url = "socket://127.0.0.1:%d" % self.port
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "host_tools.cli", "sim", "board", "--listen",
             "127.0.0.1:%d" % self.port, "--max-seconds", str(seconds), *map(str, args)],
            cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.banner = self.proc.stdout.readline()

    def mpremote(self, *args, timeout=60):
        return subprocess.run([*MPREMOTE, "connect", self.url, *args], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def stop(self):
        """End the board; its log (stderr)."""
        self.proc.terminate()
        try:
            return self.proc.communicate(timeout=20)[1]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.communicate()[1]


@pytest.fixture
def sim_board():
    boards = []

    def start(*args, **kw):
        b = SimBoard(*args, **kw)
        boards.append(b)
        return b

    yield start
    for b in boards:
        b.stop()


def test_the_board_runs_from_a_checkout_whose_path_is_longer_than_255_bytes(sim_board, tmp_path):
    deep = tmp_path / ("c" * 100) / ("d" * 100) / ("e" * 60)
    deep.mkdir(parents=True)
    (deep / "checkout").symlink_to(ROOT)
    checkout = str(deep / "checkout")
    assert len(os.path.join(checkout, "hw_sim", "board", "mpy", "boardvm.py")) > 255
    board = sim_board("--boot", "app", cwd=tmp_path, env=dict(os.environ, PYTHONPATH=checkout))
    r = board.mpremote("exec", "import machine; print(len(machine.unique_id()))")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "6"


def test_a_file_left_open_at_a_soft_reset_keeps_what_was_written(sim_board):
    board = sim_board("--boot", "app")
    r = board.mpremote("exec", "f = open('left.txt', 'w'); f.write('written before the reset')",
                       "soft-reset", "exec", "print(open('left.txt').read())")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "written before the reset"


def test_mpremote_rtc_reads_the_time_rtc_set_gave_the_board(sim_board):
    board = sim_board("--boot", "app")
    r = board.mpremote("rtc")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("(2000, 1, 1, 5, 0, 0, ")  # a Saturday, as after power-on
    r = board.mpremote("rtc", "--set", "rtc")
    assert r.returncode == 0, r.stdout + r.stderr
    got = tuple(int(x) for x in r.stdout.strip().strip("()").split(","))
    now = datetime.datetime.now()
    board_time = datetime.datetime(got[0], got[1], got[2], got[4], got[5], got[6], got[7])
    assert abs((board_time - now).total_seconds()) < 30
    assert got[3] == board_time.weekday()


def monitor(board, seconds):
    r = subprocess.run([sys.executable, "-m", "host_tools.cli", "monitor", "--port", board.url,
                        "--seconds", str(seconds)], capture_output=True, text=True, timeout=60,
                       cwd=ROOT, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    return r.stdout.replace("\r\n", "\n")


MAIN_FAILS = b"print('terminal starting')\nimport no_such_driver\n"


def test_monitor_shows_the_boot_of_a_board_that_booted_before_it_connected(sim_board, tmp_path):
    image = tmp_path / "flash.bin"
    image.write_bytes(flash_with_files({"/main.py": MAIN_FAILS}).image())
    board = sim_board("--boot", "app", "--flash-image", image)
    end = time.monotonic() + 60
    while not monitor(board, 2).endswith(">>> ") and time.monotonic() < end:
        pass  # until the board has booted into its REPL (seen live or replayed)
    seen = monitor(board, 1)  # a second look: only the kept console can show the boot
    assert "rst:0x1 (POWERON_RESET)" in seen
    assert "terminal starting\nTraceback (most recent call last):\n" in seen
    assert "ImportError: no module named 'no_such_driver'" in seen
    assert seen.endswith(">>> ")


def test_the_board_log_tells_each_taps_outcome(tmp_path):
    from boardtaps import TapRig

    rig = TapRig(tmp_path, [{"at": 2, "tap": "commuter", "hold_ms": 1500}], opening=5000)
    log = []
    rig.hooks.log = log.append
    try:
        flashed = rig.flash(rig.provision("config.json", "--role", "fixed_fare",
                                          "--fare-fen", 350))
        assert flashed.returncode == 0, flashed.stdout + flashed.stderr
        assert rig.wait(lambda: any("removed" in line for line in log), 90)
    finally:
        rig.stop()
    assert "card commuter placed (balance 5000 fen)" in log
    removed = [line for line in log if "removed" in line]
    assert removed[0].startswith("card commuter removed: charged 350 fen (balance 5000 -> 4650), ")


def test_mpremote_mount_is_refused_in_words_that_say_what_to_do_instead(sim_board, tmp_path):
    (tmp_path / "hello.py").write_text("print('from the host')\n")
    board = sim_board("--boot", "app")
    r = board.mpremote("mount", str(tmp_path), "exec", "import hello", timeout=30)
    assert r.returncode != 0
    assert r.stderr.rstrip().endswith(
        "OSError: mpremote mount is not supported by the virtual board (running code cannot "
        "read the UART); copy files with mpremote fs cp or ykt deploy")
    assert "from the host" not in r.stdout


def test_the_command_after_a_refused_mount_works(sim_board, tmp_path):
    board = sim_board("--boot", "app")
    board.mpremote("mount", str(tmp_path), timeout=30)
    r = board.mpremote("exec", "import os; print(os.getcwd())")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "/"


class ReplSession:
    """`mpremote connect PTY repl` on a pseudo-terminal of its own, as a person at a
    keyboard, against the board's pty (`ykt sim board --pty`): mpremote's POSIX console
    cannot use a socket:// port (it selects on the port's ``fd``)."""

    def __init__(self, board_pty):
        import pty

        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([*MPREMOTE, "connect", board_pty, "repl"], stdin=slave,
                                     stdout=slave, stderr=slave, close_fds=True)
        os.close(slave)
        self.seen = b""
        assert self.wait_for(b"Use Ctrl-] or Ctrl-x to exit this shell"), self.seen
        for _ in range(20):  # until mpremote's terminal is raw and the board is in its REPL
            self.type(b"\r")
            if self.wait_for(b">>> ", 1):
                break
        assert b">>> " in self.seen, self.seen

    def read(self, seconds):
        import select

        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:  # mpremote has gone
                    break

    def wait_for(self, text, seconds=20):
        end = time.monotonic() + seconds
        while text not in self.seen and time.monotonic() < end:
            self.read(0.1)
        return text in self.seen

    def type(self, keys):
        """Type ``keys``, one byte at a time; what the screen shows from then on is
        :attr:`seen`."""
        self.seen = b""
        for k in keys:
            os.write(self.master, bytes([k]))
            self.read(0.02)

    def close(self):
        os.write(self.master, b"\x1d")  # Ctrl-]: leave mpremote's REPL
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


@pytest.fixture
def repl(sim_board):
    board = sim_board("--boot", "app", "--pty")
    session = ReplSession(board.banner.split(" and ", 1)[1].split()[0])
    yield session
    session.close()


def test_the_repl_indents_the_line_after_a_colon(repl):
    repl.type(b"def answer():\r")
    assert repl.wait_for(b"def answer():\r\n...     ")
    repl.type(b"return 42\r\r\r\ranswer()\r")  # the board put the body's four spaces
    assert repl.wait_for(b"\r\n42\r\n>>> ")


def test_tab_completes_a_name_the_repl_knows(repl):
    repl.type(b"turnstile_count = 17\r")
    assert repl.wait_for(b">>> ")
    repl.type(b"turnstile_c\t")
    assert repl.wait_for(b"turnstile_count")
    repl.type(b"\r")
    assert repl.wait_for(b"\r\n17\r\n>>> ")


def test_the_up_arrow_recalls_the_previous_line(repl):
    repl.type(b"print(6 * 7)\r")
    assert repl.wait_for(b"42\r\n>>> ")
    repl.type(b"\x1b[A")
    assert repl.wait_for(b"print(6 * 7)")
    repl.type(b"\r")
    assert repl.wait_for(b"\r\n42\r\n>>> ")
