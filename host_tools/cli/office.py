"""`ykt office ingest|report|export|clearing|serve|deny|publish|group|status|floor`: the back office
on a database (docs/office.md), and on an MQTT broker (docs/sync.md).

``--db`` is a SQLite file (created by the first ingest) or a ``postgresql://`` URL.
``ingest`` takes journals as ``ykt journal`` reads them (a directory, a LittleFS image, a
whole-flash dump with ``--board``) and ``--keys``: the master key file with the issuer's
``tac`` master, or a simulator seed file (host_tools/lib/issuer.py). Card numbers are
masked in everything printed; no key is ever printed.
"""

import sys

from host_tools.cli import examples

DB_HELP = "the office database: a SQLite file or a postgresql:// URL"


def _open(args, create=False):
    from host_tools.lib.office.db import open_db

    return open_db(args.db, create=create)


def _span(first, last):
    return "%d" % first if first == last else "%d..%d" % (first, last)


def _ingest(args):
    from host_tools.lib import journal
    from host_tools.lib.errors import BadInput
    from host_tools.lib.issuer import read_office_keys
    from host_tools.lib.office.ingest import ingest_journal, journal_terminal

    keys = read_office_keys(args.keys)
    loaded = [(path, journal.load(path, args.board)) for path in args.journal]  # all first
    for path, files in loaded:
        if journal_terminal(files) is None:
            raise BadInput("%s: no record with a good CRC (whose terminal is it?)" % path)
    db = _open(args, create=True)
    bad = False
    try:
        for path, files in loaded:
            r = ingest_journal(db, keys, files, operator=args.operator, source=path)
            print("%s: terminal %s: %d stored, %d already stored, %d waiting, %d quarantined, "
                  "acknowledged up to seq %d"
                  % (path, r.terminal, r.stored, r.duplicates, r.waiting, len(r.quarantined),
                     r.watermark))
            for q in r.quarantined:
                print("  QUARANTINED seq %d: %s" % (q.seq, q.reason))
            for b in r.bad_tac:
                print("  BAD TAC seq %d: %s of %d fen by card %s (not settled)"
                      % (b.seq, b.kind, b.fen, b.card))
            for first, last in r.gaps:
                print("  MISSING seq %s (ask the terminal to resend)" % _span(first, last))
            if r.torn:
                print("  %d torn record(s) skipped (a record cut short)" % r.torn)
            bad = bad or bool(r.quarantined or r.bad_tac)
    finally:
        db.close()
    return 1 if bad else 0


def _report(args):
    from host_tools.lib.office import ingest, settlement

    db = _open(args)
    try:
        terms = db.query("SELECT terminal, operator, watermark FROM terminals ORDER BY terminal")
        print("terminals: %d" % len(terms))
        for tid, operator, mark in terms:
            waiting = db.one("SELECT COUNT(*) FROM pending WHERE terminal = ?", (tid,))
            held = ingest.quarantine(db, tid)
            gaps = ", ".join(_span(a, b) for a, b in ingest.gaps(db, tid)) or "none"
            print("  %s  operator %s  acknowledged up to seq %d  waiting %d  quarantined %d  "
                  "missing %s" % (tid, operator, mark, waiting[0] if waiting else 0, len(held),
                                  gaps))
        rep = settlement.report(db, args.day)
    finally:
        db.close()
    print("settlement%s:" % (" of %s" % args.day if args.day else ""))
    for ln in rep["lines"]:
        print("  issuer %(issuer)s  operator %(operator)s  %(day)s  debits %(debits)d "
              "(%(debit_fen)d fen)  credits %(credits)d (%(credit_fen)d fen)  "
              "net %(net_fen)d fen" % ln)
    t = rep["totals"]
    print("  total  debits %d (%d fen)  credits %d (%d fen)  net %d fen"
          % (t["debits"], t["debit_fen"], t["credits"], t["credit_fen"], t["net_fen"]))
    for b in rep["not_settled"]:
        print("  NOT SETTLED %s seq %d: %s of %d fen by card %s: %s"
              % (b["terminal"], b["seq"], b["kind"], b["fen"], b["card"], b["reason"]))
    return 0


def _export(args):
    from host_tools.lib.files import write_atomic
    from host_tools.lib.office import settlement

    db = _open(args)
    try:
        text = settlement.export(db, args.format, args.day)
    finally:
        db.close()
    if args.out:
        write_atomic(args.out, text.encode())
    else:
        sys.stdout.write(text)
    return 0


