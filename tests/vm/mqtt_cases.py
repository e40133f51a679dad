# The MQTT client (ykt.net.mqtt) against a real broker or a scripted peer, on both runtimes:
# tests/test_mqtt_client.py calls these functions under CPython, and runs this file on the VM
#
#     micropython mqtt_cases.py CASE HOST PORT [ARGS...]
#
# which prints "READY <what>" and waits for a line on stdin where the test has to act (publish
# through the broker), then one last line "RESULT <json>". Every wait is a bounded number of
# steps (with a short real nap between them to let the peer run); the client's own clock is
# a manual one, so its timers move only when a case moves them.
import json
import sys

from ykt.net import mqtt

_MPY = sys.implementation.name == "micropython"
STEPS = 3000  # the most steps a case waits for something


class ManualClock:
    """ticks_ms / elapsed_ms that move only when told (``t += ms``)."""

    def __init__(self):
        self.t = 1000

    def ticks_ms(self):
        return self.t

    def elapsed_ms(self, since):
        return self.t - since


def nap():
    """A real pause of about a millisecond: the broker or the peer gets to run."""
    if _MPY:
        import time

        time.sleep_ms(1)
    else:
        import time

        time.sleep(0.001)


def drive(c, until, steps=STEPS):
    """Step ``c`` until ``until()`` or ``steps`` steps -> whether ``until()`` came true."""
    for _ in range(steps):
        c.step(5)
        if until():
            return True
        nap()
    return False


def _client(name, host, port, user="", password="", clock=None, **kw):
    return mqtt.MQTTClient(name, host, int(port), user=user or None, password=password or None,
                           clock=clock or ManualClock(), **kw)


def _settled(c):
    return lambda: c.state in (mqtt.DOWN, mqtt.UP)


def _close(c):
    c.disconnect()
    drive(c, lambda: c.state == mqtt.DOWN, 200)


def connect(host, port, user="", password="", name="ykt-connect", ready=None):
    """CONNECT and what came of it."""
    c = _client(name, host, port, user, password)
    c.connect()
    drive(c, _settled(c))
    out = {"state": c.state, "error": c.error, "connack": c.connack}
    if c.state == mqtt.UP:
        _close(c)
        out["closed"] = [c.state, c.error]
    return out


def publish_qos1(host, port, user="", password="", name="ykt-publish", ready=None):
    """A QoS 1 PUBLISH until its PUBACK."""
    c = _client(name, host, port, user, password)
    c.connect()
    drive(c, _settled(c))
    pid = c.publish(b"ykt/t/" + name.encode() + b"/up", b"record 1", 1)
    out = {"pid": pid, "pending_queued": c.pending(), "state": c.state}
    drive(c, lambda: not c.pending() or c.state == mqtt.DOWN)
    out.update(pending=c.pending(), still_pending=c.is_pending(pid), error=c.error)
    _close(c)
    return out


def receive(host, port, user="", password="", name="ykt-receive", ready=None):
    """Messages a host peer publishes to a subscribed topic, each at QoS 1: one, then (after a
    reconnect to the same persistent session) two. Had PUBACK for one not reached the broker,
    it would deliver one again before two. A connection the broker drops (amqtt may, when a
    persistent session reconnects at once) is made again, as the terminal's sync would."""
    got = []

    def cb(topic, msg):
        got.append([bytes(topic).decode(), bytes(msg).decode()])

    c = _client(name, host, port, user, password, clean=False, on_message=cb)
    c.subscribe("ykt/t/" + name + "/down/#", 1)
    for want, what in ((1, "one"), (2, "two")):
        published = False
        for _ in range(5):
            c.connect()
            drive(c, lambda: c.state == mqtt.DOWN or (c.state == mqtt.UP and c.granted(0) >= 0))
            if c.state != mqtt.UP:
                continue
            if not published:
                ready(what)  # the host publishes ykt/t/<name>/down/<what>
                published = True
            drive(c, lambda: len(got) >= want or c.state == mqtt.DOWN)
            if len(got) >= want:
                break
        for _ in range(20):  # anything more the broker sent would arrive now
            c.step(5)
            nap()
        _close(c)  # PUBACK goes out before DISCONNECT
    return {"got": got, "received": c.received, "granted": c.granted(0), "error": c.error}


def silent(host, port, user="", password="", name="ykt-silent", ready=None):
    """A peer that accepts and says nothing: each step returns at once, the client waits for
    CONNACK on its clock, not on the wall, and gives up when that clock says so."""
    clock = ManualClock()
    c = _client(name, host, port, clock=clock, timeout_ms=5000)
    c.connect()
    states = []
    for _ in range(200):
        states.append(c.step(50))
        nap()
    clock.t += 4999
    before = c.step(0)
    clock.t += 1
    after = c.step(0)
    return {"states": sorted(set(states)), "before": before, "after": after, "error": c.error}


def malformed(host, port, user="", password="", name="ykt-malformed", ready=None):
    """A peer that answers with something broken: the error code, and the loop goes on."""
    c = _client(name, host, port, max_packet=256)
    c.subscribe(b"ykt/x/#", 1)
    c.connect()
    drive(c, lambda: c.state == mqtt.DOWN)
    first = [c.state, c.error]
    # the client is still usable: a second connection to the same peer
    c.connect()
    drive(c, lambda: c.state == mqtt.DOWN)
    return {"first": first, "second": [c.state, c.error]}


