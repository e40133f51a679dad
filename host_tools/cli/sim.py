"""`ykt sim run SCENARIO.json [--runtime cpython|micropython] [--heap 96K]`: a scenario on
virtual time; `ykt sim board`: a virtual ESP32 for esptool and mpremote (docs/virtual-board.md)."""

import argparse
import datetime
import sys

from host_tools.cli import examples

PROGRESS_AFTER_S = 3.0  # a run that takes longer (wall time) shows progress on a terminal


class _Progress:
    """``NN% virtual HH:MM:SS`` on stderr, rewritten in place, when stderr is a terminal and
    the run has taken longer than PROGRESS_AFTER_S; cleared before each output line."""

    def __init__(self, run, stream):
        import threading

        self._run = run
        self._stream = stream
        self._shown = False
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        if self._stream.isatty():
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()
        self.clear()

    def _loop(self):
        if self._done.wait(PROGRESS_AFTER_S):
            return
        while not self._done.wait(0.25):
            frac = self._run.progress()
            when = self._run.scenario.start + datetime.timedelta(
                microseconds=frac * self._run.end_us)
            with self._lock:
                self._stream.write("\r%3d%% virtual %s\x1b[K"
                                   % (frac * 100, when.strftime("%H:%M:%S")))
                self._stream.flush()
                self._shown = True

    def _clear(self):
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False

    def clear(self):
        with self._lock:
            self._clear()

    def line(self, out, text):
        """Write one output line (the progress line, if shown, goes first)."""
        with self._lock:
            self._clear()
            out.write(text + "\n")
            out.flush()


def _run(args):
    from hw_sim.scenario import Run, Scenario

    out = sys.stdout  # the terminals' own stdout is redirected while they run
    run = Run(Scenario.load(args.scenario))
    with _Progress(run, sys.stderr) as progress:
        run.run(args.runtime, args.heap, on_line=lambda line: progress.line(out, line))
    return 0


def _heap(text: str) -> str:
    """``--heap``: a size like 128K (KB) or a byte count."""
    t = text.strip().upper()
    digits = t[:-1] if t.endswith("K") else t
    if not digits.isdigit() or int(digits) == 0:
        raise argparse.ArgumentTypeError("%r: give a size like 128K" % text)
    return t


def register(sub):
    sim = sub.add_parser("sim", help="hardware simulator",
                         **examples("ykt sim run scenarios/demo-station.json",
                                    "ykt sim board --listen 127.0.0.1:4000 --boot app"))
    simsub = sim.add_subparsers(dest="simcmd", required=True)
    run = simsub.add_parser("run", help="run a scenario on virtual time, print JSON Lines",
                           **examples("ykt sim run scenarios/demo-station.json",
                                      "ykt sim run scenarios/demo-canteen.json "
                                      "--runtime micropython"))
    run.add_argument("scenario", help="scenario file (JSON, docs/scenarios.md)")
    run.add_argument("--runtime", choices=("cpython", "micropython"), default="cpython",
                     help="run the firmware in this process (cpython, default) or on the "
                          "MicroPython unix VM from .mpy files (micropython)")
    run.add_argument("--heap", default=None, type=_heap,
                     help="firmware heap on the MicroPython VM for terminals without their own"
                          " vm_heap (default: by the terminal's board file, docs/boards.md"
                          " \"Memory\")")
    run.set_defaults(fn=_run)

    _add_board_parser(simsub)
    from host_tools.cli import _view

    _view.add_parser(simsub, _listen, _heap)


def _listen(text):
    """``HOST:PORT`` of ``--listen`` -> (host, port); ValueError naming what is wrong."""
    host, colon, port = text.rpartition(":")
    example = "e.g. 127.0.0.1:4000, or 127.0.0.1:0 for any free port"
    if not colon:
        raise ValueError("--listen %r: give HOST:PORT, %s" % (text, example))
    if not (port.isdigit() and 0 <= int(port) <= 65535):
        raise ValueError("--listen %r: the port must be a number 0..65535, %s" % (text, example))
    return host or "127.0.0.1", int(port)


def _mac(text):
    """``--mac`` (aa:bb:cc:dd:ee:ff, dashes or 12 hex digits) -> 6 bytes; ValueError if not
    one a board could have (a multicast address is no device's)."""
    digits = text.replace(":", "").replace("-", "")
    try:
        mac = bytes.fromhex(digits)
    except ValueError:
        mac = b""
    if len(mac) != 6 or mac[0] & 1:
        raise ValueError("--mac %r: give a unicast MAC like 24:0a:c4:00:00:01" % text)
    return mac


