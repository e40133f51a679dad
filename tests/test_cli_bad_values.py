"""Bad values get one clear line and exit 2 (1 where the operation failed), never a traceback:
`ykt sim board --listen`, `ykt journal dump/verify` given a collect directory or a dump of a
whole flash (read with --board, the vfs partition where the board file puts it)."""

import socket

import pytest

from host_tools import cli
from host_tools.lib.image import Board
from hw_sim.flash import NorFlash
from hw_sim.lfs import LfsVfs, format_flash
from ykt.store.journal import Journal

KEY = bytes(range(16))
TERMINAL = bytes.fromhex("112233445566")
BOARD = "devkitc-turnstile"


def _run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line(err):
    assert err.startswith("ykt: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err[len("ykt: error: "):].strip()


@pytest.mark.parametrize("listen, words", [
    ("127.0.0.1:99999", "--listen '127.0.0.1:99999': the port must be a number 0..65535"),
    ("localhost", "--listen 'localhost': give HOST:PORT, e.g. 127.0.0.1:4000"),
    ("127.0.0.1:http", "--listen '127.0.0.1:http': the port must be a number"),
    ("no-such-host.invalid:4000", "--listen no-such-host.invalid:4000: unknown host"),
])
def test_a_bad_listen_address_is_one_line_exit_2(capsys, listen, words):
    code, out, err = _run(capsys, "sim", "board", "--listen", listen, "--max-seconds", "0")
    assert code == 2 and out == ""
    assert _one_line(err).startswith(words)


def test_a_port_in_use_is_one_line_exit_1(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, out, err = _run(capsys, "sim", "board", "--listen", "127.0.0.1:%d" % port,
                              "--max-seconds", "0")
    assert code == 1 and out == ""
    assert _one_line(err) == ("--listen 127.0.0.1:%d: the port is in use (another board?); "
                              "--listen 127.0.0.1:0 picks a free one" % port)


@pytest.mark.parametrize("cmd", [["dump"], ["verify", "--key", KEY.hex()]])
def test_a_collect_directory_is_named_as_one(capsys, tmp_path, cmd):
    (tmp_path / "journal.sqlite").write_bytes(b"SQLite format 3\x00")
    (tmp_path / "journal.csv").write_text("seq,kind\n")
    code, out, err = _run(capsys, "journal", cmd[0], tmp_path, *cmd[1:])
    assert code == 2 and out == ""
    assert _one_line(err) == ("%s is a `ykt collect` directory (journal.sqlite, journal.csv): "
                              "its records are verified already; give the terminal's journal "
                              "directory or flash image" % tmp_path)


def test_a_directory_without_a_journal_is_named(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    code, out, err = _run(capsys, "journal", "dump", tmp_path)
    assert code == 2
    assert _one_line(err) == "%s holds no journal (no segment files like 00000001.seg)" % tmp_path


@pytest.fixture(scope="module")
def whole_flash(tmp_path_factory):
    """A dump of the board's whole flash: 0xFF but for a vfs partition holding 5 records."""
    offset, size = Board(BOARD).partition("vfs")
    flash = NorFlash(size)
    format_flash(flash)
    j = Journal(LfsVfs(flash), KEY, TERMINAL, segment_records=4, capacity_records=100)
    j.open()
    for i in range(5):
        j.append("purchase", time=1000 + i, card="31040000000000001234", atc=i, amount=100,
                 balance=9000, tx_type=6, tac=b"\x0a\x0b\x0c\x0d", tseq=i)
    path = tmp_path_factory.mktemp("dump") / "whole-flash.bin"
    path.write_bytes(b"\xff" * offset + flash.image() + b"\xff" * 4096)
    return path


def test_a_whole_flash_dump_without_board_says_to_add_it(capsys, whole_flash):
    code, out, err = _run(capsys, "journal", "dump", whole_flash)
    assert code == 2 and out == ""
    assert "a dump of the whole flash? add --board NAME" in _one_line(err)


def test_a_whole_flash_dump_is_read_from_the_boards_vfs_partition(capsys, whole_flash):
    code, out, err = _run(capsys, "journal", "dump", whole_flash, "--board", BOARD)
    assert (code, err) == (0, "")
    assert len(out.splitlines()) == 5
    code, out, err = _run(capsys, "journal", "verify", whole_flash, "--board", BOARD,
                          "--key", KEY.hex())
    assert (code, out, err) == (0, "OK 5 records (seq 1..5)\n", "")


def test_a_dump_too_short_for_the_board_is_one_line(capsys, tmp_path):
    short = tmp_path / "short.bin"
    short.write_bytes(b"\xff" * 8192)
    code, out, err = _run(capsys, "journal", "dump", short, "--board", BOARD)
    assert code == 2
    assert "neither board %s's vfs partition" % BOARD in _one_line(err)


def test_a_scenario_that_is_not_text_is_one_line(tmp_path, capsys):
    bad = tmp_path / "noise.json"
    bad.write_bytes(bytes(range(128, 256)))
    assert cli.main(["sim", "run", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", "ykt: error: %s: not a scenario file (not UTF-8 text)\n" % bad)


def test_a_heap_that_is_not_a_size_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["sim", "run", "scenarios/demo-canteen.json", "--heap", "lots"])
    assert e.value.code == 2
    assert "argument --heap: 'lots': give a size like 128K" in capsys.readouterr().err
