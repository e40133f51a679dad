"""Scenario files: a terminal, its cards, and timed events, run on virtual time.

A scenario is JSON::

    {"name": "...", "start": "2026-11-29T07:00:00",
     "issuer_seed": "yikatong-demo-issuer",
     "terminals": [{"id": "POS01", "role": "fixed_fare", "board": "s3-canteen-pos",
                    "config": {"fare_fen": 350}}],
     "cards": [{"name": "teacher", "number": "31012300000000000001",
                "balance_fen": 5000, "category": 1},
               {"name": "clone", "number": "31012300000000000001",
                "issuer_seed": "someone-else"},
               {"name": "cheat", "number": "31012300000000000009", "forge": "mac2"}],
     "events": [{"at": "07:00:05", "tap": "teacher", "hold_ms": 1500},
                {"at": "07:00:09", "tap": "teacher", "tear_at_apdu": 6},
                {"at": "07:00:12", "tap": "teacher", "garble_at_apdu": 6},
                {"at": "07:00:15", "tap": "teacher", "delay_at_apdu": 6, "delay_ms": 200},
                {"at": "07:00:20", "tap": ["a", "b"]},
                {"at": "07:00:25", "noise": {"ms": 4, "xor": 90}},
                {"at": 0, "power_cut": {"after_ops": 3, "at_boot": true}},
                {"at": "07:30:00", "set_clock": "2026-11-29T08:00:00"},
                {"at": "07:40:00", "link": false}]}

``at`` is a wall time on the start day (``HH:MM:SS[.fff]``) or seconds after
the start. Each event does one thing: ``tap`` (with ``hold_ms``, ``walk``,
and faults at the card's APDU n counted from placement: ``tear_at_apdu``,
``remove_after_apdu``, ``garble_at_apdu``, ``drop_at_apdu``,
``delay_at_apdu`` with ``delay_ms``), ``keys`` (``gap_ms``), ``set_clock``,
``emergency``, ``power_cut`` (``after_ops``, ``partial``, ``at_boot``),
``noise`` (``ms``, ``xor``) on the reader's line, ``link`` (the WiFi link down or up
again: ``hw_sim/network.py``), or ``scan`` / ``scan_garbage`` (a code or a misread shown to
the QR scanner, ``hw_sim/gm65.py``: ``hold_ms``, ``scan_ms``). A card may be an
attacker's (``forge``: ``"mac2"`` or ``"replay"``, ``hw_sim.faults``) or
another issuer's (``issuer_seed``). docs/scenarios.md has every key with an
example; any other key, or an event of no known kind, is refused with its path in the file
(``events[3].hold: unknown key; did you mean hold_ms?``, ``check_keys``). Output is JSON
Lines, handed to ``Run.run``'s ``on_line`` as each is output and kept in ``Run.lines``:
the firmware's console outcomes stamped with virtual time, then one ``card`` line per card
with its final balance, its subsidy purse (the canteen record's) and counter (read from the
card model).
Card numbers are masked.
"""

import contextlib
import datetime
import difflib
import hashlib
import io
import json
import os

from host_tools.lib import boards, denylist, tariff, updates
from host_tools.lib.errors import BadInput
from host_tools.lib.issuer import sim_device_key
from hw_sim.faults import FORGERIES, forged, noise_on_reader
from hw_sim.issuer import IssuerKeys, issue_card, ssc_files
from hw_sim.scheduler import POWER_CUT, Scheduler, ThreadProcess
from hw_sim.terminal import SimTerminal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_HOLD_MS = 1500
SETTLE_MS = 5000
BOOT_MS = 300  # power back on -> firmware running again
DEFAULT_SEED = "yikatong-demo-issuer"


class ScenarioError(BadInput):
    """A scenario that cannot be run — a malformed file, or a terminal that stopped on what
    the scenario gave it; the message names the problem (exit 2 from ``ykt sim run``)."""


def _parse_dt(text, where):
    try:
        return datetime.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ScenarioError("%s: %r is not a date-time like 2026-11-29T07:00:00" % (where, text))


def _offset_us(at, start, where):
    if isinstance(at, bool) or at is None:
        raise ScenarioError("%s: 'at' is missing" % where)
    if isinstance(at, (int, float)):
        if at < 0:
            raise ScenarioError("%s: 'at' must not be negative" % where)
        return int(at * 1000000)
    if isinstance(at, str):
        try:
            t = datetime.time.fromisoformat(at)
        except ValueError:
            raise ScenarioError("%s: 'at' %r is not HH:MM:SS or seconds" % (where, at))
        when = datetime.datetime.combine(start.date(), t)
        if when < start:
            raise ScenarioError("%s: 'at' %s is before the scenario start %s"
                                % (where, at, start.time().isoformat()))
        return int((when - start).total_seconds() * 1000000)
    raise ScenarioError("%s: 'at' must be HH:MM:SS or a number of seconds" % where)


def load_board(name):
    try:
        return boards.load(name)
    except boards.BoardError as e:
        raise ScenarioError(str(e))


_CACHE = {}


def _cached(key, fn):
    """Compiled tariffs are the same for every run of a process: build each once."""
    if key not in _CACHE:
        _CACHE[key] = fn()
    return _CACHE[key]


