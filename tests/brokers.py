"""Real MQTT brokers on free loopback ports, started and stopped by the tests.

Two kinds:

* **amqtt** (PyPI ``amqtt``, a real asyncio MQTT 3.1.1 broker): the embedded default, it needs
  nothing but Python; it runs in this process on an event loop of its own thread.
* **mosquitto** (Debian ``mosquitto``, ``/usr/sbin/mosquitto``): a subprocess with a config
  generated in a temporary directory (listener on 127.0.0.1:PORT, ``allow_anonymous`` or a
  password file made by ``mosquitto_passwd``). Missing, its tests are skipped with one reason
  line, unless ``YKT_REQUIRE_SERVERS=1`` (CI installs it and sets that): then they fail.

Context managers ``amqtt_broker(users=None)`` / ``mosquitto_broker(tmpdir, users=None)``
yield a :class:`Broker`; ``users`` ({name: password}) turns anonymous access off. The pytest
fixtures below give one per kind (``broker``: anonymous, ``auth_broker``: one user and a
password file), each started once per test session (per xdist worker) and stopped at its end;
a test module gets them with ``from brokers import broker_fixture, auth_broker_fixture``.
"""

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

KINDS = ["amqtt", "mosquitto"]
USER = "t201"
PASSWORD = "right-password"
# CONNACK return code each broker gives a wrong password on MQTT 3.1.1
BAD_PASSWORD_CONNACK = {"amqtt": 5, "mosquitto": 5}
_START_S = 20.0  # how long a broker may take to listen (a hang breaker, not a measurement)


class Broker:
    """A running broker: ``kind``, ``host``, ``port``, ``users`` ({} when anonymous);
    ``url(user, password)`` an ``mqtt://`` URL for host-side clients."""

    def __init__(self, kind, host, port, users):
        self.kind = kind
        self.host = host
        self.port = port
        self.users = dict(users or {})

    def url(self, user=None, password=None):
        cred = "" if user is None else "%s:%s@" % (user, password)
        return "mqtt://%s%s:%d/" % (cred, self.host, self.port)

    def __repr__(self):
        return "<Broker %s %s:%d>" % (self.kind, self.host, self.port)


