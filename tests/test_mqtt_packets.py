"""The host's MQTT 3.1.1 packets (host_tools/lib/mqtt_packets.py), checked against the
specification's table of remaining lengths (section 2.2.3) and against a parser we did not
write: amqtt's (a dependency of the project: tests/brokers.py runs its broker), which reads
what we encode, while our readers read what amqtt encodes."""

import asyncio
import socket

import pytest
from amqtt.adapters import BufferReader
from amqtt.mqtt.connect import ConnectPacket
from amqtt.mqtt.packet import MQTTFixedHeader
from amqtt.mqtt.puback import PubackPacket
from amqtt.mqtt.publish import PublishPacket
from amqtt.mqtt.subscribe import SubscribePacket

from host_tools.lib import mqtt_packets as m
from host_tools.lib.errors import BadInput

# MQTT 3.1.1, 2.2.3, Table 2.4: the smallest and largest value of each number of bytes
SPEC_TABLE = {
    0: b"\x00", 127: b"\x7f",
    128: b"\x80\x01", 16_383: b"\xff\x7f",
    16_384: b"\x80\x80\x01", 2_097_151: b"\xff\xff\x7f",
    2_097_152: b"\x80\x80\x80\x01", 268_435_455: b"\xff\xff\xff\x7f",
}


def amqtt_reads(cls, data):
    """``data`` decoded by amqtt's ``cls``, and what amqtt left unread (nothing, for a whole
    packet)."""
    reader = BufferReader(data)

    async def go():
        return await cls.from_stream(reader), await reader.read()
    return asyncio.run(go())


@pytest.mark.parametrize("n", sorted(SPEC_TABLE))
def test_the_remaining_length_is_the_specification_table(n):
    assert m.remaining_length(n) == SPEC_TABLE[n]


@pytest.mark.parametrize("n", sorted(SPEC_TABLE))
def test_amqtt_reads_each_remaining_length_we_write(n):
    header, rest = amqtt_reads(MQTTFixedHeader, b"\x30" + m.remaining_length(n))
    assert (header.packet_type, header.flags, header.remaining_length, rest) == (3, 0, n, b"")


@pytest.mark.parametrize("n", [-1, 268_435_456])
def test_a_remaining_length_outside_four_bytes_is_refused(n):
    with pytest.raises(BadInput):
        m.remaining_length(n)


@pytest.mark.parametrize("n", [127, 128, 16_383, 16_384, 2_097_151, 2_097_152])
def test_a_publish_at_each_length_boundary_reads_back_whole_in_amqtt_and_here(n):
    payload = (bytes(range(256)) * (n // 256 + 1))[:n - 5]  # "t/x" and its length: 5 bytes
    data = m.publish("t/x", payload)
    assert data[1:1 + len(SPEC_TABLE[n])] == SPEC_TABLE[n]
    pkt, rest = amqtt_reads(PublishPacket, data)
    assert (pkt.topic_name, pkt.data, pkt.qos, pkt.packet_id, rest) == ("t/x", payload, 0,
                                                                        None, b"")
    assert m.split_packets(data) == ([(0x30, data[-n:])], len(data))


def test_connect_carries_client_id_keepalive_and_clean_session():
    pkt, rest = amqtt_reads(ConnectPacket, m.connect("bench-0001", keepalive=60))
    assert (pkt.proto_name, pkt.proto_level, pkt.client_id, pkt.keep_alive) == (
        "MQTT", 4, "bench-0001", 60)
    assert pkt.clean_session_flag and not pkt.will_flag and not pkt.username_flag
    assert rest == b""


def test_connect_carries_user_and_password_and_a_kept_session():
    pkt, rest = amqtt_reads(ConnectPacket, m.connect("t201", 30, "t201", "s3cret", clean=False))
    assert (pkt.username, pkt.password, pkt.clean_session_flag, rest) == (
        "t201", "s3cret", False, b"")


def test_a_password_without_a_user_is_refused():
    with pytest.raises(BadInput):
        m.connect("x", password="p")


def test_subscribe_carries_its_packet_id_and_each_topic_with_its_qos():
    pkt, rest = amqtt_reads(SubscribePacket, m.subscribe(7, [("ykt/o/1/ack", 0),
                                                             ("ykt/t/1/#", 1)]))
    assert (pkt.fixed_header.flags, pkt.variable_header.packet_id, pkt.payload.topics, rest) \
        == (0b0010, 7, [("ykt/o/1/ack", 0), ("ykt/t/1/#", 1)], b"")


def test_a_qos1_publish_carries_its_packet_id_retain_and_dup():
    data = m.publish("ykt/o/1/time", b"\x01\x00\x00\x00\x05", qos=1, pid=65535, retain=True,
                     dup=True)
    pkt, rest = amqtt_reads(PublishPacket, data)
    assert (pkt.topic_name, pkt.data, pkt.qos, pkt.packet_id, pkt.retain_flag, pkt.dup_flag,
            rest) == ("ykt/o/1/time", b"\x01\x00\x00\x00\x05", 1, 65535, True, True, b"")


@pytest.mark.parametrize("qos, pid", [(0, 1), (1, None), (1, 0), (1, 65536), (3, 1)])
def test_a_publish_whose_qos_and_packet_id_disagree_is_refused(qos, pid):
    with pytest.raises(BadInput):
        m.publish("t", b"", qos=qos, pid=pid)


def test_puback_carries_the_packet_id():
    pkt, rest = amqtt_reads(PubackPacket, m.puback(0x1234))
    assert (pkt.packet_id, rest) == (0x1234, b"")


def test_our_readers_read_what_amqtt_writes():
    data = PublishPacket.build("ykt/o/9/ack", b"\x01ok", 5, False, 1, False).to_bytes()
    assert m.split_packets(data) == ([(0x32, data[2:])], len(data))
    a, b = socket.socketpair()
    with a, b:
        a.sendall(bytes(data))
        assert m.read_packet(b) == (0x32, data[2:])


def test_taking_packets_leaves_a_partial_one_in_the_buffer_until_it_is_whole():
    stream = m.connect("c") + m.subscribe(1, [("t", 0)]) + m.publish("t", b"x" * 200) \
        + m.puback(3)
    buf, got = bytearray(), []
    for i in range(len(stream)):  # a byte at a time, as a slow socket might give them
        buf.append(stream[i])
        got += m.take_packets(buf)
    assert [b0 for b0, _ in got] == [0x10, 0x82, 0x30, 0x40]
    assert buf == bytearray() and got[3] == (0x40, b"\x00\x03")
    assert m.split_packets(stream[:-1]) == (got[:3], len(stream) - 4)


def test_a_remaining_length_of_five_bytes_is_refused_by_both_readers():
    data = b"\x30\xff\xff\xff\xff\x01"
    with pytest.raises(BadInput):
        m.split_packets(data)
    a, b = socket.socketpair()
    with a, b:
        a.sendall(data)
        with pytest.raises(BadInput):
            m.read_packet(b)


def test_the_socket_reader_gives_none_at_the_end_and_eoferror_inside_a_packet():
    a, b = socket.socketpair()
    with b:
        a.sendall(m.puback(1) + m.puback(2)[:3])
        a.close()
        assert m.read_packet(b) == (0x40, b"\x00\x01")
        with pytest.raises(EOFError):
            m.read_packet(b)
        assert m.read_packet(b) is None