def _whole(v, low):
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


ACTIONS = ("tap", "keys", "set_clock", "emergency", "power_cut", "noise", "link", "scan",
           "scan_garbage")
APDU_FAULTS = ("tear_at_apdu", "garble_at_apdu", "drop_at_apdu", "delay_at_apdu")
EVENT_KEYS = {  # besides "at" and "terminal"
    "tap": ("hold_ms", "walk", "remove_after_apdu", "delay_ms") + APDU_FAULTS,
    "keys": ("gap_ms",),
    "scan": ("hold_ms", "scan_ms"),
    "scan_garbage": ("hold_ms", "scan_ms"),
}
POWER_CUT_KEYS = ("after_ops", "partial", "at_boot")
NOISE_KEYS = ("ms", "xor")
TOP_KEYS = ("name", "start", "issuer_seed", "terminals", "cards", "denylist", "events")
TERMINAL_KEYS = ("id", "role", "board", "config", "vm_heap")
CARD_KEYS = ("name", "number", "balance_fen", "category", "pin", "records", "issuer_seed",
             "forge", "holder")
HOLDER_KEYS = ("id_number", "name", "card_id", "issued", "expires", "sex")
CANTEEN_RECORD = 2  # SFI 0x17 record of the canteen state (firmware ykt/pos/canteen_record.py)


def subsidy_fen(record):
    """The subsidy purse of a card's canteen record (48 bytes, format 01: balance
    big-endian at offset 16); 0 for a card without one (all zero bytes)."""
    if len(record) < 20 or record[0] != 1:
        return 0
    return int.from_bytes(record[16:20], "big")


def accepted_keys():
    """Every key a scenario file may use, where it goes: ``{place: keys}`` (docs/scenarios.md
    documents each; tests/test_scenario_strict.py holds them to it)."""
    event = ("at", "terminal") + ACTIONS + tuple(k for ks in EVENT_KEYS.values() for k in ks)
    return {"top level": TOP_KEYS, "terminals[]": TERMINAL_KEYS, "cards[]": CARD_KEYS,
            "events[]": event, "power_cut": POWER_CUT_KEYS, "noise": NOISE_KEYS}


def check_keys(obj, allowed, where, elsewhere=None):
    """ScenarioError for the first key of ``obj`` not in ``allowed``, with its path
    (``events[3].hold: unknown key; did you mean hold_ms?``). ``elsewhere``: {key: what it
    belongs to} for a key that is right in another place."""
    for key in obj:
        if key in allowed:
            continue
        path = "%s.%s" % (where, key) if where else str(key)
        if elsewhere and key in elsewhere:
            raise ScenarioError("%s: not a key here; it belongs to %s" % (path, elsewhere[key]))
        close = difflib.get_close_matches(str(key), [str(k) for k in allowed], n=1, cutoff=0.6)
        if not close:  # a prefix such as hold for hold_ms
            close = [k for k in allowed if k.startswith(str(key)) or str(key).startswith(k)][:1]
        hint = "; did you mean %s?" % close[0] if close else "; known keys: %s" % ", ".join(allowed)
        raise ScenarioError("%s: unknown key%s" % (path, hint))


def check_card(c, w):
    """Validate one entry of a scenario's ``cards`` (``w`` names it in the error)."""
    if not isinstance(c, dict) or not isinstance(c.get("name"), str):
        raise ScenarioError("%s: needs a 'name'" % w)
    number = c.get("number")
    if not (isinstance(number, str) and number.isdigit() and len(number) == 20):
        raise ScenarioError("%s: 'number' must be a string of 20 digits" % w)
    bal = c.get("balance_fen", 0)
    if isinstance(bal, bool) or not isinstance(bal, int) or bal < 0:
        raise ScenarioError("%s: 'balance_fen' must be a whole number of fen >= 0" % w)
    pin = c.get("pin")
    if pin is not None and not (isinstance(pin, str) and pin.isdigit() and 2 <= len(pin) <= 12):
        raise ScenarioError("%s: 'pin' must be a string of 2 to 12 digits" % w)
    if "holder" in c:
        _check_holder(c["holder"], w + ".holder")


def _check_holder(h, w):
    """A card's social security application (docs/scenarios.md "Cards": ``holder``)."""
    if not isinstance(h, dict) or "id_number" not in h:
        raise ScenarioError("%s: an object with at least 'id_number'" % w)
    check_keys(h, HOLDER_KEYS, w)
    for k in ("issued", "expires"):
        if k in h and not (_whole(h[k], 19000101) and h[k] <= 29991231):
            raise ScenarioError("%s.%s: a date as the number YYYYMMDD" % (w, k))
    if "sex" in h and h["sex"] not in (1, 2):
        raise ScenarioError("%s.sex: 1 (male) or 2 (female)" % w)
    try:
        ssc_files(**h)
    except (ValueError, TypeError, UnicodeError) as e:
        raise ScenarioError("%s: %s" % (w, e))


