"""Metro fare gates: entry, exit, or both directions, with emergency release.

Config: ``station`` (tariff station id), ``direction`` ("entry", "exit" or
"both": a card with an open entry exits, any other enters), optional
``min_entry_fen`` (default: the tariff's base fare), ``passback_s`` (60),
``passage_ms`` (8000), ``torn_grace_s`` (1200).

Same-station rules (docs/fares.md §4.1): a card whose entry at this station
is less than ``torn_grace_s`` old passes an entry gate once more for 0 fen,
the entry kept as it was (its entry may have been torn at another gate: the
card paid but the barrier stayed shut); likewise a card whose exit here is that
recent passes an exit gate once more (``passback_s`` at a two-way gate). The
same gate refuses a re-entry within ``passback_s``.

Entry writes the station, time and gate into the card's transit record as a
zero-amount composite purchase (or charges the unclosed-journey fare); exit
prices the journey with the fare engine and debits it together with the
record update. Both are one card transaction through ``Payments``, so a torn
card is settled on its next tap. The barrier opens only after the card has
paid, then closes on passage or time-out. While the emergency input is
asserted every gate stands open, exits are free and journaled as such, and
journeys opened before a known emergency are not charged as unclosed.
"""

from ykt import clock, report
from ykt.card.purse import TX_CAPP
from ykt.errors import CardRefused
from ykt.fare import engine
from ykt.fare import transit_record as tr
from ykt.money import yuan
from ykt.roles.tap import TapRole
from ykt.store import replace

_EMERGENCY_FILE = "/emergency.json"


