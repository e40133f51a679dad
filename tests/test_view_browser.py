"""ykt sim view in a real browser: headless Chromium (the Debian package, /usr/bin/chromium)
driven by Playwright. Each test looks at the page as a person does: the pole display's text,
the gate's arm, the receipt, the LCD after keys clicked on the page's keypad.

Screenshots of each kind of terminal are left in build/screenshots/ (printed). Without
chromium or Playwright these tests are skipped with one line saying which is missing, and
fail instead under ``YKT_REQUIRE_SERVERS=1`` (CI installs chromium: .ci/run).
"""

import contextlib
import json
import os
import re
import sys

import pytest

from hw_sim.scenario import Scenario
from hw_sim.view.feed import LiveFeed
from hw_sim.view.server import ViewServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = os.path.join(ROOT, "build", "screenshots")
WAIT_MS = 60000
TARIFF = "../tariffs/shanghai-2017.json"


def _missing():
    if not os.access(CHROMIUM, os.X_OK):
        return "chromium is missing (%s; apt-get install chromium)" % CHROMIUM
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is missing (pip install -e '.[dev]')"
    return None


def require_browser():
    """Chromium and Playwright, or the test fails under YKT_REQUIRE_SERVERS=1 (CI), else is
    skipped: one line naming what is missing."""
    missing = _missing()
    if missing:
        if os.environ.get("YKT_REQUIRE_SERVERS") == "1":
            pytest.fail("%s and YKT_REQUIRE_SERVERS=1 requires it" % missing, pytrace=False)
        pytest.skip(missing)


