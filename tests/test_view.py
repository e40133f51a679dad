"""ykt sim view without a browser: the library's feeds, pacing and replay checks, the
server's requests, the command line (tests/test_view_browser.py drives the page)."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from host_tools.lib.errors import BadInput
from hw_sim.scenario import Run, Scenario
from hw_sim.view import replay
from hw_sim.view.feed import LiveFeed, ReplayFeed
from hw_sim.view.server import ViewServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
YKT = os.path.join(os.path.dirname(sys.executable), "ykt")

REFUSAL = {
    "name": "a refused tap", "start": "2026-11-29T08:00:00",
    "terminals": [{"id": "BUS", "role": "validator", "board": "bus-validator",
                   "vm_heap": "176K",
                   "config": {"mode": "bus", "route": "926",
                              "tariff": "../tariffs/shanghai-2017.json",
                              "terminal_id": "290020092601"}}],
    "cards": [{"name": "poor", "number": "31010000000000005678", "balance_fen": 50}],
    "events": [{"at": 1, "tap": "poor"}]}


TARIFF = "../tariffs/shanghai-2017.json"
GATES = {"name": "Xujiahui in, People's Square out", "start": "2026-11-29T08:00:00",
         "terminals": [
             {"id": "XJH-IN-1", "role": "entry_gate", "board": "devkitc-turnstile",
              "vm_heap": "176K",
              "config": {"station": 2025, "tariff": TARIFF, "terminal_id": "290010202501"}},
             {"id": "PSQ-OUT-1", "role": "exit_gate", "board": "devkitc-turnstile",
              "vm_heap": "176K",
              "config": {"station": 2035, "tariff": TARIFF, "terminal_id": "290010203501"}}],
         "cards": [{"name": "commuter", "number": "31010000000000001234", "balance_fen": 3000},
                   {"name": "student", "number": "31010000000000004321", "balance_fen": 2000,
                    "category": 2}],
         "events": [{"at": 1, "terminal": "XJH-IN-1", "tap": "commuter"},
                    {"at": 1.5, "terminal": "PSQ-OUT-1", "tap": "student"},
                    {"at": 5, "terminal": "PSQ-OUT-1", "tap": "commuter"}]}


def scenario(data):
    s = Scenario(data, "test.json")
    s.base_dir = os.path.join(ROOT, "scenarios")
    return s


def finished(feed):
    feed.start()
    feed.join(120)
    assert feed.done
    return feed


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_a_run_watched_prints_the_same_lines_as_a_run_alone(runtime):
    alone = Run(scenario(GATES)).run(runtime).lines
    watched = finished(LiveFeed(scenario(GATES), runtime, speed="max"))
    assert watched.error is None
    assert watched.run.lines == alone


def step_until(feed, pred, steps=80):
    """Press step (run to the next output line, pause) until ``pred(state)`` holds; the
    state of every step, in order."""
    seen = []
    for _ in range(steps):
        done = feed.pacer.steps
        feed.control({"step": True})
        while True:  # until the state published says the step has ended (or the run has)
            state = feed.hub.state()
            if state["status"]["steps"] > done or state["status"]["done"]:
                break
            feed.hub.changes(state["version"], 1.0)
        seen.append(state)
        if pred(state) or state["status"]["done"]:
            break
    return seen


def test_a_refused_tap_is_on_the_pole_display_when_its_step_ends():
    feed = LiveFeed(scenario(REFUSAL), speed="max", paused=True)
    feed.start()
    try:
        seen = step_until(feed, lambda s: s["terms"]["BUS"]["display"][0] == "REFUSED")
        assert seen[-1]["terms"]["BUS"]["display"] == ["REFUSED", "insufficient balance"]
        assert seen[-1]["terms"]["BUS"]["reader"] == ["poor"]
        assert seen[-2]["terms"]["BUS"]["display"] != seen[-1]["terms"]["BUS"]["display"]
    finally:
        feed.close()


def wait_until(feed, pred):
    """The published state once ``pred(state)`` holds (None if the run ended first)."""
    while True:
        state = feed.hub.state()
        if pred(state):
            return state
        if state["status"]["done"]:
            return None
        feed.hub.changes(state["version"], 1.0)


def pos_day():
    data = json.load(open(os.path.join(ROOT, "scenarios", "demo-canteen-pos.json")))
    data["events"] = [{"at": "06:58:01", "tap": "cashier-wang"}]
    return data


def test_the_page_s_key_reaches_the_keypad_the_firmware_scans():
    feed = LiveFeed(scenario(pos_day()), speed="1")
    feed.start()
    try:
        assert wait_until(feed, lambda s: "PIN WANG" in "".join(
            s["terms"]["CANTEEN-POS"].get("lcd", {}).get("lines", [])))
        for key in "1357#":
            feed.press("CANTEEN-POS", key)
        feed.control({"speed": "max"})
        feed.join(60)
    finally:
        feed.close()
    signin = [json.loads(x) for x in feed.run.lines if '"signin"' in x]
    assert signin and signin[0]["name"] == "WANG"


def test_a_key_that_is_not_on_the_keypad_is_refused_with_its_name():
    data = json.load(open(os.path.join(ROOT, "scenarios", "demo-canteen-pos.json")))
    feed = LiveFeed(scenario(data), speed="max", paused=True)
    with pytest.raises(BadInput, match="no key 'x' on CANTEEN-POS's keypad"):
        feed.press("CANTEEN-POS", "x")
    with pytest.raises(BadInput, match="no terminal 'T9'"):
        feed.press("T9", "1")


def test_a_gate_without_a_keypad_refuses_a_key():
    feed = LiveFeed(Scenario.load(os.path.join(ROOT, "scenarios", "demo-station.json")))
    with pytest.raises(BadInput, match="XJH-IN-1 has no keypad"):
        feed.press("XJH-IN-1", "1")


def test_a_metro_run_draws_its_stations_and_the_journey_along_the_network():
    feed = finished(LiveFeed(scenario(GATES), speed="max"))
    status = feed.hub.state()["status"]
    assert status["stations"] == {"2025": ["XJH-IN-1"], "2035": ["PSQ-OUT-1"]}
    entered, unseen = status["trips"]  # in the order they began
    assert (entered["card"][-4:], entered["from"], entered["to"]) == ("1234", 2025, 2035)
    assert entered["path"][0] == 2025 and entered["path"][-1] == 2035
    assert len(entered["path"]) > 2  # along the lines, station by station
    assert (unseen["card"][-4:], unseen["from"], unseen["to"]) == ("4321", None, 2035)
    assert json.loads(feed.hub.meta)["map"]["stations"]


def test_the_journal_shown_is_the_terminal_s_records_with_card_numbers_masked():
    feed = finished(LiveFeed(scenario(REFUSAL), speed="max"))
    journal = feed.hub.state()["terms"]["BUS"]["journal"]
    assert [r["kind"] for r in journal][:2] == ["boot", "update-installed"]
    assert all(r["card"].startswith("****") for r in journal)


@pytest.mark.parametrize("text,message", [
    ('{"t": "2026-11-29T08:00:00.000", "terminal": "A", "event": "boot"}\n{"t": 1,\n',
     "out.jsonl: line 2: not JSON"),
    ('[1, 2]\n', "out.jsonl: line 1: not an output line of a run"),
    ('{"event": "entry", "terminal": "A"}\n', "out.jsonl: line 1: a 'entry' line needs \"t\""),
    ('\n\n', "out.jsonl: no lines to replay"),
    ('{"event": "card", "name": "a"}\n', "out.jsonl: no lines to replay"),
])
def test_a_malformed_recording_is_one_message_naming_the_line(text, message):
    with pytest.raises(BadInput) as e:
        replay.parse(text, "out.jsonl")
    assert str(e.value).startswith(message)
    assert "\n" not in str(e.value)


def test_a_replay_shows_the_recorded_display_and_outcomes(tmp_path):
    rec = tmp_path / "out.jsonl"
    rec.write_text("\n".join(Run(scenario(REFUSAL)).run().lines) + "\n")
    feed = finished(ReplayFeed(replay.load(str(rec)), "out.jsonl", speed="max"))
    bus = feed.hub.state()["terms"]["BUS"]
    assert bus["outcome"]["reason"] == "insufficient balance"
    assert bus["display"] == ["ROUTE 926", "TAP CARD"]
    assert feed.hub.state()["status"]["cards"][0]["balance"] == 50


def _get(url, data=None):
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_an_uploaded_recording_that_is_malformed_is_one_message_for_the_page():
    feed = LiveFeed(scenario(REFUSAL), speed="max", paused=True)
    server = ViewServer(feed)
    server.start()
    try:
        code, out = _get(server.url + "replay?name=bad.jsonl", b'{"event": "boot"}\nnot json\n')
        assert code == 400
        assert out == {"error": "bad.jsonl: line 1: a 'boot' line needs \"t\" (a time like "
                                "2026-11-29T08:00:05.069) and \"terminal\""}
    finally:
        server.close()


def test_a_page_that_goes_away_stops_nothing_in_the_run():
    feed = LiveFeed(scenario(REFUSAL), speed="max", paused=True)
    server = ViewServer(feed)
    server.start()
    feed.start()
    try:
        events = urllib.request.urlopen(server.url + "events", timeout=30)
        assert events.readline() == b"event: meta\n"
        events.close()  # the page is closed
        assert _get(server.url + "control", b'{"pause": false}')[0] == 200
        feed.join(60)
        assert feed.done and feed.error is None
        assert any('"refused"' in line for line in feed.run.lines)
    finally:
        server.close()


def test_the_command_refuses_a_malformed_replay_in_one_line(tmp_path):
    bad = tmp_path / "out.jsonl"
    bad.write_text('{"t": "2026-11-29T08:00:00", "terminal": "A", "event": "boot"}\n{oops\n')
    r = subprocess.run([YKT, "sim", "view", "--replay", str(bad), "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith("ykt: error: %s: line 2: not JSON" % bad)
    assert len(r.stderr.splitlines()) == 1


def test_the_command_wants_a_scenario_or_a_replay():
    r = subprocess.run([YKT, "sim", "view"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr == ("ykt: error: give a scenario file or --replay FILE.jsonl "
                        "(one of them; or only --console PORT)\n")


def test_the_command_prints_where_the_page_is_served(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(dict(REFUSAL, terminals=[dict(
        REFUSAL["terminals"][0], config=dict(REFUSAL["terminals"][0]["config"],
                                             tariff=os.path.join(ROOT, "tariffs",
                                                                 "shanghai-2017.json")))])))
    proc = subprocess.Popen([YKT, "sim", "view", str(path), "--listen", "127.0.0.1:0",
                             "--speed", "max", "--max-seconds", "30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        url = first.split(": ", 1)[1].split(" ")[0]
        with urllib.request.urlopen(url, timeout=30) as r:
            assert b"<title>ykt sim view</title>" in r.read()
        code, state = _get(url + "state")
        assert code == 200 and list(state["terms"]) == ["BUS"]
    finally:
        proc.terminate()
        proc.wait(30)
    assert first.startswith("a refused tap: http://127.0.0.1:")



def test_a_board_s_console_is_in_the_page_s_state_line_by_line():
    import socket

    board = socket.socket()
    board.bind(("127.0.0.1", 0))
    board.listen(1)
    url = "socket://127.0.0.1:%d" % board.getsockname()[1]
    proc = subprocess.Popen([YKT, "sim", "view", "--console", url, "--listen", "127.0.0.1:0",
                             "--max-seconds", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        page = proc.stdout.readline().split(": ", 1)[1].split(" ")[0]
        conn, _ = board.accept()
        conn.sendall(b"MicroPython v1.29.0 on 2026-01-01; ESP32\r\n{\"event\": \"boot\"}\r\npart")
        conn.close()  # the board goes away
        for _ in range(100):
            code, state = _get(page + "state")
            if state.get("console", {}).get("error"):
                break
            time.sleep(0.1)
        assert state["console"]["lines"] == ["MicroPython v1.29.0 on 2026-01-01; ESP32",
                                             '{"event": "boot"}']
        assert state["console"]["error"] == ("%s: the board closed the connection" % url)
    finally:
        proc.terminate()
        proc.wait(30)
        board.close()


def test_a_step_ends_when_a_gate_s_arm_moves():
    feed = LiveFeed(scenario(GATES), speed="max", paused=True)
    feed.start()
    try:
        seen = step_until(feed, lambda s: s["terms"]["XJH-IN-1"]["gate"]["arm"] == "open")
        assert seen[-1]["terms"]["XJH-IN-1"]["gate"]["arm"] == "open"
        assert seen[-1]["terms"]["XJH-IN-1"]["display"] == ["WELCOME", "BAL 30.00"]
        closed = step_until(feed, lambda s: s["terms"]["XJH-IN-1"]["gate"]["arm"] == "closed")
        assert closed[-1]["terms"]["XJH-IN-1"]["gate"]["passages"] == 1
        assert not closed[-1]["status"]["done"]
    finally:
        feed.close()
