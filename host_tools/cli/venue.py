"""`ykt venue bookings|show`: a venue's day of bookings as the payload of a ``bookings``
update (kind 10), and what such a payload holds (docs/venue.md).

    ykt venue bookings SOURCE.json --version N (--match-secret-file F | --issuer-seed S) -o OUT
    ykt venue show PAYLOAD [--json]

Sign the payload for a terminal with ``ykt update sign --kind bookings``.
"""

import hashlib
import json

from host_tools.cli import examples


def _secret(args):
    if args.match_secret_file:
        from host_tools.lib.files import read_input

        return read_input(args.match_secret_file, "match secret").strip()
    if args.issuer_seed:  # as `ykt qr issue --issuer-seed` derives it
        return hashlib.sha256(b"ykt-qr-match:" + args.issuer_seed.encode()).digest()
    return None


def _bookings(args):
    from host_tools.lib import venue
    from host_tools.lib.errors import BadInput
    from host_tools.lib.files import read_input, write_atomic

    raw = read_input(args.source, "bookings source")
    try:
        src = json.loads(raw)
    except ValueError as e:
        raise BadInput("%s: not JSON (%s)" % (args.source, e)) from None
    payload = venue.bookings_payload(src, args.version, _secret(args))
    write_atomic(args.out, payload)
    got = venue.read_bookings(payload)
    print("bookings v%d for %s: %d slots, %d bookings, %d bytes -> %s"
          % (args.version, got["date"], len(got["slots"]), len(got["bookings"]), len(payload),
             args.out))
    return 0


def _show(args):
    from host_tools.lib import venue
    from host_tools.lib.files import read_input

    got = venue.read_bookings(read_input(args.payload, "bookings payload"))
    if args.json:
        print(json.dumps(got, ensure_ascii=False))
        return 0
    print("bookings v%d for %s" % (got["version"], got["date"]))
    for i, s in enumerate(got["slots"]):
        people = sum(b["people"] for b in got["bookings"] if b["slot"] == i)
        print("  slot %s-%s  capacity %d, booked %d" % (s["start"], s["end"], s["capacity"],
                                                      people))
    for b in got["bookings"]:
        print("  booking %d  %s  slot %s  people %d  paid %d  due %d"
              % (b["id"], b["match_key"], got["slots"][b["slot"]]["start"], b["people"],
                 b["paid_fen"], b["due_fen"]))
    return 0


def register(sub):
    p = sub.add_parser("venue", help="a venue gate's bookings (update kind 10)",
                       **examples("ykt venue bookings day.json --version 7 "
                                  "--match-secret-file match.key -o day.bin",
                                  "ykt update sign --kind bookings --version 7 --device "
                                  "290060000001 --master-key-file master.json day.bin -o day.upd",
                                  "ykt venue show day.bin"))
    cmds = p.add_subparsers(dest="venue_cmd", required=True)
    b = cmds.add_parser("bookings", help="a bookings payload from a day's bookings (JSON)",
                        **examples("ykt venue bookings day.json --version 7 "
                                   "--match-secret-file match.key -o day.bin",
                                   "ykt venue bookings day.json --version 1 --issuer-seed demo "
                                   "-o day.bin  # a demo's secret"))
    b.add_argument("source", help="JSON: date, slots (start, end, capacity), bookings (id, "
                   "id_number or match_key, slot, people, paid_fen, due_fen)")
    b.add_argument("--version", type=int, required=True, help="the update's version")
    b.add_argument("--match-secret-file", metavar="F",
                   help="the holder match-key secret (the ID numbers are hashed with it)")
    b.add_argument("--issuer-seed", metavar="S",
                   help="demos and tests: the secret `ykt qr issue --issuer-seed S` uses")
    b.add_argument("-o", "--out", required=True, help="payload file to write")
    b.set_defaults(fn=_bookings)
    s = cmds.add_parser("show", help="what a bookings payload holds (match keys shortened)",
                        **examples("ykt venue show day.bin", "ykt venue show day.bin --json"))
    s.add_argument("payload", help="a bookings payload (ykt venue bookings -o)")
    s.add_argument("--json", action="store_true", help="one JSON object")
    s.set_defaults(fn=_show)
