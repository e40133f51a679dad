"""The back office as a long-running MQTT service (`ykt office serve`, docs/sync.md).

Two parts:

- :class:`Office`: what the office does with one message, without the network. ``handle(topic,
  payload)`` takes a terminal's ``rec`` or ``hb`` message and returns the messages to publish
  (:class:`~host_tools.lib.office.ops.Message`): records are ingested idempotently
  (:func:`~host_tools.lib.office.ingest.ingest_records`: quarantine, chain, TACs) and
  acknowledged with the new watermark and its MAC; holes below the newest record seen are
  asked for again (``resend``, at most once per ``resend_after`` seconds for one range); a
  heartbeat is stored, answered with the office's time when its clock is off by more than
  ``max_drift`` seconds, with the ack again when the terminal holds an older one, with a
  resend when it has records the office lacks and sent none for ``resend_after`` seconds,
  and clears the retained updates it shows installed. A message that cannot be handled is one
  line (``say``) and nothing is published for it: nothing is acknowledged that was not stored.
  The database is opened on first use and again after it failed.
- :class:`Service`: the MQTT side, on paho-mqtt. Its network thread queues what comes; one
  worker thread takes what has queued (up to ``batch`` messages) and hands it to
  :meth:`Office.handle_batch`: the records of the whole batch in one transaction, then the
  acks, then the PUBACKs to the broker (manual acks: a message is acknowledged to the
  broker only once handled). The database is used from that one thread only. It
  subscribes ``ykt/t/+/rec``, ``ykt/t/+/hb`` and ``ykt/t/+/get`` at QoS 1 with a
  persistent session (client id ``ykt-office`` by default), so what terminals sent
  while the office was down is delivered when it comes back. With
  ``share`` (``--share GROUP``) it is one worker of several: MQTT 5 shared subscriptions
  (``$share/GROUP/ykt/t/+/rec``) on a broker that has them (Mosquitto 2; amqtt does not),
  each with a client id of its own, writing to one PostgreSQL database (the ingest locks the
  terminal's row, so two workers never store one terminal's records at once).

:func:`publish_messages` sends a list of messages once and waits for each PUBACK
(`ykt office deny` / `publish`). Card numbers in every line are masked; no key or password
is ever in one.
"""

from __future__ import annotations

import datetime
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from host_tools.lib.errors import BadInput, Failed, YktError
from host_tools.lib.issuer import OfficeKeys
from host_tools.lib.office import ingest, ops
from host_tools.lib.office import sync as wire
from host_tools.lib.office.db import Db, open_db
from host_tools.lib.office.ops import Message

Say = Callable[[str], None]
SUBSCRIPTIONS = ("ykt/t/+/rec", "ykt/t/+/hb", "ykt/t/+/get")
DEFAULT_PORT = 1883
SESSION_EXPIRY_S = 7 * 86400  # a worker's MQTT 5 session outlives a week's outage
# CONNACK return codes (MQTT 3.1.1) in words
CONNACK = {1: "unacceptable protocol version", 2: "client id rejected",
           3: "server unavailable", 4: "bad user name or password", 5: "not authorised"}


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines() or [type(e).__name__])[0]


# -- the broker -------------------------------------------------------------------------------

@dataclass(frozen=True)
class BrokerOptions:
    host: str
    port: int = DEFAULT_PORT
    user: str | None = None
    password: str | None = None
    client_id: str = "ykt-office"
    keepalive: int = 60
    share: str | None = None  # MQTT 5 shared subscription group: workers share the load

    def where(self) -> str:
        """The broker named for people (never the password)."""
        return "mqtt://%s%s:%d" % (self.user + "@" if self.user else "", self.host, self.port)