class Scenario:
    """A validated scenario, ready to run on either runtime."""

    # where a configuration's relative paths (tariff, canteen) start: the scenario file's
    # directory when it was loaded from a file (load), else the repository
    base_dir = ROOT

    def __init__(self, data, source="scenario"):
        self.source = source
        if not isinstance(data, dict):
            raise ScenarioError("%s: top level must be a JSON object" % source)
        try:
            check_keys(data, TOP_KEYS, "")
        except ScenarioError as e:
            raise ScenarioError("%s: %s" % (source, e))
        self.name = data.get("name", os.path.basename(source))
        self.start = _parse_dt(data.get("start", "2026-11-29T07:00:00"), source + ": start")
        self.seed = str(data.get("issuer_seed", DEFAULT_SEED))
        self._terminals(data.get("terminals"))
        self._cards(data.get("cards"))
        self._events(data.get("events"))
        self.denied = data.get("denylist", [])
        if not isinstance(self.denied, list) or any(
                n not in self.cards and not _card_number(n) for n in self.denied):
            raise ScenarioError("%s: 'denylist' must list card names (or 20-digit card "
                                "numbers)" % source)

    def _terminals(self, terms):
        where = self.source + ": terminals"
        if not isinstance(terms, list) or not terms:
            raise ScenarioError("%s: give a list of at least one terminal" % where)
        self.terminals = []
        for i, t in enumerate(terms):
            w = "%s[%d]" % (where, i)
            if not isinstance(t, dict):
                raise ScenarioError("%s: must be an object" % w)
            check_keys(t, TERMINAL_KEYS, w)
            for key in ("id", "role", "board"):
                if not isinstance(t.get(key), str):
                    raise ScenarioError("%s: %r is missing or not a string" % (w, key))
            if not isinstance(t.get("config", {}), dict):
                raise ScenarioError("%s: 'config' must be an object" % w)
            heap = t.get("vm_heap")
            if heap is not None and not (isinstance(heap, str) and heap[:-1].isdigit()
                                         and heap.endswith("K")):
                raise ScenarioError("%s: 'vm_heap' must look like \"160K\"" % w)
            if t["id"] in [x["id"] for x in self.terminals]:
                raise ScenarioError("%s: terminal id %r used twice" % (w, t["id"]))
            t = dict(t, board_data=load_board(t["board"]))
            self.terminals.append(t)
        self.terminal = self.terminals[0]
        self.board = self.terminal["board_data"]

    def _cards(self, cards):
        where = self.source + ": cards"
        if not isinstance(cards, list):
            raise ScenarioError("%s: must be a list" % where)
        self.cards = {}
        for i, c in enumerate(cards):
            w = "%s[%d]" % (where, i)
            if isinstance(c, dict):
                check_keys(c, CARD_KEYS, w)
            check_card(c, w)
            if c.get("forge") is not None and c["forge"] not in FORGERIES:
                raise ScenarioError("%s: 'forge' must be one of %s"
                                    % (w, ", ".join('"%s"' % k for k in sorted(FORGERIES))))
            if "issuer_seed" in c and not isinstance(c["issuer_seed"], str):
                raise ScenarioError("%s: 'issuer_seed' must be a string" % w)
            recs = c.get("records", {})
            if not isinstance(recs, dict) or any(
                    k not in ("1", "2", "3", "4") or not isinstance(v, str) or len(v) != 96
                    or any(x not in "0123456789abcdefABCDEF" for x in v)
                    for k, v in recs.items()):
                raise ScenarioError("%s: 'records' must map \"1\"..\"4\" to 96 hex digits "
                                    "(48 bytes)" % w)
            if c["name"] in self.cards:
                raise ScenarioError("%s: card name %r used twice" % (w, c["name"]))
            self.cards[c["name"]] = c

    def _events(self, events):
        where = self.source + ": events"
        if not isinstance(events, list):
            raise ScenarioError("%s: must be a list" % where)
        self.events = []
        for i, e in enumerate(events):
            w = "%s[%d]" % (where, i)
            if not isinstance(e, dict):
                raise ScenarioError("%s: must be an object" % w)
            at = _offset_us(e.get("at"), self.start, w)
            kinds = [k for k in ACTIONS if k in e]
            if not kinds:
                odd = [str(k) for k in e if k not in ("at", "terminal")]
                close = difflib.get_close_matches(odd[0], ACTIONS, n=1) if odd else []
                if close:
                    raise ScenarioError("%s.%s: unknown event kind; did you mean %s?"
                                        % (w, odd[0], close[0]))
                raise ScenarioError("%s%s: %s; an event needs 'tap', 'keys', 'set_clock', "
                                    "'emergency', 'power_cut', 'noise', 'link', 'scan' or "
                                    "'scan_garbage'"
                                    % (w, "." + odd[0] if odd else "",
                                       "unknown event kind" if odd else "no action"))
            if len(kinds) > 1:
                raise ScenarioError("%s: %s in one event: give each its own event"
                                    % (w, " and ".join(repr(k) for k in kinds)))
            kind = kinds[0]
            allowed = ("at", "terminal", kind) + EVENT_KEYS.get(kind, ())
            check_keys(e, allowed, w, {k: "a %r event" % other for other, ks in EVENT_KEYS.items()
                                       if other != kind for k in ks})
            term = e.get("terminal")
            ids = [t["id"] for t in self.terminals]
            if term is not None and term not in ids:
                raise ScenarioError("%s: unknown terminal %r" % (w, term))
            if term is None and kind in ("tap", "keys", "noise", "scan", "scan_garbage") \
                    and len(ids) > 1:
                raise ScenarioError("%s: say which 'terminal' (one of %s)" % (w, ", ".join(ids)))
            getattr(self, "_check_" + kind)(e, w)
            self.events.append((at, i, e))
        self.events.sort(key=lambda x: (x[0], x[1]))

    def _check_tap(self, e, w):
        names = e["tap"] if isinstance(e["tap"], list) else [e["tap"]]
        if not names:
            raise ScenarioError("%s: 'tap' names no card" % w)
        for n in names:
            if not isinstance(n, str) or n not in self.cards:
                raise ScenarioError("%s: unknown card %r" % (w, n))
        for key in ("hold_ms", "remove_after_apdu", "delay_ms") + APDU_FAULTS:
            v = e.get(key)
            if v is not None and not _whole(v, 1):
                raise ScenarioError("%s: %r must be a positive whole number" % (w, key))
        if e.get("walk") is not None and not isinstance(e["walk"], bool):
            raise ScenarioError("%s: 'walk' must be true or false" % w)
        if (e.get("delay_at_apdu") is None) != (e.get("delay_ms") is None):
            raise ScenarioError("%s: 'delay_at_apdu' and 'delay_ms' go together" % w)
        seen = {}
        for key in APDU_FAULTS:
            n = e.get(key)
            if n is not None and n in seen:
                raise ScenarioError("%s: %r and %r both at APDU %d: one fault per APDU"
                                    % (w, seen[n], key, n))
            seen[n] = key

    def _check_keys(self, e, w):
        keys = e["keys"]
        if not (isinstance(keys, str) and keys and all(k in "0123456789ABCD*#" for k in keys)):
            raise ScenarioError("%s: 'keys' must be keypad keys 0-9 A-D * #" % w)
        if e.get("gap_ms") is not None and not _whole(e["gap_ms"], 1):
            raise ScenarioError("%s: 'gap_ms' must be a positive whole number" % w)

    def _check_scan(self, e, w):
        text = e["scan"]
        if not isinstance(text, str) or not text or "\r" in text or "\n" in text:
            raise ScenarioError("%s: 'scan' must be the code's text (one line, not empty)" % w)
        self._check_scan_times(e, w)

    def _check_scan_garbage(self, e, w):
        if not _whole(e["scan_garbage"], 1) or e["scan_garbage"] > 4096:
            raise ScenarioError("%s: 'scan_garbage' must be a number of bytes 1..4096" % w)
        self._check_scan_times(e, w)

    @staticmethod
    def _check_scan_times(e, w):
        for key in ("hold_ms", "scan_ms"):
            if e.get(key) is not None and not _whole(e[key], 1):
                raise ScenarioError("%s: %r must be a positive whole number" % (w, key))

    def _check_set_clock(self, e, w):
        _parse_dt(e["set_clock"], w + ": set_clock")

    def _check_emergency(self, e, w):
        if not isinstance(e["emergency"], bool):
            raise ScenarioError("%s: 'emergency' must be true or false" % w)

    def _check_link(self, e, w):
        if not isinstance(e["link"], bool):
            raise ScenarioError("%s: 'link' must be true (up) or false (down)" % w)

    def _check_power_cut(self, e, w):
        spec = e["power_cut"]
        if isinstance(spec, dict):
            check_keys(spec, POWER_CUT_KEYS, w + ".power_cut")
        if not isinstance(spec, dict) or not _whole(spec.get("after_ops", 1), 1):
            raise ScenarioError("%s: 'power_cut' needs 'after_ops' >= 1" % w)
        if spec.get("partial") is not None and not _whole(spec["partial"], 0):
            raise ScenarioError("%s: 'partial' must be a whole number of bytes" % w)
        if not isinstance(spec.get("at_boot", False), bool):
            raise ScenarioError("%s: 'at_boot' must be true or false" % w)

    def _check_noise(self, e, w):
        spec = e["noise"]
        if not isinstance(spec, dict):
            raise ScenarioError("%s: 'noise' must be an object like {\"ms\": 4}" % w)
        check_keys(spec, NOISE_KEYS, w + ".noise")
        ms = spec.get("ms")
        if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not ms > 0:
            raise ScenarioError("%s: 'noise' needs 'ms' > 0 (how long the line is noisy)" % w)
        xor = spec.get("xor", 0x5A)
        if not _whole(xor, 1) or xor > 255:
            raise ScenarioError("%s: 'xor' must be a whole number 1..255" % w)

    @classmethod
    def load(cls, path):
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except OSError as e:
            raise ScenarioError("%s: cannot read (%s)" % (path, e.strerror))
        except UnicodeDecodeError:
            raise ScenarioError("%s: not a scenario file (not UTF-8 text)" % path) from None
        except json.JSONDecodeError as e:
            raise ScenarioError("%s: not valid JSON (line %d, column %d: %s)"
                                % (path, e.lineno, e.colno, e.msg))
        scenario = cls(data, path)
        scenario.base_dir = os.path.dirname(os.path.abspath(path))
        return scenario

    def terminal_config(self, terminal=None):
        """The configuration provisioning gives this terminal (ids and its own keys)."""
        terminal = terminal or self.terminal
        keys = IssuerKeys.from_seed(self.seed.encode())
        cfg = dict(terminal.get("config", {}))
        if isinstance(cfg.get("canteen"), str):  # a rule-set file on the host
            path = os.path.normpath(os.path.join(self.base_dir, cfg["canteen"]))  # absolute stays
            try:
                with open(path, encoding="utf-8") as f:
                    cfg["canteen"] = json.load(f)
            except (OSError, ValueError) as e:
                raise ScenarioError("canteen rules %s: %s" % (cfg["canteen"], e))
        cfg.setdefault("terminal_id", "29%010d" % (self.terminals.index(terminal) + 1))
        tid = bytes.fromhex(cfg["terminal_id"])
        cfg["name"] = terminal["id"]
        cfg["role"] = terminal["role"]
        cfg["data_dir"] = "/flash"  # where the VM mounts the terminal's LittleFS
        cfg["keys"] = {
            "purchase": keys.purchase_master.hex(),
            "load": keys.load_master.hex(),
            "device": sim_device_key(self.seed, tid).hex(),
            "update": updates.device_key(self.update_master(), tid).hex(),
        }
        if terminal["role"] == "venue":
            from host_tools.lib import venue

            try:
                cfg["venue"] = venue.rules(cfg.get("venue", {}))
            except BadInput as e:
                raise ScenarioError("%s: terminal %s: %s" % (self.source, terminal["id"], e))
        if cfg.get("role") == "venue" or "qr_issuers" in cfg or "bookings" in cfg:
            cfg["keys"]["match"] = self.match_secret(terminal).hex()
            if cfg.get("qr_issuers"):
                cfg.setdefault("qr_test_keys", True)
        cfg.pop("tariff", None)
        cfg.pop("qr_issuers", None)
        cfg.pop("bookings", None)
        return cfg

    def match_secret(self, terminal):
        """The holder match-key secret a venue terminal is given: ``ykt qr issue``'s for the
        first of its ``qr_issuers`` seeds (else the scenario's issuer seed), so codes issued
        with that seed and bookings made here carry the same match keys."""
        seeds = terminal.get("config", {}).get("qr_issuers") or [self.seed]
        return hashlib.sha256(b"ykt-qr-match:" + str(seeds[0]).encode()).digest()

    def update_master(self):
        return hashlib.sha256(b"ykt-update-master|" + self.seed.encode()).digest()[:16]

    def deliveries(self, terminal):
        """Signed update files the back office has left for this terminal: (name, bytes)."""
        cfg = terminal.get("config", {})
        tid = bytes.fromhex(self.terminal_config(terminal)["terminal_id"])
        out = []
        if cfg.get("tariff"):
            src = cfg["tariff"]
            path = os.path.normpath(os.path.join(self.base_dir, src))
            payload = _cached(("tariff", path), lambda: tariff.build(path, 1))
            out.append(("tariff.upd",
                        updates.sign("tariff", 1, tid, payload, self.update_master())))
        if cfg.get("qr_issuers"):
            out.append(("trust-test.upd", updates.sign("trust-test", 1, tid,
                                                       self._anchors(cfg["qr_issuers"]),
                                                       self.update_master())))
        if cfg.get("bookings") is not None:
            from host_tools.lib import venue

            try:
                payload = venue.bookings_payload(self._bookings(cfg["bookings"]), 1,
                                                 self.match_secret(terminal))
            except BadInput as e:
                raise ScenarioError("%s: terminal %s: %s" % (self.source, terminal["id"], e))
            out.append(("bookings.upd", updates.sign("bookings", 1, tid, payload,
                                                     self.update_master())))
        if self.denied:
            entries = [(self.cards[n]["number"] if n in self.cards else n, 1)
                       for n in self.denied]
            payload = denylist.build_base(entries, 1)
            out.append(("denylist.upd", updates.sign("denylist", 1, tid, payload,
                                                     self.update_master())))
        return out


    def _bookings(self, src):
        """A terminal's ``bookings``: a bookings source (host_tools/lib/venue.py) or the
        name of a file holding one, relative to the scenario; a booking may name its holder
        by a card of the scenario (``"card"``: that card's ``holder.id_number``)."""
        if isinstance(src, str):
            path = os.path.normpath(os.path.join(self.base_dir, src))
            try:
                with open(path, encoding="utf-8") as f:
                    src = json.load(f)
            except (OSError, ValueError) as e:
                raise ScenarioError("bookings %s: %s" % (src, e))
        if isinstance(src, dict) and isinstance(src.get("bookings"), list):
            books = []
            for b in src["bookings"]:
                if isinstance(b, dict) and "card" in b:
                    c = self.cards.get(b["card"])
                    if c is None or "holder" not in c:
                        raise ScenarioError("%s: a booking names card %r, which has no holder"
                                            % (self.source, b["card"]))
                    b = dict(b, id_number=c["holder"]["id_number"])
                    del b["card"]
                books.append(b)
            src = dict(src, bookings=books)
        return src

    @staticmethod
    def _anchors(seeds):
        from host_tools.lib import qr

        # a seed's issuer key of each algorithm (RSA-2048 with e = 3 as ``ykt qr issue``
        # makes by default, and P-256: codes issued before stay valid)
        keys = [(qr.key_from_seed(str(s), alg).public_key(), 0xFFFFFFF0) for s in seeds
                for alg in ("rsa", "p256")]
        return qr.anchors_payload(keys, "test", 1)


