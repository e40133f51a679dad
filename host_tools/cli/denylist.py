"""`ykt denylist build|delta|merge`: denylist files (payloads of update files, docs/stores.md)."""


from host_tools.cli import examples


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _build(args):
    from host_tools.lib import denylist

    entries = denylist.read_list(args.input)
    data = denylist.build_base(entries, args.version, args.page_size)
    _write(args.out, data)
    print("denylist v%d: %d cards, %d bytes -> %s" % (args.version, len(entries), len(data),
                                                     args.out))
    return 0


def _delta(args):
    from host_tools.lib import denylist

    add = denylist.read_list(args.add) if args.add else []
    remove = [no for no, _ in denylist.read_list(args.remove)] if args.remove else []
    data = denylist.build_delta(args.base_version, args.version, add, remove)
    _write(args.out, data)
    print("denylist delta v%d (base v%d): +%d -%d, %d bytes -> %s"
          % (args.version, args.base_version, len(add), len(remove), len(data), args.out))
    return 0


def _merge(args):
    from host_tools.lib import denylist
    from host_tools.lib.files import read_input

    base = read_input(args.base, "denylist")
    delta = read_input(args.delta, "denylist delta")
    data = denylist.merge(base, delta, args.version)
    version, entries = denylist.read_base(data)
    _write(args.out, data)
    print("denylist v%d: %d cards, %d bytes -> %s" % (version, len(entries), len(data),
                                                     args.out))
    return 0


def register(sub):
    p = sub.add_parser("denylist", help="build denylist files and deltas",
                       **examples("ykt denylist build --in lost.csv --version 1 --out deny.bin"))
    cmds = p.add_subparsers(dest="denylist_cmd", required=True)
    b = cmds.add_parser("build", help="full denylist from a list of card numbers",
                         **examples("ykt denylist build --in lost.csv --version 1 --out deny.bin"))
    b.add_argument("--in", dest="input", required=True,
                   help="text/CSV: one 20-digit card number a line, optional reason")
    b.add_argument("--version", type=int, required=True, help="denylist version (1..2^32-1)")
    b.add_argument("--out", required=True, help="denylist file to write")
    b.add_argument("--page-size", type=int, default=1024, help="bytes per page (256..4096)")
    b.set_defaults(fn=_build)
    d = cmds.add_parser("delta", help="add/remove lists against an installed base version",
                         **examples("ykt denylist delta --base-version 1 --version 2 "
                                    "--add found-lost.csv --out deny-2.delta"))
    d.add_argument("--base-version", type=int, required=True,
                   help="version of the base the terminals have installed")
    d.add_argument("--version", type=int, required=True, help="version of this delta")
    d.add_argument("--add", help="cards to deny (same format as build --in)")
    d.add_argument("--remove", help="cards to take off the list")
    d.add_argument("--out", required=True, help="delta file to write")
    d.set_defaults(fn=_delta)
    m = cmds.add_parser("merge", help="fold a delta into a new base file",
                         **examples("ykt denylist merge --base deny.bin --delta deny-2.delta "
                                    "--out deny-2.bin"))
    m.add_argument("--base", required=True, help="base denylist file")
    m.add_argument("--delta", required=True, help="delta file made against that base")
    m.add_argument("--version", type=int, help="version of the new base (default: the delta's)")
    m.add_argument("--out", required=True, help="new base file to write")
    m.set_defaults(fn=_merge)