def drop_resend(host, port, user="", password="", name="ykt-drop", ready=None):
    """The peer drops the connection after a QoS 1 PUBLISH without PUBACK; a reconnect
    sends it again (with DUP) and its PUBACK empties the pending set."""
    c = _client(name, host, port)
    c.connect()
    drive(c, _settled(c))
    pid = c.publish(b"ykt/t/drop/up", b"record 7", 1)
    drive(c, lambda: c.state == mqtt.DOWN)
    out = {"pid": pid, "dropped": [c.state, c.error], "pending_dropped": c.pending()}
    c.connect()
    drive(c, lambda: not c.pending() or c.state == mqtt.DOWN)
    out.update(state=c.state, pending=c.pending(), resends=c.resends, error=c.error)
    _close(c)
    return out


def retry(host, port, user="", password="", name="ykt-retry", ready=None):
    """No PUBACK within retry_ms (on the client's clock): the PUBLISH goes again with DUP."""
    clock = ManualClock()
    c = _client(name, host, port, clock=clock, retry_ms=3000)
    c.connect()
    drive(c, _settled(c))
    c.publish(b"ykt/t/retry/up", b"record 9", 1)
    for _ in range(20):
        c.step(5)
        nap()
    clock.t += 2999
    c.step(5)
    early = c.resends
    clock.t += 1
    drive(c, lambda: not c.pending() or c.state == mqtt.DOWN)
    out = {"early": early, "resends": c.resends, "pending": c.pending(), "state": c.state}
    _close(c)
    return out


def incoming_ack(host, port, user="", password="", name="ykt-inack", ready=None):
    """A QoS 1 PUBLISH from the peer: delivered once, PUBACK with its packet id."""
    got = []
    c = _client(name, host, port,
                on_message=lambda t, m: got.append([bytes(t).decode(), bytes(m).decode()]))
    c.connect()
    drive(c, lambda: len(got) >= 1 or c.state == mqtt.DOWN)
    for _ in range(20):  # anything more the peer sent would arrive now
        c.step(5)
        nap()
    _close(c)
    return {"got": got, "received": c.received, "error": c.error}


def connect_packet(host, port, user="", password="", name="ykt-cp", ready=None):
    """CONNECT with everything: user, password, keepalive, a persistent session, a Will."""
    c = _client(name, host, port, "t201", "s3cret", keepalive=30, clean=False)
    c.set_last_will(b"ykt/t/201/status", b"offline", True, 1)
    c.connect()
    drive(c, _settled(c))
    out = {"state": c.state, "session_present": c.session_present}
    _close(c)
    return out


def keepalive(host, port, user="", password="", name="ykt-ka", ready=None):
    """PINGREQ after 3/4 of the keepalive without sending; no PINGRESP within 1/2: dead."""
    clock = ManualClock()
    c = _client(name, host, port, clock=clock, keepalive=10)
    c.connect()
    drive(c, _settled(c))
    clock.t += 7499
    c.step(5)
    clock.t += 1
    drive(c, lambda: c.pongs == 1 or c.state == mqtt.DOWN)
    out = {"pongs": c.pongs}
    clock.t += 7500  # the second PINGREQ; the peer will not answer it
    for _ in range(20):
        c.step(5)
        nap()
    clock.t += 4999
    out["before"] = c.step(5)
    clock.t += 1
    out["after"] = [c.step(5), c.error]
    return out


def resend_order(host, port, user="", password="", name="ykt-order", ready=None):
    """A, B, C published; the peer acknowledges B and drops; D published while down. The
    reconnect sends A and C again (DUP) and then D (first time), in that order."""
    c = _client(name, host, port)
    c.connect()
    drive(c, _settled(c))
    for m in (b"A", b"B", b"C"):
        c.publish(b"ykt/t/order/up", m, 1)
    drive(c, lambda: c.state == mqtt.DOWN)
    out = {"pending_dropped": c.pending(), "d": c.publish(b"ykt/t/order/up", b"D", 1)}
    c.connect()
    drive(c, lambda: not c.pending() or c.state == mqtt.DOWN)
    out.update(pending=c.pending(), resends=c.resends, state=c.state)
    _close(c)
    return out


def qos0_loop(host, port, user="", password="", name="ykt-q0", ready=None):
    """QoS 0 both ways through a real broker: published to a topic the client subscribed."""
    got = []
    c = _client(name, host, port,
                on_message=lambda t, m: got.append([bytes(t).decode(), bytes(m).decode()]))
    c.subscribe("ykt/t/" + name + "/echo", 0)
    c.connect()
    drive(c, lambda: c.state == mqtt.DOWN or (c.state == mqtt.UP and c.granted(0) >= 0))
    out = {"granted": c.granted(0), "publish": c.publish("ykt/t/" + name + "/echo", "ping", 0)}
    drive(c, lambda: got or c.state == mqtt.DOWN)
    out.update(got=got, error=c.error)
    _close(c)
    return out


CASES = {"connect": connect, "publish_qos1": publish_qos1, "receive": receive,
         "silent": silent, "malformed": malformed, "drop_resend": drop_resend, "retry": retry,
         "incoming_ack": incoming_ack, "connect_packet": connect_packet, "keepalive": keepalive,
         "resend_order": resend_order, "qos0_loop": qos0_loop}


def _ready(what):
    print("READY", what)
    sys.stdin.readline()


if __name__ == "__main__":
    args = sys.argv[1:]
    print("RESULT", json.dumps(CASES[args[0]](*args[1:], ready=_ready)))