def _clearing(args):
    import json

    from host_tools.lib.office import clearing

    db = _open(args)
    try:
        found = clearing.clear(db)
        cards = clearing.cards_cleared(db)
    finally:
        db.close()
    if args.json:
        print(json.dumps({"cards": cards, "findings": [f._asdict() for f in found]}, indent=2))
    else:
        for f in found:
            print("%s %s: %s; records %s" % (f.what.upper(), f.card, f.detail, ", ".join(
                "%s#%d" % r for r in f.records) or "none"))
        if not found:
            print("OK %d cards: every chain closes" % cards)
    return 1 if found else 0


BROKER_HELP = "the MQTT broker, mqtt://HOST:PORT"


def _say(line):
    import datetime

    print("%s %s" % (datetime.datetime.now().strftime("%Y-%m-%dT%H:%M:%S"), line), flush=True)


def _broker(args, client_id="ykt-office"):
    from host_tools.lib.office.service import parse_broker

    return parse_broker(args.broker, args.user, args.password_file, client_id,
                        getattr(args, "share", None))


def _broker_options(p, required=True):
    p.add_argument("--broker", required=required, help=BROKER_HELP)
    p.add_argument("--user", help="the office's MQTT user name")
    p.add_argument("--password-file", help="file whose first line is that user's password")


def _serve(args):
    import signal

    from host_tools.lib.issuer import read_office_keys
    from host_tools.lib.office.db import open_db
    from host_tools.lib.office.service import Office, Service

    if args.max_drift < 0 or args.resend_after < 0:
        raise ValueError("--max-drift and --resend-after must be >= 0")
    opts = _broker(args, args.client_id)
    keys = read_office_keys(args.keys)
    open_db(args.db, create=True).close()  # reachable and migrated before we subscribe
    office = Office(args.db, keys, _say, max_drift=args.max_drift,
                    resend_after=args.resend_after)
    service = Service(opts, office, _say)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: service.stop())
    _say("office serving %s into %s" % (opts.where(), office.database().where()))
    office.close()  # the service's own thread opens it again
    return service.run()


def _floor(args):
    import os

    from host_tools.lib.errors import BadInput
    from host_tools.lib.files import write_atomic
    from host_tools.lib.issuer import read_office_keys
    from host_tools.lib.office import ops

    keys = read_office_keys(args.keys)
    db = _open(args)
    try:
        floor = ops.reimage_floor(db, keys, args.terminal.lower())
    finally:
        db.close()
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise BadInput("--out %s is a file (give a directory)" % args.out)
    os.makedirs(os.path.join(args.out, "journal"), exist_ok=True)
    write_atomic(os.path.join(args.out, "journal", "ack"), floor.ack)
    print("terminal %s: the office holds seq 1..%d; %s written (its journal goes on at "
          "seq %d); provision it with --sequence-floor %d"
          % (args.terminal.lower(), floor.seq, os.path.join(args.out, "journal", "ack"),
             floor.seq + 1, floor.sequence_floor))
    return 0


def _keys_and_db(args):
    from host_tools.lib.issuer import read_office_keys

    keys = read_office_keys(args.keys)
    return keys, _open(args, create=True)


def _now():
    import datetime

    from host_tools.lib.office import sync

    now = datetime.datetime.now()
    return now, sync.secs2000(now)


def _send(opts, msgs):
    """Publish (inside the caller's transaction: a failure records nothing)."""
    from host_tools.lib.office.service import publish_messages

    publish_messages(opts, msgs)


def _sent(opts, msgs, what):
    for m in msgs:
        print("  published %s (%d bytes, retained)" % (m.topic, len(m.payload)))
    print("%s: %d terminal(s) via %s" % (what, len(msgs), opts.where()))


def _deny(args):
    import os

    from host_tools.lib.office import mask_card, ops

    opts = _broker(args, "ykt-office-cli-%d" % os.getpid())  # checked before anything else
    keys, db = _keys_and_db(args)
    now_dt, now = _now()
    try:
        apply_by = ops.parse_time(args.apply_by, now_dt)
        with db.transaction():  # recorded only once the broker has every message
            version, msgs = ops.deny(db, keys, args.card, args.reason, _terminal_list(args),
                                     now, apply_by)
            _send(opts, msgs)
    finally:
        db.close()
    _sent(opts, msgs, "denylist v%d denies card %s (%s)"
          % (version, mask_card(args.card), args.reason.strip()))
    return 0


