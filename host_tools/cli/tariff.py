"""`ykt tariff build|check`: compile the human-edited tariff source for the device.

    ykt tariff import [--data DIR] [--out FILE] [--detour-factor 1.0]
    ykt tariff check SOURCE
    ykt tariff build SOURCE --version N --out tariff.bin
                     [--device ID --master-key-file MASTER.json --signed-out F]

``build`` writes the raw payload (docs/fares.md "Compiled tariff"); with ``--device`` it also
writes the update envelope for that terminal (``host_tools.lib.updates.sign``, docs/stores.md).
"""


from host_tools.cli import examples


def _check(args):
    from host_tools.lib import tariff

    m = tariff.load_source(args.source)
    print("OK %s: %d stations, %d edges, %d lines, longest shortest path %.2f km"
          % (args.source, len(m.ids), len(m.edges), len(m.lines), m.network_max_dam / 100))
    return 0


def _check_out_dirs(*paths):
    import os

    for path in paths:
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise ValueError("%s: no such directory for the output" % path)


def _build(args):
    from host_tools.lib import tariff
    from host_tools.lib.files import write_atomic

    signing = (args.device, args.master_key_file, args.signed_out)
    if any(signing) and not all(signing):
        raise ValueError("--device, --master-key-file and --signed-out go together")
    # every input is checked before anything is written: a bad key leaves no tariff.bin
    key = tid = None
    if all(signing):
        from host_tools.lib import keys, updates

        tid = updates.terminal_id(args.device)
        key = keys.update_master(args.master_key_file)
    payload = tariff.build(args.source, args.version)
    data = None
    if key is not None and tid is not None:
        data = updates.sign("tariff", args.version, tid, payload, key)
    _check_out_dirs(args.out, args.signed_out)
    write_atomic(args.out, payload)
    print("tariff v%d: %d bytes -> %s" % (args.version, len(payload), args.out))
    if data is not None and tid is not None:
        write_atomic(args.signed_out, data)
        print("signed for terminal %s: %d bytes -> %s" % (tid.hex(), len(data), args.signed_out))
    return 0


def _import(args):
    import os

    from host_tools.lib import tariff_source as ts
    from host_tools.lib.files import write_atomic

    src = ts.build_source(args.data, args.detour_factor)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_atomic(args.out, ts.dump(src).encode("utf-8"))
    print("wrote %s: %d stations, %d edges" % (args.out, len(src["stations"]), len(src["edges"])))
    return 0


def register(sub):
    from host_tools.lib import tariff_source as ts

    p = sub.add_parser("tariff", help="validate and compile the tariff source",
                       **examples("ykt tariff check tariffs/shanghai-2017.json"))
    cmds = p.add_subparsers(dest="tariff_cmd", required=True)
    i = cmds.add_parser("import", help="write a tariff source from the 2017 metro reference data "
                                       "(run once; the result is then edited by hand)",
                         **examples("ykt tariff import --out /tmp/shanghai.json"))
    i.add_argument("--data", default=ts.DEFAULT_DATA, help="reference data directory")
    i.add_argument("--out", default=ts.DEFAULT_OUT, help="tariff source JSON to write")
    i.add_argument("--detour-factor", type=float, default=1.0,
                   help="multiply each great-circle edge length by this")
    i.set_defaults(fn=_import)
    c = cmds.add_parser("check", help="validate a tariff source and report the network",
                         **examples("ykt tariff check tariffs/shanghai-2017.json"))
    c.add_argument("source", help="tariff source JSON (e.g. tariffs/shanghai-2017.json)")
    c.set_defaults(fn=_check)
    b = cmds.add_parser("build", help="compile a tariff source to the device payload",
                         **examples("ykt tariff build tariffs/shanghai-2017.json --version 3 "
                                    "--out tariff.bin",
                                    "ykt tariff build tariffs/shanghai-2017.json --version 3 "
                                    "--out tariff.bin --device 290010202501 "
                                    "--master-key-file master.json --signed-out tariff.upd"))
    b.add_argument("source", help="tariff source JSON (e.g. tariffs/shanghai-2017.json)")
    b.add_argument("--version", type=int, required=True, help="tariff version (1..2^32-1)")
    b.add_argument("--out", required=True, help="payload file to write (e.g. tariff.bin)")
    b.add_argument("--device", help="terminal id (12 hex digits): also write a signed update")
    b.add_argument("--master-key-file",
                   help="the master key file (`ykt provision --new-master-key-file`; the "
                        "terminal's update key is derived from it), or a file holding the "
                        "update master key in hex")
    b.add_argument("--signed-out", help="signed update file to write")
    b.set_defaults(fn=_build)
