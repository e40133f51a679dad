"""Card taps for the virtual board: the deployed firmware's tap loop against a PN532 model.

:class:`TapHooks` is a :class:`~hw_sim.board.board.Board` hooks object. The board's
MicroPython VM imports the ``machine``/``time`` proxies of ``hw_sim/vm`` (``vm_path`` +
``preload``), so the firmware that ``/main.py`` starts (``ykt.main.start()``, reading
``/board.json`` and ``/config.json`` from the board's LittleFS) drives a
:class:`~hw_sim.terminal.SimTerminal` here: bus transactions, pins, ticks and sleeps are
answered as :meth:`hw_sim.vm_bridge.VmProcess._handle` answers them, except that a sleep
simply advances the terminal's virtual clock (one terminal, no scheduler, no end).

The taps (card placed at virtual time ``at`` seconds after the first application boot,
removed ``hold_ms`` later, as :mod:`hw_sim.scenario` does) are scheduled on that clock
at the first application boot. Virtual time only moves while the firmware sleeps, so
while the board sits in its REPL (after mpremote's Ctrl-C) nothing happens.

    ykt sim board --listen 127.0.0.1:0 --boot app --taps SCENARIO.json \\
        [--master-key-file MASTER.json]

SCENARIO.json is the scenario format's ``start``, ``issuer_seed``, ``cards`` and the
``tap`` and ``keys`` events of ``events`` (keypad keys, ``gap_ms`` apart; other events
and ``terminals`` are ignored; ``at`` in seconds or HH:MM:SS on the start day). With
``--master-key-file`` the cards are issued with the provisioned purchase/load master
keys, so the firmware ``ykt provision`` set up accepts them.
"""

import datetime
import json

from host_tools.lib.provision import read_master_file
from hw_sim import vm_bridge
from hw_sim.issuer import IssuerKeys, issue_card
from hw_sim.terminal import SimTerminal

DEFAULT_HOLD_MS = 1500
DEFAULT_START = datetime.datetime(2026, 11, 29, 7, 0, 0)
# The board VM's heap: the firmware's heap by the board file's rule (vm_bridge.board_heap,
# docs/boards.md "Memory") plus what the hw_sim/vm machine/time proxies and boardvm.py take,
# loaded as source (in the VM's heap; C on the chip): 160K in all for a WROOM-32.
BOARD_VM_EXTRA_KB = 36


def board_vm_heap(board_dict):
    """The virtual board's ``-X heapsize`` for a board file (dict): "159K" on a WROOM-32."""
    return "%dK" % (int(vm_bridge.board_heap(board_dict)[:-1]) + BOARD_VM_EXTRA_KB)


class _Dispatch(vm_bridge.VmProcess):
    """Just :meth:`VmProcess._handle` (no process of its own)."""

    def __init__(self, terminal):
        super().__init__(terminal, boot_cfg=None, mpy_dir=None, on_console=lambda line: None)