def _terminal_list(args):
    if not args.terminals:
        return None
    return [t for item in args.terminals for t in item.replace(",", " ").split()]


def _publish(args):
    from host_tools.cli import update as update_cli
    from host_tools.lib.files import read_input
    from host_tools.lib.office import ops

    opts = _broker(args, "ykt-office-cli-%d" % __import__("os").getpid())
    payload = read_input(args.file, args.kind)
    check = {"tariff": update_cli._check_tariff, "staff": update_cli._check_staff,
             "canteen": update_cli._check_canteen}.get(args.kind)
    if check is not None and payload[:4] != b"YKUP":
        check(args.file, payload)
    version = ops.payload_version(args.kind, payload, args.version)
    keys, db = _keys_and_db(args)
    now_dt, now = _now()
    try:
        apply_by = ops.parse_time(args.apply_by, now_dt)
        targets = ops.group_members(db, args.group) if args.group else args.terminal
        with db.transaction():  # recorded only once the broker has every message
            msgs = ops.publish_update(db, keys, args.kind, version, payload, targets,
                                      apply_by, now)
            _send(opts, msgs)
    finally:
        db.close()
    _sent(opts, msgs, "%s v%d%s, apply by %s" % (args.kind, version, " to group %s" % args.group
                                                if args.group else "", _when(apply_by)))
    return 0


def _group(args):
    from host_tools.lib.office import ops

    db = _open(args, create=True)
    try:
        if args.terminals or args.delete:
            if args.delete and args.terminals:
                raise ValueError("--delete takes no terminals")
            members = ops.set_group(db, args.name, args.terminals)
            print("group %s: %s" % (args.name, " ".join(members) or "deleted"))
            return 0
        found = ops.groups(db)
    finally:
        db.close()
    names = [args.name] if args.name else sorted(found)
    if args.name and args.name not in found:
        raise ValueError("no group %r" % args.name)
    for name in names:
        print("%s: %s" % (name, " ".join(found[name])))
    return 0


def _when(secs):
    from host_tools.lib.office import sync

    return sync.from_secs2000(secs).strftime("%Y-%m-%dT%H:%M:%S") if secs else "at once"


def _status(args):
    import json

    from host_tools.lib.office import ops

    db = _open(args)
    _, now = _now()
    try:
        rows = ops.status(db, now, args.max_drift)
    finally:
        db.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 1 if any(r["overdue"] for r in rows) else 0
    print("terminals: %d" % len(rows))
    for r in rows:
        hb = r["heartbeat"]
        head = "  %s%s" % (r["terminal"], "  groups %s" % ",".join(r["groups"])
                           if r["groups"] else "")
        if hb is None:
            print("%s  no heartbeat  acknowledged up to seq %d" % (head, r["acknowledged"]))
        else:
            print("%s  %s fw %s  last heartbeat %s (%d s ago)  tariff %d deny %d config %d "
                  "staff %d canteen %d  backlog %d  journal %d used %d free  pending %d  "
                  "acknowledged up to seq %d  clock %+d s%s"
                  % (head, hb["role"], hb["fw"], _when(hb["received"]), r["age"],
                     hb["tariff"], hb["deny"], hb["config"], hb["staff"], hb["canteen"],
                     hb["backlog"], hb["used"], hb["free"], hb["pending"],
                     r["acknowledged"], hb["drift"],
                     "  CLOCK OFF" if r["drift_bad"] else ""))
        for u in r["overdue"]:
            print("    OVERDUE %s v%d: apply by %s" % (u["name"], u["version"],
                                                       _when(u["apply_by"])))
        for u in r["waiting"]:
            print("    waiting %s v%d: apply by %s" % (u["name"], u["version"],
                                                       _when(u["apply_by"])))
    return 1 if any(r["overdue"] for r in rows) else 0


