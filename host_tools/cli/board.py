"""`ykt board check BOARD`: refuse board files that would fail on the chip."""


from host_tools.cli import examples


def _check(args):
    from host_tools.lib.boardcheck import check, load

    findings = check(load(args.board))
    for level, message in findings:
        print("%s: %s" % (level, message))
    errors = sum(1 for level, _ in findings if level == "error")
    if not findings:
        print("ok: %s" % args.board)
    return 1 if errors else 0


def register(sub):
    board = sub.add_parser("board", help="board files",
                           **examples("ykt board check devkitc-turnstile"))
    boardsub = board.add_subparsers(dest="boardcmd", required=True)
    p = boardsub.add_parser("check", help="check pins, buses and partitions of a board file",
                            **examples("ykt board check devkitc-turnstile",
                                       "ykt board check ./my-board.json"))
    p.add_argument("board", help="board name (boards/NAME.json) or path")
    p.set_defaults(fn=_check)
