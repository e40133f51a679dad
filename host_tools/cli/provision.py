"""`ykt provision --board B --terminal-id HEX12 --role R [--station N | --route N [--mode
bus|ferry] | --fare-fen N | --canteen RULES.json [--mode fixed|menu|amount] [--staff
STAFF.json]] [--sequence-floor N] [--broker HOST:PORT] --master-key-file F --out CONFIG.json`;
`ykt provision --new-master-key-file F` makes a master key file (format:
host_tools/lib/provision.py); `ykt provision --mosquitto DIR --terminals TID ...
--master-key-file F` writes Mosquitto's passwd and acl (docs/sync.md)."""


from host_tools.cli import examples


def _provision(args):
    from host_tools.lib import provision as pv

    if args.new_master_key_file:
        pv.write_new_master_file(args.new_master_key_file)
        print("wrote new master keys to %s (mode 0600; keep it offline)"
              % args.new_master_key_file)
        return 0
    if args.mosquitto:
        return _mosquitto(args, pv)
    if args.terminals:
        raise ValueError("--terminals is for --mosquitto")
    missing = [o for o, v in (("--board", args.board), ("--terminal-id", args.terminal_id),
                              ("--role", args.role), ("--master-key-file", args.master_key_file),
                              ("--out", args.out)) if v is None]
    if missing:
        raise ValueError("provision needs %s" % ", ".join(missing))
    masters = pv.read_master_file(args.master_key_file)
    cfg = pv.provision(args.board, args.terminal_id, args.role, masters, station=args.station,
                       route=args.route, fare_fen=args.fare_fen, canteen=args.canteen,
                       mode=args.mode, staff=args.staff, load=args.load, name=args.name,
                       sequence_floor=args.sequence_floor, broker=args.broker,
                       venue=args.venue, match_secret=_match_secret(args),
                       qr_test_keys=args.qr_test_keys)
    pv.write_config(args.out, cfg)
    print("terminal %s (%s) on %s -> %s; keys %s (not shown)%s"
          % (cfg["terminal_id"], cfg["role"], args.board, args.out, ", ".join(cfg["keys"]),
             "; MQTT %s:%d as %s (password not shown)"
             % (cfg["mqtt"]["host"], cfg["mqtt"]["port"], cfg["mqtt"]["user"])
             if "mqtt" in cfg else ""))
    return 0


def _match_secret(args):
    if not args.match_secret_file:
        return None
    from host_tools.lib.files import read_input

    return read_input(args.match_secret_file, "match secret").strip()


def _mosquitto(args, pv):
    from host_tools.lib import updates

    if args.master_key_file is None:
        raise ValueError("--mosquitto needs --master-key-file")
    extra = [o for o, v in (("--board", args.board), ("--role", args.role), ("--out", args.out),
                            ("--broker", args.broker)) if v is not None]
    if extra:
        raise ValueError("--mosquitto takes no %s (it writes the broker's files only)" % extra[0])
    tids = [updates.terminal_id(t) for t in ([args.terminal_id] if args.terminal_id else [])
            + [t for item in args.terminals or [] for t in item.replace(",", " ").split()]]
    masters = pv.read_master_file(args.master_key_file)
    done = pv.write_mosquitto(args.mosquitto, masters["device"], tids, args.office_user)
    print("mosquitto files in %s: passwd (%d terminal(s) and user %s), acl; the office's "
          "password in %s (passwords not shown)"
          % (args.mosquitto, len(done["terminals"]), done["office_user"],
             done["office_password_file"]))
    return 0


def register(sub):
    p = sub.add_parser("provision", help="write a terminal config with its own derived keys",
                       **examples("ykt provision --new-master-key-file master.json",
                                  "ykt provision --board devkitc-turnstile --terminal-id "
                                  "290010202501 --role entry_gate --station 2025 "
                                  "--master-key-file master.json --out gate.json",
                                  "ykt provision --board bus-validator --terminal-id "
                                  "290020092601 --role validator --route 926 --mode bus "
                                  "--master-key-file master.json --out bus.json",
                                  "ykt provision --board s3-canteen-pos --terminal-id "
                                  "290031000102 --role pos --canteen canteens/putuo-example.json "
                                  "--staff staff.json --master-key-file master.json "
                                  "--out pos.json",
                                  "ykt provision --board devkitc-turnstile --terminal-id "
                                  "290010202501 --role entry_gate --station 2025 "
                                  "--broker 10.0.0.2:1883 --master-key-file master.json "
                                  "--out gate.json",
                                  "ykt provision --mosquitto /etc/mosquitto/ykt --terminals "
                                  "290010202501 290010202502 --master-key-file master.json"))
    p.add_argument("--board", help="board name (boards/NAME.json) or path")
    p.add_argument("--terminal-id", help="12 hex digits")
    p.add_argument("--role", help="fixed_fare, entry_gate, exit_gate, gate (entry and exit), "
                                  "validator (bus or ferry), pos (canteen) or venue (culture-venue "
                                  "gate)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--station", type=int, help="tariff station id (gate roles)")
    what.add_argument("--route", help="route name in the tariff (validator)")
    what.add_argument("--fare-fen", type=int, help="fare in fen (fixed_fare)")
    what.add_argument("--canteen", metavar="RULES.json",
                      help="canteen rule set with its menu (pos), e.g. canteens/putuo-example.json")
    what.add_argument("--venue", metavar="RULES.json",
                      help="venue gate's price rules (venue): price_fen, walk_in, resident_pct, "
                           "residents, ages (docs/venue.md)")
    p.add_argument("--match-secret-file", metavar="F",
                   help="venue: the holder match-key secret the bookings and e-card codes use")
    p.add_argument("--qr-test-keys", action="store_true",
                   help="venue: accept e-card codes of the test trust anchors (trust-test) too")
    p.add_argument("--mode", help="validator: bus (default) or ferry; pos: fixed (default), menu "
                                  "or amount")
    p.add_argument("--staff", metavar="STAFF.json",
                   help="staff file (pos): the cards that sign in, as `ykt staff add` writes it")
    p.add_argument("--name", help="terminal label shown in its boot line")
    p.add_argument("--load", action="store_true",
                   help="also give the terminal the issuer load key (top-up terminals)")
    p.add_argument("--sequence-floor", type=int, metavar="N",
                   help="the SAM hands out no transaction sequence number below N: when the "
                        "terminal's flash is imaged anew, one above the highest the back "
                        "office holds for it")
    p.add_argument("--master-key-file", help="the operator's master key file (JSON)")
    p.add_argument("--out", help="config file to write (mode 0600)")
    p.add_argument("--new-master-key-file", metavar="F",
                   help="only write a new master key file with random keys")
    p.add_argument("--broker", metavar="HOST:PORT",
                   help="the MQTT broker the terminal syncs with: puts \"mqtt\" (its own user "
                        "and derived password) into the config (docs/sync.md)")
    p.add_argument("--mosquitto", metavar="DIR",
                   help="only write Mosquitto's passwd and acl (and the office user's password "
                        "file, made once) into DIR for --terminal-id/--terminals and those "
                        "already in DIR/passwd")
    p.add_argument("--terminals", nargs="+", metavar="TID",
                   help="--mosquitto: the terminals (12 hex digits each)")
    p.add_argument("--office-user", default="office",
                   help="--mosquitto: the back office's MQTT user (default office)")
    p.set_defaults(fn=_provision)
