"""`ykt` exits the same way in every command: 0 done, 1 the operation failed, 2 bad usage or
bad input; a failure is one line on stderr (docs/architecture.md, "Host side")."""

import pytest

from host_tools import cli
from host_tools.lib.errors import BadInput, Failed, YktError


def _run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["journal", "verify"])  # PATH missing: argparse's own usage error
    assert e.value.code == 2


@pytest.mark.parametrize("argv", [
    ("journal", "verify", "nowhere", "--key", "00" * 16),
    ("journal", "verify", "nowhere", "--key-file", "no-key-file"),
    ("denylist", "merge", "--base", "no-base", "--delta", "no-delta", "--out", "x"),
    ("update", "show", "no-update-file"),
    ("fare", "quote", "--tariff", "no-tariff.bin", "--from", "1", "--to", "2"),
    ("tariff", "check", "no-source.json"),
    ("office", "ingest", "no-journal", "--db", "no-db.sqlite", "--keys", "no-key-file"),
    ("office", "report", "--db", "no-db.sqlite"),
    ("qr", "check", "YK1:00", "--anchors", "no-anchors-file"),
])
def test_a_missing_input_file_exits_2_in_one_line(capsys, argv):
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert err.startswith("ykt: error: ") and err.count("\n") == 1


def test_a_journal_that_does_not_verify_exits_1(capsys, tmp_path):
    (tmp_path / "00000001.seg").write_bytes(b"\x00" * 64)  # a segment of garbage
    code, out, err = _run(capsys, "journal", "verify", tmp_path, "--key", "00" * 16)
    assert code == 1
    assert out.startswith("BAD ")


def test_a_device_that_does_not_answer_exits_1(capsys):
    code, out, err = _run(capsys, "deploy", "--port", "/dev/ttyYKT-missing")
    assert code == 1
    assert err == "ykt: error: no such port /dev/ttyYKT-missing\n"


def test_the_library_raises_one_error_type_with_the_exit_code_it_means():
    assert issubclass(BadInput, YktError) and issubclass(Failed, YktError)
    assert (BadInput.exit_code, Failed.exit_code) == (2, 1)
    assert issubclass(BadInput, ValueError) and issubclass(Failed, RuntimeError)
