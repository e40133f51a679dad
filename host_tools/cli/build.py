"""`ykt build [--out DIR] [--march xtensawin]`: .mpy for every firmware module.

The firmware's version and its freeze manifest are ``firmware/manifest.py`` (MicroPython's
manifest conventions: ``metadata(version=...)``, ``package("ykt")``)."""

import os

from host_tools.cli import examples


def _build(args):
    from host_tools.lib.build import MANIFEST, build_mpy, firmware_version

    version = firmware_version()
    built = build_mpy(args.out, march=args.march)
    print("firmware %s: built %d modules into %s; freeze manifest %s"
          % (version, len(built), args.out, os.path.relpath(MANIFEST)))
    return 0


def register(sub):
    p = sub.add_parser("build", help="compile the firmware to .mpy with mpy-cross",
                       **examples("ykt build", "ykt build --march x64 --out /tmp/fw-x64"))
    p.add_argument("--out", default=os.path.join("build", "firmware"),
                   help="directory for the .mpy files (default build/firmware)")
    p.add_argument("--march", default="xtensawin", help="mpy-cross -march (default xtensawin)")
    p.set_defaults(fn=_build)
