"""Helpers for the fleet-sync tests (test_office_service.py, test_office_ops.py,
test_mosquitto_acl.py): a host MQTT peer playing a terminal (or anyone), the office service
running on its own thread, and a Mosquitto started with a password file and an ACL.

Waits here have generous deadlines that only break a hang; no test asserts on wall time.
"""

import contextlib
import itertools
import os
import queue
import subprocess
import threading
import time

import brokers
import paho.mqtt.client as mqtt

from host_tools.lib.office.service import BrokerOptions, Office, Service

HANG_S = 20.0  # a hang breaker, never a measurement
_ids = itertools.count(1)


def wait_for(predicate, timeout=HANG_S * 2):
    """Until ``predicate()`` holds (True) or the hang breaker (False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def unique(prefix):
    return "%s-%d-%d" % (prefix, os.getpid(), next(_ids))


class Peer:
    """A paho client: ``subscribe`` and wait for SUBACK, ``publish`` and wait for PUBACK,
    ``next(suffix)`` the next message whose topic ends with ``suffix``."""

    def __init__(self, broker, user=None, password=None, client_id=None):
        self.messages = queue.Queue()
        self._args = (broker, user, password, client_id)
        self._connect(broker, user, password, client_id)

    def _connect(self, broker, user, password, client_id):
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                             client_id=client_id or unique("peer"), protocol=mqtt.MQTTv311)
        if user is not None:
            self.c.username_pw_set(user, password)
        self.connack = None
        self._up = threading.Event()
        self._subacks = {}
        self._cond = threading.Condition()
        self.c.on_connect = self._on_connect
        self.c.on_message = lambda c, u, m: self.messages.put((m.topic, bytes(m.payload),
                                                               m.retain))
        self.c.on_subscribe = self._on_subscribe
        self.c.connect(broker.host, broker.port, 30)
        self.c.loop_start()
        assert self._up.wait(HANG_S), "no CONNACK"

    def _on_connect(self, c, u, flags, rc, props):
        self.connack = rc.value if hasattr(rc, "value") else int(rc)
        self._up.set()

    def _on_subscribe(self, c, u, mid, codes, props):
        with self._cond:
            self._subacks[mid] = [getattr(x, "value", x) for x in codes]
            self._cond.notify_all()

    def subscribe(self, topic):
        """Subscribe at QoS 1 and wait for the SUBACK; its return codes. amqtt 0.12 can lose
        a connection it is setting up (broker.py iterates its subscriptions while another
        client's go away: "dictionary changed size"): then once more on a new connection."""
        for attempt in range(2):
            rc, mid = self.c.subscribe(topic, 1)
            with self._cond:
                if self._cond.wait_for(lambda: mid in self._subacks, HANG_S / 4):
                    return self._subacks.pop(mid)
            self.close()
            self._connect(*self._args)
        raise AssertionError("no SUBACK")

    def publish(self, topic, payload, retain=False):
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(HANG_S)
        assert info.is_published(), "no PUBACK"

    def next(self, suffix="", timeout=HANG_S):
        """The next message (topic, payload, retained) whose topic ends with ``suffix``;
        others before it are dropped."""
        while True:
            topic, payload, retained = self.messages.get(timeout=timeout)
            if topic.endswith(suffix):
                return topic, payload, retained

    def drain(self):
        out = []
        while not self.messages.empty():
            out.append(self.messages.get_nowait())
        return out

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


@contextlib.contextmanager
def peer(broker, **kw):
    p = Peer(broker, **kw)
    try:
        yield p
    finally:
        p.close()


@contextlib.contextmanager
def office_service(broker, db, keys, user=None, password=None, share=None, **office_kw):
    """``ykt office serve`` on a thread of this process; yields (office, lines)."""
    lines = []
    office = Office(db, keys, lines.append, **office_kw)
    svc = Service(BrokerOptions(broker.host, broker.port, user, password, unique("office"),
                                share=share), office, lines.append)
    t = threading.Thread(target=svc.run, daemon=True)
    t.start()
    try:
        assert svc.connected.wait(HANG_S), "the office did not subscribe: %s" % lines
        yield office, lines
    finally:
        svc.stop()
        t.join(HANG_S)


@contextlib.contextmanager
def mosquitto_with_acl(tmpdir, passwd=None, acl=None, port=None):
    """Mosquitto on a free loopback port (or ``port``) with ``passwd`` and ``acl`` files (no
    anonymous), or anonymous without them."""
    exe = brokers.require_mosquitto()
    tmpdir = str(tmpdir)
    lines = ["per_listener_settings false", "persistence false", "user root",
             "log_dest file %s" % os.path.join(tmpdir, "mosquitto.log")]
    if passwd is None:
        lines.append("allow_anonymous true")
    else:
        lines += ["allow_anonymous false", "password_file %s" % passwd, "acl_file %s" % acl]
    fixed = port
    for attempt in range(3):
        port = fixed or brokers.free_port()
        conf = os.path.join(tmpdir, "mosquitto.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write("\n".join(lines + ["listener %d 127.0.0.1" % port]) + "\n")
        proc = subprocess.Popen([exe, "-c", conf], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if brokers._wait_listening(port, lambda: proc.poll() is None):
            break
        proc.kill()
        err = proc.communicate()[1].decode(errors="replace").strip()
        if attempt == 2:
            raise RuntimeError("mosquitto did not start: %s" % err)
    try:
        yield brokers.Broker("mosquitto", "127.0.0.1", port, {"acl": True})
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=HANG_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
