"""A real PostgreSQL server for tests: ``initdb`` and ``postgres`` from /usr/lib/postgresql/*/bin
in a temporary directory, on a free loopback port, stopped afterwards.

PostgreSQL refuses to run as root, so as root ``initdb`` and the server run as the
unprivileged ``postgres`` user (or ``nobody``: ``subprocess``'s ``user``/``group``, as
``runuser`` would); its directory is made theirs.
``start()`` returns a :class:`PgServer` (its ``url`` is a ``postgresql://`` URL) or raises
:class:`Unavailable` with one plain reason; ``YKT_REQUIRE_SERVERS=1`` turns that into a
failure in the fixture (CI installs the server), otherwise the test is skipped.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time


class Unavailable(Exception):
    """No PostgreSQL server can be started here (the message says why, in one line)."""


def _bindir():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if found:
        return os.path.dirname(found[-1])
    on_path = shutil.which("postgres")
    if on_path and shutil.which("initdb"):
        return os.path.dirname(on_path)
    raise Unavailable("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres)")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _runas():
    """{Popen keywords} to run a command unprivileged, and the uid/gid to own the files."""
    if os.geteuid() != 0:
        return {}, os.getuid(), os.getgid()
    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}, pw.pw_uid, pw.pw_gid
    raise Unavailable("running as root and no unprivileged user (postgres, nobody) to run "
                      "PostgreSQL as")


class PgServer:
    def __init__(self, bindir, runas, root, port, durable=False):
        self.bindir, self.runas, self.root, self.port = bindir, runas, root, port
        self.durable = durable
        self.data = os.path.join(root, "data")
        self.url = "postgresql://ykt@127.0.0.1:%d/postgres" % port
        self.proc = None

    def _run(self, *argv, timeout=60):
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              cwd=self.root, **self.runas)

    def start(self):
        r = self._run(os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", "ykt",
                      "-A", "trust", "-E", "UTF8", "--no-sync", timeout=120)
        if r.returncode:
            raise Unavailable("initdb failed: %s" % (r.stderr.strip().splitlines() or ["?"])[-1])
        return self._launch()

    def _launch(self):
        fast = [] if self.durable else ["-c", "fsync=off", "-c", "synchronous_commit=off",
                                        "-c", "full_page_writes=off"]
        self.proc = subprocess.Popen(
            [os.path.join(self.bindir, "postgres"), "-D", self.data,
             "-h", "127.0.0.1", "-p", str(self.port), "-k", self.root] + fast,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.root, **self.runas)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Unavailable("postgres exited at start (code %d)" % self.proc.returncode)
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                r = self._run(os.path.join(self.bindir, "pg_isready"), "-h", "127.0.0.1",
                              "-p", str(self.port), timeout=10)
                if r.returncode == 0:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise Unavailable("postgres did not accept connections within 30 s")

    def restart(self):
        """Stop the server (a fast shutdown: its connections are cut) and start it again on
        the same data and port: an office database restart."""
        self._shutdown()
        return self._launch()

    def _shutdown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown of the postmaster we started
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def new_database(self, name):
        """A fresh, empty database on this server: its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "%s"' % name)
            conn.execute('CREATE DATABASE "%s"' % name)
        return "postgresql://ykt@127.0.0.1:%d/%s" % (self.port, name)

    def stop(self):
        self._shutdown()
        shutil.rmtree(self.root, ignore_errors=True)


def start(durable=False):
    """A running server in a new temporary directory (the caller stops it); fsync off
    (tests) unless ``durable`` (bench/ingest.py: commits reach the disk, as in service)."""
    bindir = _bindir()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise Unavailable("psycopg is not installed (pip install 'psycopg[binary]')") from None
    runas, uid, gid = _runas()
    root = tempfile.mkdtemp(prefix="ykt-pg-")
    os.chown(root, uid, gid)
    os.chmod(root, 0o700)
    return PgServer(bindir, runas, root, _free_port(), durable).start()
