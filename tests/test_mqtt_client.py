"""The terminal's MQTT 3.1.1 client (firmware/ykt/net/mqtt.py, docs/mqtt.md) on both runtimes.

Each behaviour runs the same case of tests/vm/mqtt_cases.py under CPython (the firmware
imported through hw_sim's stand-ins) and on the MicroPython unix port (the firmware's .mpy
files), against a real broker (tests/brokers.py: amqtt in-process, Mosquitto as a subprocess)
or against a scripted peer: a raw TCP server in this file playing the broker's side. The
client's clock is a manual one: timeouts are asserted on it, never on the wall.
"""

import contextlib
import errno
import json
import random
import select
import socket
import threading
import types

import brokers
import pytest
import vmscripts
from brokers import auth_broker_fixture, broker_fixture  # noqa: F401  (the fixtures)

from host_tools.lib import mqtt_packets
from hw_sim.vm_bridge import vm_dir
from ykt.net import mqtt

RUNTIMES = ["cpython", "micropython"]
HEAP = "64K"  # the VM's heap for a case: the client and its buffers need a fraction of it
_WATCHDOG_S = 60  # a hang breaker for a VM run or a peer (not a measurement)


def run_case(runtime, case, host, port, user="", password="", name=None, ready=None):
    """Run tests/vm/mqtt_cases.py's ``case`` on ``runtime`` -> its result (a dict)."""
    name = name or "ykt-%s-%s" % (case, runtime)
    if runtime == "cpython":
        cases = vmscripts.load("mqtt_cases")
        out = cases.CASES[case](host, port, user, password, name, ready=ready)
        return json.loads(json.dumps(out))  # as the VM's result: lists, not tuples
    cmd = vmscripts.command("mqtt_cases", case, host, port, user, password, name, heap=HEAP)
    return vmscripts.dialogue(cmd, vm_dir(), ready, _WATCHDOG_S)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_qos0_goes_both_ways_through_a_real_broker(runtime, broker):
    name = "ykt-q0-%s" % runtime
    out = run_case(runtime, "qos0_loop", broker.host, broker.port, name=name)
    assert out == {"granted": 0, "publish": 0, "got": [["ykt/t/%s/echo" % name, "ping"]],
                   "error": mqtt.OK}


# -- a scripted peer ------------------------------------------------------------------------

def read_packet(conn):
    """One MQTT packet from ``conn`` -> (first byte, body); (None, b"") at EOF, also one inside
    a packet."""
    try:
        got = mqtt_packets.read_packet(conn)
    except EOFError:
        got = None
    return got or (None, b"")


def wait_closed(conn):
    """Read (and drop) what the client sends until it closes."""
    while read_packet(conn)[0] is not None:
        pass


CONNACK_OK = b"\x20\x02\x00\x00"


class FakePeer:
    """A TCP server on a free loopback port that serves its connections, in order, with
    ``scripts`` (each ``script(peer, conn)``); ``packets`` has (connection, first byte, body)
    of every packet the scripts read from the client."""

    def __init__(self, *scripts):
        self.scripts = scripts
        self.packets = []
        self.errors = []
        self.done = threading.Event()
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.srv.settimeout(_WATCHDOG_S)
        self.port = self.srv.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def read(self, conn, n):
        b0, body = read_packet(conn)
        if b0 is not None:
            self.packets.append((n, b0, body))
        return b0, body

    def _run(self):
        for n, script in enumerate(self.scripts):
            try:
                conn, _ = self.srv.accept()
            except OSError as e:
                self.errors.append(repr(e))
                return
            conn.settimeout(_WATCHDOG_S)
            try:
                script(self, conn, n)
            except Exception as e:
                self.errors.append(repr(e))
            finally:
                conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.srv.close()
        self.thread.join(_WATCHDOG_S)


