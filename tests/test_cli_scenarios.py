"""`ykt sim run` on bad input: one clear line, non-zero exit, never a traceback."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GOOD = {
    "start": "2026-11-29T07:00:00",
    "terminals": [{"id": "T1", "role": "fixed_fare", "board": "devkitc-turnstile",
                   "config": {"fare_fen": 300}}],
    "cards": [{"name": "a", "number": "31012300000000000001", "balance_fen": 1000}],
    "events": [{"at": 1, "tap": "a"}],
}


def _ykt_run(tmp_path, content):
    path = tmp_path / "s.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return subprocess.run([sys.executable, "-m", "host_tools.cli", "sim", "run", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def _bad(**changes):
    data = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        data[key] = value
    return data


@pytest.mark.parametrize("content, words", [
    ("{not json", "not valid JSON (line 1"),
    ([], "top level must be a JSON object"),
    (_bad(terminals=[]), "give a list of at least one terminal"),
    (_bad(terminals=GOOD["terminals"] * 2), "terminal id 'T1' used twice"),
    (_bad(terminals=[{"id": "T1", "role": "fixed_fare", "board": "nope"}]), "unknown board 'nope'"),
    (_bad(cards=[{"name": "a", "number": "12", "balance_fen": 1}]),
     "'number' must be a string of 20 digits"),
    (_bad(cards=[{"name": "a", "number": "31012300000000000001", "balance_fen": 1.5}]),
     "'balance_fen' must be a whole number"),
    (_bad(cards=[{"name": "a", "number": "31012300000000000001", "pin": 1234}]),
     "cards[0]: 'pin' must be a string of 2 to 12 digits"),
    (_bad(events=[{"at": 1, "tap": "zed"}]), "events[0]: unknown card 'zed'"),
    (_bad(events=[{"at": "25:00", "tap": "a"}]), "is not HH:MM:SS"),
    (_bad(events=[{"at": 1, "tap": "a", "tear_at_apdu": 0}]), "'tear_at_apdu' must be a positive"),
    (_bad(events=[{"at": 1, "jump": "a"}]), "needs 'tap', 'keys', 'set_clock', 'emergency'"),
    (_bad(start="yesterday"), "start: 'yesterday' is not a date-time"),
    (_bad(terminals=[{"id": "T1", "role": "fixed_fare", "board": "devkitc-turnstile"}]),
     "config: 'fare_fen' must be a whole number"),
    (_bad(terminals=[{"id": "T1", "role": "espresso", "board": "devkitc-turnstile"}]),
     "unknown role 'espresso'"),
])
def test_malformed_scenario_gets_one_clear_line(tmp_path, content, words):
    r = _ykt_run(tmp_path, content)
    assert r.returncode == 2
    if "stopped: " in r.stderr:  # a terminal stopped in the run: what it said first streamed out
        assert all(json.loads(x)["terminal"] == "T1" for x in r.stdout.splitlines())
    else:  # the file itself was refused: nothing ran
        assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ykt: error: ")
    assert words in lines[0]


def test_missing_scenario_file_gets_one_clear_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "host_tools.cli", "sim", "run",
                        str(tmp_path / "absent.json")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2
    assert "cannot read (No such file or directory)" in r.stderr
    assert "Traceback" not in r.stderr


def test_good_scenario_prints_json_lines(tmp_path):
    r = _ykt_run(tmp_path, GOOD)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["event"] for x in lines if x["event"] == "debit"] == ["debit"]
    assert lines[-1] == {"event": "card", "name": "a", "card": "****************0001",
                         "balance": 700, "subsidy": 0, "atc": 1}
