"""`ykt journal verify PATH (--master-key-file F | --key-file F | --key HEX) [--terminal HEX]`,
`ykt journal dump PATH`.

PATH: a directory of segment files (or one holding ``journal/``), a LittleFS image of the
terminal's vfs partition, or with ``--board`` a dump of its whole flash (``esptool
read_flash``; the vfs partition is found from the board file). Format: docs/stores.md
"Journal".
"""

import json
import sys

from host_tools.cli import examples


def _hex(text, what):
    text = "".join(text.split())
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise ValueError("%s is not hex" % what) from None
    if not value:
        raise ValueError("%s is empty" % what)
    return value


def _key_source(args):
    """terminal id -> journal key: --key, or --key-file (a master key file: the key is derived
    for the terminal), checked before PATH is read."""
    if args.key is not None:
        key = _hex(args.key, "--key")
        return lambda tid: key
    from host_tools.lib import keys

    return keys.journal_key_for(args.key_file)


def _verify(args):
    from host_tools.lib.journal import dump, load, verify

    terminal = None
    if args.terminal is not None:
        terminal = _hex(args.terminal, "--terminal")
        if len(terminal) != 6:
            raise ValueError("--terminal is 6 bytes (12 hex digits)")
    key_for = _key_source(args)
    files = load(args.path, args.board)
    named = terminal or next((bytes.fromhex(r["terminal"]) for r in dump(files)), bytes(6))
    v = verify(files, key_for(named), terminal)
    if v.ok:
        text = "OK %d records" % v.count
        if v.count:
            text += " (seq %d..%d)" % (v.first, v.last)
        if v.acked:
            text += ", acknowledged up to seq %d" % v.acked
        print(text)
        return 0
    p = v.problem
    if p.seq is None:
        print("BAD %s: %s" % (p.segment, p.what))
    else:
        print("BAD seq %d in %s (offset %d): %s" % (p.seq, p.segment, p.offset, p.what))
    return 1


def _dump(args):
    from host_tools.lib.journal import dump, load, torn_tails

    files = load(args.path, args.board)
    for row in dump(files):
        print(json.dumps(row))
    for name, n in torn_tails(files):
        print("ykt: note: %s ends in %d bytes of a torn record" % (name, n), file=sys.stderr)
    return 0


BOARD_HELP = ("board name (boards/NAME.json) or file: PATH is a dump of that board's whole "
              "flash, its vfs partition where the board file puts it")


def register(sub):
    p = sub.add_parser("journal", help="terminal transaction journal",
                       **examples("ykt journal dump vfs.img"))
    jsub = p.add_subparsers(dest="journalcmd", required=True)
    v = jsub.add_parser("verify", help="check every record's CRC, seq and MAC chain",
                        **examples("ykt journal verify vfs.img --master-key-file master.json",
                                   "ykt journal verify vfs.img --key-file device.key",
                                   "ykt journal verify journal/ --key "
                                   "00112233445566778899aabbccddeeff"))
    v.add_argument("path", help="journal directory, LittleFS image, or whole-flash dump "
                                "(with --board)")
    v.add_argument("--board", help=BOARD_HELP)
    key = v.add_mutually_exclusive_group(required=True)
    key.add_argument("--key", help="device key in hex")
    key.add_argument("--key-file", "--master-key-file", dest="key_file",
                     help="the master key file (the terminal's journal key is derived for "
                          "--terminal, or the terminal the records name), or a file holding "
                          "the device key in hex")
    v.add_argument("--terminal", help="terminal id (12 hex digits) every record must carry")
    v.set_defaults(fn=_verify)
    d = jsub.add_parser("dump", help="print the records as JSON Lines",
                        **examples("ykt journal dump vfs.img", "ykt journal dump journal/ | head",
                                   "ykt journal dump whole-flash.bin --board devkitc-turnstile"))
    d.add_argument("path", help="journal directory, LittleFS image, or whole-flash dump "
                                "(with --board)")
    d.add_argument("--board", help=BOARD_HELP)
    d.set_defaults(fn=_dump)