def test_without_chromium_the_browser_tests_say_so_and_fail_where_it_is_required(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("YKT_REQUIRE_SERVERS", "1")
    with pytest.raises(pytest.fail.Exception, match=r"^chromium is missing \(/nonexistent/"
                       r"chromium; apt-get install chromium\) and YKT_REQUIRE_SERVERS=1"):
        require_browser()
    monkeypatch.delenv("YKT_REQUIRE_SERVERS")
    with pytest.raises(pytest.skip.Exception, match="^chromium is missing"):
        require_browser()


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def scenario(data):
    s = Scenario(data, "test.json")
    s.base_dir = os.path.join(ROOT, "scenarios")
    return s


@contextlib.contextmanager
def shown(browser, feed, width=1280):
    """The page of ``feed``, served and loaded; no script error on it."""
    server = ViewServer(feed)
    server.start()
    feed.start()
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(WAIT_MS)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(server.url)
        page.wait_for_selector("body[data-ready='1']")
        yield page
    finally:
        page.close()
        server.close()
    assert errors == []


def screenshot(page, name):
    os.makedirs(SHOTS, exist_ok=True)
    path = os.path.join(SHOTS, name)
    page.screenshot(path=path, full_page=True)
    print("screenshot: %s" % path)


def terminal(page, tid):
    return page.locator("[data-terminal='%s']" % tid)


def step_until(page, done, steps=60):
    """Click step (run to the next output line, then pause) until ``done()``."""
    for _ in range(steps):
        if done():
            return True
        n = int(page.evaluate("document.body.dataset.steps || 0"))
        page.click("#step")
        page.wait_for_function("+document.body.dataset.steps > %d "
                               "|| document.body.dataset.state === 'done'" % n)
    return done()


BUS = {"name": "bus 926", "start": "2026-11-29T08:00:00",
       "terminals": [{"id": "BUS-926", "role": "validator", "board": "bus-validator",
                      "config": {"mode": "bus", "route": "926", "tariff": TARIFF,
                                 "terminal_id": "290020092601"}}],
       "cards": [{"name": "commuter", "number": "31010000000000001234", "balance_fen": 3000},
                 {"name": "retiree", "number": "31010000000000005678", "balance_fen": 150,
                  "category": 1}],
       "events": [{"at": 1, "tap": "commuter"}, {"at": 4, "tap": "retiree"}]}


def test_a_refused_tap_is_what_the_pole_display_says(browser):
    with shown(browser, LiveFeed(scenario(BUS), speed="max", paused=True)) as page:
        display = terminal(page, "BUS-926").locator("[data-part='display']")
        assert step_until(page, lambda: display.get_attribute("data-text")
                          .startswith("REFUSED"))
        assert display.inner_text().splitlines() == ["REFUSED             ",
                                                     "insufficient balance"]
        assert "retiree" in terminal(page, "BUS-926").locator(".reader").inner_text()
        screenshot(page, "validator.png")


GATES = {"name": "Xujiahui in, People's Square out", "start": "2026-11-29T08:00:00",
         "terminals": [
             {"id": "XJH-IN-1", "role": "entry_gate", "board": "devkitc-turnstile",
              "config": {"station": 2025, "tariff": TARIFF, "terminal_id": "290010202501"}},
             {"id": "PSQ-OUT-1", "role": "exit_gate", "board": "devkitc-turnstile",
              "config": {"station": 2035, "tariff": TARIFF, "terminal_id": "290010203501"}}],
         "cards": [{"name": "commuter", "number": "31010000000000001234", "balance_fen": 3000}],
         "events": [{"at": 0.5, "terminal": "XJH-IN-1", "tap": "commuter"},
                    {"at": 5, "terminal": "PSQ-OUT-1", "tap": "commuter"}]}


def test_a_paid_entry_opens_the_arm_and_the_journey_is_on_the_map(browser):
    from playwright.sync_api import expect

    with shown(browser, LiveFeed(scenario(GATES), speed="max", paused=True)) as page:
        gate = terminal(page, "XJH-IN-1").locator(".gate")
        assert step_until(page, lambda: gate.get_attribute("data-arm") == "open")
        assert terminal(page, "XJH-IN-1").locator("[data-part='display']") \
            .get_attribute("data-text") == "WELCOME\nBAL 30.00"
        expect(terminal(page, "PSQ-OUT-1").locator(".gate")).to_have_attribute(
            "data-arm", "closed")
        screenshot(page, "gate.png")
        page.click("#pause")  # resume, as fast as it goes
        expect(page.locator("#trips li")).to_have_text(
            re.compile(r"1234: Xujiahui → People's Square \(\d+ stops\)"), timeout=WAIT_MS)
        assert page.locator("circle.ours").count() == 2
        assert page.locator("polyline.trip").count() == 1


def pos_day(events):
    data = json.load(open(os.path.join(ROOT, "scenarios", "demo-canteen-pos.json")))
    return dict(data, events=events)


def test_a_sale_s_receipt_is_printed_on_the_page(browser):
    day = pos_day([{"at": "06:58:01", "tap": "cashier-wang"},
                   {"at": "06:58:04", "keys": "1357#"},
                   {"at": "06:58:10", "tap": "retired-teacher"}])
    with shown(browser, LiveFeed(scenario(day), speed="max")) as page:
        page.wait_for_selector("body[data-state='done']")
        receipt = terminal(page, "CANTEEN-POS").locator("[data-part='receipt']").inner_text()
        lines = [re.sub(" +", " ", x) for x in receipt.splitlines()]
        assert lines[0] == "Putuo example community canteen"
        assert "早餐 x1 5.00" in lines and "实付 4.00" in lines and "余额 116.00" in lines
        lcd = terminal(page, "CANTEEN-POS").locator("[data-part='lcd']")
        assert lcd.get_attribute("data-text").splitlines()[2:] == ["PAID            4.00",
                                                                   "BAL           116.00"]
        screenshot(page, "pos.png")


def test_keys_clicked_on_the_page_reach_the_firmware(browser):
    from playwright.sync_api import expect

    day = pos_day([{"at": "06:58:01", "tap": "cashier-wang"}])
    with shown(browser, LiveFeed(scenario(day), speed="1")) as page:
        pos = terminal(page, "CANTEEN-POS")
        lcd = pos.locator("[data-part='lcd']")
        expect(lcd).to_have_attribute("data-text", re.compile("^PIN WANG"), timeout=WAIT_MS)
        for key in "1357#":
            pos.locator("[data-key='%s']" % key).click()
        expect(lcd).to_have_attribute("data-text", re.compile("^BREAKFAST +5.00"),
                                      timeout=WAIT_MS)
        expect(pos.locator(".outcome")).to_have_attribute("data-event", "signin")


def test_a_malformed_recording_is_one_message_on_the_page(browser):
    from playwright.sync_api import expect

    with shown(browser, LiveFeed(scenario(BUS), speed="max", paused=True)) as page:
        page.set_input_files("#replay-file", files=[{
            "name": "out.jsonl", "mimeType": "application/jsonl",
            "buffer": b'{"t": "2026-11-29T08:00:00.000", "terminal": "A", "event": "boot"}\n'
                      b'{"t": "2026-11-29T08:00:01.0\n'}])
        expect(page.locator("#error")).to_be_visible()
        assert page.locator("#error").inner_text().startswith(
            "out.jsonl: line 2: not JSON (Unterminated string")
        assert page.url.endswith("/")  # still the live run's page


def test_a_recording_plays_on_the_page(browser, tmp_path):
    from playwright.sync_api import expect

    from hw_sim.scenario import Run

    lines = Run(scenario(BUS)).run().lines
    with shown(browser, LiveFeed(scenario(BUS), speed="max", paused=True)) as page:
        page.set_input_files("#replay-file", files=[{
            "name": "bus.jsonl", "mimeType": "application/jsonl",
            "buffer": ("\n".join(lines) + "\n").encode()}])
        page.wait_for_url(re.compile(r"\?feed=1$"))
        page.wait_for_selector("body[data-state='done']")
        expect(page.locator("#mode")).to_have_text("replay")
        outcome = terminal(page, "BUS-926").locator(".outcome")
        expect(outcome).to_have_attribute("data-event", "refused")
        assert page.locator("#cardtable tr").count() == 3


def fleet(n):
    return {"name": "%d validators" % n, "start": "2026-11-29T08:00:00",
            "terminals": [{"id": "V%02d" % i, "role": "validator", "board": "bus-validator",
                           "config": {"mode": "bus", "route": "926", "tariff": TARIFF,
                                      "terminal_id": "2900200926%02d" % i}}
                          for i in range(n)],
            "cards": [{"name": "c%02d" % i, "number": "310100000000000%05d" % i,
                       "balance_fen": 1000} for i in range(n)],
            "events": [{"at": 1 + i * 0.1, "terminal": "V%02d" % i, "tap": "c%02d" % i}
                       for i in range(n)]}


def test_fifty_terminals_are_all_drawn_and_all_their_outcomes_shown(browser):
    with shown(browser, LiveFeed(scenario(fleet(50)), speed="max"), width=1600) as page:
        page.wait_for_selector("body[data-state='done']")
        assert page.locator("section.term").count() == 50
        rides = page.locator(".outcome[data-event='ride']")
        assert rides.count() == 50
        assert terminal(page, "V49").locator(".outcome").inner_text().endswith(
            '"fen":200,"balance":800,"route":"926","recovered":false,"steps":[["flat",0,200]]}')


def test_a_virtual_board_s_console_is_watched_in_the_page(browser):
    import subprocess

    from playwright.sync_api import expect

    ykt = [sys.executable, "-m", "host_tools.cli"]
    board = subprocess.Popen(ykt + ["sim", "board", "--listen", "127.0.0.1:0", "--boot", "app",
                                    "--max-seconds", "120"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL, text=True)
    view = None
    try:
        url = re.search(r"socket://[0-9.:]+", board.stdout.readline()).group(0)
        view = subprocess.Popen(ykt + ["sim", "view", "--console", url, "--listen",
                                       "127.0.0.1:0", "--max-seconds", "120"],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, text=True)
        page_url = re.search(r"http://[0-9.:]+/", view.stdout.readline()).group(0)
        page = browser.new_page()
        page.goto(page_url)
        expect(page.locator("#console-lines")).to_contain_text("rst:0x1 (POWERON_RESET)",
                                                               timeout=WAIT_MS)
        expect(page.locator("#console-name")).to_have_text("— " + url)
        page.close()
    finally:
        for proc in (view, board):
            if proc is not None:
                proc.terminate()
                proc.wait(30)
