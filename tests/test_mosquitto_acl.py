"""Credentials and ACLs (docs/sync.md): `ykt provision --mosquitto` writes the passwd and acl
a real Mosquitto runs with; each terminal logs in with the password `ykt provision --broker`
derived into its config, may write only under its own ykt/t/TID/ and read only its own
ykt/o/TID/; the office user reads and writes everything."""

import json

import pytest
from mqttpeer import Peer, mosquitto_with_acl

from host_tools import cli
from host_tools.lib import provision

A, B = "290031000201", "290031000202"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """A master key file, the broker files for terminals A and B (through the command), A's
    provisioned config, and a Mosquitto running with them."""
    tmp = tmp_path_factory.mktemp("mosq")
    master = tmp / "master.json"
    provision.write_new_master_file(str(master))
    assert cli.main(["provision", "--mosquitto", str(tmp / "mq"), "--terminals", A, B,
                     "--master-key-file", str(master)]) == 0
    assert cli.main(["provision", "--board", "devkitc-turnstile", "--terminal-id", A,
                     "--role", "entry_gate", "--station", "2025", "--broker", "127.0.0.1:1883",
                     "--master-key-file", str(master), "--out", str(tmp / "a.json")]) == 0
    cfg = json.loads((tmp / "a.json").read_text())
    with mosquitto_with_acl(tmp, tmp / "mq" / "passwd", tmp / "mq" / "acl") as broker:
        yield broker, tmp, master, cfg


def _password(master, tid):
    masters = provision.read_master_file(str(master))
    return provision.mqtt_password(masters["device"], bytes.fromhex(tid))


def _office(fleet):
    broker, tmp, _, _ = fleet
    pw = (tmp / "mq" / "office.password").read_text().strip()
    return Peer(broker, user="office", password=pw)


def _term(fleet, tid):
    broker, _, master, _ = fleet
    return Peer(broker, user=tid, password=_password(master, tid))


def test_a_terminal_logs_in_with_the_password_provisioned_into_its_config(fleet):
    broker, _, _, cfg = fleet
    assert (cfg["mqtt"]["user"], cfg["mqtt"]["port"]) == (A, 1883)
    p = Peer(broker, user=cfg["mqtt"]["user"], password=cfg["mqtt"]["password"])
    try:
        assert p.connack == 0
    finally:
        p.close()


def test_a_wrong_password_is_refused(fleet):
    broker, _, master, _ = fleet
    p = Peer(broker, user=A, password=_password(master, B))
    try:
        assert p.connack == 135  # CONNACK 5, not authorised (paho names it as MQTT 5 does)
    finally:
        p.close()


def test_a_terminal_cannot_publish_under_another_terminals_topic(fleet):
    office, a = _office(fleet), _term(fleet, A)
    try:
        office.subscribe("ykt/t/+/rec")
        a.publish("ykt/t/%s/rec" % B, b"\x01forged")  # acknowledged by the broker, dropped
        a.publish("ykt/t/%s/rec" % A, b"\x01own")  # the same connection: arrives after it
        assert office.next() == ("ykt/t/%s/rec" % A, b"\x01own", False)
    finally:
        office.close()
        a.close()


def test_a_terminal_cannot_read_another_terminals_messages(fleet):
    office, a = _office(fleet), _term(fleet, A)
    try:
        a.subscribe("ykt/o/#")
        office.publish("ykt/o/%s/ack" % B, b"\x01for B")
        office.publish("ykt/o/%s/ack" % A, b"\x01for A")
        assert a.next() == ("ykt/o/%s/ack" % A, b"\x01for A", False)
    finally:
        office.close()
        a.close()


def test_a_terminal_cannot_publish_what_the_office_sends(fleet):
    a, b = _term(fleet, A), _term(fleet, B)
    try:
        b.subscribe("ykt/o/%s/#" % B)
        a.publish("ykt/o/%s/ack" % B, b"\x01forged ack")  # only the office writes ykt/o/
        office = _office(fleet)
        try:
            office.publish("ykt/o/%s/time" % B, b"\x01real")
            assert b.next() == ("ykt/o/%s/time" % B, b"\x01real", False)
        finally:
            office.close()
    finally:
        a.close()
        b.close()


def test_the_office_reads_and_writes_every_terminals_topics(fleet):
    office, a, b = _office(fleet), _term(fleet, A), _term(fleet, B)
    try:
        office.subscribe("ykt/#")
        a.publish("ykt/t/%s/hb" % A, b"a")
        b.publish("ykt/t/%s/hb" % B, b"b")
        got = {office.next()[0], office.next()[0]}
        assert got == {"ykt/t/%s/hb" % A, "ykt/t/%s/hb" % B}
    finally:
        office.close()
        a.close()
        b.close()


def test_provisioning_more_terminals_keeps_those_already_in_the_passwd_and_the_office_password(
        tmp_path):
    master = tmp_path / "master.json"
    provision.write_new_master_file(str(master))
    device = provision.read_master_file(str(master))["device"]
    mq = tmp_path / "mq"
    first = provision.write_mosquitto(str(mq), device, [bytes.fromhex(A)])
    office_pw = (mq / "office.password").read_text()
    second = provision.write_mosquitto(str(mq), device, [bytes.fromhex(B)])
    assert (first["terminals"], second["terminals"]) == ([A], [A, B])
    assert (mq / "office.password").read_text() == office_pw
    users = [ln.split(":")[0] for ln in (mq / "passwd").read_text().splitlines()]
    assert users == ["office", A, B]
    assert (mq / "passwd").stat().st_mode & 0o077 == 0


def test_no_password_is_printed(capsys, tmp_path):
    master = tmp_path / "master.json"
    provision.write_new_master_file(str(master))
    assert cli.main(["provision", "--mosquitto", str(tmp_path / "mq"), "--terminal-id", A,
                     "--master-key-file", str(master)]) == 0
    assert cli.main(["provision", "--board", "devkitc-turnstile", "--terminal-id", A,
                     "--role", "entry_gate", "--station", "1", "--broker", "10.0.0.2:1883",
                     "--master-key-file", str(master), "--out", str(tmp_path / "a.json")]) == 0
    out = capsys.readouterr()
    secrets = [_password(master, A), (tmp_path / "mq" / "office.password").read_text().strip()]
    assert not any(s in out.out + out.err for s in secrets)
    assert "password not shown" in out.out


@pytest.mark.parametrize("broker", ["10.0.0.2", "10.0.0.2:0", "host:port", "a/b:1883"])
def test_a_broker_that_is_not_host_port_is_one_line_exit_2(capsys, tmp_path, broker):
    master = tmp_path / "master.json"
    provision.write_new_master_file(str(master))
    code = cli.main(["provision", "--board", "devkitc-turnstile", "--terminal-id", A,
                     "--role", "entry_gate", "--station", "1", "--broker", broker,
                     "--master-key-file", str(master), "--out", str(tmp_path / "a.json")])
    err = capsys.readouterr().err
    if broker == "10.0.0.2":  # the port defaults to 1883
        assert code == 0
        return
    assert (code, err.count("\n")) == (2, 1) and "HOST:PORT" in err
    assert not (tmp_path / "a.json").exists()
