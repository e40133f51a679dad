"""MQTT 3.1.1 client (OASIS MQTT Version 3.1.1, 2014), non-blocking, in bounded slices.

Section numbers refer to that standard: fixed header and Remaining Length §2.2,
Packet Identifier §2.3.1, CONNECT §3.1, CONNACK §3.2 (return codes Table 3.1),
PUBLISH §3.3, PUBACK §3.4, SUBSCRIBE §3.8, SUBACK §3.9, PINGREQ §3.12,
PINGRESP §3.13, DISCONNECT §3.14, message delivery retry §4.4.

QoS 0 and 1 both ways (QoS 2 is not supported: subscriptions ask for at most 1, so
a broker never sends QoS 2). The tap loop must never wait on the network, so
nothing here blocks: the socket is non-blocking, ``select.poll`` is asked with a
zero timeout, partial reads and writes stay in buffers allocated once, and
``step()`` does a bounded amount of work and returns. Time comes from
``ykt.clock`` (or a clock object with the same ``ticks_ms()`` / ``elapsed_ms()``).
Only the socket API MicroPython and CPython share is used (``getaddrinfo``,
``socket``, ``setblocking``, ``connect``, ``send``, ``recv``, ``close``), so the
same code runs on the board, on the unix port and under CPython.

Usage::

    from ykt.net import mqtt

    def got(topic, msg):              # msg is a memoryview valid during the call
        print(topic, bytes(msg))

    c = mqtt.MQTTClient(b"ykt-290031000201", "10.0.0.2", 1883, user=b"t201",
                        password=b"...", keepalive=60, on_message=got)
    c.subscribe(b"ykt/t/290031000201/down/#", 1)
    c.connect()                       # starts the TCP connect, returns at once
    pid = c.publish(b"ykt/t/290031000201/up", b"...", 1)   # > 0: queued at QoS 1
    while True:                       # the terminal's idle loop
        state = c.step(5)             # at most ~5 ms of work, never waits
        if state == mqtt.DOWN and c.error:
            ...                       # report c.error (and c.connack, c.errno); later c.connect()
        if not c.is_pending(pid):
            ...                       # the broker has it (PUBACK)

States (``step()`` returns one): DOWN, CONNECTING (TCP), HANDSHAKE (CONNECT sent,
waiting for CONNACK), UP, CLOSING (DISCONNECT being sent).

Errors: ``error`` holds the code of the last failure (E_*, 0 while all is well); a
failure closes the connection (state DOWN) except E_SUBSCRIBE. A refused CONNACK
leaves its return code (CONNACK_*) in ``connack``, an unexpected socket error its
errno in ``errno``. ``publish`` and ``subscribe`` refuse with a negative code
(-E_BUSY, -E_DOWN, -E_TOO_BIG). Malformed input from the peer is E_MALFORMED or
E_PROTOCOL, never an exception. QoS 1 messages not acknowledged are kept (up to
``inflight``), resent with DUP after ``retry_ms`` and after every reconnect
(§4.4), in the order they were published.
"""

import errno
import select
import socket

from micropython import const

from ykt import clock as _ykt_clock

# States
DOWN = const(0)
CONNECTING = const(1)
HANDSHAKE = const(2)
UP = const(3)
CLOSING = const(4)

# Error codes (``error``; publish/subscribe refuse with the negative)
OK = const(0)
E_CONNECT = const(1)  # the TCP connection failed (refused, unreachable)
E_REFUSED = const(2)  # CONNACK refused the connection: its code is in ``connack``
E_CLOSED = const(3)  # the peer closed or reset the connection
E_TIMEOUT = const(4)  # no TCP connection, CONNACK or PINGRESP in time
E_MALFORMED = const(5)  # a packet that does not parse (lengths, flags, fields)
E_PROTOCOL = const(6)  # a well-formed packet not allowed here (type, state, QoS 2)
E_TOO_BIG = const(7)  # an incoming packet larger than ``max_packet``
E_SOCKET = const(8)  # another socket error: its errno is in ``errno``
E_SUBSCRIBE = const(9)  # SUBACK refused a subscription (0x80); the connection stays
E_BUSY = const(10)  # refused: every in-flight slot, subscription or the send buffer is in use
E_DOWN = const(11)  # refused: QoS 0 needs a connection
E_TOO_LONG = const(12)  # refused: the packet would not fit ``max_packet``

