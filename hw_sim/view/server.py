"""The page and its Server-Sent Events, on the standard library's ``http.server``.

``GET /`` the page (``static/``, shipped with the package: plain HTML, CSS and JS, nothing
fetched from elsewhere); ``GET /events?feed=N`` the feed's description (``meta``) then what
changes (``state``), as Server-Sent Events; ``GET /state?feed=N`` everything now, as JSON;
``POST /control?feed=N`` ``{"speed": ...}``, ``{"pause": ...}`` or ``{"step": true}``;
``POST /key?feed=N`` ``{"terminal": ID, "key": "5"}``; ``POST /replay`` a recording's text
(the file a person picked on the page; ``?name=``, ``&speed=``): a new replay feed, or 400
with the one line that says what is wrong with it. A page that goes away ends only its own
request.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from host_tools.lib.errors import BadInput
from hw_sim.view import replay
from hw_sim.view.feed import ReplayFeed
from hw_sim.view.pace import SPEEDS

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
KEEPALIVE_S = 15.0
MAX_UPLOAD = 64 * 1024 * 1024


class ViewServer:
    """Serves feeds (``feeds[0]`` the one the command line gave) on ``host:port``."""

    def __init__(self, feed: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.feeds = [feed]
        self.closing = threading.Event()
        self._lock = threading.Lock()
        view = self

        class Handler(_Handler):
            server_view = view

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        h, p = self.httpd.server_address[:2]
        self.url = "http://%s:%d/" % (h, p)

    def add(self, feed: Any) -> int:
        with self._lock:
            self.feeds.append(feed)
            return len(self.feeds) - 1

    def feed(self, n: int) -> Any:
        with self._lock:
            if not 0 <= n < len(self.feeds):
                raise BadInput("no feed %d" % n)
            return self.feeds[n]

    def serve(self, max_seconds: float | None = None) -> None:
        """Serve until ``close`` (or ``max_seconds``)."""
        timer = None
        if max_seconds is not None:
            timer = threading.Timer(max_seconds, self.close)
            timer.daemon = True
            timer.start()
        try:
            self.httpd.serve_forever(poll_interval=0.2)
        finally:
            if timer is not None:
                timer.cancel()

    def start(self) -> threading.Thread:
        """Serve in a thread (tests)."""
        t = threading.Thread(target=self.serve, daemon=True, name="ykt-view-http")
        t.start()
        return t

    def close(self) -> None:
        self.closing.set()
        for feed in list(self.feeds):
            feed.hub.close()
        self.httpd.shutdown()
        self.httpd.server_close()
        for feed in list(self.feeds):
            feed.close()


class _Handler(BaseHTTPRequestHandler):
    server_view: ViewServer
    server_version = "ykt-view"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- helpers -----------------------------------------------------------------------
    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, obj: Any) -> None:
        self._send(code, json.dumps(obj, ensure_ascii=False).encode(),
                   "application/json; charset=utf-8")

    def _query(self) -> tuple[str, dict[str, str]]:
        url = urllib.parse.urlsplit(self.path)
        return url.path, {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}

    def _feed(self, q: dict[str, str]) -> Any:
        n = q.get("feed", "0")
        if not n.isdigit():
            raise BadInput("feed=%r: give a number" % n)
        return self.server_view.feed(int(n))

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_UPLOAD:
            raise BadInput("too large (%d bytes; at most %d)" % (n, MAX_UPLOAD))
        return self.rfile.read(n)

    # -- GET -----------------------------------------------------------------------------
    def do_GET(self) -> None:
        path, q = self._query()
        try:
            if path in ("/", "/index.html"):
                return self._static("index.html")
            if path.startswith("/static/"):
                return self._static(path[len("/static/"):])
            if path == "/events":
                return self._events(self._feed(q))
            if path == "/favicon.ico":
                return self._send(204, b"", "image/x-icon")
            if path == "/state":
                return self._json(200, self._feed(q).hub.state())
        except BadInput as e:
            return self._json(400, {"error": str(e)})
        self._json(404, {"error": "no such page: %s" % path})

    def _static(self, name: str) -> None:
        if name not in os.listdir(STATIC):  # only the files shipped, by their names
            return self._json(404, {"error": "no such file: %s" % name})
        with open(os.path.join(STATIC, name), "rb") as f:
            body = f.read()
        self._send(200, body, TYPES.get(os.path.splitext(name)[1], "application/octet-stream"))

    def _events(self, feed: Any) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        closing = self.server_view.closing
        since = 0
        try:
            self.wfile.write(b"event: meta\ndata: " + feed.hub.meta.encode() + b"\n\n")
            self.wfile.flush()
            while not closing.is_set():
                payload, since = feed.hub.changes(since, KEEPALIVE_S)
                if payload is None:
                    self.wfile.write(b": still here\n\n")
                else:
                    self.wfile.write(b"event: state\ndata: " + payload.encode() + b"\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            return  # the page went away: nothing else stops

    # -- POST ----------------------------------------------------------------------------
    def do_POST(self) -> None:
        path, q = self._query()
        try:
            body = self._body()
            if path == "/replay":
                return self._replay(body, q.get("name") or "recording.jsonl",
                                    q.get("speed", "1"))
            feed = self._feed(q)
            try:
                req = json.loads(body or b"{}")
            except ValueError:
                raise BadInput("the request is not JSON") from None
            if not isinstance(req, dict):
                raise BadInput("the request is not a JSON object")
            if path == "/control":
                feed.control(req)
                return self._json(200, feed.pacer.state())
            if path == "/key":
                feed.press(str(req.get("terminal")), str(req.get("key")))
                return self._json(200, {"pressed": req.get("key")})
        except BadInput as e:
            return self._json(400, {"error": str(e)})
        self._json(404, {"error": "no such request: %s" % path})

    def _replay(self, body: bytes, name: str, speed: str) -> None:
        if speed not in SPEEDS:
            raise BadInput("speed %r: one of %s" % (speed, ", ".join(SPEEDS)))
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadInput("%s: not text (UTF-8 JSON Lines); %s"
                           % (name, replay.RECORD_HINT)) from None
        entries = replay.parse(text, os.path.basename(name))
        feed = ReplayFeed(entries, os.path.basename(name), speed)
        n = self.server_view.add(feed)
        feed.start()
        self._json(200, {"feed": n})
