"""`ykt sim run SCENARIO.json [--runtime cpython|micropython] [--heap 96K]`."""

import tempfile


def _run(args):
    from hw_sim.scenario import Run, Scenario

    scenario = Scenario.load(args.scenario)
    with tempfile.TemporaryDirectory(prefix="ykt-sim-") as work:
        run = Run(scenario, work)
        if args.runtime == "micropython":
            from host_tools.lib.build import vm_path

            lines = run.run_micropython(vm_path(), heap=args.heap)
        else:
            lines = run.run_cpython()
    for line in lines:
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