def _card_number(n):
    """A denylist entry given as a number: 20 digits (``ykt qr deny-number`` gives the one
    of an e-card code's card id)."""
    return isinstance(n, str) and len(n) == 20 and n.isdigit()


class Run:
    """One run of a scenario: the simulated terminals, the cards and the output lines."""

    def __init__(self, scenario, source="scenario"):
        """``scenario``: a :class:`Scenario`, or a scenario dict (``source`` then names it in
        its error messages). Change the models (cards, flash, faults) before :meth:`run`."""
        if not isinstance(scenario, Scenario):
            scenario = Scenario(scenario, source)
        self.scenario = scenario
        self.terms = {}  # terminal id -> SimTerminal (all on their own virtual clocks)
        for t in scenario.terminals:
            sim = SimTerminal(t["board_data"], start=scenario.start)
            self.terms[t["id"]] = sim
            if sim.display is not None:
                sim.display.on_show = lambda lines, tid=t["id"]: self.shown(tid, lines)
            self._provision(sim, scenario.deliveries(t))
        self.sim = self.terms[scenario.terminal["id"]]
        self.apps = {}
        self.cards = {}
        for name, c in scenario.cards.items():
            keys = IssuerKeys.from_seed(str(c.get("issuer_seed", scenario.seed)).encode())
            records = {int(k): bytes.fromhex(v) for k, v in c.get("records", {}).items()}
            app = issue_card(c["number"], balance_fen=c.get("balance_fen", 0),
                             category=c.get("category", 0), issuer_keys=keys,
                             records=records or None, pin=c.get("pin"), holder=c.get("holder"))
            self.apps[name] = app
            on_card = forged(app, c["forge"]) if c.get("forge") else app
            self.cards[name] = self.sim.new_card(on_card, c["number"])
        self.lines = []
        self.end_us = 0
        self.noise = {tid: [] for tid in self.terms}  # terminal id -> [(start, end, xor)]
        self.noise_lines = {tid: [] for tid in self.terms}  # the NoisyLines wired, for tests
        self.boot_cuts = {tid: [] for tid in self.terms}  # terminal id -> [(at, spec)]
        self._schedule()
        for tid in self.terms:
            self._wire_noise(tid)

    @staticmethod
    def _provision(sim, files):
        """Format the terminal's flash and leave the update files in its inbox."""
        fs = sim.filesystem()
        fs.mkdir("/inbox")
        for name, data in files:
            with fs.open("/inbox/" + name, "wb") as f:
                f.write(data)

    def _targets(self, e):
        if e.get("terminal"):
            return [e["terminal"]]
        return list(self.terms)

    def _schedule(self):
        end = 0
        for at, _, e in self.scenario.events:
            for tid in self._targets(e):
                sim = self.terms[tid]
                clock = sim.clock
                if "tap" in e:
                    names = e["tap"] if isinstance(e["tap"], list) else [e["tap"]]
                    hold = e.get("hold_ms", DEFAULT_HOLD_MS) * 1000
                    clock.schedule(at, lambda sim=sim, names=names, e=e: self._place(sim, names, e))
                    clock.schedule(at + hold, lambda sim=sim, names=names: self._remove(sim, names))
                    end = max(end, at + hold)
                elif "keys" in e:
                    gap = e.get("gap_ms", 250)
                    clock.schedule(at, lambda sim=sim, k=e["keys"], gap=gap:
                                   sim.keypad.type(k, gap))
                    end = max(end, at + len(e["keys"]) * gap * 1000)
                elif "emergency" in e:
                    clock.schedule(at, lambda sim=sim, on=e["emergency"]: sim.gate and
                                   sim.gate.set_emergency(on))
                    end = max(end, at)
                elif "set_clock" in e:
                    when = datetime.datetime.fromisoformat(e["set_clock"])
                    clock.schedule(at, lambda sim=sim, when=when: self._set_clock(sim, when))
                    end = max(end, at)
                elif "link" in e:
                    clock.schedule(at, lambda sim=sim, up=e["link"]: setattr(sim.wiring, "link",
                                                                             up))
                    end = max(end, at)
                elif "scan" in e or "scan_garbage" in e:
                    end = max(end, self._schedule_scan(sim, tid, at, e))
                elif "noise" in e:
                    spec = e["noise"]
                    until = at + int(spec["ms"] * 1000)
                    self.noise[tid].append((at, until, spec.get("xor", 0x5A)))
                    end = max(end, until)
                elif e["power_cut"].get("at_boot"):
                    self.boot_cuts[tid].append((at, e["power_cut"]))
                    end = max(end, at)
                else:
                    spec = e["power_cut"]
                    clock.schedule(at, lambda sim=sim, spec=spec: sim.flash.cut_at(
                        spec.get("after_ops", 1), spec.get("partial")))
                    end = max(end, at)
        self.end_us = end + SETTLE_MS * 1000

    def _schedule_scan(self, sim, tid, at, e):
        """A code (or a misread) shown to the terminal's QR scanner -> when it is taken away."""
        if sim.scanner is None:
            raise ScenarioError("%s: terminal %s has no QR scanner (board key 'qr')"
                                % (self.scenario.source, tid))
        hold = e.get("hold_ms", DEFAULT_HOLD_MS)

        def show():
            if sim.gate is not None:  # the visitor walks through if the barrier opens
                sim.gate.waiting = 1
            if "scan" in e:
                sim.scanner.present(e["scan"], hold, e.get("scan_ms"))
            else:
                sim.scanner.present_garbage(e["scan_garbage"], hold, e.get("scan_ms"))

        sim.clock.schedule(at, show)
        return at + hold * 1000

    def _wire_noise(self, tid):
        """Noise windows on the reader's line (again after a power cut: the board
        is wired afresh; a window that has passed does nothing)."""
        sim = self.terms[tid]
        for start, until, xor in self.noise[tid]:
            if until > sim.clock.now_us():
                self.noise_lines[tid].append(noise_on_reader(sim, start, until, xor))

    def _arm_boot_cut(self, tid):
        """A power cut with ``at_boot`` is armed as the terminal powers up: at its first
        boot when ``at`` is the start, else at the first boot after ``at`` (after a cut)."""
        sim = self.terms[tid]
        due = [x for x in self.boot_cuts[tid] if x[0] <= sim.clock.now_us()]
        if due:
            self.boot_cuts[tid].remove(due[0])
            spec = due[0][1]
            sim.flash.cut_at(spec.get("after_ops", 1), spec.get("partial"))

    def _place(self, sim, names, e):
        for n in names:
            card = self.cards[n]
            if card.field is not None:
                card.field.remove(card)  # a card is in one place at a time
            card.tear_at_apdu = e.get("tear_at_apdu")
            card.remove_after_apdu = e.get("remove_after_apdu")
            card.garble_at_apdu = e.get("garble_at_apdu")
            card.drop_at_apdu = e.get("drop_at_apdu")
            card.delay_at_apdu = e.get("delay_at_apdu")
            card.delay_us = e.get("delay_ms", 0) * 1000
            sim.field.place(card)
        if sim.gate is not None:  # the passenger walks through if the barrier opens
            sim.gate.waiting = 0 if e.get("walk") is False else 1

    def _remove(self, sim, names):
        for n in names:
            if self.cards[n] in sim.field.cards:
                sim.field.remove(self.cards[n])

    def _set_clock(self, sim, when):
        now_s = sim.clock.now_us() // 1000000
        sim.wiring.rtc_base_s = int((when - datetime.datetime(2000, 1, 1)).total_seconds()) - now_s

    def shown(self, term_id, lines):
        """What the passenger-facing display shows now, as an output line."""
        out = {"t": self.terms[term_id].wall_time().isoformat(timespec="milliseconds"),
               "terminal": term_id, "event": "display", "text": " | ".join(lines).rstrip(" |")}
        self.lines.append(json.dumps(out, ensure_ascii=False))

    def console(self, term_id, text):
        """A line a terminal printed: outcomes become stamped JSON Lines."""
        text = text.strip()
        if not text:
            return
        try:
            fields = json.loads(text)
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            fields = {"event": "console", "text": text}
        out = {"t": self.terms[term_id].wall_time().isoformat(timespec="milliseconds"),
               "terminal": term_id}
        out.update(fields)
        self.lines.append(json.dumps(out, ensure_ascii=False))

    def finish(self):
        from hw_sim.runtime import firmware_on_path

        firmware_on_path()
        from ykt.report import mask  # masked as the terminals mask it

        for name, c in self.scenario.cards.items():
            app = self.apps[name]
            self.lines.append(json.dumps({"event": "card", "name": name, "card": mask(c["number"]),
                                          "balance": app.balance,
                                          "subsidy": subsidy_fen(app.record(CANTEEN_RECORD)),
                                          "atc": app.offline_atc}))
        return self.lines

    def _process(self, t, runtime, mpy_dir=None, heap=None):
        term_id = t["id"]
        sim = self.terms[term_id]
        cfg = self.scenario.terminal_config(t)
        if runtime == "micropython":
            from hw_sim.vm_bridge import DEFAULT_HEAP, VmProcess

            heap = t.get("vm_heap") or heap or DEFAULT_HEAP
            proc = VmProcess(sim, {"board": t["board_data"], "config": cfg}, mpy_dir,
                             lambda line: self.console(term_id, line), heap)
            self.vm_stats = proc.stats  # filled in when the VM exits
            return proc
        from ykt import main as fw_main

        return ThreadProcess(sim, lambda: fw_main.run(t["board_data"], cfg, sim.filesystem()))

    def _pass_on(self):
        """Hand the lines output since the last call to ``on_line`` (between scheduler steps,
        in the calling thread: never from inside a terminal's firmware)."""
        while self._passed < len(self.lines):
            line = self.lines[self._passed]
            self._passed += 1
            if self._on_line is not None:
                self._on_line(line)

    def progress(self):
        """How far the run is, 0.0 to 1.0 of its virtual time (for a progress display;
        safe to call from another thread)."""
        if not self.end_us:
            return 1.0
        now = min(sim.clock.now_us() for sim in self.terms.values())
        return max(0.0, min(1.0, now / self.end_us))

    def _run(self, runtime, mpy_dir=None, heap=None):
        self._runtime, self._mpy_dir, self._heap = runtime, mpy_dir, heap
        self.power_cuts = []
        # lines go to on_line between steps; with nobody to hand them to, no step is due
        sched = Scheduler(self.end_us, on_exit=self._exited, on_step=self._step,
                          step_due=lambda: (self._on_step is not None
                                            or (self._on_line is not None
                                                and self._passed < len(self.lines))))
        self._sched = sched
        sinks = {id(sim): _LineSink(lambda line, tid=tid: self.console(tid, line))
                 for tid, sim in self.terms.items()}
        out = _Router(sched, sinks)
        try:
            with contextlib.redirect_stdout(out):
                for order, t in enumerate(self.scenario.terminals):
                    self._arm_boot_cut(t["id"])
                    sched.add(order, self._process(t, runtime, mpy_dir, heap))
                    if self._on_step is not None:  # between two boots is between steps too
                        self._on_step()
                sched.run()
        except BaseException:  # on_line's reader went away, Ctrl-C: stop every terminal
            for proc in list(sched.slots.values()):
                with contextlib.suppress(Exception):
                    sched._enter(proc, proc.stop)
            raise
        for sink in sinks.values():
            sink.flush()
        if self.errors:
            raise ScenarioError(self.errors[0])
        self.finish()
        self._pass_on()
        return self.lines

    errors = ()
    vm_stats = {}
    _on_line = None
    _on_step = None
    _passed = 0
    _sched = None

    def _step(self):
        self._pass_on()
        if self._on_step is not None:
            self._on_step()

    def next_us(self):
        """While the run goes on (from ``on_step``): the virtual time (us since the start) of
        the next step, or None."""
        return None if self._sched is None else self._sched.next_wake_us()

    def extend(self, until_us):
        """Run at least until ``until_us`` (virtual us since the start): an event that was not
        in the file (a key pressed on ``ykt sim view``'s page) gets the run's settling time
        as a scheduled one does. Call it from ``on_step``."""
        if until_us > self.end_us:
            self.end_us = until_us
            if self._sched is not None:
                self._sched.end_us = until_us

    def _exited(self, order, proc):
        """A terminal stopped on its own: a power cut boots it again from its
        flash after ``BOOT_MS``; anything else is reported."""
        t = self.scenario.terminals[order]
        if proc.exited == POWER_CUT:
            sim = self.terms[t["id"]]
            self.power_cuts.append((t["id"], sim.clock.now_us()))
            sim.power_cycle()
            sim.clock.advance(BOOT_MS * 1000)
            self._wire_noise(t["id"])
            self._arm_boot_cut(t["id"])
            return self._process(t, self._runtime, self._mpy_dir, self._heap)
        if proc.error:
            self.errors = list(self.errors) + ["terminal %s stopped: %s" % (t["id"], proc.error)]
        return None

    def run(self, runtime="cpython", heap=None, on_line=None, on_step=None):
        """Run the scenario to its end on ``runtime``; returns this Run (its output lines
        are ``lines``). ``on_line(line)``, if given, gets each line as soon as it is output
        (in this thread, between the terminals' steps), the ``card`` lines last.

        ``"cpython"``: the firmware's modules in this process, on the simulator's stand-ins.
        ``"micropython"``: the firmware compiled by mpy-cross (built here when out of date)
        on the MicroPython unix VM, each terminal's heap its ``vm_heap``, else ``heap``,
        else the heap its board file gives (``vm_bridge.board_heap``, docs/boards.md
        "Memory"). ScenarioError if a terminal stopped.

        ``on_step()``, if given, is called between every two steps (every firmware sleep
        comes back to the scheduler), in this thread while no terminal runs: the models
        may be read and changed there (``ykt sim view`` paces, draws and presses keys so);
        the lines and their bytes are the same with it or without."""
        self._on_line, self._passed = on_line, len(self.lines)
        self._on_step = on_step
        if runtime == "micropython":
            from hw_sim.vm_bridge import vm_path

            self._run("micropython", vm_path(), heap)
            return self
        if runtime != "cpython":
            raise ScenarioError("unknown runtime %r (cpython or micropython)" % (runtime,))
        from hw_sim.runtime import install

        install()
        self._run("cpython")
        return self


class _Router(io.TextIOBase):
    """stdout while terminals run: each line goes to the terminal running now."""

    def __init__(self, sched, sinks):
        self._sched = sched
        self._sinks = sinks

    def write(self, s):
        proc = self._sched.current
        if proc is not None:
            self._sinks[id(proc.terminal)].write(s)
        return len(s)


class _LineSink(io.TextIOBase):
    def __init__(self, fn):
        self._fn = fn
        self._buf = ""

    def write(self, s):
        self._buf += s
        while "\n" in self._buf:
            line, self._buf = self._buf.split("\n", 1)
            self._fn(line)
        return len(s)

    def flush(self):
        if self._buf:
            self._fn(self._buf)
            self._buf = ""