def free_port():
    """A TCP port nobody listens on at this instant (127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port, alive):
    """Until 127.0.0.1:``port`` accepts a connection -> True; False when ``alive()`` turns
    False or the start takes unreasonably long."""
    deadline = time.monotonic() + _START_S
    while time.monotonic() < deadline and alive():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


# -- amqtt ----------------------------------------------------------------------------------

def _argon2_file(path, users):
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    # a cheap Argon2 (tests): the broker verifies each CONNECT with it
    hasher = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    with open(path, "w", encoding="utf-8") as f:
        for name, pw in users.items():
            f.write("%s:%s\n" % (name, hasher.hash(pw)))


@contextlib.contextmanager
def amqtt_broker(users=None):
    """An amqtt broker on a free loopback port, in this process (its own thread and loop)."""
    logging.getLogger("amqtt").setLevel(logging.ERROR)
    logging.getLogger("transitions").setLevel(logging.ERROR)
    tmp = tempfile.mkdtemp(prefix="ykt-amqtt-")
    if users:
        pwfile = os.path.join(tmp, "passwd")
        _argon2_file(pwfile, users)
        plugins = {"amqtt.plugins.authentication.FileAuthPlugin": {"password_file": pwfile}}
    else:
        plugins = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
    for attempt in range(3):  # another process may take the free port first
        port = free_port()
        config = {"listeners": {"default": {"type": "tcp", "bind": "127.0.0.1:%d" % port}},
                  "plugins": plugins}
        runner = _AmqttThread(config, port)
        if runner.error is None:
            break
        runner.stop()
        if attempt == 2:
            shutil.rmtree(tmp, ignore_errors=True)
            raise RuntimeError("amqtt did not start: %r" % runner.error)
    try:
        yield Broker("amqtt", "127.0.0.1", port, users)
    finally:
        runner.stop()
        shutil.rmtree(tmp, ignore_errors=True)


class _AmqttThread:
    """An amqtt broker on an event loop of its own thread; ``error`` is why it did not start."""

    def __init__(self, config, port):
        from amqtt.broker import Broker as AmqttBroker

        self.loop = asyncio.new_event_loop()
        self.broker = None
        self.error = None
        started = threading.Event()

        async def start():
            self.broker = AmqttBroker(config, loop=self.loop)
            await self.broker.start()

        def run():
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(start())
            except BaseException as e:  # reported to the starting thread
                self.error = e
                started.set()
                return
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="amqtt-%d" % port, daemon=True)
        self.thread.start()
        if not started.wait(_START_S):
            self.error = TimeoutError("no listener after %d s" % _START_S)

    def stop(self):
        if self.thread.is_alive():
            if self.error is None and self.broker is not None:
                with contextlib.suppress(Exception):
                    asyncio.run_coroutine_threadsafe(self.broker.shutdown(),
                                                     self.loop).result(_START_S)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(_START_S)
        if not self.thread.is_alive() and not self.loop.is_closed():
            self.loop.close()


# -- mosquitto ------------------------------------------------------------------------------

def mosquitto_binary():
    """The mosquitto executable, or None."""
    exe = shutil.which("mosquitto")
    if exe is None and os.access("/usr/sbin/mosquitto", os.X_OK):
        exe = "/usr/sbin/mosquitto"
    return exe


def require_mosquitto():
    """The mosquitto executable; missing: the test fails under YKT_REQUIRE_SERVERS=1, else it
    is skipped (one reason line)."""
    exe = mosquitto_binary()
    if exe is None:
        if os.environ.get("YKT_REQUIRE_SERVERS") == "1":
            pytest.fail("mosquitto is not installed and YKT_REQUIRE_SERVERS=1 requires it "
                        "(apt-get install mosquitto)", pytrace=False)
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    return exe


def _passwd_file(path, users):
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        return False
    for n, (name, pw) in enumerate(users.items()):
        args = [tool, "-b"] + (["-c"] if n == 0 else []) + [path, name, pw]
        subprocess.run(args, check=True, capture_output=True, timeout=_START_S)
    os.chmod(path, 0o600)
    return True


@contextlib.contextmanager
def mosquitto_broker(tmpdir, users=None, exe=None):
    """A mosquitto broker on a free loopback port, its config, password file and log in
    ``tmpdir``; stopped (and waited for) on exit."""
    exe = exe or require_mosquitto()
    tmpdir = str(tmpdir)
    lines = ["per_listener_settings false", "persistence false", "user root",
             "log_dest file %s" % os.path.join(tmpdir, "mosquitto.log"),
             "log_type error", "log_type warning", "log_type notice"]
    if users:
        pwfile = os.path.join(tmpdir, "passwd")
        if not _passwd_file(pwfile, users):
            if os.environ.get("YKT_REQUIRE_SERVERS") == "1":
                pytest.fail("mosquitto_passwd is missing (YKT_REQUIRE_SERVERS=1)", pytrace=False)
            pytest.skip("mosquitto_passwd is not installed: no password file for mosquitto")
        lines += ["allow_anonymous false", "password_file %s" % pwfile]
    else:
        lines += ["allow_anonymous true"]
    for attempt in range(3):  # another process may take the free port first
        port = free_port()
        conf = os.path.join(tmpdir, "mosquitto.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write("\n".join(lines + ["listener %d 127.0.0.1" % port]) + "\n")
        proc = subprocess.Popen([exe, "-c", conf], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if _wait_listening(port, lambda: proc.poll() is None):
            break
        proc.kill()
        err = proc.communicate()[1].decode(errors="replace").strip()
        if attempt == 2:
            raise RuntimeError("mosquitto did not start: %s" % (err.splitlines() or ["?"])[-1])
    try:
        yield Broker("mosquitto", "127.0.0.1", port, users)
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=_START_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


@contextlib.contextmanager
def start(kind, tmpdir, users=None):
    """A broker of ``kind`` ("amqtt" or "mosquitto")."""
    if kind == "amqtt":
        with amqtt_broker(users) as b:
            yield b
    else:
        with mosquitto_broker(tmpdir, users) as b:
            yield b


# -- a host-side peer -----------------------------------------------------------------------

def publish(broker, topic, payload, qos=1, user=None, password=None, client_id=None):
    """Publish one message through ``broker`` with amqtt's own client (independent of the
    firmware's), waiting for its PUBACK at QoS 1."""
    from amqtt.client import MQTTClient

    async def go():
        c = MQTTClient(client_id=client_id or "ykt-host-peer",
                       config={"auto_reconnect": False})
        await c.connect(broker.url(user, password), cleansession=True)
        try:
            await c.publish(topic, payload, qos=qos)
        finally:
            await c.disconnect()

    asyncio.run(go())


# -- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope="session", params=KINDS, name="broker")
def broker_fixture(request, tmp_path_factory):
    """A real broker of each kind, anonymous access."""
    with start(request.param, tmp_path_factory.mktemp(request.param)) as b:
        yield b


@pytest.fixture(scope="session", params=KINDS, name="auth_broker")
def auth_broker_fixture(request, tmp_path_factory):
    """A real broker of each kind with a password file: user ``USER``, ``PASSWORD``."""
    with start(request.param, tmp_path_factory.mktemp(request.param + "-auth"),
               {USER: PASSWORD}) as b:
        yield b