def _free_port(host):
    """A port on ``host`` nothing listens on, for a board whose MAC derives from its port."""
    import socket

    try:
        with socket.socket() as s:
            s.bind((host, 0))
            return s.getsockname()[1]
    except socket.gaierror:
        return 0  # _serve names the unknown host
    except OSError:
        return 0


def _serve(board, host, port, save, log, pty=False):
    """The board's server on ``host:port`` (and a pty with ``pty``); Failed when that
    address cannot be had."""
    import errno
    import socket

    from host_tools.lib.errors import Failed
    from hw_sim.board.server import BoardServer

    if pty:
        from hw_sim.board.ptyport import PtyBoardServer as BoardServer
    try:
        return BoardServer(board, host, port, on_disconnect=save, log=log)
    except socket.gaierror as e:
        raise ValueError("--listen %s:%d: unknown host (%s)" % (host, port, e.strerror)) from None
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise Failed("--listen %s:%d: the port is in use (another board?); --listen "
                         "%s:0 picks a free one" % (host, port, host)) from None
        raise Failed("--listen %s:%d: cannot listen there (%s)"
                     % (host, port, e.strerror or e)) from None


def _board(args):
    from host_tools.lib.files import write_atomic
    from hw_sim.board.board import default_mac
    from hw_sim.board.server import load_board_file, make_board

    host, port = _listen(args.listen)
    mac = _mac(args.mac) if args.mac else None
    spec = load_board_file(args.board)
    if mac is None:  # each virtual board its own MAC: derived from its name and its address
        port = port or _free_port(host)
        mac = default_mac("%s@%s:%d" % (spec.get("name", args.board), host, port))

    def log(msg):
        print("ykt sim board: %s" % msg, file=sys.stderr, flush=True)

    hooks = None
    if args.master_key_file:
        from host_tools.lib import keys

        keys.masters(args.master_key_file)  # one line for a wrong or unreadable key file
    if args.taps:
        from hw_sim.board.taps import load_taps

        hooks = load_taps(args.taps, spec, args.master_key_file, log=log)
    board = make_board(spec, args.flash_image, log=log, hooks=hooks,
                       heap=getattr(hooks, "heap", None), mac=mac)
    save = None
    if args.flash_image:
        def save():
            write_atomic(args.flash_image, board.flash.image())
    server = _serve(board, host, port, save, log, pty=args.pty)
    board.power_on(args.boot)
    state = "ROM download mode" if args.boot == "rom" else "MicroPython"
    url = server.url + (" and %s" % server.pty_path if args.pty else "")
    print("%s: %s (%s), mac %s" % (board.name, url, state,
                                   ":".join("%02x" % b for b in board.mac)), flush=True)
    try:
        server.serve(max_seconds=args.max_seconds)
    except KeyboardInterrupt:
        pass
    finally:
        if save is not None:
            save()
    return 0


def _add_board_parser(simsub):
    """Add ``board`` to the ``ykt sim`` subcommands."""
    p = simsub.add_parser("board",
                          help="serve a virtual ESP32 on loopback TCP for esptool/mpremote",
                          **examples("ykt sim board --listen 127.0.0.1:4000",
                                     "ykt sim board --listen 127.0.0.1:4000 --boot app "
                                     "--flash-image board.bin --taps scenarios/demo-canteen.json "
                                     "--master-key-file master.json"))
    p.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT",
                   help="loopback address and port (0: any free port, printed)")
    p.add_argument("--board", default="devkitc-turnstile",
                   help="board name in boards/ or a board JSON file (chip esp32)")
    p.add_argument("--flash-image", metavar="FILE",
                   help="raw flash image: loaded at start if it exists, "
                        "saved after each connection")
    p.add_argument("--boot", choices=("rom", "app"), default="rom",
                   help="power on into the ROM download mode (default) or into MicroPython")
    p.add_argument("--taps", metavar="SCENARIO.json",
                   help="attach a PN532 model and virtual cards: the scenario's cards and "
                        "tap events (at: seconds after the first MicroPython boot), run by "
                        "the firmware main.py starts (hw_sim/board/taps.py)")
    p.add_argument("--master-key-file", metavar="FILE",
                   help="with --taps: issue the cards with this master key file's "
                        "purchase/load keys (those `ykt provision` gave the board)")
    p.add_argument("--mac", metavar="AA:BB:CC:DD:EE:FF",
                   help="the board's MAC (eFuse; esptool read-mac, machine.unique_id); "
                        "default: derived from the board name and the listen address, so "
                        "boards on different ports differ")
    p.add_argument("--pty", action="store_true",
                   help="also offer the UART as a pseudo-terminal (its path is printed), "
                        "for tools that need a serial device: mpremote connect PTY repl")
    p.add_argument("--max-seconds", type=float, default=None,
                   help="stop after this many seconds (default: run until interrupted)")
    p.set_defaults(fn=_board)
