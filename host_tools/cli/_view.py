"""`ykt sim view SCENARIO.json` / `ykt sim view --replay FILE.jsonl`: the terminals of a run,
live in the browser (docs/view.md; the library is hw_sim/view/)."""

import sys

from host_tools.cli import examples

SPEEDS = ("1", "10", "100", "max")


def _view(args):
    import errno

    from host_tools.lib.errors import BadInput, Failed

    host, port = args.parse_listen(args.listen)
    if args.scenario and args.replay or not (args.scenario or args.replay or args.console):
        raise BadInput("give a scenario file or --replay FILE.jsonl (one of them; or only "
                       "--console PORT)")
    if not (args.scenario or args.replay):
        from hw_sim.view.feed import BoardOnly

        feed = BoardOnly(args.console)
    elif args.replay:
        from hw_sim.view import replay
        from hw_sim.view.feed import ReplayFeed

        feed = ReplayFeed(replay.load(args.replay), args.replay, args.speed, args.paused,
                          args.tariff)
    else:
        from hw_sim.scenario import Scenario
        from hw_sim.view.feed import LiveFeed

        feed = LiveFeed(Scenario.load(args.scenario), args.runtime, args.heap, args.speed,
                        args.paused, args.tariff)
    from hw_sim.view.server import ViewServer

    try:
        server = ViewServer(feed, host, port)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise Failed("--listen %s:%d: the port is in use; --listen %s:0 picks a free one"
                         % (host, port, host)) from None
        raise Failed("--listen %s:%d: cannot listen there (%s)"
                     % (host, port, e.strerror or e)) from None
    # before the run starts: while terminals run, stdout is theirs (Run redirects it)
    print("%s: %s (Ctrl-C stops)" % (feed.name, server.url), flush=True)
    if args.console:
        _watch_console(args.console, feed)
    feed.start()
    try:
        server.serve(max_seconds=args.max_seconds)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    if feed.error:
        print("ykt: error: %s" % feed.error, file=sys.stderr)
        return 2
    return 0


def _watch_console(port, feed):
    """Read the board's console on ``port`` in a thread (as ``ykt monitor`` does) into the
    page; a port that cannot be read, or closes, is one line under the console."""
    import threading

    from host_tools.device.monitor import monitor
    from hw_sim.view.feed import ConsoleTail

    tail = ConsoleTail(port, [feed.hub])

    def read():
        try:
            monitor(port, None, tail)
        except OSError as e:
            tail.failed(str(e))

    threading.Thread(target=read, daemon=True, name="ykt-view-console").start()


def add_parser(simsub, parse_listen, heap):
    """Add ``view`` to the ``ykt sim`` subcommands (``parse_listen``, ``heap``: how
    ``ykt sim`` reads ``--listen`` and ``--heap``)."""
    p = simsub.add_parser(
        "view", help="run a scenario (or replay a recording) with its terminals drawn live "
                     "in the browser",
        **examples("ykt sim view scenarios/demo-station.json",
                   "ykt sim view scenarios/demo-canteen-pos.json --speed 10 --listen "
                   "127.0.0.1:8470",
                   "ykt sim view --replay out.jsonl  # recorded: ykt sim run X.json > "
                   "out.jsonl",
                   "ykt sim view --console socket://127.0.0.1:4000  # a virtual board's "
                   "console"))
    p.add_argument("scenario", nargs="?", help="scenario file (JSON, docs/scenarios.md)")
    p.add_argument("--replay", metavar="FILE.jsonl",
                   help="play a JSON Lines file recorded with `ykt sim run` instead")
    p.add_argument("--listen", default="127.0.0.1:8470", metavar="HOST:PORT",
                   help="where the page is served (default 127.0.0.1:8470; port 0: any free "
                        "port, printed)")
    p.add_argument("--speed", choices=SPEEDS, default="1",
                   help="virtual time against the wall clock: 1 (real time, default), 10, "
                        "100 or max (as fast as it goes); the page changes it")
    p.add_argument("--paused", action="store_true",
                   help="start paused (the page's step and resume buttons go on)")
    p.add_argument("--runtime", choices=("cpython", "micropython"), default="cpython",
                   help="run the firmware in this process (default) or on the MicroPython VM")
    p.add_argument("--heap", default=None, type=heap,
                   help="firmware heap on the MicroPython VM (as for `ykt sim run`)")
    p.add_argument("--console", metavar="PORT",
                   help="also show a board's console in the page, the lines `ykt monitor` "
                        "shows: a virtual board's socket://HOST:PORT (ykt sim board) or a "
                        "serial port")
    p.add_argument("--tariff", metavar="FILE",
                   help="tariff source whose stations and lines draw the metro map (default: "
                        "the one a gate's configuration names; for a replay "
                        "tariffs/shanghai-2017.json)")
    p.add_argument("--max-seconds", type=float, default=None,
                   help="stop serving after this many seconds (default: until Ctrl-C)")
    p.set_defaults(fn=_view, parse_listen=parse_listen)