def _register_fleet(osub):
    s = osub.add_parser("serve", help="the long-running service: ingest and acknowledge "
                                      "terminals' records over MQTT, keep their heartbeats",
                        **examples("ykt office serve --broker mqtt://127.0.0.1:1883 "
                                   "--db office.sqlite --keys master.json",
                                   "ykt office serve --broker mqtt://mqtt.example:1883 "
                                   "--user office --password-file mosquitto/office.password "
                                   "--db postgresql://office@db/ykt --keys master.json"))
    _broker_options(s)
    s.add_argument("--db", required=True, help=DB_HELP + " (created if new)")
    s.add_argument("--keys", required=True, help="the master key file with the \"tac\" "
                                                 "master, or a simulator seed file")
    s.add_argument("--max-drift", type=int, default=60, metavar="S",
                   help="send a terminal the office's time when its clock is off by more "
                        "than S seconds (default 60)")
    s.add_argument("--resend-after", type=float, default=30.0, metavar="S",
                   help="ask for the same missing records again after S seconds, and for "
                        "records a heartbeat names after S quiet seconds (default 30)")
    s.add_argument("--client-id", default="ykt-office",
                   help="MQTT client id (its persistent session keeps what came while the "
                        "office was down; default ykt-office; each worker its own)")
    s.add_argument("--share", metavar="GROUP",
                   help="run as one worker of GROUP: MQTT 5 shared subscriptions (Mosquitto), "
                        "the workers writing to one PostgreSQL database")
    s.set_defaults(fn=_serve)
    d = osub.add_parser("deny", help="add a card to the denylist: the next version, signed "
                                     "for each terminal and published",
                        **examples("ykt office deny 31012300000000000001 --reason stolen "
                                   "--db office.sqlite --keys master.json "
                                   "--broker mqtt://127.0.0.1:1883",
                                   "ykt office deny 31012300000000000001 --reason 'lost, "
                                   "reported 2026-12-01' --terminals 290031000201,290031000202 "
                                   "--db office.sqlite --keys master.json "
                                   "--broker mqtt://127.0.0.1:1883"))
    d.add_argument("card", help="the card number (20 digits)")
    d.add_argument("--reason", required=True,
                   help="why: lost, stolen, blocked, cancelled, replaced, fraud (the code the "
                        "terminal shows; anything else is 'other'), and any words after it")
    d.add_argument("--terminals", nargs="+", metavar="TID",
                   help="the terminals to send it to (default: every terminal known from its "
                        "heartbeats or records)")
    d.add_argument("--apply-by", default="now",
                   help="install no later than: a local time YYYY-MM-DDThh:mm, +2h, or now "
                        "(default)")
    _fleet_common(d)
    d.set_defaults(fn=_deny)
    u = osub.add_parser("publish", help="a tariff, config, staff or canteen update to a "
                                        "group or terminals, signed for each, with apply-by",
                        **examples("ykt office publish tariff-7.bin --kind tariff --group "
                                   "line-2 --apply-by 2026-12-01T04:00 --db office.sqlite "
                                   "--keys master.json --broker mqtt://127.0.0.1:1883",
                                   "ykt office publish canteens/putuo-example.json --kind "
                                   "canteen --terminal 290031000102 --apply-by now "
                                   "--db office.sqlite --keys master.json "
                                   "--broker mqtt://127.0.0.1:1883"))
    u.add_argument("file", help="the payload (as `ykt update sign` takes it)")
    u.add_argument("--kind", required=True, choices=ops_kinds(),
                   help="what it is: tariff, config, staff or canteen")
    u.add_argument("--version", type=int,
                   help="its version (a tariff's and a canteen rule set's own by default)")
    to = u.add_mutually_exclusive_group(required=True)
    to.add_argument("--group", help="every terminal of this group (ykt office group)")
    to.add_argument("--terminal", nargs="+", metavar="TID", help="these terminals")
    u.add_argument("--apply-by", required=True,
                   help="install no later than: a local time YYYY-MM-DDThh:mm, +2h, +1d, "
                        "or now")
    _fleet_common(u)
    u.set_defaults(fn=_publish)
    g = osub.add_parser("group", help="name a group of terminals, or list groups",
                        **examples("ykt office group line-2 290010202501 290010202502 "
                                   "--db office.sqlite",
                                   "ykt office group --db office.sqlite"))
    g.add_argument("name", nargs="?", help="the group (letters, digits, - _ .)")
    g.add_argument("terminals", nargs="*", help="its members (12 hex digits): replaces them")
    g.add_argument("--delete", action="store_true", help="delete the group")
    g.add_argument("--db", required=True, help=DB_HELP)
    g.set_defaults(fn=_group)
    t = osub.add_parser("status", help="each terminal's last heartbeat, versions, backlog, "
                                       "clock drift and overdue updates",
                        **examples("ykt office status --db office.sqlite",
                                   "ykt office status --db office.sqlite --json"))
    t.add_argument("--db", required=True, help=DB_HELP)
    t.add_argument("--max-drift", type=int, default=60, metavar="S",
                   help="flag a clock off by more than S seconds (default 60)")
    t.add_argument("--json", action="store_true", help="one JSON document")
    t.set_defaults(fn=_status)
    f = osub.add_parser("floor", help="where a re-imaged terminal starts: its journal's ack "
                                      "file and its sequence floor, from what the office holds",
                        **examples("ykt office floor 290010202501 --db office.sqlite "
                                   "--keys master.json --out flash-files/"))
    f.add_argument("terminal", help="the terminal id (12 hex digits)")
    f.add_argument("--db", required=True, help=DB_HELP)
    f.add_argument("--keys", required=True, help="the master key file (its device master "
                                                  "makes the terminal's journal key)")
    f.add_argument("--out", required=True, metavar="DIR",
                   help="writes DIR/journal/ack, for the terminal's new filesystem")
    f.set_defaults(fn=_floor)


