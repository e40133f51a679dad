"""`ykt collect --port P --master-key-file F --out DIR` (``--key-file`` the same): pull the
journal with mpremote, verify it, store it in DIR/journal.sqlite and DIR/journal.csv, then
acknowledge it on the board.
Exit 1 (nothing stored or acknowledged) if the journal fails verification."""

import sys

from host_tools.cli import examples


def _collect(args):
    from host_tools.device.collect import collect

    collect(args.port, args.key_file, args.out, say=print,
            warn=lambda line: print("ykt: warning: %s" % line, file=sys.stderr),
            reset=not args.no_reset)
    return 0


def register(sub):
    p = sub.add_parser("collect", help="pull, verify, store and acknowledge a terminal's journal",
                       **examples("ykt collect --port /dev/ttyUSB0 --master-key-file master.json "
                                  "--out collected/gate-1"))
    p.add_argument("--port", required=True, help="serial port or pyserial URL")
    p.add_argument("--key-file", "--master-key-file", dest="key_file", required=True,
                   help="the master key file (`ykt provision --new-master-key-file`; the "
                        "terminal's journal key is derived from it) or the device key in hex")
    p.add_argument("--out", required=True, help="directory for journal.sqlite and journal.csv")
    p.add_argument("--no-reset", action="store_true",
                   help="do not reset the board afterwards (it stays in its REPL)")
    p.set_defaults(fn=_collect)
