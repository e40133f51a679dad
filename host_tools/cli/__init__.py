"""`ykt`: one command for host work on yikatong terminals — a thin layer over the library.

Each module in this package is one top-level subcommand and defines ``register(subparsers)``;
its handler (``set_defaults(fn=...)``) parses nothing further, calls ``host_tools.lib`` (or
``host_tools.device`` for a board on a serial port), prints, and returns an exit code.

Exit codes are the same for every command:

- 0: done;
- 1: the operation failed (a device did not answer, a file did not verify);
- 2: bad usage or bad input (argparse's own usage errors exit 2 as well);
- 130: interrupted (Ctrl-C); 141 (128 + SIGPIPE): whoever read the output stopped reading
  (``ykt ... | head``), quietly, as other Unix tools.

A failure is one line on stderr, ``ykt: error: ...``, never a traceback. Every (sub)command's
``--help`` ends with examples (``examples(...)``) and every option has help text
(tests/test_cli_help.py).
"""

import argparse
import importlib
import os
import pkgutil
import sys

from host_tools.lib.errors import YktError

OK, FAILED, BAD_INPUT = 0, 1, 2
INTERRUPTED, BROKEN_PIPE = 130, 141


def examples(*lines: str) -> dict:
    """``add_parser`` keywords for a (sub)command's examples, shown at the end of ``--help``:
    ``sub.add_parser("x", help=..., **examples("ykt x A", "ykt x B  # with B"))``."""
    return {"epilog": "examples:\n" + "\n".join("  " + line for line in lines),
            "formatter_class": argparse.RawDescriptionHelpFormatter}


def version() -> str:
    """``ykt``'s own version (the installed package's) and the firmware's (its manifest)."""
    from importlib import metadata

    from host_tools.lib.build import firmware_version

    try:
        tools = metadata.version("yikatong")
    except metadata.PackageNotFoundError:
        tools = "unknown (not installed)"
    try:
        firmware = firmware_version()
    except (OSError, ValueError) as e:
        firmware = "unknown (%s)" % e
    return "ykt %s, firmware %s" % (tools, firmware)


class _Version(argparse.Action):
    """``--version``: read only when asked (the firmware manifest is parsed)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kw):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version())
        parser.exit()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ykt", description="yikatong terminal host tools",
        **examples("ykt sim run scenarios/demo-station.json",
                   "ykt fare quote --from \"People Square\" --to Xujiahui",
                   "ykt SUBCOMMAND --help  # each subcommand's options and examples"))
    p.add_argument("--version", action=_Version,
                   help="print the tools' and the firmware's versions and exit")
    sub = p.add_subparsers(dest="cmd", required=True)
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        importlib.import_module(__name__ + "." + info.name).register(sub)
    return p


def _fail(message: str, code: int) -> int:
    print("ykt: error: %s" % message, file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:
        return _reader_gone()
    except YktError as e:
        return _fail(str(e), e.exit_code)
    except ValueError as e:  # a handler's own usage check
        return _fail(str(e), BAD_INPUT)
    except OSError as e:  # the operation could not read or write what it needed
        return _fail(str(e), FAILED)


def _reader_gone() -> int:
    """The reader of our output went away (``| head``): say nothing more. stdout is pointed
    at /dev/null so the interpreter's own flush at exit does not complain either."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):  # stdout is no real file (a test's capture)
        pass
    return BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
