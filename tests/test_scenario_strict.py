"""Scenario files are validated strictly: an unknown key or event kind is refused with its path
in the file and a close known key; every accepted key is documented with an example in
docs/scenarios.md; every scenario shipped under scenarios/ loads."""

import copy
import glob
import os
import re

import pytest

from hw_sim.scenario import Scenario, ScenarioError, accepted_keys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOOD = {
    "terminals": [{"id": "T1", "role": "fixed_fare", "board": "devkitc-turnstile",
                   "config": {"fare_fen": 300}}],
    "cards": [{"name": "a", "number": "31012300000000000001", "balance_fen": 1000}],
    "events": [{"at": 1, "tap": "a"}],
}


def _refusal(change):
    data = copy.deepcopy(GOOD)
    change(data)
    with pytest.raises(ScenarioError) as e:
        Scenario(data, "s.json")
    return str(e.value)


@pytest.mark.parametrize("change, message", [
    (lambda d: d["events"].append({"at": 2, "tap": "a", "hold": 3}),
     "s.json: events[1].hold: unknown key; did you mean hold_ms?"),
    (lambda d: d["events"].append({"at": 2, "tap": "a", "gap_ms": 3}),
     "s.json: events[1].gap_ms: not a key here; it belongs to a 'keys' event"),
    (lambda d: d["events"].append({"at": 2, "tapp": "a"}),
     "s.json: events[1].tapp: unknown event kind; did you mean tap?"),
    (lambda d: d["events"].append({"at": 2, "jump": "a"}),
     "s.json: events[1].jump: unknown event kind; an event needs 'tap', 'keys', "),
    (lambda d: d["events"].append({"at": 2, "power_cut": {"after_op": 2}}),
     "s.json: events[1].power_cut.after_op: unknown key; did you mean after_ops?"),
    (lambda d: d["events"].append({"at": 2, "noise": {"ms": 2, "xr": 3}}),
     "s.json: events[1].noise.xr: unknown key; did you mean xor?"),
    (lambda d: d.update(denylst=[]), "s.json: denylst: unknown key; did you mean denylist?"),
    (lambda d: d["cards"][0].update(balance=3),
     "s.json: cards[0].balance: unknown key; did you mean balance_fen?"),
    (lambda d: d["terminals"][0].update(heap="176K"),
     "s.json: terminals[0].heap: unknown key; did you mean vm_heap?"),
    (lambda d: d["terminals"][0].update(colour="red"),
     "s.json: terminals[0].colour: unknown key; known keys: id, role, board, config, vm_heap"),
])
def test_an_unknown_key_is_refused_with_its_path(change, message):
    assert _refusal(change).startswith(message)


def _doc():
    with open(os.path.join(ROOT, "docs", "scenarios.md"), encoding="utf-8") as f:
        return f.read()


KEYS = [(place, key) for place, keys in accepted_keys().items() for key in keys]


@pytest.mark.parametrize("place, key", KEYS, ids=["%s %s" % k for k in KEYS])
def test_every_accepted_key_is_documented_with_an_example(place, key):
    doc = _doc()
    examples = "\n".join(re.findall(r"```json\n(.*?)```", doc, re.S))
    assert '"%s":' % key in examples, "%s %s: no example in docs/scenarios.md" % (place, key)
    prose = re.sub(r"```.*?```", "", doc, flags=re.S)
    assert re.search(r"`[^`\n]*\b%s\b[^`\n]*`" % re.escape(key), prose), \
        "%s %s: not described in docs/scenarios.md" % (place, key)


def test_every_event_kind_has_its_own_section():
    doc = _doc()
    for kind in ("tap", "keys", "set_clock", "emergency", "power_cut", "noise"):
        assert "### `%s`" % kind in doc


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "scenarios", "*.json"))
                                  + [os.path.join(ROOT, "bench", "pos-shift.json")]))
def test_every_shipped_scenario_loads(path):
    Scenario.load(path)
