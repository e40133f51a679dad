"""`ykt`: one command for host work on yikatong terminals.

Subcommands live in ``host_tools/commands/`` (one module each, see its
``__init__``). Errors are one line on stderr (``ykt: error: ...``) and exit 2.
"""

import argparse
import importlib
import pkgutil
import sys

from host_tools import commands


def parser():
    p = argparse.ArgumentParser(prog="ykt", description="yikatong terminal host tools")
    sub = p.add_subparsers(dest="cmd", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module("host_tools.commands." + info.name).register(sub)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, RuntimeError, OSError) as e:
        print("ykt: error: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