class TapHooks:
    """Board hooks: one simulated terminal's hardware, its cards and their taps.

    ``cards``: {name: PurseApplication} (see :func:`hw_sim.issuer.issue_card`);
    ``taps``: [{"at": seconds, "tap": name or [names], "hold_ms": ms}, ...], ``at``
    counted from the first application boot; ``start``: the RTC's wall time then.
    ``{"at": seconds, "fault": text}`` makes the firmware's next bus call raise
    ValueError(text) instead (a fault the tap loop does not handle).
    """

    preload = ("machine", "time")

    def __init__(self, board_dict, cards, taps, start=None, log=None, armed=True):
        self.vm_path = [vm_bridge.VM_DIR]
        self.terminal = SimTerminal(board_dict, start=start or DEFAULT_START)
        # pass as Board(..., heap=hooks.heap)
        self.heap = board_vm_heap(board_dict)
        self.apps = dict(cards)
        self.cards = {name: self.terminal.new_card(app, app.card_no)
                      for name, app in self.apps.items()}
        self.taps = [dict(t) for t in taps]
        for t in self.taps:
            if "fault" in t or "keys" in t:
                continue
            names = t["tap"] if isinstance(t["tap"], list) else [t["tap"]]
            for n in names:
                if n not in self.cards:
                    raise ValueError("tap of unknown card %r" % (n,))
        self.log = log or (lambda msg: None)
        self.armed = armed  # taps start at the first boot once armed
        self.scheduled = False
        self.placed = []   # (virtual us, card name) as the cards were placed
        self._before = {}  # card name: (balance, APDU count) when it was last placed
        self.requests = 0
        self.faults = []  # (virtual us, text) of the faults injected
        self._fault = None
        self._dispatch = _Dispatch(self.terminal)

    # -- the board's seam ---------------------------------------------------------------
    def on_boot(self, kind):
        if kind == "rom":
            return
        if kind in ("power_on", "hard"):
            self.terminal.power_cycle()  # every chip resets; cards and clock stay
        self._dispatch.objects = []  # the new VM's handles start from 0
        self.terminal.activate()
        if self.armed and not self.scheduled:
            self.scheduled = True
            self._schedule()

    def arm(self):
        """Start the taps at the next boot (for hooks made with ``armed=False``, e.g.
        to flash and deploy first)."""
        self.armed = True

    def handle(self, req):
        self.requests += 1
        self.terminal.activate()
        if self._fault is not None and req[0] == "call":
            text, self._fault = self._fault, None
            self.faults.append((self.terminal.clock.now_us(), text))
            raise ValueError(text)  # the firmware's bus call raises it
        try:
            return self._dispatch._handle(req)
        except vm_bridge._Sleep as s:
            self.terminal.clock.advance(max(0, int(s.us)))
            return None

    # -- the taps -----------------------------------------------------------------------
    def _schedule(self):
        clock = self.terminal.clock
        base = clock.now_us()
        for t in self.taps:
            at = base + int(float(t.get("at", 0)) * 1000000)
            if "fault" in t:
                clock.schedule(at, lambda text=str(t["fault"]): setattr(self, "_fault", text))
                continue
            if "keys" in t:
                clock.schedule(at, lambda t=t: self._type(t))
                continue
            names = t["tap"] if isinstance(t["tap"], list) else [t["tap"]]
            hold = int(t.get("hold_ms", DEFAULT_HOLD_MS)) * 1000
            clock.schedule(at, lambda names=names, t=t: self._place(names, t))
            clock.schedule(at + hold, lambda names=names: self._remove(names))

    def _place(self, names, t):
        field = self.terminal.field
        for n in names:
            card = self.cards[n]
            if card.field is not None:
                card.field.remove(card)
            card.tear_at_apdu = t.get("tear_at_apdu")
            card.remove_after_apdu = t.get("remove_after_apdu")
            field.place(card)
            self.placed.append((self.terminal.clock.now_us(), n))
            self._before[n] = (self.apps[n].balance, card.apdu_count)
            self.log("card %s placed (balance %d fen)" % (n, self.apps[n].balance))
        if self.terminal.gate is not None:
            self.terminal.gate.waiting = 0 if t.get("walk") is False else 1

    def _type(self, t):
        if self.terminal.keypad is None:
            raise ValueError("keys %r for a board without a keypad" % t["keys"])
        self.terminal.keypad.type(t["keys"], int(t.get("gap_ms", 250)))
        self.log("keys %s" % t["keys"])

    def _remove(self, names):
        field = self.terminal.field
        for n in names:
            if self.cards[n] in field.cards:
                field.remove(self.cards[n])
                self.log("card %s removed: %s" % (n, self.outcome(n)))

    def outcome(self, name):
        """What the last tap of card ``name`` did to it, from the card model's side."""
        before, apdus = self._before.get(name, (self.apps[name].balance, 0))
        after, n = self.apps[name].balance, self.cards[name].apdu_count - apdus
        if n == 0:
            return "not read (no APDU reached the card)"
        if after < before:
            return "charged %d fen (balance %d -> %d), %d APDUs" % (before - after, before,
                                                                    after, n)
        if after > before:
            return "loaded %d fen (balance %d -> %d), %d APDUs" % (after - before, before,
                                                                   after, n)
        return "read, not charged (balance %d), %d APDUs" % (after, n)

    def balance(self, name):
        """The card's balance in fen, as the card model holds it."""
        return self.apps[name].balance


def issuer_keys(master_key_file=None, seed=None):
    """Issuer keys: the provisioned purchase/load masters of a master key file (the
    TAC master, which terminals never hold, from ``seed``), or all from ``seed``."""
    base = IssuerKeys.from_seed(str(seed or "yikatong-demo-issuer").encode())
    if master_key_file is None:
        return base
    masters = read_master_file(master_key_file)
    return IssuerKeys(masters["purchase"], masters["load"], base.tac_master)


def load_taps(path, board_dict, master_key_file=None, log=None):
    """A :class:`TapHooks` from a scenario-format JSON file."""
    from hw_sim.scenario import ScenarioError, _offset_us, _parse_dt, check_card

    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ScenarioError("%s: top level must be a JSON object" % path)
    start = _parse_dt(data.get("start", DEFAULT_START.isoformat()), path + ": start")
    seed = data.get("issuer_seed")
    cards = {}
    for i, c in enumerate(data.get("cards") or []):
        check_card(c, "%s: cards[%d]" % (path, i))
        keys = issuer_keys(master_key_file, c.get("issuer_seed", seed))
        cards[c["name"]] = issue_card(c["number"], balance_fen=c.get("balance_fen", 0),
                                      category=c.get("category", 0), pin=c.get("pin"),
                                      issuer_keys=keys)
    taps = []
    for i, e in enumerate(data.get("events") or []):
        if not isinstance(e, dict) or not ("tap" in e or "keys" in e):
            continue
        w = "%s: events[%d]" % (path, i)
        if "keys" in e:
            taps.append({"at": _offset_us(e.get("at"), start, w) / 1000000.0,
                         "keys": str(e["keys"]), "gap_ms": e.get("gap_ms", 250)})
            continue
        tap = dict(e, at=_offset_us(e.get("at"), start, w) / 1000000.0)
        names = tap["tap"] if isinstance(tap["tap"], list) else [tap["tap"]]
        for n in names:
            if n not in cards:
                raise ScenarioError("%s: unknown card %r" % (w, n))
        taps.append(tap)
    return TapHooks(board_dict, cards, taps, start=start, log=log)
