"""`ykt`: one command for host work on yikatong terminals — a thin layer over the library.

Each module in this package is one top-level subcommand and defines ``register(subparsers)``;
its handler (``set_defaults(fn=...)``) parses nothing further, calls ``host_tools.lib`` (or
``host_tools.device`` for a board on a serial port), prints, and returns an exit code.

Exit codes are the same for every command:

- 0: done;
- 1: the operation failed (a device did not answer, a file did not verify);
- 2: bad usage or bad input (argparse's own usage errors exit 2 as well).

A failure is one line on stderr, ``ykt: error: ...``, never a traceback.
"""

import argparse
import importlib
import pkgutil
import sys

from host_tools.lib.errors import YktError

OK, FAILED, BAD_INPUT = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ykt", description="yikatong terminal host tools")
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
        return 130
    except YktError as e:
        return _fail(str(e), e.exit_code)
    except ValueError as e:  # a handler's own usage check
        return _fail(str(e), BAD_INPUT)
    except OSError as e:  # the operation could not read or write what it needed
        return _fail(str(e), FAILED)


if __name__ == "__main__":
    sys.exit(main())
