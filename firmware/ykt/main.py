"""Boot: board file and configuration -> drivers, SAM, stores -> the role's loop.

On the board ``main.py`` calls ``start()``, which reads ``/board.json`` and
``/config.json``; the simulator calls ``run(board, config, fs)`` with the same
dictionaries.
"""

import binascii
import gc
import json
import sys

from ykt import board as boards
from ykt import caltime, clock, report
from ykt.errors import CardRefused, SequenceError, YktError
from ykt.payment import Payments
from ykt.reader import Reader
from ykt.sam import SoftSam
from ykt.store import journal as jr
from ykt.store.counter import Counter

_FAULT_RESET_MS = 200
_CLOCK_SLACK_S = 300  # a clock this far behind the last record is still believed
_CLOCK_FLOOR = 757382400  # 2024-01-01 00:00 in clock.seconds(): no terminal ran before
_CLOCK_END = 3155760000  # 2100-01-01 00:00: a clock set beyond is a typo
_CLOCK_SOURCES = {"update": 1, "staff": 2, "sync": 3}  # clock-set tx_type
_I32 = 0x7FFFFFFF
# modules the update installer's checks import (ykt.store.updates)
_CHECKERS = ("ykt.fare.tariff", "ykt.pos", "ykt.pos.rules", "ykt.pos.periods", "ykt.pos.menu",
             "ykt.pos.canteen_record", "ykt.venue", "ykt.venue.bookings")


def _iso(t):
    return clock.iso(caltime.civil(t))


def _unhex(config, name):
    return binascii.unhexlify(config["keys"][name])