def read_password(path: str) -> str:
    """The first line of a password file (the password itself is never shown)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.readline().strip()
    except FileNotFoundError:
        raise BadInput("no such password file: %s" % path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput("password file %s cannot be read (%s)" % (path, e)) from None
    if not text:
        raise BadInput("password file %s is empty" % path)
    return text


def parse_broker(url: str, user: str | None = None, password_file: str | None = None,
                 client_id: str = "ykt-office", share: str | None = None) -> BrokerOptions:
    """``mqtt://HOST[:PORT]`` (or ``HOST:PORT``) and the credentials given beside it."""
    text = url if "://" in url else "mqtt://" + url
    try:
        parts = urlsplit(text)
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise BadInput("broker %r: mqtt://HOST:PORT" % url) from None
    if parts.scheme != "mqtt" or not parts.hostname:
        raise BadInput("broker %r: mqtt://HOST:PORT (TLS is not supported here)" % url)
    if parts.password is not None:
        raise BadInput("broker %r: give the password in a file (--password-file), "
                       "not in the URL" % url)
    name = user or (unquote(parts.username) if parts.username else None)
    password = read_password(password_file) if password_file else None
    if password is not None and not name:
        raise BadInput("a password file needs --user")
    if share is not None and (not share or set(share) & set("/+#$")):
        raise BadInput("shared subscription group %r: a name without / + # $" % share)
    return BrokerOptions(parts.hostname, port, name, password, client_id, share=share)


def _client(opts: BrokerOptions, client_id: str, clean: bool, v5: bool = False,
            manual_ack: bool = False) -> Any:
    import paho.mqtt.client as mqtt

    if v5:  # a shared subscription needs MQTT 5 (clean start is given at connect)
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                        protocol=mqtt.MQTTv5, manual_ack=manual_ack)
    else:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                        clean_session=clean, protocol=mqtt.MQTTv311, manual_ack=manual_ack)
    if opts.user:
        c.username_pw_set(opts.user, opts.password)
    c.reconnect_delay_set(1, 30)
    return c


def _reason(rc: Any) -> str:
    value = getattr(rc, "value", rc)
    if isinstance(value, int) and value in CONNACK:
        return CONNACK[value]
    if isinstance(value, int) and value in (134, 135):  # MQTT 5 names of the same two
        return CONNACK[4 if value == 134 else 5]
    return str(rc)


