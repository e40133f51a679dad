"""`ykt staff add`: a member of the canteen POS staff list, with the PIN as a salted hash.

    ykt staff add STAFF.json --card NUMBER --name NAME --role cashier|supervisor
                  [--pin-file FILE | --pin-file -]

The PIN is asked twice without echo (getpass) unless ``--pin-file`` names a file whose
first line is the PIN (``-``: standard input, for scripts). The file is created if it does
not exist; it is the list config ``staff`` holds and ``ykt update sign --kind staff``
signs (docs/canteen.md §9).
"""

import getpass
import sys

from host_tools.cli import examples


def _pin(args):
    if args.pin_file == "-":
        line = sys.stdin.readline()
    elif args.pin_file:
        from host_tools.lib.files import read_input

        line = read_input(args.pin_file, "PIN").decode("utf-8", "replace").split("\n")[0]
    else:
        pin = getpass.getpass("PIN for %s: " % args.name)
        if getpass.getpass("PIN again: ") != pin:
            raise ValueError("the two PINs differ: nothing written")
        return pin
    return line.strip("\r\n")


def _add(args):
    from host_tools.lib import staff

    entries = staff.load(args.file)
    staff.check_new(entries, args.card, args.name, args.role)  # before the PIN is asked
    entries = staff.add(entries, args.card, args.name, args.role, _pin(args))
    staff.save(args.file, entries)
    print("staff %d: %s (%s), card %s -> %s" % (len(entries), args.name, args.role, args.card,
                                               args.file))
    return 0


def register(sub):
    p = sub.add_parser("staff", help="the canteen POS staff list (cards, roles, PIN hashes)",
                       **examples("ykt staff add staff.json --card 31012300000000009001 "
                                  "--name WANG --role cashier"))
    cmds = p.add_subparsers(dest="staff_cmd", required=True)
    a = cmds.add_parser(
        "add", help="add a member: the PIN is asked without echo and kept as a salted hash",
        **examples("ykt staff add staff.json --card 31012300000000009001 --name WANG "
                   "--role cashier",
                   "ykt staff add staff.json --card 31012300000000009003 --name ZHAO "
                   "--role supervisor --pin-file - < pin.txt  # a script: the PIN on stdin",
                   "ykt update sign --kind staff --version 2 --device 290031000102 "
                   "--master-key-file master.json staff.json -o staff.upd  # to the POS"))
    a.add_argument("file", help="staff file (a JSON list; created if missing)")
    a.add_argument("--card", required=True, help="the staff card's number, 20 digits")
    a.add_argument("--name", required=True, help="name on receipts and the Z report, "
                                                 "1 to 12 characters")
    a.add_argument("--role", required=True, choices=("cashier", "supervisor"),
                   help="cashier (sells) or supervisor (also voids, refunds, closes shifts)")
    a.add_argument("--pin-file", help="read the PIN (4 to 8 digits) from this file's first "
                                      "line, '-' for standard input (default: ask twice "
                                      "without echo)")
    a.set_defaults(fn=_add)
