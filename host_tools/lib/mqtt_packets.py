"""MQTT 3.1.1 packets for host-side peers (OASIS Standard, 29 October 2014).

The bench's publishers (bench/ingest.py) and the tests' raw peers (the office stand-in of
tests/test_sync_terminal.py, the scripted broker of tests/test_mqtt_client.py) speak MQTT
on plain sockets, byte for byte; these are the packets they build and read. The office
itself uses paho (host_tools/lib/office/service.py); the terminal's client is the
firmware's own (firmware/ykt/net/mqtt.py, MicroPython), which this module is not.

Encoders return whole packets (fixed header, variable header, payload): ``connect``,
``subscribe``, ``publish``, ``puback``, ``disconnect``, or ``packet`` for any other.
Readers give a packet as (first byte, body), the body being all that follows the
remaining length: ``split_packets``/``take_packets`` from a buffer that may end inside a
packet, ``read_packet`` from a blocking socket. Nothing here checks a packet's body: the
callers are peers that know what they expect.

Section numbers are those of the MQTT 3.1.1 specification.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Protocol

from host_tools.lib.errors import BadInput

MAX_REMAINING = 268_435_455  # 0xFF 0xFF 0xFF 0x7F, the largest of four bytes (2.2.3)

CONNECT = 0x10  # 3.1.1: packet type 1, flags 0
PUBLISH = 0x30  # 3.3.1: packet type 3; DUP 0x08, QoS 0x06, RETAIN 0x01
PUBACK = 0x40  # 3.4.1
SUBSCRIBE = 0x82  # 3.8.1: the flags are 0010 (reserved)
DISCONNECT = 0xE0  # 3.14.1

Packet = tuple[int, bytes]  # (first byte: type << 4 | flags, body after the remaining length)


def remaining_length(n: int) -> bytes:
    """The Remaining Length field for ``n`` bytes (2.2.3): seven bits a byte, least
    significant first, the top bit set while more bytes follow; one to four bytes."""
    if not 0 <= n <= MAX_REMAINING:
        raise BadInput("an MQTT remaining length is 0..%d, not %d" % (MAX_REMAINING, n))
    out = bytearray()
    while True:
        d, n = n & 0x7F, n >> 7
        out.append(d | (0x80 if n else 0))
        if not n:
            return bytes(out)


def string(s: str | bytes) -> bytes:
    """A UTF-8 encoded string (1.5.3): its length in two bytes (big-endian), then its bytes;
    ``str`` is encoded as UTF-8, ``bytes`` go as they are."""
    b = s.encode() if isinstance(s, str) else s
    if len(b) > 0xFFFF:
        raise BadInput("an MQTT string is at most 65535 bytes, not %d" % len(b))
    return struct.pack(">H", len(b)) + b


def packet(first: int, body: bytes = b"") -> bytes:
    """A whole packet: the fixed header (2.2: ``first``, the packet type and its flags, then
    the remaining length) and ``body``."""
    return bytes([first]) + remaining_length(len(body)) + body


def _pid(pid: int) -> bytes:
    if not 1 <= pid <= 0xFFFF:  # 2.3.1: a non-zero 16-bit Packet Identifier
        raise BadInput("an MQTT packet identifier is 1..65535, not %d" % pid)
    return struct.pack(">H", pid)


def connect(client_id: str | bytes, keepalive: int = 0, user: str | bytes | None = None,
            password: str | bytes | None = None, clean: bool = True) -> bytes:
    """CONNECT (3.1): protocol name "MQTT", level 4 (3.1.2.1-2), the flags (3.1.2.3: clean
    session 0x02, password 0x40, user name 0x80; no Will), the keep alive in seconds
    (3.1.2.10), then the payload's client id, user name and password (3.1.3)."""
    if password is not None and user is None:
        raise BadInput("an MQTT password needs a user name (3.1.2.9)")
    if not 0 <= keepalive <= 0xFFFF:
        raise BadInput("an MQTT keep alive is 0..65535 s, not %d" % keepalive)
    flags = (0x02 if clean else 0) | (0x80 if user is not None else 0) \
        | (0x40 if password is not None else 0)
    body = string(b"MQTT") + bytes([4, flags]) + struct.pack(">H", keepalive) + string(client_id)
    if user is not None:
        body += string(user)
    if password is not None:
        body += string(password)
    return packet(CONNECT, body)


