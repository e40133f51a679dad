"""`ykt sim run SCENARIO.json [--runtime cpython|micropython] [--heap 96K]`."""

def _run(args):
    from hw_sim.scenario import Run, Scenario

    for line in Run(Scenario.load(args.scenario)).run(args.runtime, args.heap).lines:
        print(line)
    return 0


def register(sub):
    sim = sub.add_parser("sim", help="hardware simulator")
    simsub = sim.add_subparsers(dest="simcmd", required=True)
    run = simsub.add_parser("run", help="run a scenario on virtual time, print JSON Lines")
    run.add_argument("scenario")
    run.add_argument("--runtime", choices=("cpython", "micropython"), default="cpython")
    run.add_argument("--heap", default=None,
                     help="firmware heap on the MicroPython VM for terminals without their own"
                          " vm_heap (default 128K; see README)")
    run.set_defaults(fn=_run)

    from hw_sim.board.server import add_board_parser

    add_board_parser(simsub)
