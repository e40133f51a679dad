"""What a person sees on one simulated terminal, read from the models the runner holds.

Nothing here changes a model or the firmware's course: it reads the pole display's and the
LCD's glass, the levels the firmware drives on the LED, buzzer and gate pins, the levels the
gate's sensors drive, the cards in the reader's field, the keys held, the printer's receipts
and the journal on the terminal's flash (a second, read-only LittleFS mount, as
``ykt journal`` reads an image). Beeps are counted by a pin watcher (``Wiring.watch_pin``),
attached again when a power cut rebuilds the board's wiring. Call :meth:`Observer.snapshot`
only while no firmware runs (the runner's ``on_step``).
"""

from __future__ import annotations

import time
from typing import Any

from host_tools.lib import peripherals

RECEIPTS = 2  # the last receipts shown
JOURNAL = 6  # the last journal records shown
JOURNAL_EVERY_S = 1.0  # wall seconds between two reads of one terminal's journal


def describe(tid: str, terminal: dict[str, Any]) -> dict[str, Any]:
    """What the terminal has (drawn once): its parts and their geometry, from its board file."""
    board = terminal["board_data"]
    parts = dict((k.name, spec) for k, spec in peripherals.fitted(board))
    out: dict[str, Any] = {"id": tid, "role": terminal.get("role"), "board": board.get("name"),
                           "station": terminal.get("config", {}).get("station")}
    disp = parts.get("display")
    if isinstance(disp, dict):
        out["display"] = {"kind": disp.get("kind"), "width": disp.get("width", 20), "rows": 2}
    lcd = parts.get("lcd")
    if isinstance(lcd, dict):
        out["lcd"] = {"cols": lcd["cols"], "rows": lcd["rows"]}
    out["gate"] = "gate" in parts
    leds = parts.get("leds")
    out["leds"] = sorted(leds) if isinstance(leds, dict) else []
    out["buzzer"] = parts.get("buzzer") is not None
    pad = parts.get("keypad")
    if isinstance(pad, dict):
        out["keypad"] = {"keys": pad["keys"], "cols": len(pad["cols"])}
    printer = parts.get("printer")
    if isinstance(printer, dict):
        out["printer"] = {"width": printer.get("width", 32)}
    out["reader"] = "nfc" in parts
    out["qr"] = "qr" in parts
    return out


class Observer:
    """Snapshots of one :class:`hw_sim.terminal.SimTerminal`."""

    def __init__(self, tid: str, sim: Any, terminal: dict[str, Any], card_names: dict[int, str]):
        self.tid = tid
        self.sim = sim
        self.card_names = card_names  # id(Card14443) -> the scenario's name for it
        board = terminal["board_data"]
        parts = dict((k.name, spec) for k, spec in peripherals.fitted(board))
        gate = parts.get("gate")
        self._gate = gate if isinstance(gate, dict) else None
        buzzer = parts.get("buzzer")
        self._buzzer = buzzer if isinstance(buzzer, int) else None
        self.beeps = 0
        self.arm_moves = 0  # the gate's arm opened or closed (a step ends there too)
        self._watched = None  # the wiring the counters are attached to
        self._journal: list[dict[str, Any]] = []
        self._journal_ops = -1
        self._journal_at = 0.0

    def watch(self) -> None:
        """Attach the beep and arm counters to the board's wiring (again after a power cut
        rebuilt it); cheap when they are attached."""
        wiring = self.sim.wiring
        if wiring is self._watched:
            return
        self._watched = wiring

        def beep(level: int) -> None:
            if level:
                self.beeps += 1

        def arm(level: int) -> None:
            self.arm_moves += 1

        if self._buzzer is not None:
            wiring.watch_pin(self._buzzer, beep)
        if self._gate is not None:
            wiring.watch_pin(self._gate["open"], arm)

    def _gate_state(self) -> dict[str, Any] | None:
        g = self._gate
        if g is None:
            return None
        w = self.sim.wiring
        emergency = g.get("emergency") is not None and w.read_pin(g["emergency"]) == 0
        return {"arm": "open" if w.levels.get(g["open"], 0) else "closed",
                "emergency": emergency, "beam": w.read_pin(g["passage"]) == 0,
                "passages": getattr(self.sim.gate, "passages", 0)}

    def _journal_tail(self, now: float, fresh: bool) -> list[dict[str, Any]]:
        flash = self.sim.flash
        if flash.ops != self._journal_ops and (fresh or now - self._journal_at
                                               >= JOURNAL_EVERY_S):
            self._journal_at = now
            self._journal_ops = flash.ops
            self._journal = read_journal(flash)[-JOURNAL:]
        return self._journal

    def snapshot(self, fresh: bool = False) -> dict[str, Any]:
        """What the terminal shows now; its journal as read at most JOURNAL_EVERY_S ago, or
        read now (``fresh``)."""
        sim = self.sim
        self.watch()
        out: dict[str, Any] = {"boots": sim.boots}
        if sim.display is not None:
            out["display"] = list(sim.display.lines)
        if sim.lcd is not None:
            out["lcd"] = {"lines": list(sim.lcd.lines()), "backlight": sim.lcd.backlight}
        leds = sim.board.get("leds", {})
        out["leds"] = {name: sim.pin(name) for name in sorted(leds)}
        if self._buzzer is not None:
            out["buzzer"] = sim.pin("buzzer")
            out["beeps"] = self.beeps
        gate = self._gate_state()
        if gate is not None:
            out["gate"] = gate
        out["reader"] = [self.card_names.get(id(c), "card") for c in sim.field.cards]
        if sim.keypad is not None:
            layout, cols = sim.keypad.layout, len(sim.keypad.cols)
            out["keys"] = sorted(layout[r * cols + c] for r, c in sim.keypad.down)
        if sim.printer is not None:
            out["receipts"] = [[[text, bold] for text, bold in lines]
                               for lines in sim.printer.styled[-RECEIPTS:]]
            out["paper"] = sim.printer.paper
        out["journal"] = self._journal_tail(time.monotonic(), fresh)
        return out


def read_journal(flash: Any) -> list[dict[str, Any]]:
    """The journal's records on a simulated flash, oldest first ([] before it has any)."""
    from host_tools.lib.journal import dump
    from hw_sim.lfs import LfsVfs

    try:
        fs = LfsVfs(flash)
        names = sorted(fs.listdir("/journal"))
        files = {}
        for name in names:
            with fs.open("/journal/" + name, "rb") as f:
                files[name] = f.read()
    except Exception:  # no filesystem yet, or none at all: nothing to show
        return []
    from hw_sim.runtime import firmware_on_path

    firmware_on_path()
    from ykt.report import mask  # as the terminals' own output masks it

    keep = ("seq", "time", "kind", "amount", "balance", "crc_ok")
    return [dict({k: r[k] for k in keep}, card=mask(r["card"])) for r in dump(files)]