def answer(*packets, read_first=1):
    """A script: read ``read_first`` packets (CONNECT, ...), send ``packets`` one by one, then
    read until the client closes."""
    def script(peer, conn, n):
        for _ in range(read_first):
            peer.read(conn, n)
        for p in packets:
            conn.sendall(p)
        while peer.read(conn, n)[0] is not None:
            pass
    return script


# -- a real broker --------------------------------------------------------------------------

@pytest.mark.parametrize("runtime", RUNTIMES)
def test_connect_is_accepted_by_a_real_broker(runtime, broker):
    out = run_case(runtime, "connect", broker.host, broker.port)
    assert out == {"state": mqtt.UP, "error": mqtt.OK, "connack": mqtt.CONNACK_ACCEPTED,
                   "closed": [mqtt.DOWN, mqtt.OK]}


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_connect_with_the_password_file_user_is_accepted(runtime, auth_broker):
    out = run_case(runtime, "connect", auth_broker.host, auth_broker.port, brokers.USER,
                   brokers.PASSWORD)
    assert (out["state"], out["error"], out["connack"]) == (mqtt.UP, mqtt.OK, 0)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_wrong_password_is_refused_with_its_connack_code(runtime, auth_broker):
    out = run_case(runtime, "connect", auth_broker.host, auth_broker.port, brokers.USER, "wrong")
    assert out == {"state": mqtt.DOWN, "error": mqtt.E_REFUSED,
                   "connack": brokers.BAD_PASSWORD_CONNACK[auth_broker.kind]}


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_qos1_publish_gets_its_puback_and_nothing_stays_pending(runtime, broker):
    out = run_case(runtime, "publish_qos1", broker.host, broker.port)
    assert out["pid"] > 0 and out["pending_queued"] == 1
    assert (out["pending"], out["still_pending"], out["error"]) == (0, False, mqtt.OK)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_message_a_host_peer_publishes_arrives_once_and_is_acknowledged(runtime, broker):
    name = "ykt-receive-%s" % runtime

    def ready(what):  # amqtt's client, not the firmware's, publishes through the broker
        brokers.publish(broker, "ykt/t/%s/down/%s" % (name, what), what.encode(),
                     client_id="host-" + name)

    out = run_case(runtime, "receive", broker.host, broker.port, name=name, ready=ready)
    # "one" is not delivered again after the reconnect: the broker had its PUBACK
    assert out == {"got": [["ykt/t/%s/down/one" % name, "one"],
                           ["ykt/t/%s/down/two" % name, "two"]],
                   "received": 2, "granted": 1, "error": mqtt.OK}


# -- a scripted peer ------------------------------------------------------------------------

@pytest.mark.parametrize("runtime", RUNTIMES)
def test_an_incoming_qos1_publish_is_delivered_once_and_acknowledged_with_its_id(runtime):
    publish = b"\x32\x0f\x00\x09ykt/dn/t1\x12\x34hi"
    with FakePeer(answer(CONNACK_OK, publish)) as peer:
        out = run_case(runtime, "incoming_ack", "127.0.0.1", peer.port)
    assert out == {"got": [["ykt/dn/t1", "hi"]], "received": 1, "error": mqtt.OK}
    sent = [(b0, body) for _, b0, body in peer.packets]
    assert sent[1:] == [(0x40, b"\x12\x34"), (0xE0, b"")]  # PUBACK 0x1234, DISCONNECT
    assert peer.errors == []


def _drop_after_publish(peer, conn, n):
    peer.read(conn, n)  # CONNECT
    conn.sendall(CONNACK_OK)
    peer.read(conn, n)  # PUBLISH: no PUBACK, the connection goes