class Context:
    """What a role works with: the reader, the screen, the stores, the SAM."""

    def __init__(self, board, config, fs):
        self.board = board
        self.config = config
        self.fs = fs
        self.terminal_id = binascii.unhexlify(config["terminal_id"])
        keys = {"purchase": _unhex(config, "purchase")}
        if "load" in config["keys"]:
            keys["load"] = _unhex(config, "load")
        if "match" in config["keys"]:
            keys["match"] = _unhex(config, "match")
        self.sam = SoftSam(keys, self.terminal_id, lease=Counter(fs))
        # after a re-imaged filesystem: above every number the back office has seen
        self.sam.advance_to(int(config.get("sequence_floor", 0)))
        self.ui = boards.ui(board)
        self.reader = Reader(boards.nfc_reader(board), poll_ms=int(config.get("poll_ms", 100)),
                             idle_ms=int(config.get("idle_ms", 1000)))
        self.gate = boards.gate(board)
        self.journal = jr.Journal(fs, _unhex(config, "device"), self.terminal_id,
                               capacity_records=int(config.get("journal_records", 8192)))
        self.journal.open()
        # An RTC that lost its time (no backup battery) restarts in 2000: anything
        # before the newest record on flash, or before 2024, is not the time.
        self.sam_fault = None  # why the SAM cannot hand out sequence numbers (boot check)
        self.clock_floor = max(_CLOCK_FLOOR, self.journal.last_time - _CLOCK_SLACK_S)
        self.payments = Payments(self.sam, self.journal)
        self._denylist = None  # opened on first use, if one is installed
        self._tariff = None  # None: not opened yet; False: unreadable (_tariff_fault says why)
        self._tariff_fault = None

    def clock_ok(self):
        """False while the wall clock is behind the newest record on flash at boot (or
        before 2024): the terminal warns at boot, shows CHECK CLOCK and refuses taps
        ("clock not set") until the clock is set. Records before the newest ``clock-set``
        do not count, and ``set_clock`` moves the floor to the time it sets."""
        return clock.seconds() >= self.clock_floor

    def log(self, kind, **fields):
        """Journal a non-sale event (boot, denial, update); a full journal only loses it."""
        try:
            self.journal.append(kind, time=clock.seconds(), **fields)
        except (YktError, ValueError) as e:
            report.emit("error", ("reason", "journal: %s" % e))

    def install_updates(self):
        """Install whatever the back office left in /inbox (MAC and version checked).

        The installer is loaded only when there is something to install and
        dropped afterwards: RAM on the ESP32 is for the tap loop.
        """
        try:
            if not self.fs.listdir("/inbox"):
                return
        except OSError:
            return
        # the installer reads tariffs and canteen rule sets with the firmware's own readers;
        # what it loaded that the role does not use goes with it
        loaded = [m for m in _CHECKERS if m in sys.modules]
        from ykt.store.updates import Updates, kind_code

        outcomes = Updates(self.fs, _unhex(self.config, "update"), self.terminal_id,
                           set_clock=self._clock_update).scan_inbox("/inbox")
        # the records carry the file's kind (tx_type) and version (tseq): 0 and 0 for a
        # file whose header could not be read
        codes = [kind_code(o.kind) if o.kind else 0 for o in outcomes]
        del Updates, kind_code
        sys.modules.pop("ykt.store.updates", None)
        for m in _CHECKERS:
            if m not in loaded:
                sys.modules.pop(m, None)
        gc.collect()
        for i in range(len(outcomes)):
            o = outcomes[i]
            if o.installed:
                report.emit("update", ("kind", o.kind), ("version", o.version))
                self.log("update-installed", tx_type=codes[i], tseq=o.version)
                if self._tariff:
                    self._tariff.close()
                self._tariff = None
                self._denylist = None
            else:
                report.emit("update-refused", ("file", o.name), ("reason", o.reason))
                self.log("update-refused", tx_type=codes[i], tseq=o.version)

    def _clock_update(self, secs):
        self.set_clock(secs, "update")

    def set_clock(self, secs, source="staff", card=None):
        """Set the wall clock to ``secs`` (seconds since 2000-01-01 local, as
        ``clock.seconds()``): a clock update file (``source`` "update"), the POS
        supervisor menu ("staff", with the supervisor's ``card`` number) or the back
        office's time over the fleet sync ("sync", ``ykt.net.sync``).

        The change is journaled first, as ``clock-set`` (time = the new time, amount =
        the change in seconds, tx_type = the source: 1 update, 2 staff, 3 sync), then the RTC
        is set. The record is the clock check's new baseline (``Journal.last_time``), so a
        clock that ran ahead, and wrote records in the future, serves again once set
        back, now and after every reboot. ValueError for a time outside 2024..2099 (the
        clock is left alone); a journal error (JournalFull) is raised and the clock is
        left alone: a change the journal cannot show is not made.
        """
        if not _CLOCK_FLOOR <= secs < _CLOCK_END:
            raise ValueError("clock: %d is outside 2024..2099" % secs)
        old = clock.seconds()
        change = max(-_I32, min(_I32, secs - old))
        self.journal.append("clock-set", time=secs, amount=change,
                            tx_type=_CLOCK_SOURCES.get(source, 0), card=card)
        clock.set_seconds(secs)
        self.clock_floor = max(_CLOCK_FLOOR, self.journal.last_time - _CLOCK_SLACK_S)
        report.emit("clock-set", ("clock", _iso(secs)), ("was", _iso(old)), ("source", source))

    def denylist(self):
        """The installed denylist, or False when none is installed."""
        if self._denylist is None:
            self._denylist = False
            for path in ("/denylist.bin", "/denylist.delta"):
                try:
                    self.fs.stat(path)
                except OSError:
                    continue
                from ykt.store.denylist import Denylist

                self._denylist = Denylist(self.fs)
                break
        return self._denylist

    def check_denylist(self, card_no):
        denylist = self.denylist()
        if not denylist:
            return
        try:
            denied, reason = denylist.contains(card_no)
        except YktError as e:
            report.emit("error", ("reason", "denylist unreadable: %s" % e))
            return
        if denied:
            self.log("denied", card=card_no)
            from ykt.store.denylist import reason_text

            raise CardRefused("card blocked: %s" % reason_text(reason))

    def installed_staff(self):
        """The entries of the staff list a staff update installed (/staff.bin, a JSON
        list like config "staff"), or None when none is installed."""
        try:
            self.fs.stat("/staff.bin")
        except OSError:
            return None
        with self.fs.open("/staff.bin", "rb") as f:
            try:
                entries = json.loads(f.read())
            except ValueError:
                entries = None
        if not isinstance(entries, list):
            raise ValueError("/staff.bin: not a JSON list")
        return entries

    def tariff(self):
        """The installed tariff, opened (and its CRC-32 checked) on first use.

        A tap that needs a tariff the terminal cannot read is refused, and the terminal
        keeps serving: ``CardRefused("tariff damaged")`` (the reader's reason is reported
        once, as a warning) or ``CardRefused("no tariff installed")``. The next update
        that installs a tariff is tried afresh.
        """
        if self._tariff is None:
            from ykt.fare.tariff import Tariff, TariffError

            try:
                self._tariff = Tariff.open(self.fs, "/tariff.bin")
            except TariffError as e:
                self._tariff = False
                self._tariff_fault = "tariff damaged"
                report.emit("warning", ("reason", "%s: fares refused" % e))
            except OSError as e:
                code = e.args[0] if e.args else 0
                self._tariff = False
                self._tariff_fault = "no tariff installed" if code == 2 else "tariff unreadable"
                report.emit("warning", ("reason", "%s: fares refused" % self._tariff_fault))
        if self._tariff is False:
            raise CardRefused(self._tariff_fault)
        return self._tariff


