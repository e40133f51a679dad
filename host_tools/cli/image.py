"""`ykt image --board B --config CONFIG.json [--tariff SIGNED.upd ...] --out vfs.img`."""


from host_tools.cli import examples


def _image(args):
    from host_tools.lib.image import build_image, sha256

    board, files, image = build_image(args.board, args.config, args.out, tariffs=args.tariff,
                                      update_files=args.update)
    total = sum(len(d) for d in files.values())
    print("%s: %d files (%d bytes) in a %d-byte LittleFS image -> %s (sha256 %s)"
          % (board.name, len(files), total, len(image), args.out, sha256(image)))
    return 0


def register(sub):
    p = sub.add_parser("image", help="build the board's vfs partition image (LittleFS)",
                       **examples("ykt image --board devkitc-turnstile --config gate.json "
                                  "--tariff tariff.upd --out vfs.img"))
    p.add_argument("--board", required=True, help="board name (boards/NAME.json) or path")
    p.add_argument("--config", required=True, help="terminal config from `ykt provision`")
    p.add_argument("--tariff", action="append", default=[], metavar="SIGNED.upd",
                   help="signed tariff update to put in /inbox/ (repeatable)")
    p.add_argument("--update", action="append", default=[], metavar="SIGNED.upd",
                   help="any other signed update file for /inbox/ (repeatable)")
    p.add_argument("--out", required=True, help="image file to write")
    p.set_defaults(fn=_image)