def subscribe(pid: int, topics: Iterable[tuple[str | bytes, int]]) -> bytes:
    """SUBSCRIBE (3.8): the packet identifier, then each topic filter with the QoS asked
    for (0, 1 or 2)."""
    body = _pid(pid)
    n = 0
    for topic, qos in topics:
        if qos not in (0, 1, 2):
            raise BadInput("an MQTT QoS is 0, 1 or 2, not %r" % (qos,))
        body += string(topic) + bytes([qos])
        n += 1
    if not n:
        raise BadInput("an MQTT SUBSCRIBE has at least one topic filter (3.8.3)")
    return packet(SUBSCRIBE, body)


def publish(topic: str | bytes, payload: bytes, qos: int = 0, pid: int | None = None,
            retain: bool = False, dup: bool = False) -> bytes:
    """PUBLISH (3.3): the flags (3.3.1: DUP, QoS, RETAIN), the topic name, the packet
    identifier (QoS 1 and 2 only, 3.3.2.2), the payload."""
    if qos not in (0, 1, 2):
        raise BadInput("an MQTT QoS is 0, 1 or 2, not %r" % (qos,))
    if (pid is None) != (qos == 0):
        raise BadInput("an MQTT PUBLISH has a packet identifier at QoS 1 and 2 only (2.3.1)")
    first = PUBLISH | (0x08 if dup else 0) | qos << 1 | (0x01 if retain else 0)
    body = string(topic) + (b"" if pid is None else _pid(pid)) + payload
    return packet(first, body)


def puback(pid: int) -> bytes:
    """PUBACK (3.4): the acknowledged PUBLISH's packet identifier."""
    return packet(PUBACK, _pid(pid))


def disconnect() -> bytes:
    """DISCONNECT (3.14): a fixed header alone."""
    return packet(DISCONNECT)


def _length_at(data: bytes | bytearray, p: int) -> tuple[int, int] | None:
    """The remaining length starting at ``data[p]`` -> (length, index after it), or None
    when ``data`` ends inside the field; more than four bytes is malformed (2.2.3)."""
    n = shift = 0
    while p < len(data):
        d = data[p]
        n |= (d & 0x7F) << shift
        p += 1
        if not d & 0x80:
            return n, p
        shift += 7
        if shift == 28:
            raise BadInput("an MQTT remaining length of more than four bytes")
    return None


def split_packets(data: bytes | bytearray) -> tuple[list[Packet], int]:
    """The whole packets at the start of ``data`` and the number of bytes they take; what
    follows them (a packet not all there yet) is left for the caller to keep."""
    out: list[Packet] = []
    p = 0
    while len(data) - p >= 2:
        head = _length_at(data, p + 1)
        if head is None:
            break
        n, start = head
        if len(data) < start + n:
            break
        out.append((data[p], bytes(data[start:start + n])))
        p = start + n
    return out, p


def take_packets(buf: bytearray) -> list[Packet]:
    """The whole packets at the start of ``buf``, taken out of it (a stream's receive
    buffer: append what arrives, take the packets)."""
    out, used = split_packets(buf)
    del buf[:used]
    return out


class Readable(Protocol):
    """A blocking socket, or anything whose ``recv(n)`` gives 1..n bytes and b"" at the end."""

    def recv(self, n: int, /) -> bytes: ...


def _recv_exactly(sock: Readable, n: int) -> bytes:
    out = b""
    while len(out) < n:
        d = sock.recv(n - len(out))
        if not d:
            raise EOFError("the connection closed inside an MQTT packet")
        out += d
    return out


def read_packet(sock: Readable) -> Packet | None:
    """The next packet from a blocking socket; None when the connection ends before it.
    EOFError when it ends inside a packet, BadInput for a remaining length of more than
    four bytes (2.2.3)."""
    head = sock.recv(1)
    if not head:
        return None
    n = shift = 0
    while True:
        d = _recv_exactly(sock, 1)[0]
        n |= (d & 0x7F) << shift
        if not d & 0x80:
            break
        shift += 7
        if shift == 28:
            raise BadInput("an MQTT remaining length of more than four bytes")
    return head[0], _recv_exactly(sock, n)
