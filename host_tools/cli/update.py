"""`ykt update sign|show`: authenticated update files for a terminal (docs/stores.md)."""

import json

from host_tools.cli import examples


def _sign(args):
    from host_tools.lib import keys, updates
    from host_tools.lib.files import write_atomic

    key = keys.update_master(args.master_key_file)
    tid = updates.terminal_id(args.device)
    code = updates.kind_code(args.kind)
    if code == updates.KINDS["clock"] and args.time is not None:
        if args.payload:
            raise ValueError("give the clock update --time or a payload file, not both")
        payload = updates.clock_payload(args.time)
    elif args.time is not None:
        raise ValueError("--time is for --kind clock")
    elif not args.payload:
        raise ValueError("give the payload file to sign%s"
                         % (" (or --time for a clock update)" if code == updates.KINDS["clock"]
                            else ""))
    else:
        from host_tools.lib.files import read_input

        payload = read_input(args.payload, "payload")
    if code == updates.KINDS["staff"]:
        _check_staff(args.payload, payload)
    elif code == updates.KINDS["tariff"]:
        _check_tariff(args.payload, payload)
    elif code == updates.KINDS["canteen"]:
        _check_canteen(args.payload, payload)
    data = updates.sign(args.kind, args.version, tid, payload, key)
    write_atomic(args.out, data)
    print("signed %s v%d for terminal %s: %d bytes -> %s"
          % (updates.kind_name(updates.kind_code(args.kind)), args.version, tid.hex(),
             len(data), args.out))
    return 0


def _check_staff(path, payload):
    """A staff list is the JSON list config "staff" holds; the firmware's own check
    (ykt.pos.staff) judges it, so a list the POS would refuse is never signed."""
    import hw_sim

    hw_sim.install()  # the firmware's modules under CPython
    from ykt.pos.staff import StaffList

    try:
        entries = json.loads(payload)
    except ValueError:
        raise ValueError("%s: not JSON (a staff list is the JSON list config 'staff' holds)"
                         % path) from None
    try:
        StaffList.load(entries)
    except ValueError as e:
        raise ValueError("%s: %s" % (path, e)) from None


def _check_canteen(path, payload):
    """A canteen rule set is the JSON `canteens/*.json` holds; the POS's own loader
    (ykt.pos.rules) judges it, so a rule set the terminal would refuse is never signed."""
    import hw_sim

    hw_sim.install()
    from ykt.pos import rules

    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("%s: not a canteen rule set (not JSON text)" % path) from None
    try:
        rules.load(doc)
    except ValueError as e:  # the loader's "where: what"
        raise ValueError("%s: %s" % (path, e)) from None


def _check_tariff(path, payload):
    """A tariff is the payload `ykt tariff build` writes; the firmware's own reader (its
    CRC-32 and structure checks) judges it, so a damaged one is never signed."""
    import io

    import hw_sim

    hw_sim.install()
    from ykt.fare.tariff import Tariff, TariffError

    try:
        Tariff(io.BytesIO(payload))
    except TariffError as e:
        raise ValueError("%s: %s" % (path, e)) from None


def _show(args):
    from host_tools.lib import keys, updates
    from host_tools.lib.files import read_input

    key = keys.update_master(args.master_key_file) if args.master_key_file else None
    data = read_input(args.file, "update")
    info = updates.parse(data)
    if key is not None:  # the terminal's key is derived for the terminal the header names
        info["mac_ok"] = updates.verify(data, key)
    print(json.dumps(info))
    return 0


def register(sub):
    p = sub.add_parser("update", help="sign and inspect update files (tariff, denylist, ...)",
                       **examples("ykt update show tariff.upd --master-key-file master.json"))
    cmds = p.add_subparsers(dest="update_cmd", required=True)
    s = cmds.add_parser("sign", help="wrap a payload in an envelope MACed for one terminal",
                         **examples("ykt update sign --kind denylist --version 2 --device "
                                    "290010202501 --master-key-file master.json deny.bin "
                                    "-o deny.upd",
                                    "ykt update sign --kind clock --version 1 --device "
                                    "290010202501 --master-key-file master.json --time now "
                                    "-o clock.upd",
                                    "ykt update sign --kind canteen --version 1 --device "
                                    "290031000102 --master-key-file master.json "
                                    "canteens/putuo-example.json -o canteen.upd"))
    s.add_argument("--kind", required=True,
                   help="tariff, denylist, denylist-delta, config, staff, clock or canteen "
                        "(a canteen rule set and menu, e.g. canteens/putuo-example.json: "
                        "--version must be its 'version')")
    s.add_argument("--version", type=int, required=True, help="content version (1..2^32-1)")
    s.add_argument("--device", required=True, help="terminal id, 12 hex digits")
    s.add_argument("--master-key-file", required=True,
                   help="the master key file (`ykt provision --new-master-key-file`; the "
                        "terminal's update key is derived from it), or a file holding the "
                        "update master key in hex")
    s.add_argument("payload", nargs="?",
                   help="the file to install (e.g. from `ykt denylist build`)")
    s.add_argument("--time", help="--kind clock: the terminal's new local time, "
                                  "YYYY-MM-DDThh:mm:ss or 'now' (this computer's local time)")
    s.add_argument("-o", "--out", required=True, help="signed update file to write")
    s.set_defaults(fn=_sign)
    v = cmds.add_parser("show", help="print an update file's header (and check its MAC)",
                         **examples("ykt update show deny.upd",
                                    "ykt update show deny.upd --master-key-file master.json"))
    v.add_argument("file", help="update file (.upd)")
    v.add_argument("--master-key-file",
                   help="also check the MAC: the master key file (the key is derived for the "
                        "terminal the file names) or the update master key in hex")
    v.set_defaults(fn=_show)