# CONNACK return codes (§3.2.2.3, Table 3.1)
CONNACK_ACCEPTED = const(0)
CONNACK_PROTOCOL = const(1)  # unacceptable protocol version
CONNACK_IDENTIFIER = const(2)  # identifier rejected
CONNACK_UNAVAILABLE = const(3)  # server unavailable
CONNACK_CREDENTIALS = const(4)  # bad user name or password
CONNACK_NOT_AUTHORIZED = const(5)

# SUBACK return code for a refused subscription (§3.9.3)
SUBACK_FAILURE = const(0x80)

# Packet types (§2.2.1), as the high nibble of the first byte
_CONNECT = const(0x10)
_CONNACK = const(2)
_PUBLISH = const(3)
_PUBACK = const(4)
_SUBSCRIBE = const(0x82)  # with its reserved flags 0010 (§3.8.1)
_SUBACK = const(9)
_PINGREQ = const(0xC0)
_PINGRESP = const(13)
_DISCONNECT = const(0xE0)
_DUP = const(0x08)

# Slots of QoS 1 messages
_FREE = const(0)
_QUEUED = const(1)  # to be sent (first time, after a timeout or after a reconnect)
_SENT = const(2)  # in the send buffer or on the wire, waiting for PUBACK

_ROUNDS_MAX = const(8)  # poll/read/parse/write rounds in one step()
_PACKETS_MAX = const(8)  # incoming packets handled in one round
_CHUNK = const(256)  # bytes asked of recv() at a time
_CTL_ROOM = const(64)  # send-buffer room kept for control packets beyond one PUBLISH

_POLLIN = const(1)
_POLLOUT = const(4)
_POLLERR = const(8)
_POLLHUP = const(16)
_EPIPE = const(32)  # not in MicroPython's errno module; the same on Linux and lwIP


def _put16(buf, i, v):
    buf[i] = v >> 8
    buf[i + 1] = v & 0xFF
    return i + 2


def _putb(buf, i, b):
    n = len(b)
    buf[i:i + n] = b
    return i + n


def _putstr(buf, i, b):
    return _putb(buf, _put16(buf, i, len(b)), b)


def _putlen(buf, i, n):
    """Remaining Length (§2.2.3) at ``i`` -> the index after it."""
    while True:
        d = n & 0x7F
        n >>= 7
        if n:
            buf[i] = d | 0x80
            i += 1
        else:
            buf[i] = d
            return i + 1


def _lenlen(n):
    return 1 if n < 128 else 2 if n < 16384 else 3 if n < 2097152 else 4


def _b(s):
    return s.encode() if isinstance(s, str) else s


