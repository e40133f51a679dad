"""Every `ykt` (sub)command's --help ends with at least one example and every option it has
says what it is for; `ykt --version` names the tools' and the firmware's versions."""

import argparse

import pytest

from host_tools import cli
from host_tools.lib.build import firmware_version


def _commands(p, path=("ykt",)):
    yield path, p
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _commands(child, path + (name,))


COMMANDS = list(_commands(cli.parser()))


def test_the_tree_is_walked():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"ykt", "ykt sim run", "ykt journal dump", "ykt fare quote", "ykt stations",
            "ykt office ingest"} <= names


@pytest.mark.parametrize("path,p", COMMANDS, ids=[" ".join(c[0]) for c in COMMANDS])
def test_every_command_has_an_example_and_every_option_help(path, p):
    assert p.epilog and p.epilog.startswith("examples:\n"), "%s: no examples" % " ".join(path)
    assert isinstance(p.formatter_class, type)
    assert issubclass(p.formatter_class, argparse.RawDescriptionHelpFormatter)
    examples = [x.strip() for x in p.epilog.splitlines()[1:] if x.strip()]
    assert examples and all(x.startswith("ykt ") for x in examples)
    for action in p._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        assert action.help, "%s %s: no help text" % (
            " ".join(path), "/".join(action.option_strings) or action.dest)
    text = p.format_help()
    assert "examples:\n  ykt " in text  # kept as written, not re-wrapped


def test_version_names_the_package_and_the_firmware(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("ykt ") and out.count("\n") == 1
    assert "firmware %s" % firmware_version() in out