class GateTerminal(TapRole):
    def __init__(self, ctx, config):
        super().__init__(ctx, config)
        if ctx.gate is None:
            raise ValueError("config: role 'gate' needs a board with a gate")
        role = config["role"]
        self.direction = config.get("direction") or {"entry_gate": "entry",
                                                     "exit_gate": "exit"}.get(role, "both")
        if self.direction not in ("entry", "exit", "both"):
            raise ValueError("config: 'direction' must be entry, exit or both")
        station = config.get("station")
        if not isinstance(station, int):
            raise ValueError("config: 'station' must be a tariff station id")
        self.station = station
        self.passback_s = int(config.get("passback_s", 60))
        self.passage_ms = int(config.get("passage_ms", 8000))
        self.torn_grace_s = int(config.get("torn_grace_s", 1200))
        self.min_entry = config.get("min_entry_fen")
        self.gate = ctx.gate
        self.emergency = False
        self._windows = self._load_windows()

    # -- screens --------------------------------------------------------------
    def idle_screen(self):
        if self.emergency:
            return ("EMERGENCY", "GATES OPEN")
        return ({"entry": "ENTRY", "exit": "EXIT"}.get(self.direction, "IN / OUT"), "TAP CARD")

    def ready_fields(self):
        return (("station", self.station), ("direction", self.direction))

    # -- emergency ------------------------------------------------------------
    def _load_windows(self):
        import json

        try:
            with self.ctx.fs.open(_EMERGENCY_FILE, "rb") as f:
                return json.loads(f.read())
        except (OSError, ValueError):
            return []

    def _save_windows(self):
        import json

        replace(self.ctx.fs, _EMERGENCY_FILE, json.dumps(self._windows[-32:]).encode())

    def wake(self):
        return self.gate.emergency_wake(self.emergency)

    def idle(self):
        on = self.gate.emergency()
        if on == self.emergency:
            return
        self.emergency = on
        now = clock.seconds()
        if on:
            self.gate.open()
            self._windows.append([self.station, now, 0])
            report.emit("emergency", ("state", "on"))
        else:
            self.gate.close()
            if self._windows and self._windows[-1][2] == 0:
                self._windows[-1][2] = now
            report.emit("emergency", ("state", "off"))
        self._save_windows()
        self._idle_screen()

    def _excused(self, state):
        """True if the card's open entry began before an emergency release we know of."""
        for station, start, end in self._windows:
            if station == state.entry_station and state.entry_time <= (end or clock.seconds()):
                if state.entry_time >= start - 6 * 3600:
                    return True
        return False

    # -- a tap ----------------------------------------------------------------
    def completion(self, held):
        amount = held.pending.amount
        if self.direction == "both":
            return ("exit" if amount else "entry"), amount
        return ("entry" if self.direction == "entry" else "exit"), amount

    def recovered(self, held, result, seq):
        kind = "exit" if result.amount or self.direction == "exit" else "entry"
        report.emit(kind, ("card", self.shown), ("fen", result.amount),
                    ("balance", result.balance), ("station", self.station), ("recovered", True))
        self.ui.ok("FARE " + yuan(result.amount), "BAL " + yuan(result.balance))
        self._let_through()

    def _state(self, card):
        try:
            return tr.decode(card.read_record(tr.RECORD_NO))
        except ValueError:
            report.emit("warning", ("card", self.shown), ("reason", "transit record unreadable"))
            return tr.TransitState()

    def serve(self, card, info):
        state = self._state(card)
        at = clock.seconds()
        exiting = self.direction == "exit" or (self.direction == "both" and state.entry_open)
        if self.emergency:
            if not exiting:
                raise CardRefused("station closed (emergency)")
            quote = engine.emergency_exit(state, at)
            self._pay(card, info, quote, "exit", emergency=True)
            return
        if exiting:
            window = self.torn_grace_s if self.direction == "exit" else self.passback_s
            quote = engine.torn_exit_again(state, self.station, at, window)
            if quote is not None:
                self._pay(card, info, quote, "exit")
                return
            if (not state.entry_open and state.last_mode == 1
                    and 0 <= at - state.last_time < self.passback_s):
                raise CardRefused("already exited")
            quote = engine.metro_exit(self.ctx.tariff(), state, self.station, at,
                                      info.category, info.city_code)
            self._pay(card, info, quote, "exit")
        else:
            if (state.entry_open and state.entry_station == self.station
                    and 0 <= at - state.entry_time < self.passback_s
                    and state.entry_terminal == self.ctx.terminal_id):
                raise CardRefused("already entered")
            quote = engine.torn_entry_again(state, self.station, at, self.torn_grace_s)
            if quote is not None:
                self._pay(card, info, quote, "entry")
                return
            if state.entry_open and self._excused(state):
                state = engine.emergency_exit(state, state.entry_time).state
            tariff = self.ctx.tariff()
            quote = engine.metro_entry(tariff, state, self.station, at, self.ctx.terminal_id,
                                       info.category, info.city_code)
            minimum = self.min_entry
            if minimum is None:
                minimum = engine.distance_fare(tariff, 0)
            if card.balance() < minimum + quote.fen:
                raise CardRefused("balance below %s to enter" % yuan(minimum))
            self._pay(card, info, quote, "entry")

    def _pay(self, card, info, quote, kind, emergency=False):
        record = (tr.RECORD_NO, tr.encode(quote.state))
        result = self.charge(card, info, quote.fen, TX_CAPP, record, kind)
        if result is None:
            return
        fields = [("card", self.shown), ("fen", result.amount), ("balance", result.balance),
                  ("station", self.station), ("recovered", False)]
        if quote.distance_dam is not None:
            fields.append(("metres", quote.distance_dam * 10))
        if emergency:
            fields.append(("emergency", True))
        fields.append(("steps", [list(s) for s in quote.steps]))
        report.emit(kind, *fields)
        if kind == "entry":
            self.ui.ok("WELCOME", "BAL " + yuan(result.balance))
        else:
            self.ui.ok("FARE " + yuan(result.amount), "BAL " + yuan(result.balance))
        if not emergency:
            self._let_through()

    def _let_through(self):
        self.gate.open()
        passed = self.gate.wait_passage(self.passage_ms)
        self.gate.close()
        if not passed:
            report.emit("gate", ("passage", False))
