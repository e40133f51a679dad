"""`ykt monitor --port P [--seconds N] [--baud B]`: print the board's console until Ctrl-C.

A virtual board (`socket://`) first sends its console since its last boot, so a terminal
that could not boot shows why (docs/virtual-board.md, "The console and `ykt monitor`");
a real board prints its boot when it is reset (EN)."""


from host_tools.cli import examples


def _monitor(args):
    from host_tools.device.monitor import monitor

    monitor(args.port, args.seconds, baudrate=args.baud)
    return 0


def register(sub):
    p = sub.add_parser("monitor", help="show the board's console (Ctrl-C to stop); a virtual "
                       "board first replays its console since its last boot",
                       **examples("ykt monitor --port /dev/ttyUSB0",
                                  "ykt monitor --port socket://127.0.0.1:4000 --seconds 10"))
    p.add_argument("--port", required=True, help="serial port or pyserial URL")
    p.add_argument("--seconds", type=float, help="stop after this many seconds")
    p.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
    p.set_defaults(fn=_monitor)
