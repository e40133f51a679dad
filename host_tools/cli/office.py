"""`ykt office ingest|report|export|clearing`: the back office on a database (docs/office.md).

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


def register(sub):
    p = sub.add_parser("office", help="the back office: ingest journals, clear, settle",
                       **examples("ykt office ingest gate-1.img --db office.sqlite "
                                  "--keys master.json",
                                  "ykt office clearing --db office.sqlite"))
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