_ROLES = ("fixed_fare", "gate", "entry_gate", "exit_gate", "pos", "validator", "venue")


def _role(name):
    if name == "fixed_fare":
        from ykt.roles.fixed_fare import FixedFareTerminal

        return FixedFareTerminal
    if name in ("gate", "entry_gate", "exit_gate"):
        from ykt.roles.gate import GateTerminal

        return GateTerminal
    if name == "pos":
        from ykt.roles.pos.terminal import PosTerminal

        return PosTerminal
    if name == "validator":
        from ykt.roles.validator import Validator

        return Validator
    if name == "venue":
        from ykt.roles.venue import VenueGate

        return VenueGate
    raise ValueError("unknown role %r" % name)


_serving = False  # the role's loop has started (see start())


def run(board, config, fs=None):
    """Build everything from the board file and configuration and serve forever.

    ``fs`` is the filesystem the stores use (``ykt.store.vfs.Vfs`` over the
    mounted flash unless given, e.g. by the simulator under CPython).
    """
    global _serving
    if fs is None:
        from ykt.store.vfs import Vfs

        fs = Vfs(config.get("data_dir", "/"))
    if config["role"] not in _ROLES:
        raise ValueError("unknown role %r" % config["role"])
    ctx = Context(board, config, fs)
    pending = ctx.payments.restore()
    report.emit("boot", ("terminal", config.get("name") or config["terminal_id"]),
                ("role", config["role"]), ("board", board.get("name", "")),
                ("journal", ctx.journal.last_seq), ("pending", pending))
    try:
        ctx.sam.check()
    except SequenceError as e:
        ctx.sam_fault = str(e)
        report.emit("warning", ("reason", "%s: sales refused" % e))
    if not ctx.clock_ok():
        report.emit("warning", ("reason", "clock behind the records: set the clock"),
                    ("clock", _iso(clock.seconds())),
                    ("last_record", _iso(ctx.journal.last_time)))
    ctx.log("boot")
    ctx.install_updates()
    # the role's modules are loaded after the installer is gone: the installer's checks
    # (a tariff, a canteen rule set) and the role's code need not fit in RAM together
    terminal = _role(config["role"])(ctx, config)
    if "mqtt" in config:  # fleet sync in the role's idle time (docs/sync.md)
        from ykt.net.sync import attach

        attach(ctx, terminal)
    _serving = True
    terminal.run()


def start():
    """The board's entry (``main.py``): ``/board.json`` and ``/config.json`` -> run().

    What the loop does not handle itself (a firmware bug, a MemoryError) is reported
    as ``fault`` and the board resets: the terminal comes back on its own, and the
    journal's recovery settles what was in flight. A failure before the loop starts
    (a bad board file or configuration, a missing tariff) is reported as
    ``boot-failed`` and the board stays in its REPL for a technician to deploy a
    fix: resetting would only repeat it. Ctrl-C still reaches the REPL.
    """
    try:
        with open("/board.json") as f:
            board = json.load(f)
        with open("/config.json") as f:
            config = json.load(f)
        run(board, config)
    except Exception as e:
        report.emit("fault" if _serving else "boot-failed",
                    ("reason", "%s: %s" % (type(e).__name__, e)))
        if _serving:
            import machine

            clock.sleep_ms(_FAULT_RESET_MS)  # let the console line leave the UART
            machine.reset()