class MQTTClient:
    """One connection to one broker (see the module docstring).

    ``max_packet`` bounds a packet either way (incoming larger: E_TOO_BIG, the
    connection is closed); ``inflight`` QoS 1 messages may wait for PUBACK, each in a
    slot of ``max_packet`` bytes allocated here; ``subs`` subscriptions are kept and
    sent again after each CONNACK. Heap: about ``(inflight + 2) * max_packet`` bytes
    of buffers.
    """

    def __init__(self, client_id, server, port=1883, user=None, password=None, keepalive=60,
                 clean=True, on_message=None, max_packet=1024, inflight=4, subs=4,
                 retry_ms=10000, timeout_ms=10000, clock=None):
        self.client_id = _b(client_id)
        self.server = server
        self.port = port
        self.user = None if user is None else _b(user)
        self.password = None if password is None else _b(password)
        self.keepalive = keepalive
        self.clean = clean
        self.on_message = on_message
        self.retry_ms = retry_ms
        self.timeout_ms = timeout_ms
        self._clock = clock or _ykt_clock
        self._will = None
        self.max_packet = max_packet
        self._out = bytearray(max_packet + _CTL_ROOM)
        self._outv = memoryview(self._out)
        self._opos = 0  # first byte not yet sent
        self._olen = 0  # end of the bytes to send
        self._in = bytearray(max_packet)
        self._inv = memoryview(self._in)
        self._ilen = 0
        self._slot = [bytearray(max_packet) for _ in range(inflight)]
        self._slen = [0] * inflight
        self._spid = [0] * inflight
        self._sstate = [_FREE] * inflight
        self._sorder = [0] * inflight  # publication order, for resending in order
        self._sat = [0] * inflight  # ticks when last put in the send buffer
        self._order = 0
        self._pid = 0
        self._subt = [b""] * subs  # topic bytes (b"": a free entry)
        self._subq = [0] * subs
        self._subpid = [0] * subs  # 0: SUBSCRIBE not sent on this connection
        self._subg = [-1] * subs  # granted QoS, SUBACK_FAILURE, -1 while not acknowledged
        self._sock = None
        self._poll = select.poll()
        self.state = DOWN
        self.error = OK
        self.connack = CONNACK_ACCEPTED
        self.errno = 0
        self.session_present = False
        self.resends = 0  # QoS 1 messages sent again (with DUP), since construction
        self.received = 0  # PUBLISH packets delivered to on_message
        self.pongs = 0  # PINGRESP packets received
        self._t0 = 0  # ticks: connect started / CONNECT sent
        self._tx = 0  # ticks: last packet queued
        self._ping = False  # PINGREQ sent, PINGRESP awaited
        self._ping_at = 0

    # -- set-up ------------------------------------------------------------
    def set_last_will(self, topic, msg, retain=False, qos=0):
        """The Will (§3.1.2.5): published by the broker if this client vanishes."""
        self._will = (_b(topic), _b(msg), retain, qos)

    def subscribe(self, topic, qos=1):
        """Keep a subscription (sent now if UP, else after the next CONNACK).

        -> its index (for ``granted(i)``), -E_BUSY (no free entry) or -E_TOO_LONG.
        """
        if qos not in (0, 1):
            raise ValueError("qos 0 or 1")
        topic = _b(topic)
        if 7 + len(topic) > self.max_packet:
            return -E_TOO_LONG
        free = -1
        for i in range(len(self._subt)):
            if self._subt[i] == topic:
                free = i
                break
            if free < 0 and not self._subt[i]:
                free = i
        if free < 0:
            return -E_BUSY
        self._subt[free] = topic
        self._subq[free] = qos
        self._subpid[free] = 0
        self._subg[free] = -1
        return free

    def forget(self, i):
        """Stop keeping subscription ``i``: it is not sent again after the next CONNACK (no
        UNSUBSCRIBE goes out; a clean session's subscriptions end with its connection)."""
        self._subt[i] = b""
        self._subpid[i] = 0
        self._subg[i] = -1

    def granted(self, i):
        """What SUBACK said of subscription ``i``: its QoS, SUBACK_FAILURE, or -1 (not yet)."""
        return self._subg[i]

    # -- connection --------------------------------------------------------
    def connect(self):
        """Start connecting (TCP, then CONNECT); ``step()`` carries it on. -> state.

        Resolving a host name may wait for DNS on a board: give an address.
        """
        self._close()
        self.error = OK
        self.connack = CONNACK_ACCEPTED
        self.errno = 0
        self._t0 = self._clock.ticks_ms()
        try:
            ai = socket.getaddrinfo(self.server, self.port, 0, socket.SOCK_STREAM)[0]
            s = socket.socket(ai[0], socket.SOCK_STREAM, ai[2])
        except OSError as e:
            return self._fail(E_CONNECT, e)
        self._sock = s
        self.state = CONNECTING
        try:
            s.setblocking(False)
            self._poll.register(s, _POLLIN | _POLLOUT)
            s.connect(ai[-1])
        except OSError as e:
            if e.args[0] != errno.EINPROGRESS:
                return self._fail(E_CONNECT, e)
        return self.state

    def disconnect(self):
        """Send DISCONNECT (after what is already queued), then close. -> state."""
        if self.state == UP and self._room() >= 2:
            self._queue2(_DISCONNECT)
            self.state = CLOSING
            self._t0 = self._clock.ticks_ms()
        elif self.state != CLOSING:
            self._close()
        return self.state

    def abort(self):
        """Close the connection at once, sending nothing (the link went down). -> DOWN.
        QoS 1 messages not acknowledged stay, for the next CONNACK."""
        self._close()
        return self.state

    # -- messages ----------------------------------------------------------
    def publish(self, topic, msg, qos=0, retain=False):
        """Queue a PUBLISH. -> packet id (> 0) at QoS 1, 0 at QoS 0, or a refusal
        -E_BUSY, -E_DOWN (QoS 0 while not UP), -E_TOO_LONG.

        A QoS 1 message is kept until its PUBACK (``is_pending(pid)``), also across
        a lost connection: it goes out after the next CONNACK.
        """
        if qos not in (0, 1):
            raise ValueError("qos 0 or 1")
        topic = _b(topic)
        msg = _b(msg)
        rl = 2 + len(topic) + len(msg) + (2 if qos else 0)
        size = 1 + _lenlen(rl) + rl
        if size > self.max_packet:
            return -E_TOO_LONG
        flags = _PUBLISH << 4 | qos << 1 | (1 if retain else 0)
        if qos == 0:
            if self.state != UP:
                return -E_DOWN
            if self._room() < size:
                return -E_BUSY
            self._compact(size)
            buf = self._out
            i = self._olen
            buf[i] = flags
            i = _putstr(buf, _putlen(buf, i + 1, rl), topic)
            self._olen = _putb(buf, i, msg)
            self._tx = self._clock.ticks_ms()
            return 0
        k = -1
        for j in range(len(self._sstate)):
            if self._sstate[j] == _FREE:
                k = j
                break
        if k < 0:
            return -E_BUSY
        pid = self._next_pid()
        buf = self._slot[k]
        buf[0] = flags
        i = _putstr(buf, _putlen(buf, 1, rl), topic)
        i = _put16(buf, i, pid)
        self._slen[k] = _putb(buf, i, msg)
        self._spid[k] = pid
        self._sstate[k] = _QUEUED
        self._order += 1
        self._sorder[k] = self._order
        return pid

    def pending(self):
        """How many QoS 1 messages wait for their PUBACK."""
        n = 0
        for s in self._sstate:
            if s != _FREE:
                n += 1
        return n

    def is_pending(self, pid):
        for j in range(len(self._spid)):
            if self._sstate[j] != _FREE and self._spid[j] == pid:
                return True
        return False

    # -- the slice ---------------------------------------------------------
    def step(self, budget_ms=0):
        """Do what can be done now, without waiting, for at most ``budget_ms`` (at least
        one round of poll / read / handle / write; at most 8 rounds). -> state."""
        t0 = self._clock.ticks_ms()
        for _ in range(_ROUNDS_MAX):
            if not self._round():
                break
            if self._clock.elapsed_ms(t0) >= budget_ms:
                break
        return self.state

    def _round(self):
        """One round -> True when it moved bytes or packets (another may too)."""
        st = self.state
        if st == DOWN:
            return False
        ev = self._events()
        if st == CONNECTING:
            return self._connecting(ev)
        if ev & (_POLLIN | _POLLERR | _POLLHUP):
            moved = self._read()
        else:
            moved = False
        if self.state == DOWN:
            return False
        n = self._handle()
        if self.state == DOWN:
            return False
        if n:
            moved = True
        self._timers()
        if self.state == DOWN:
            return False
        if self._olen > self._opos and self._write():
            moved = True
        if self.state == CLOSING and self._olen == self._opos:
            self._close()
            return False
        return moved

    def _events(self):
        try:
            r = self._poll.poll(0)
        except OSError as e:
            self._fail(E_SOCKET, e)
            return 0
        ev = 0
        for entry in r:
            ev |= entry[1]
        return ev

    def _connecting(self, ev):
        if ev & (_POLLERR | _POLLHUP):
            self._fail(E_CONNECT, None)
            return False
        if not ev & _POLLOUT:
            if self._clock.elapsed_ms(self._t0) >= self.timeout_ms:
                self._fail(E_TIMEOUT, None)
            return False
        self._olen = self._opos = 0
        self._ilen = 0
        if not self._queue_connect():
            return False
        self.state = HANDSHAKE
        self._t0 = self._clock.ticks_ms()
        return True

    def _read(self):
        free = len(self._in) - self._ilen
        if not free:
            return False  # complete packets wait to be handled
        try:
            d = self._sock.recv(free if free < _CHUNK else _CHUNK)
        except OSError as e:
            if e.args[0] == errno.EAGAIN:
                return False
            self._lost(e)
            return False
        n = len(d)
        if not n:
            self._fail(E_CLOSED, None)
            return False
        self._in[self._ilen:self._ilen + n] = d
        self._ilen += n
        return True

    def _write(self):
        try:
            n = self._sock.send(self._outv[self._opos:self._olen])
        except OSError as e:
            if e.args[0] == errno.EAGAIN:
                return False
            self._lost(e)
            return False
        if n is None:  # MicroPython: would block
            return False
        self._opos += n
        if self._opos == self._olen:
            self._opos = self._olen = 0
        return n > 0

    # -- incoming ----------------------------------------------------------
    def _handle(self):
        """Handle the complete packets in the receive buffer -> how many.

        A packet leaves the buffer once handled, even when ``on_message`` raises (the
        exception goes on out of ``step()``; that message is not acknowledged)."""
        buf = self._in
        pos = 0
        count = 0
        try:
            while count < _PACKETS_MAX and self.state != DOWN:
                if self._ilen - pos < 1:
                    break
                bad = self._check(buf[pos])
                if bad:
                    self._fail(bad, None)
                    return count
                rl = 0
                mult = 1
                i = pos + 1
                while True:
                    if i - pos > 4:
                        self._fail(E_MALFORMED, None)
                        return count
                    if i >= self._ilen:
                        rl = -1
                        break
                    d = buf[i]
                    rl += (d & 0x7F) * mult
                    mult <<= 7
                    i += 1
                    if not d & 0x80:
                        break
                if rl < 0:
                    break
                end = i + rl
                if end - pos > len(buf):
                    self._fail(E_TOO_BIG, None)
                    return count
                if end > self._ilen:
                    break
                if buf[pos] >> 4 == _PUBLISH and buf[pos] & 6 and self._room() < 4:
                    break  # its PUBACK would not fit: wait for the send buffer to drain
                b0 = buf[pos]
                pos = end
                count += 1
                self._packet(b0, i, rl)
        finally:
            if pos and self.state != DOWN:
                n = self._ilen - pos
                if n:
                    buf[0:n] = buf[pos:self._ilen]
                self._ilen = n
        return count

    def _check(self, b0):
        """The first byte of an incoming packet, before the rest arrives -> 0 or an error:
        in the handshake only CONNACK may come; then PUBLISH, PUBACK, SUBACK, PINGRESP."""
        kind = b0 >> 4
        if self.state == HANDSHAKE:
            if kind != _CONNACK:
                return E_PROTOCOL
        elif kind == _PUBLISH:
            return E_MALFORMED if b0 & 6 == 6 else E_PROTOCOL if b0 & 6 == 4 else 0
        elif kind != _PUBACK and kind != _SUBACK and kind != _PINGRESP:
            return E_PROTOCOL  # CONNACK again, QoS 2's PUBREC/PUBREL/PUBCOMP, a client's
        return E_MALFORMED if b0 & 15 else 0  # their flags are reserved, 0000

    def _packet(self, b0, i, rl):
        kind = b0 >> 4
        flags = b0 & 15
        buf = self._in
        if self.state == HANDSHAKE:
            if rl != 2 or buf[i] & 0xFE:
                self._fail(E_MALFORMED, None)
            elif buf[i + 1]:
                self.connack = buf[i + 1]
                self._fail(E_REFUSED, None)
            else:
                self.session_present = bool(buf[i] & 1)
                self._up()
            return
        if kind == _PUBLISH:
            if self.state == UP:  # not once DISCONNECT is queued: no PUBACK may follow it
                self._incoming(flags, i, rl)
        elif kind == _PUBACK:
            if rl != 2:
                self._fail(E_MALFORMED, None)
                return
            pid = buf[i] << 8 | buf[i + 1]
            for j in range(len(self._spid)):
                if self._sstate[j] != _FREE and self._spid[j] == pid:
                    self._sstate[j] = _FREE  # also one queued again: this PUBACK is late
        elif kind == _SUBACK:
            if rl < 3:
                self._fail(E_MALFORMED, None)
                return
            pid = buf[i] << 8 | buf[i + 1]
            rc = buf[i + 2]
            if rc > 2 and rc != SUBACK_FAILURE:
                self._fail(E_MALFORMED, None)
                return
            for j in range(len(self._subpid)):
                if self._subpid[j] == pid and self._subt[j]:
                    self._subg[j] = rc
                    if rc == SUBACK_FAILURE:
                        self.error = E_SUBSCRIBE
        elif rl:  # PINGRESP (_check let nothing else through)
            self._fail(E_MALFORMED, None)
        else:
            self._ping = False
            self.pongs += 1

    def _incoming(self, flags, i, rl):
        qos = (flags >> 1) & 3  # 0 or 1 (_check)
        buf = self._in
        end = i + rl
        if rl < 2:
            self._fail(E_MALFORMED, None)
            return
        tl = buf[i] << 8 | buf[i + 1]
        t = i + 2
        p = t + tl
        pid = 0
        if qos:
            if p + 2 > end:
                self._fail(E_MALFORMED, None)
                return
            pid = buf[p] << 8 | buf[p + 1]
            if not pid:
                self._fail(E_MALFORMED, None)
                return
            p += 2
        if p > end or not tl:
            self._fail(E_MALFORMED, None)
            return
        self.received += 1
        if self.on_message is not None:
            self.on_message(bytes(buf[t:t + tl]), self._inv[p:end])
        if qos:
            self._queue_ack(pid)

    def _up(self):
        self.state = UP
        self._ping = False
        self._tx = self._clock.ticks_ms()
        for j in range(len(self._subt)):
            self._subpid[j] = 0
            if self._subt[j]:
                self._subg[j] = -1

    # -- outgoing ----------------------------------------------------------
    def _timers(self):
        now = self._clock
        if self.state == HANDSHAKE or self.state == CLOSING:
            if now.elapsed_ms(self._t0) >= self.timeout_ms:
                if self.state == CLOSING:
                    self._close()  # the peer does not take DISCONNECT: close all the same
                else:
                    self._fail(E_TIMEOUT, None)
            return
        if self.state != UP:
            return
        # subscriptions not yet sent on this connection
        for j in range(len(self._subt)):
            t = self._subt[j]
            if t and not self._subpid[j]:
                need = 7 + len(t)
                if self._room() < need:
                    break
                self._compact(need)
                pid = self._next_pid()
                buf = self._out
                i = self._olen
                buf[i] = _SUBSCRIBE
                i = _putstr(buf, _put16(buf, _putlen(buf, i + 1, 5 + len(t)), pid), t)
                buf[i] = self._subq[j]
                self._olen = i + 1
                self._subpid[j] = pid
                self._tx = now.ticks_ms()
        # QoS 1 messages: waited too long for PUBACK -> again; then the queued, oldest first
        for j in range(len(self._sstate)):
            if self._sstate[j] == _SENT and now.elapsed_ms(self._sat[j]) >= self.retry_ms:
                self._sstate[j] = _QUEUED
        while True:
            k = -1
            for j in range(len(self._sstate)):
                if self._sstate[j] == _QUEUED and (k < 0 or self._sorder[j] < self._sorder[k]):
                    k = j
            if k < 0:
                break
            n = self._slen[k]
            if self._room() < n:
                break
            self._compact(n)
            slot = self._slot[k]
            if slot[0] & _DUP:
                self.resends += 1
            self._out[self._olen:self._olen + n] = memoryview(slot)[:n]
            self._olen += n
            slot[0] |= _DUP  # every later copy is a redelivery (§3.3.1.1)
            self._sstate[k] = _SENT
            self._sat[k] = self._tx = now.ticks_ms()
        # keepalive (§3.1.2.10): PINGREQ when quiet for 3/4 of it; no PINGRESP in 1/2: dead
        if self.keepalive:
            ka = self.keepalive * 1000
            if self._ping:
                if now.elapsed_ms(self._ping_at) >= ka // 2:
                    self._fail(E_TIMEOUT, None)
            elif now.elapsed_ms(self._tx) >= ka * 3 // 4 and self._room() >= 2:
                self._queue2(_PINGREQ)
                self._ping = True
                self._ping_at = self._tx

    def _queue_connect(self):
        cid = self.client_id
        will = self._will
        user = self.user
        pw = self.password
        rl = 10 + 2 + len(cid)
        flags = 0x02 if self.clean else 0
        if will is not None:
            rl += 4 + len(will[0]) + len(will[1])
            flags |= 0x04 | will[3] << 3 | (0x20 if will[2] else 0)
        if user is not None:
            rl += 2 + len(user)
            flags |= 0x80
            if pw is not None:
                rl += 2 + len(pw)
                flags |= 0x40
        buf = self._out
        if 1 + _lenlen(rl) + rl > len(buf):
            self._fail(E_TOO_LONG, None)
            return False
        buf[0] = _CONNECT
        i = _putstr(buf, _putlen(buf, 1, rl), b"MQTT")
        buf[i] = 4  # protocol level: 3.1.1
        buf[i + 1] = flags
        i = _putstr(buf, _put16(buf, i + 2, self.keepalive), cid)
        if will is not None:
            i = _putstr(buf, _putstr(buf, i, will[0]), will[1])
        if user is not None:
            i = _putstr(buf, i, user)
            if pw is not None:
                i = _putstr(buf, i, pw)
        self._olen = i
        self._tx = self._clock.ticks_ms()
        return True

    def _queue_ack(self, pid):
        self._compact(4)
        buf = self._out
        i = self._olen
        buf[i] = _PUBACK << 4
        buf[i + 1] = 2
        self._olen = _put16(buf, i + 2, pid)
        self._tx = self._clock.ticks_ms()

    def _queue2(self, b0):
        self._compact(2)
        self._out[self._olen] = b0
        self._out[self._olen + 1] = 0
        self._olen += 2
        self._tx = self._clock.ticks_ms()

    def _room(self):
        return len(self._out) - self._olen + self._opos

    def _compact(self, need):
        """Make ``need`` bytes free at the end of the send buffer (``_room()`` has them)."""
        if self._olen + need > len(self._out) and self._opos:
            n = self._olen - self._opos
            self._out[0:n] = self._out[self._opos:self._olen]
            self._opos = 0
            self._olen = n

    def _next_pid(self):
        while True:
            self._pid = self._pid % 65535 + 1
            if not self.is_pending(self._pid):
                return self._pid

    # -- failure -----------------------------------------------------------
    def _fail(self, code, exc):
        self.error = code
        if exc is not None:
            self.errno = exc.args[0] if exc.args else 0
        self._close()
        return self.state

    def _lost(self, e):
        code = e.args[0] if e.args else 0
        if code in (errno.ECONNRESET, errno.ECONNABORTED, errno.ENOTCONN, _EPIPE):
            self._fail(E_CLOSED, e)
        else:
            self._fail(E_SOCKET, e)

    def _close(self):
        s = self._sock
        self._sock = None
        if s is not None:
            try:
                self._poll.unregister(s)
            except (OSError, KeyError):
                pass
            try:
                s.close()
            except OSError:
                pass
        self.state = DOWN
        self._opos = self._olen = self._ilen = 0
        self._ping = False
        for j in range(len(self._sstate)):
            if self._sstate[j] == _SENT:
                self._sstate[j] = _QUEUED
