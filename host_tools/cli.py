"""`ykt`: one command for host work on yikatong terminals.

    ykt sim run SCENARIO.json [--runtime cpython|micropython] [--heap 96K]
    ykt build [--out DIR] [--march xtensawin]

Errors are one line on stderr (``ykt: error: ...``) and a non-zero exit code.
"""

import argparse
import os
import sys
import tempfile


def _sim_run(args):
    from hw_sim.scenario import Run, Scenario

    scenario = Scenario.load(args.scenario)
    with tempfile.TemporaryDirectory(prefix="ykt-sim-") as work:
        run = Run(scenario, work)
        if args.runtime == "micropython":
            from host_tools.build import vm_dir

            lines = run.run_micropython(vm_dir(), heap=args.heap)
        else:
            lines = run.run_cpython()
    for line in lines:
        print(line)
    return 0


def _build(args):
    from host_tools.build import build_mpy

    out = args.out
    built = build_mpy(out, march=args.march)
    print("built %d modules into %s" % (len(built), out))
    return 0


def parser():
    p = argparse.ArgumentParser(prog="ykt", description="yikatong terminal host tools")
    sub = p.add_subparsers(dest="cmd", required=True)

    sim = sub.add_parser("sim", help="hardware simulator")
    simsub = sim.add_subparsers(dest="simcmd", required=True)
    run = simsub.add_parser("run", help="run a scenario on virtual time, print JSON Lines")
    run.add_argument("scenario")
    run.add_argument("--runtime", choices=("cpython", "micropython"), default="cpython")
    run.add_argument("--heap", default="96K", help="MicroPython heap size (default 96K)")
    run.set_defaults(fn=_sim_run)

    build = sub.add_parser("build", help="compile the firmware to .mpy with mpy-cross")
    build.add_argument("--out", default=os.path.join("build", "firmware"))
    build.add_argument("--march", default="xtensawin", help="mpy-cross -march (default xtensawin)")
    build.set_defaults(fn=_build)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, RuntimeError, OSError) as e:
        print("ykt: error: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