def _ack_the_publish(peer, conn, n):
    peer.read(conn, n)  # CONNECT
    conn.sendall(CONNACK_OK)
    b0, body = peer.read(conn, n)
    if b0 is not None and b0 >> 4 == 3:
        tl = body[0] << 8 | body[1]
        conn.sendall(b"\x40\x02" + body[2 + tl:4 + tl])
    wait_closed(conn)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_dropped_connection_is_reported_and_the_reconnect_resends_with_dup(runtime):
    with FakePeer(_drop_after_publish, _ack_the_publish) as peer:
        out = run_case(runtime, "drop_resend", "127.0.0.1", peer.port)
    assert out["dropped"] == [mqtt.DOWN, mqtt.E_CLOSED] and out["pending_dropped"] == 1
    assert (out["state"], out["pending"], out["resends"]) == (mqtt.UP, 0, 1)
    publishes = [(n, b0, body) for n, b0, body in peer.packets if b0 >> 4 == 3]
    first, again = publishes
    assert first[:2] == (0, 0x32) and again[:2] == (1, 0x3A)  # QoS 1; QoS 1 + DUP
    assert first[2] == again[2]  # same topic, packet id and payload
    assert first[2].endswith(b"record 7") and peer.errors == []


class CuttingProxy:
    """A TCP proxy on loopback in front of a real broker that cuts its first connection where
    the client sends a PUBLISH (forwarding none of it) and passes later ones whole;
    ``packets`` has (connection, first byte, body) of what the client sent."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.packets = []
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.srv.settimeout(_WATCHDOG_S)
        self.port = self.srv.getsockname()[1]
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        for n in range(2):
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            up = socket.create_connection(self.upstream, timeout=_WATCHDOG_S)
            conn.settimeout(_WATCHDOG_S)
            self.socks += [conn, up]
            threading.Thread(target=self._up, args=(n, conn, up), daemon=True).start()
            threading.Thread(target=self._down, args=(conn, up), daemon=True).start()

    def _up(self, n, conn, up):
        with contextlib.suppress(OSError):
            while True:
                b0, body = read_packet(conn)
                if b0 is None:
                    break
                self.packets.append((n, b0, body))
                if n == 0 and b0 >> 4 == 3:
                    break  # the cut: the PUBLISH goes nowhere
                up.sendall(mqtt_packets.packet(b0, body))
        for s in (conn, up):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def _down(self, conn, up):
        with contextlib.suppress(OSError):
            while True:
                data = up.recv(4096)
                if not data:
                    break
                conn.sendall(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.srv.close()
        for s in self.socks:
            s.close()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_real_broker_acknowledges_the_dup_resend_after_a_cut_connection(runtime, broker):
    with CuttingProxy((broker.host, broker.port)) as proxy:
        out = run_case(runtime, "drop_resend", "127.0.0.1", proxy.port,
                       name="ykt-cut-%s" % runtime)
    assert out["dropped"] == [mqtt.DOWN, mqtt.E_CLOSED] and out["pending_dropped"] == 1
    assert (out["state"], out["pending"], out["resends"]) == (mqtt.UP, 0, 1)
    publishes = [(n, b0) for n, b0, _ in proxy.packets if b0 >> 4 == 3]
    assert publishes == [(0, 0x32), (1, 0x3A)]  # cut; then with DUP, and the broker's PUBACK


def _ack_the_second_copy(peer, conn, n):
    peer.read(conn, n)  # CONNECT
    conn.sendall(CONNACK_OK)
    peer.read(conn, n)  # PUBLISH, not acknowledged
    b0, body = peer.read(conn, n)  # the same again, with DUP
    tl = body[0] << 8 | body[1]
    conn.sendall(b"\x40\x02" + body[2 + tl:4 + tl])
    wait_closed(conn)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_publish_without_puback_is_resent_with_dup_after_retry_ms(runtime):
    with FakePeer(_ack_the_second_copy) as peer:
        out = run_case(runtime, "retry", "127.0.0.1", peer.port)
    assert out == {"early": 0, "resends": 1, "pending": 0, "state": mqtt.UP}
    assert [b0 for _, b0, _ in peer.packets if b0 >> 4 == 3] == [0x32, 0x3A]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_connect_packet_carries_credentials_keepalive_session_and_will(runtime):
    with FakePeer(answer(b"\x20\x02\x01\x00")) as peer:  # CONNACK: session present
        out = run_case(runtime, "connect_packet", "127.0.0.1", peer.port, name="ykt-cp")
    assert out == {"state": mqtt.UP, "session_present": True}
    n, b0, body = peer.packets[0]
    assert b0 == 0x10 and body == (
        b"\x00\x04MQTT\x04"  # protocol name and level (3.1.1)
        b"\xec"  # user, password, Will retain, Will QoS 1, Will; not clean
        b"\x00\x1e"  # keepalive 30 s
        b"\x00\x06ykt-cp" b"\x00\x10ykt/t/201/status" b"\x00\x07offline"
        b"\x00\x04t201" b"\x00\x06s3cret")


def _pong_once(peer, conn, n):
    peer.read(conn, n)  # CONNECT
    conn.sendall(CONNACK_OK)
    peer.read(conn, n)  # PINGREQ
    conn.sendall(b"\xd0\x00")
    while peer.read(conn, n)[0] is not None:  # the second PINGREQ goes unanswered
        pass


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_quiet_connection_pings_and_a_missing_pingresp_is_a_timeout(runtime):
    with FakePeer(_pong_once) as peer:
        out = run_case(runtime, "keepalive", "127.0.0.1", peer.port)
    assert out == {"pongs": 1, "before": mqtt.UP, "after": [mqtt.DOWN, mqtt.E_TIMEOUT]}
    # keepalive 10 s: nothing before 7.5 s of quiet, then one PINGREQ each time
    assert [b0 for _, b0, _ in peer.packets] == [0x10, 0xC0, 0xC0]


def _ack_b_and_drop(peer, conn, n):
    peer.read(conn, n)  # CONNECT
    conn.sendall(CONNACK_OK)
    bodies = [peer.read(conn, n)[1] for _ in range(3)]
    conn.sendall(b"\x40\x02" + bodies[1][16:18])  # PUBACK for B only; topic ykt/t/order/up


def _ack_all(peer, conn, n):
    peer.read(conn, n)  # CONNECT
    conn.sendall(CONNACK_OK)
    for _ in range(3):
        body = peer.read(conn, n)[1]
        conn.sendall(b"\x40\x02" + body[16:18])
    wait_closed(conn)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_after_a_reconnect_unacknowledged_messages_go_first_in_order_with_dup(runtime):
    with FakePeer(_ack_b_and_drop, _ack_all) as peer:
        out = run_case(runtime, "resend_order", "127.0.0.1", peer.port)
    assert out["pending_dropped"] == 2 and out["d"] > 0
    assert (out["pending"], out["resends"], out["state"]) == (0, 2, mqtt.UP)
    again = [(b0, body[18:]) for n, b0, body in peer.packets if n == 1 and b0 >> 4 == 3]
    assert again == [(0x3A, b"A"), (0x3A, b"C"), (0x32, b"D")]


def _say_nothing(peer, conn, n):
    peer.read(conn, n)  # CONNECT
    peer.done.wait(_WATCHDOG_S)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_step_returns_at_once_while_the_peer_is_silent(runtime):
    with FakePeer(_say_nothing) as peer:
        out = run_case(runtime, "silent", "127.0.0.1", peer.port)
    # 200 steps all returned waiting for CONNACK; the timeout came from the client's clock
    assert out == {"states": [mqtt.HANDSHAKE], "before": mqtt.HANDSHAKE, "after": mqtt.DOWN,
                   "error": mqtt.E_TIMEOUT}


def test_step_never_sleeps_on_the_virtual_clock():
    """With the firmware's own clock (ykt.clock on hw_sim's virtual clock): stepping a client
    whose broker is silent never moves the clock, so nothing waited."""
    from hw_sim.clock import VirtualClock
    from hw_sim.wiring import Wiring

    clock = VirtualClock()
    Wiring(clock).activate()
    with FakePeer(_say_nothing) as peer:
        c = mqtt.MQTTClient(b"ykt-virtual", "127.0.0.1", peer.port, timeout_ms=5000)
        c.connect()
        states = {c.step(100) for _ in range(200)}
        assert states == {mqtt.HANDSHAKE} and clock.now_us() == 0
        clock.advance(5000 * 1000)
        assert (c.step(0), c.error) == (mqtt.DOWN, mqtt.E_TIMEOUT)


SUBSCRIBE_THEN = 2  # read CONNECT and SUBSCRIBE before answering
MALFORMED = {
    # name: (what the peer sends after CONNECT, packets to read first, error code)
    "remaining-length-of-five-bytes": (b"\x20\xff\xff\xff\xff\x01", 1, mqtt.E_MALFORMED),
    "connack-too-long": (b"\x20\x03\x00\x00\x00", 1, mqtt.E_MALFORMED),
    "connack-with-flags": (b"\x21\x02\x00\x00", 1, mqtt.E_MALFORMED),
    "connack-reserved-bits": (b"\x20\x02\x02\x00", 1, mqtt.E_MALFORMED),
    "publish-before-connack": (b"\x30\x05\x00\x01ahi", 1, mqtt.E_PROTOCOL),
    "text-instead-of-mqtt": (b"HTTP/1.1 400 Bad Request\r\n\r\n", 1, mqtt.E_PROTOCOL),
    "second-connack": (CONNACK_OK * 2, 1, mqtt.E_PROTOCOL),
    "publish-qos-3": (CONNACK_OK + b"\x36\x07\x00\x01a\x00\x01hi", 1, mqtt.E_MALFORMED),
    "publish-qos-2": (CONNACK_OK + b"\x34\x07\x00\x01a\x00\x01hi", 1, mqtt.E_PROTOCOL),
    "publish-topic-past-its-end": (CONNACK_OK + b"\x30\x04\x00\x09ab", 1, mqtt.E_MALFORMED),
    "publish-packet-id-zero": (CONNACK_OK + b"\x32\x07\x00\x01a\x00\x00hi", 1,
                               mqtt.E_MALFORMED),
    "puback-too-long": (CONNACK_OK + b"\x40\x03\x00\x01\x00", 1, mqtt.E_MALFORMED),
    "pingresp-with-body": (CONNACK_OK + b"\xd0\x01\x00", 1, mqtt.E_MALFORMED),
    "suback-unknown-code": (CONNACK_OK, SUBSCRIBE_THEN, mqtt.E_MALFORMED),
    "reserved-packet-type-0": (CONNACK_OK + b"\x00\x00", 1, mqtt.E_PROTOCOL),
    "pubrel-for-qos-2": (CONNACK_OK + b"\x62\x02\x00\x01", 1, mqtt.E_PROTOCOL),
    "larger-than-the-buffer": (CONNACK_OK + b"\x30\x80\x08" + b"\x00\x01a", 1, mqtt.E_TOO_BIG),
}


def _malformed_script(name):
    data, _, _ = MALFORMED[name]
    if name != "suback-unknown-code":
        return answer(data)

    def script(peer, conn, n):
        peer.read(conn, n)  # CONNECT
        conn.sendall(data)
        _, body = peer.read(conn, n)  # SUBSCRIBE: its packet id, then a code SUBACK never has
        conn.sendall(b"\x90\x03" + body[:2] + b"\x07")
        wait_closed(conn)
    return script


@pytest.mark.parametrize("name", sorted(MALFORMED))
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_malformed_packet_is_an_error_code_and_the_loop_goes_on(runtime, name):
    script = _malformed_script(name)
    with FakePeer(script, script) as peer:
        out = run_case(runtime, "malformed", "127.0.0.1", peer.port)
    code = MALFORMED[name][2]
    # no exception: the error code, the connection closed, and a second connection alike
    assert out == {"first": [mqtt.DOWN, code], "second": [mqtt.DOWN, code]}


# -- a socket that moves one byte at a time -------------------------------------------------

class ByteSocket:
    """A stand-in for the socket: ``send`` takes one byte, ``recv`` gives one; what the peer
    says is released when the client has sent enough (``script``: [(after n bytes, data)])."""

    def __init__(self, script):
        self.script = list(script)
        self.sent = bytearray()
        self.inbox = bytearray()
        self.sends = 0

    def setblocking(self, flag):
        assert flag is False

    def connect(self, addr):
        raise OSError(errno.EINPROGRESS, "in progress")

    def _release(self):
        while self.script and len(self.sent) >= self.script[0][0]:
            self.inbox += self.script.pop(0)[1]

    def send(self, data):
        self.sends += 1
        self.sent += bytes(data[:1])
        self._release()
        return 1

    def recv(self, n):
        self._release()
        if not self.inbox:
            raise OSError(errno.EAGAIN, "again")
        b = bytes(self.inbox[:1])
        del self.inbox[:1]
        return b

    def close(self):
        pass


class _Poll:
    def __init__(self, box):
        self.box = box

    def register(self, s, mask):
        self.box["sock"] = s

    def unregister(self, s):
        pass

    def poll(self, timeout):
        assert timeout == 0
        s = self.box["sock"]
        s._release()
        return [(s, select.POLLOUT | (select.POLLIN if s.inbox else 0))]


def _byte_client(monkeypatch, sock, **kw):
    box = {}
    monkeypatch.setattr(mqtt, "socket", types.SimpleNamespace(
        SOCK_STREAM=socket.SOCK_STREAM, socket=lambda *a: sock,
        getaddrinfo=lambda *a: [(socket.AF_INET, socket.SOCK_STREAM, 0, "", ("127.0.0.1", 1))]))
    monkeypatch.setattr(mqtt, "select", types.SimpleNamespace(poll=lambda: _Poll(box)))
    cases = vmscripts.load("mqtt_cases")
    return mqtt.MQTTClient(b"ykt-bytes", "127.0.0.1", 1, clock=cases.ManualClock(), **kw)


CONNECT_BYTES = 23  # CONNECT of client id "ykt-bytes": 2 + 10 (variable header) + 2 + 9


def test_partial_reads_and_writes_are_buffered_one_byte_at_a_time(monkeypatch):
    got = []
    publish_in = b"\x32\x0a\x00\x04dn/1\x00\x05ok"
    sock = ByteSocket([(CONNECT_BYTES, CONNACK_OK + publish_in),
                       (CONNECT_BYTES + 14, b"\x40\x02\x00\x01")])  # PUBACK our pid 1
    c = _byte_client(monkeypatch, sock,
                     on_message=lambda t, m: got.append((bytes(t), bytes(m))))
    c.connect()
    pid = c.publish(b"up/1", b"rec", 1)
    for _ in range(100):
        c.step(5)
    assert (c.state, c.error, got, c.pending(), pid) == (mqtt.UP, mqtt.OK, [(b"dn/1", b"ok")],
                                                         0, 1)
    assert bytes(sock.sent) == (b"\x10\x15\x00\x04MQTT\x04\x02\x00\x3c\x00\x09ykt-bytes"
                                b"\x32\x0b\x00\x04up/1\x00\x01rec"  # our PUBLISH
                                b"\x40\x02\x00\x05")  # PUBACK for theirs (pid 5)


def test_a_step_does_at_most_eight_rounds(monkeypatch):
    sock = ByteSocket([])
    c = _byte_client(monkeypatch, sock)
    c.connect()
    per_step = []
    for _ in range(5):
        before = sock.sends
        c.step(1000)  # the manual clock never spends the budget: the round limit ends it
        per_step.append(sock.sends - before)
    # 8 rounds a step: the first also starts the handshake; 23 bytes of CONNECT, one a round
    assert per_step == [7, 8, 8, 0, 0]


def test_an_exception_in_on_message_leaves_step_and_the_message_is_not_acknowledged(
        monkeypatch):
    seen = []

    def cb(topic, msg):
        seen.append(bytes(msg))
        if msg == b"bad":
            raise ValueError("the application's own error")

    bad = b"\x32\x0b\x00\x04dn/1\x00\x07bad"
    good = b"\x32\x0c\x00\x04dn/1\x00\x08good"
    sock = ByteSocket([(CONNECT_BYTES, CONNACK_OK + bad + good)])
    c = _byte_client(monkeypatch, sock, on_message=cb)
    c.connect()
    raised = 0
    for _ in range(100):
        try:
            c.step(5)
        except ValueError:
            raised += 1
    assert (raised, seen, c.state) == (1, [b"bad", b"good"], mqtt.UP)
    assert bytes(sock.sent[CONNECT_BYTES:]) == b"\x40\x02\x00\x08"  # PUBACK for good only


def test_random_and_mutated_bytes_from_the_peer_never_raise(monkeypatch):
    """300 peers (a fixed seed): junk, or a valid CONNACK, PUBLISH, PUBACK, SUBACK and PINGRESP
    with a few bytes changed. Each ends as a state and an error code, never an exception."""
    rng = random.Random(13)
    valid = (CONNACK_OK + b"\x32\x0a\x00\x04dn/1\x00\x05ok" + b"\x40\x02\x00\x01"
             + b"\x90\x03\x00\x02\x01" + b"\xd0\x00")
    errors = set()
    for _ in range(300):
        if rng.random() < 0.3:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        else:
            b = bytearray(valid)
            for _ in range(rng.randrange(1, 4)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            data = bytes(b)
        c = _byte_client(monkeypatch, ByteSocket([(CONNECT_BYTES, data)]), max_packet=128,
                         on_message=lambda t, m: None)
        c.subscribe(b"x", 1)
        c.publish(b"u", b"v", 1)
        c.connect()
        for _ in range(30):
            c.step(5)
        errors.add(c.error)
    assert {mqtt.E_MALFORMED, mqtt.E_PROTOCOL, mqtt.E_REFUSED} <= errors


# -- no network -----------------------------------------------------------------------------

def test_publish_refusals_are_negative_codes():
    c = mqtt.MQTTClient(b"ykt-offline", "127.0.0.1", 1, max_packet=64, inflight=2)
    assert c.publish(b"t", b"x", 0) == -mqtt.E_DOWN  # QoS 0 needs a connection
    assert c.publish(b"t", b"x" * 64, 1) == -mqtt.E_TOO_LONG
    assert c.publish(b"t", b"1", 1) == 1 and c.publish(b"t", b"2", 1) == 2  # kept while down
    assert c.publish(b"t", b"3", 1) == -mqtt.E_BUSY and c.pending() == 2


def test_a_refused_tcp_connection_is_e_connect():
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    n = port.getsockname()[1]
    port.close()  # nothing listens there
    cases = vmscripts.load("mqtt_cases")
    c = mqtt.MQTTClient(b"ykt-refused", "127.0.0.1", n, clock=cases.ManualClock())
    c.connect()
    assert cases.drive(c, lambda: c.state == mqtt.DOWN, 500)
    assert c.error == mqtt.E_CONNECT


# -- the brokers' fixtures ------------------------------------------------------------------

def test_a_missing_mosquitto_skips_its_tests(monkeypatch):
    monkeypatch.setattr(brokers, "mosquitto_binary", lambda: None)
    monkeypatch.delenv("YKT_REQUIRE_SERVERS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="mosquitto is not installed"):
        brokers.require_mosquitto()


def test_a_missing_mosquitto_fails_when_servers_are_required(monkeypatch):
    monkeypatch.setattr(brokers, "mosquitto_binary", lambda: None)
    monkeypatch.setenv("YKT_REQUIRE_SERVERS", "1")
    with pytest.raises(pytest.fail.Exception, match="YKT_REQUIRE_SERVERS=1"):
        brokers.require_mosquitto()