def publish_messages(opts: BrokerOptions, messages: list[Message], timeout: float = 30.0,
                     client_id: str | None = None) -> int:
    """Connect, publish ``messages`` at QoS 1 and wait for every PUBACK, disconnect; how
    many were sent. Failed (one line) when the broker cannot be reached or refuses."""
    import paho.mqtt.client as mqtt

    c = _client(opts, client_id or "ykt-office-pub-%d" % os.getpid(), True)
    refused: list[str] = []
    up = threading.Event()

    def on_connect(client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if getattr(rc, "is_failure", False):
            refused.append(_reason(rc))
        up.set()

    c.on_connect = on_connect
    try:
        c.connect(opts.host, opts.port, opts.keepalive)
    except (OSError, ValueError) as e:
        raise Failed("cannot reach the broker %s: %s" % (opts.where(), _first_line(e))) from None
    c.loop_start()
    try:
        if not up.wait(timeout) or refused:
            raise Failed("the broker %s refused the connection: %s"
                         % (opts.where(), refused[0] if refused else "no CONNACK"))
        infos = [c.publish(m.topic, m.payload, qos=1, retain=m.retain) for m in messages]
        deadline = time.monotonic() + timeout
        for info in infos:
            if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_NO_CONN:
                raise Failed("publish to %s failed: %s" % (opts.where(),
                                                           mqtt.error_string(info.rc)))
            info.wait_for_publish(max(deadline - time.monotonic(), 0.1))
            if not info.is_published():
                raise Failed("the broker %s did not acknowledge every message in %d s"
                             % (opts.where(), timeout))
    finally:
        c.disconnect()
        c.loop_stop()
    return len(messages)


# -- the office's logic -----------------------------------------------------------------------

class Office:
    """What the office does with each terminal message (no network: see the module)."""

    def __init__(self, db: str, keys: OfficeKeys, say: Say, *, max_drift: int = 60,
                 resend_after: float = 30.0,
                 now: Callable[[], datetime.datetime] = datetime.datetime.now,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.target = db
        self.keys = keys
        self.say = say
        self.max_drift = max_drift
        self.resend_after = resend_after
        self.now = now
        self.monotonic = monotonic
        self.db: Db | None = None
        self.counts = {"records": 0, "stored": 0, "quarantined": 0, "heartbeats": 0,
                       "bad": 0, "acks": 0, "resends": 0, "times": 0, "parts": 0}
        self._asked: dict[tuple[str, int, int], float] = {}  # resend range -> when
        self._last_rec: dict[str, float] = {}  # terminal -> when its last records came
        self.parts = ops.Parts(keys)

    def database(self) -> Db:
        if self.db is None:
            self.db = open_db(self.target, create=True)
        return self.db

    def close(self) -> None:
        if self.db is not None:
            try:
                self.db.close()
            except Exception:  # a connection that died already
                pass
            self.db = None

    def handle(self, topic: str, payload: bytes) -> list[Message]:
        """The messages to publish for one incoming message; never raises."""
        def work() -> list[Message]:
            tid, what = wire.parse_topic(topic)
            if what == "rec":
                return self.records(tid, payload)
            if what == "get":
                return self.get(tid, payload)
            return self.heartbeat(tid, payload)

        return self._guard(topic, work)

    def handle_batch(self, items: list[tuple[str, bytes]]) -> list[Message]:
        """The messages to publish for several incoming messages: the record messages of
        all of them ingested in one transaction (one commit for the batch: the group commit
        that makes the ingest fast), every other message as :meth:`handle` does, after
        them. Nothing is acknowledged before the transaction holding it committed; when
        the batch fails, each terminal's records are tried again in a transaction of
        their own (so one bad terminal cannot hold the others back). Never raises."""
        groups: dict[str, list[bytes]] = {}
        others: list[tuple[str, bytes]] = []
        for topic, payload in items:
            try:
                tid, what = wire.parse_topic(topic)
                if what == "rec":
                    groups.setdefault(tid, []).extend(wire.decode_records(payload))
                    continue
                if what == "hb":  # (refused here: the lines keep the order things came in)
                    wire.decode_heartbeat(payload, tid)
                else:
                    wire.decode_get(payload)
                others.append((topic, payload))
            except BadInput as e:
                self.counts["bad"] += 1
                self.say("%s: refused: %s" % (topic, e))
        out: list[Message] = []
        if groups:
            try:
                reports = ingest.ingest_batch(self.database(), self.keys, groups)
                for rep in reports:
                    out += self._stored(rep)
            except Exception as e:
                self.say("a batch of %d terminal(s) not stored together (%s: %s): "
                         "one by one" % (len(groups), type(e).__name__, _first_line(e)))
                self.close()
                for tid, raws in groups.items():
                    out += self._guard("ykt/t/%s/rec" % tid, _bind(self._ingest, tid, raws))
        for topic, payload in others:
            out += self.handle(topic, payload)
        return out

    def _guard(self, topic: str, work: Callable[[], list[Message]]) -> list[Message]:
        try:
            return work()
        except BadInput as e:
            self.counts["bad"] += 1
            self.say("%s: refused: %s" % (topic, e))
        except YktError as e:
            self.say("%s: not stored: %s" % (topic, e))
            self.close()
        except Exception as e:  # the database failed (connection lost, disk full, ...)
            self.say("%s: not stored (database %s): %s"
                     % (topic, type(e).__name__, _first_line(e)))
            self.close()
        return []

    def _ack(self, tid: str, seq: int) -> Message:
        self.counts["acks"] += 1
        tbytes = bytes.fromhex(tid)
        return Message(wire.topic(tid, "ack"),
                       wire.encode_ack(self.keys.journal_key(tbytes), tbytes, seq))

    def _resend(self, tid: str, ranges: list[tuple[int, int]]) -> list[Message]:
        out = []
        clock = self.monotonic()
        if len(self._asked) > 10000:  # forget ranges asked for long ago
            self._asked = {k: t for k, t in self._asked.items()
                           if clock - t < self.resend_after}
        for first, last in ranges:
            asked = self._asked.get((tid, first, last))
            if asked is not None and clock - asked < self.resend_after:
                continue
            self._asked[(tid, first, last)] = clock
            self.counts["resends"] += 1
            self.say("%s: missing seq %s: resend asked" % (tid, _span(first, last)))
            out.append(Message(wire.topic(tid, "resend"), wire.encode_resend(first, last)))
        return out

    def records(self, tid: str, payload: bytes) -> list[Message]:
        return self._ingest(tid, wire.decode_records(payload))

    def _ingest(self, tid: str, raws: list[bytes]) -> list[Message]:
        return self._stored(ingest.ingest_records(self.database(), self.keys, tid, raws))

    def _stored(self, rep: ingest.Report) -> list[Message]:
        """What to publish once ``rep``'s records were committed: the ack, resends."""
        tid = rep.terminal
        self._last_rec[tid] = self.monotonic()
        self.counts["records"] += rep.received
        self.counts["stored"] += rep.stored
        self.counts["quarantined"] += len(rep.quarantined)
        self.say("%s: %d record(s): %d stored, %d already stored, %d waiting, "
                 "%d quarantined; acknowledged up to seq %d"
                 % (tid, rep.received, rep.stored, rep.duplicates, rep.waiting,
                    len(rep.quarantined), rep.watermark))
        for q in rep.quarantined:
            self.say("%s: QUARANTINED seq %d: %s" % (tid, q.seq, q.reason))
        for b in rep.bad_tac:
            self.say("%s: BAD TAC seq %d: %s of %d fen by card %s (not settled)"
                     % (tid, b.seq, b.kind, b.fen, b.card))
        out = [self._ack(tid, rep.watermark)] if rep.watermark > 0 else []
        return out + self._resend(tid, rep.gaps)

    def get(self, tid: str, payload: bytes) -> list[Message]:
        """The parts a terminal asks for of an update it downloads (docs/sync.md)."""
        out = self.parts.answer(self.database(), tid, payload)
        self.counts["parts"] += len(out)
        return out

    def heartbeat(self, tid: str, payload: bytes) -> list[Message]:
        hb = wire.decode_heartbeat(payload, tid)
        db = self.database()
        now = wire.secs2000(self.now())
        out: list[Message] = []
        with db.transaction():
            drift = ops.store_heartbeat(db, hb, now)
            out += ops.clear_installed(db, hb, now)
        self.counts["heartbeats"] += 1
        for m in out:
            self.say("%s: %s installed: retained update cleared" % (tid, m.topic.rsplit("/")[-1]))
        if abs(drift) > self.max_drift:
            self.counts["times"] += 1
            self.say("%s: clock off by %+d s: office time sent" % (tid, drift))
            out.append(Message(wire.topic(tid, "time"), wire.encode_time(now)))
        mark = ingest.watermark(db, tid)
        if 0 < mark and hb.acked < mark:
            out.append(self._ack(tid, mark))
        elif hb.acked > mark:
            self.say("%s: holds an ack for seq %d, the office has stored up to %d"
                     % (tid, hb.acked, mark))
        quiet = self.monotonic() - self._last_rec.get(tid, float("-inf"))
        if hb.last > mark and quiet >= self.resend_after:  # what the terminal still holds
            out += self._resend(tid, [(max(a, hb.acked + 1), b) for a, b in
                                      ingest.gaps(db, tid, upto=hb.last) if b > hb.acked])
        return out


def _bind(fn: Callable[[str, list[bytes]], list[Message]], tid: str,
          raws: list[bytes]) -> Callable[[], list[Message]]:
    return lambda: fn(tid, raws)


def _span(first: int, last: int) -> str:
    return "%d" % first if first == last else "%d..%d" % (first, last)


# -- the MQTT service -------------------------------------------------------------------------

class Service:
    """``Office`` on a broker: ``run()`` until ``stop()`` (from a signal handler or another
    thread). Each incoming QoS 1 message gets its PUBACK after it was handled."""

    def __init__(self, opts: BrokerOptions, office: Office, say: Say, batch: int = 256) -> None:
        self.opts = opts
        self.office = office
        self.say = say
        self.batch = batch  # messages handled in one transaction at most
        self._queue: queue.Queue[tuple[str, bytes, int, int]] = queue.Queue()
        self._stop = threading.Event()
        self.connected = threading.Event()  # set while subscribed
        self.client: Any = None

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any,
                    props: Any) -> None:
        if getattr(rc, "is_failure", False):
            self.say("broker %s refused the connection: %s" % (self.opts.where(), _reason(rc)))
            return
        client.subscribe([(self.filter(sub), 1) for sub in SUBSCRIPTIONS])

    def filter(self, sub: str) -> str:
        """The topic filter subscribed: ``$share/GROUP/...`` for a worker of a group."""
        return "$share/%s/%s" % (self.opts.share, sub) if self.opts.share else sub

    def _on_subscribe(self, client: Any, userdata: Any, mid: Any, codes: Any,
                      props: Any) -> None:
        refused = [c for c in codes if getattr(c, "is_failure", False)]
        if refused:
            self.say("broker %s refused the subscriptions: %s (its ACL must let the office "
                     "read ykt/#)" % (self.opts.where(), _reason(refused[0])))
            return
        self.say("connected to %s, subscribed %s" % (
            self.opts.where(), " ".join(self.filter(sub) for sub in SUBSCRIPTIONS)))
        self.connected.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any,
                       props: Any) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            self.say("lost the broker %s (%s): reconnecting" % (self.opts.where(), _reason(rc)))

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        self.say("cannot reach the broker %s: retrying" % self.opts.where())

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        # handled on the worker thread; its PUBACK goes once it was (manual acks)
        if self._stop.is_set():  # stopping: never acknowledged, the broker keeps it for
            return  # this session's next connection
        self._queue.put((str(msg.topic), bytes(msg.payload), int(msg.mid), int(msg.qos)))

    def _work(self) -> None:
        """The one thread that uses the database: what has come, in batches."""
        q = self._queue
        while True:
            try:
                items = [q.get(timeout=0.2)]
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            while len(items) < self.batch:
                try:
                    items.append(q.get_nowait())
                except queue.Empty:
                    break
            out = self.office.handle_batch([(t, p) for t, p, _, _ in items])
            c = self.client
            for m in out:
                c.publish(m.topic, m.payload, qos=1, retain=m.retain)
            for _, _, mid, qos in items:
                if qos:
                    c.ack(mid, qos)

    def run(self) -> int:
        c = _client(self.opts, self.opts.client_id, False, v5=bool(self.opts.share),
                    manual_ack=True)
        self.client = c
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_connect_fail = self._on_connect_fail
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        if self.opts.share:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties

            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY_S  # what comes while it is down waits
            c.connect_async(self.opts.host, self.opts.port, self.opts.keepalive,
                            clean_start=False, properties=props)
        else:
            c.connect_async(self.opts.host, self.opts.port, self.opts.keepalive)
        worker = threading.Thread(target=self._work, name="ykt-office-db", daemon=True)
        worker.start()
        c.loop_start()
        try:
            while not self._stop.wait(0.2):
                pass
        finally:
            worker.join()  # what came is handled (and acknowledged) first
            c.disconnect()
            c.loop_stop()
            self.office.close()
        n = self.office.counts
        self.say("stopped: %d record(s) received, %d stored, %d quarantined, %d heartbeat(s), "
                 "%d bad message(s)" % (n["records"], n["stored"], n["quarantined"],
                                        n["heartbeats"], n["bad"]))
        return 0

    def stop(self) -> None:
        self._stop.set()