def ops_kinds():
    return ("tariff", "config", "staff", "canteen")


def _fleet_common(p):
    p.add_argument("--db", required=True, help=DB_HELP + " (created if new)")
    p.add_argument("--keys", required=True,
                   help="the master key file (its update master signs for each terminal)")
    _broker_options(p)


def register(sub):
    p = sub.add_parser("office", help="the back office: ingest journals, clear, settle; "
                                      "serve the fleet over MQTT, deny cards, publish updates",
                       **examples("ykt office ingest gate-1.img --db office.sqlite "
                                  "--keys master.json",
                                  "ykt office clearing --db office.sqlite",
                                  "ykt office serve --broker mqtt://127.0.0.1:1883 "
                                  "--db office.sqlite --keys master.json",
                                  "ykt office status --db office.sqlite"))
    osub = p.add_subparsers(dest="officecmd", required=True)
    i = osub.add_parser("ingest", help="store terminals' journal records once each, checked",
                        **examples("ykt office ingest gate-1.img gate-2.img --db office.sqlite "
                                   "--keys master.json",
                                   "ykt office ingest journal/ --db postgresql://office@db/ykt "
                                   "--keys master.json",
                                   "ykt office ingest flash.bin --board devkitc-turnstile "
                                   "--db office.sqlite --keys master.json"))
    i.add_argument("journal", nargs="+", help="journal directory, LittleFS image, or "
                                              "whole-flash dump (with --board)")
    i.add_argument("--db", required=True, help=DB_HELP + " (created if new)")
    i.add_argument("--keys", required=True,
                   help="the master key file with the issuer's \"tac\" master (journal keys "
                        "are derived per terminal), or a simulator seed file")
    i.add_argument("--board", help="board name or file: each JOURNAL is a dump of that "
                                   "board's whole flash")
    i.add_argument("--operator", help="the operator these terminals settle to (default: the "
                                      "first 6 digits of the terminal id)")
    i.set_defaults(fn=_ingest)
    r = osub.add_parser("report", help="terminals' acknowledgements and gaps, settlement",
                        **examples("ykt office report --db office.sqlite",
                                   "ykt office report --db office.sqlite --day 2026-11-29"))
    r.add_argument("--db", required=True, help=DB_HELP)
    r.add_argument("--day", help="settle only this day (YYYY-MM-DD, the terminals' local date)")
    r.set_defaults(fn=_report)
    e = osub.add_parser("export", help="settlement per issuer x operator x day as CSV or JSON",
                        **examples("ykt office export --db office.sqlite --format csv",
                                   "ykt office export --db office.sqlite --format json "
                                   "--day 2026-11-29 --out settlement.json"))
    e.add_argument("--db", required=True, help=DB_HELP)
    e.add_argument("--format", choices=("csv", "json"), default="csv",
                   help="csv (one row per issuer, operator and day) or json (with totals, "
                        "net positions and the records not settled)")
    e.add_argument("--day", help="only this day (YYYY-MM-DD)")
    e.add_argument("--out", help="write to this file (default: standard output)")
    e.set_defaults(fn=_export)
    c = osub.add_parser("clearing", help="per card: forks, counter gaps, balances that do "
                                         "not follow",
                        **examples("ykt office clearing --db office.sqlite",
                                   "ykt office clearing --db office.sqlite --json"))
    c.add_argument("--db", required=True, help=DB_HELP)
    c.add_argument("--json", action="store_true", help="the findings as one JSON document")
    c.set_defaults(fn=_clearing)
    _register_fleet(osub)
