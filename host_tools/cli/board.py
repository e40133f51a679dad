"""`ykt board check BOARD [--role R]`: refuse board files that would fail on the chip, and a
role whose measured heap need does not fit the board's RAM."""


from host_tools.cli import examples


def _check(args):
    from host_tools.lib.boardcheck import ROLE_VM_NEED_KB, check, load, role_fit

    board = load(args.board)
    findings = check(board)
    if args.role is not None:
        if args.role not in ROLE_VM_NEED_KB:
            raise ValueError("unknown role %r (one of %s)"
                             % (args.role, ", ".join(sorted(ROLE_VM_NEED_KB))))
        unfit = role_fit(board, args.role)
        if unfit:
            findings.insert(0, ("error", unfit))
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
                                       "ykt board check ./my-board.json",
                                       "ykt board check wroom32-fare-reader --role validator"))
    p.add_argument("board", help="board name (boards/NAME.json) or path")
    p.add_argument("--role", help="also check that this role's heap need (make bench) fits "
                                  "the board's RAM (ram.heap_kb): fixed_fare, gate, entry_gate, "
                                  "exit_gate, validator or pos")
    p.set_defaults(fn=_check)
