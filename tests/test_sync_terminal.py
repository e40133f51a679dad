"""The terminal's side of the fleet sync (firmware/ykt/net/sync.py, docs/sync.md) on both runtimes.

Each behaviour runs a case of tests/vm/sync_cases.py under CPython (the firmware through
hw_sim's stand-ins) and on the MicroPython unix port, against a real broker (tests/brokers.py:
amqtt in-process, Mosquitto as a subprocess). The office is a stand-in here: a raw MQTT 3.1.1
client on a blocking socket that subscribes to the terminal's topics, keeps what arrives and
publishes acks, resends, updates and the time, each computed from docs/sync.md independently
of the firmware (its MAC with Python's ``hmac``, updates signed by ``host_tools.lib.updates``).
Assertions are on end states (what the office received, what the journal and the files hold),
never on timing: the terminal's clock in a case is a manual one.
"""

import contextlib
import hashlib
import hmac
import json
import os
import socket
import struct
import sys
import threading

import pytest
import vmscripts
from brokers import broker_fixture  # noqa: F401  (the fixture)

from host_tools.lib import build, mqtt_packets, updates
from host_tools.lib.journal import crc_ok, decode, genesis, mac8
from hw_sim.vm_bridge import vm_dir

RUNTIMES = ["cpython", "micropython"]
HEAP = "256K"
_WAIT_S = 30  # a hang breaker for the office's waits and a VM run (not a measurement)
if vmscripts.SCRIPTS not in sys.path:
    sys.path.insert(0, vmscripts.SCRIPTS)  # sync_cases imports dirfs, its neighbour
cases = vmscripts.load("sync_cases")
KEY = bytes.fromhex(cases.DEVICE_KEY)
MASTER = bytes.fromhex(cases.UPDATE_MASTER)
_n = [0]


def new_tid(runtime, broker):
    """A terminal id of its own for each run: retained messages and topics never meet."""
    _n[0] += 1
    seed = "%s|%s|%d|%d" % (runtime, broker.kind, os.getpid(), _n[0])
    return hashlib.sha256(seed.encode()).hexdigest()[:12]


# -- the office stand-in --------------------------------------------------------------------

class Office:
    """A raw MQTT client subscribed to ``ykt/t/TID/#``: ``got`` holds (topic, payload) as they
    arrive; ``publish`` sends at QoS 1 and waits for the broker's PUBACK."""

    def __init__(self, broker, tid):
        self.tid = tid
        self.got = []
        self.lock = threading.Condition()
        self.acked = set()
        self.pid = 0
        self.send_lock = threading.Lock()  # the reader's PUBACKs and publish() share the socket
        self.sock = socket.create_connection((broker.host, broker.port), timeout=_WAIT_S)
        self.sock.sendall(mqtt_packets.connect("office-" + tid, keepalive=60))
        assert self._read() == (0x20, b"\x00\x00")
        self.sock.sendall(mqtt_packets.subscribe(1, [("ykt/t/%s/#" % tid, 1)]))
        b0, body = self._read()
        assert b0 == 0x90 and body[2] == 1
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.threads = []

    def _read(self):
        got = mqtt_packets.read_packet(self.sock)
        if got is None:
            raise EOFError
        return got

    def _run(self):
        try:
            while True:
                b0, body = self._read()
                if b0 >> 4 == 3:
                    tl = struct.unpack_from(">H", body)[0]
                    topic = body[2:2 + tl].decode()
                    p = 2 + tl
                    if b0 & 6:
                        pid = struct.unpack_from(">H", body, p)[0]
                        p += 2
                        with self.send_lock:
                            self.sock.sendall(mqtt_packets.puback(pid))
                    with self.lock:
                        self.got.append((topic, body[p:]))
                        self.lock.notify_all()
                elif b0 >> 4 == 4:
                    with self.lock:
                        self.acked.add(struct.unpack(">H", body)[0])
                        self.lock.notify_all()
        except (OSError, EOFError):
            pass

    def publish(self, what, payload, retain=False):
        self.pid += 1
        topic = "ykt/o/%s/%s" % (self.tid, what)
        with self.send_lock:
            self.sock.sendall(mqtt_packets.publish(topic, payload, qos=1, pid=self.pid,
                                                   retain=retain))
        assert self.wait(lambda pid=self.pid: pid in self.acked)

    def wait(self, pred):
        with self.lock:
            return self.lock.wait_for(pred, _WAIT_S)

    threads = ()
    stopping = False

    def close(self):
        self.stopping = True
        with self.lock:
            self.lock.notify_all()
        for t in self.threads:
            t.join(_WAIT_S)
        with contextlib.suppress(OSError):
            self.sock.sendall(mqtt_packets.disconnect())
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(_WAIT_S)

    # what arrived
    def seqs(self):
        """The seq of every record uploaded, in arrival order."""
        out = []
        for topic, p in list(self.got):
            if topic.endswith("/rec"):
                n = (len(p) - 1) // 64
                assert p[0] == 1 and len(p) == 1 + 64 * n and 1 <= n <= 16
                out += [struct.unpack_from(">I", p, 1 + 64 * i)[0] for i in range(n)]
        return out

    def records(self):
        """seq -> raw record (the last copy)."""
        out = {}
        for topic, p in list(self.got):
            if topic.endswith("/rec"):
                for i in range((len(p) - 1) // 64):
                    raw = p[1 + 64 * i:65 + 64 * i]
                    out[struct.unpack_from(">I", raw)[0]] = raw
        return out

    def heartbeats(self):
        return [json.loads(p) for topic, p in list(self.got) if topic.endswith("/hb")]

    def gets(self):
        """(version, first part, parts, name) of every request for parts, in order."""
        return [struct.unpack(">IIB", p[1:10]) + (p[10:].decode(),)
                for topic, p in list(self.got) if topic.endswith("/get") and p[0] == 1]

    def serve_parts(self, name, file, part, forge=False):
        """Answer the terminal's requests for parts of ``file`` (docs/sync.md "Updates in
        parts"), on a thread of its own, until close(); ``forge`` flips a byte in each."""
        version = file[12:16]

        def run():
            done = 0
            while not self.stopping:
                with self.lock:
                    self.lock.wait_for(lambda: len(self.gets()) > done or self.stopping, 1)
                    asked = self.gets()[done:]
                done += len(asked)
                for v, first, n, what in asked:
                    for i in range(first, first + n):
                        data = bytearray(file[i * part:(i + 1) * part])
                        if forge:
                            data[0] ^= 1
                        if (what != name or v != int.from_bytes(version, "big") or not data
                                or self.stopping):
                            continue
                        with contextlib.suppress(OSError, AssertionError):
                            self.publish("part/" + name, b"\x01" + version
                                         + struct.pack(">I", i) + bytes(data))

        self.stopping = False
        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)


def ack(tid, seq, key=KEY):
    """The office's ack: 0x01, seq, HMAC-SHA256(journal key, "ykt sync ack" TID seq)[:8]."""
    s4 = struct.pack(">I", seq)
    mac = hmac.new(key, b"ykt sync ack" + bytes.fromhex(tid) + s4, hashlib.sha256).digest()[:8]
    return b"\x01" + s4 + mac


def run_case(runtime, case, broker, root, tid, act):
    """Run sync_cases ``case`` on ``runtime``; ``act(what)`` plays the office at each READY."""
    args = (broker.host, broker.port, str(root), tid)
    if runtime == "cpython":
        out = cases.CASES[case](*args, ready=act)
        return json.loads(json.dumps(out))
    cmd = vmscripts.command("sync_cases", case, *args, heap=HEAP)
    return vmscripts.dialogue(cmd, [vm_dir(), vmscripts.SCRIPTS], act, _WAIT_S * 2)


@pytest.fixture
def office(broker):
    offices = []

    def make(tid):
        o = Office(broker, tid)
        offices.append(o)
        return o

    yield make
    for o in offices:
        o.close()


def _chain_ok(records, tid):
    """Every record's CRC and chain MAC, from the genesis on (records 1..n)."""
    prev = genesis(KEY, bytes.fromhex(tid))
    for seq in sorted(records):
        raw = records[seq]
        if not crc_ok(raw) or mac8(KEY, prev, raw[:52]) != raw[52:60]:
            return False
        prev = raw[52:60]
    return True


# -- the behaviours -------------------------------------------------------------------------

@pytest.mark.parametrize("runtime", RUNTIMES)
def test_records_arrive_at_the_office_in_seq_order_and_verify(runtime, broker, office, tmp_path):
    tid = new_tid(runtime, broker)
    o = office(tid)
    out = run_case(runtime, "upload", broker, tmp_path, tid,
                   lambda what: o.publish("ack", ack(tid, 0)))  # nothing stored yet
    assert out["uploaded"] == 40 and out["error"] == 0
    assert o.wait(lambda: len(o.seqs()) >= 40)
    assert o.seqs() == list(range(1, 41))
    recs = o.records()
    assert _chain_ok(recs, tid)
    assert [decode(recs[s]).card for s in (1, 40)] == ["31012300000000000001",
                                                       "31012300000000000040"]
    # nothing acknowledged: every record (and segment) is still on the terminal
    assert out["after"]["acked"] == 0 and len(out["after"]["segments"]) == 3


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_valid_ack_frees_the_segments_up_to_the_watermark_only(runtime, broker, office,
                                                                 tmp_path):
    tid = new_tid(runtime, broker)
    o = office(tid)
    out = run_case(runtime, "upload", broker, tmp_path, tid,
                   lambda what: o.publish("ack", ack(tid, 35)))
    assert out["before"]["segments"] == ["00000001.seg", "00000011.seg", "00000021.seg"]
    # segments 1..16 and 17..32 are wholly acknowledged; 33..40 holds 36..40
    assert out["after"] == {"acked": 35, "last": 40, "used": 5, "segments": ["00000021.seg"]}
    assert out["counts"][cases.ns.OK] == 1


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_forged_ack_is_refused_and_frees_nothing(runtime, broker, office, tmp_path):
    tid = new_tid(runtime, broker)
    o = office(tid)

    def forge(what):
        o.publish("ack", ack(tid, 40, key=b"\x00" * 16))  # not the terminal's journal key
        o.publish("ack", ack(tid, 41))  # the right MAC, beyond the last record
    out = run_case(runtime, "upload", broker, tmp_path, tid, forge)
    assert out["after"] == out["before"]
    assert out["after"]["acked"] == 0 and len(out["after"]["segments"]) == 3
    assert out["counts"][cases.ns.E_MAC] == 1 and out["counts"][cases.ns.E_BEYOND] == 1
    assert out["counts"][cases.ns.OK] == 0


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_resend_uploads_the_records_again_from_its_first_seq(runtime, broker, office,
                                                              tmp_path):
    tid = new_tid(runtime, broker)
    o = office(tid)
    out = run_case(runtime, "resend", broker, tmp_path, tid,
                   lambda what: o.publish("resend", b"\x01" + struct.pack(">II", 5, 8)))
    assert out["uploaded"] == 20 and out["again"] == 36
    assert o.wait(lambda: len(o.seqs()) >= 36)
    assert o.seqs() == list(range(1, 21)) + list(range(5, 21))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_an_update_lands_in_the_inbox_and_is_installed(runtime, broker, office, tmp_path):
    tid = new_tid(runtime, broker)
    o = office(tid)
    payload = b'{"fare_fen": 300}'
    env = updates.sign("config", 3, bytes.fromhex(tid), payload, MASTER)
    out = run_case(runtime, "update", broker, tmp_path, tid,
                   lambda what: o.publish("upd/01-config", b"\x01" + bytes(4) + env,
                                          retain=True))
    assert out["code"] == cases.ns.OK and out["config"] == payload.decode()
    assert out["inbox"] == []
    assert [0x50, 4, 3] in out["records"]  # update-installed, kind config, version 3
    # the office sees the version in a heartbeat after the install
    assert o.wait(lambda: any(h["config"] == 3 for h in o.heartbeats()))
    # sent again (the retained message after a reconnect): not stored, nothing installed
    assert out["again"] == cases.ns.E_OLD and out["inbox_again"] == []
    o.publish("upd/01-config", b"", retain=True)  # the office clears its retained message


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_an_update_with_an_apply_by_waits_until_the_terminal_is_quiet(runtime, broker, office,
                                                                     tmp_path):
    tid = new_tid(runtime, broker)
    o = office(tid)
    env = updates.sign("config", 4, bytes.fromhex(tid), b'{"a": 1}', MASTER)
    later = cases.START + 7200
    out = run_case(runtime, "update_later", broker, tmp_path, tid,
                   lambda what: o.publish("upd/cfg", b"\x01" + struct.pack(">I", later) + env))
    assert out["code"] == cases.ns.OK
    assert out["stored"] == out["while_selling"] == ["cfg"]
    assert out["quiet"] == [] and out["installed"] == [4]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_office_time_sets_the_clock_journaled_and_never_behind_the_records(
        runtime, broker, office, tmp_path):
    tid = new_tid(runtime, broker)
    o = office(tid)
    when = {"ahead": cases.START + 7200, "behind": cases.START + 1000}
    out = run_case(runtime, "clock_set", broker, tmp_path, tid,
                   lambda what: o.publish("time", b"\x01" + struct.pack(">I", when[what])))
    assert out["before"] == cases.START + 3600
    assert out["after_ahead"] == when["ahead"] and out["code_ahead"] == cases.ns.OK
    assert out["after_behind"] == when["ahead"] and out["code_behind"] == cases.ns.E_BEHIND
    assert out["clock_sets"] == [[when["ahead"], 3600, 3]]  # one clock-set, source sync


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_after_days_offline_the_backlog_goes_up_in_order(runtime, broker, office, tmp_path):
    tid = new_tid(runtime, broker)
    o = office(tid)
    out = run_case(runtime, "offline", broker, tmp_path, tid, lambda what: None)
    assert out["online"] == 5 and out["offline_uploaded"] == 5
    assert out["offline_states"] == [0] and out["joins"]  # down, and trying to join again
    assert out["last"] == 95 and o.wait(lambda: len(set(o.seqs())) >= 95)
    seqs = o.seqs()
    # once back, everything not acknowledged goes up again from the watermark, in order
    assert seqs[:5] == [1, 2, 3, 4, 5] and seqs[5:] == list(range(1, 96))
    assert _chain_ok(o.records(), tid)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_heartbeat_carries_versions_clock_and_journal_figures(runtime, broker, office,
                                                                  tmp_path):
    tid = new_tid(runtime, broker)
    o = office(tid)
    seen = {}

    def act(what):
        assert o.wait(lambda: len(o.heartbeats()) >= (1 if what == "first" else 2))
        seen[what] = len(o.heartbeats())
    out = run_case(runtime, "heartbeat", broker, tmp_path, tid, act)
    hb = o.heartbeats()
    assert seen == {"first": 1, "second": 2}
    assert list(hb[0]) == ["v", "id", "role", "fw", "tariff", "deny", "config", "staff",
                           "canteen", "clock", "used", "free", "last", "acked", "backlog",
                           "pending"]
    assert hb[0] == {"v": 1, "id": tid, "role": "gate", "fw": build.firmware_version(),
                     "tariff": 0, "deny": 0, "config": 0, "staff": 0, "canteen": 0,
                     "clock": out["clock"], "used": 4, "free": 256 - 4 - 1, "last": 4,
                     "acked": 0, "backlog": 4, "pending": 1}


# -- in a scenario: the roles' idle time, the link event ------------------------------------

def _scenario(broker, tid, board, mqtt=True):
    config = {"fare_fen": 300, "terminal_id": tid, "wifi": {"ssid": "depot", "password": "x"}}
    if mqtt:
        config["mqtt"] = {"host": broker.host, "port": broker.port, "user": tid,
                          "password": "pw", "keepalive": 30}
    taps = [{"at": at, "tap": "a" if at % 2 else "b"} for at in (2, 6, 10, 40, 44)]
    return {"start": "2026-11-29T07:00:00",
            "terminals": [{"id": "T1", "role": "fixed_fare", "board": board, "config": config}],
            "cards": [{"name": "a", "number": "31012300000000000001", "balance_fen": 5000},
                      {"name": "b", "number": "31012300000000000002", "balance_fen": 5000}],
            "events": taps + [{"at": 20, "link": False}, {"at": 60, "link": True},
                              {"at": 150, "link": True}]}


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("board", ["devkitc-turnstile", "devkitc-gate-irq"])
def test_a_terminal_in_a_scenario_syncs_between_taps_and_after_its_link_comes_back(
        runtime, board, broker, office):
    from hw_sim.scenario import Run, Scenario

    tid = new_tid(runtime, broker)
    o = office(tid)
    scenario = Scenario(_scenario(broker, tid, board))
    lines = Run(scenario).run(runtime).lines
    events = [json.loads(x) for x in lines]
    sync = [(e["state"]) for e in events if e["event"] == "sync"]
    assert sync[:2] == ["up", "down"] and sync[-1] == "up"  # up, the link cut, up again
    # the taps were served as they are without sync: the same lines at the same instants
    plain = Run(Scenario(_scenario(broker, tid, board, mqtt=False))).run(runtime).lines
    assert [x for x in lines if '"event": "sync"' not in x] == plain
    hb = o.heartbeats()
    assert o.wait(lambda: len(o.heartbeats()) >= 2)
    last = o.heartbeats()[-1]["last"]
    assert o.wait(lambda: set(o.seqs()) >= set(range(1, last + 1)))
    firsts = list(dict.fromkeys(o.seqs()))
    assert firsts == list(range(1, last + 1))  # each record first seen in seq order
    key = bytes.fromhex(scenario.terminal_config(scenario.terminal)["keys"]["device"])
    prev = genesis(key, bytes.fromhex(tid))
    for seq in firsts:
        raw = o.records()[seq]
        assert mac8(key, prev, raw[:52]) == raw[52:60]
        prev = raw[52:60]
    assert hb[0]["role"] == "fixed_fare"


def test_attach_runs_a_slice_after_each_idle_and_keeps_the_light_sleep_within_the_keepalive(
        tmp_path):
    """The role's own idle() still runs, then one slice; the reader's light sleep between
    idles is cut to 3/4 of the keepalive (a 1 s keepalive: 750 ms), never lengthened."""
    calls = []

    class Role:
        def idle(self):
            calls.append("idle")

    from hw_sim.clock import VirtualClock
    from hw_sim.wiring import Wiring

    Wiring(VirtualClock()).activate()  # the sync's ticks (ykt.clock) on a board's clock
    saved = cases.ykt_clock._rtc
    try:
        cases.ykt_clock._rtc = cases.Rtc(cases.START)
        for keepalive, idle_ms, want in ((1, 1000, 750), (60, 1000, 1000)):
            ctx = cases.Ctx(str(tmp_path), "29000000a77a", "127.0.0.1", 1)
            ctx.config["mqtt"]["keepalive"] = keepalive
            ctx.reader = type("Reader", (), {"idle_ms": idle_ms})()
            role = Role()
            sync = cases.ns.attach(ctx, role)
            sync.step = lambda budget_ms=5, sync=sync: calls.append("step")
            role.idle()
            assert ctx.reader.idle_ms == want
        assert calls == ["idle", "step"] * 2
    finally:
        cases.ykt_clock._rtc = saved


@pytest.mark.parametrize("runtime", ["cpython"])  # the VM's hook is the fixed fare's, above
@pytest.mark.parametrize("broker", ["amqtt"], indirect=True)
def test_the_pos_syncs_in_its_keypad_loop_and_serves_as_without_sync(runtime, broker, office):
    """The canteen POS's idle (its keypad scan) carries the slices too: the demo shift's
    output is the same with sync (on the VM its heap would be 40 KB larger, for the client's
    module and buffers), and the office has every record."""
    from hw_sim.scenario import ROOT, Run, Scenario

    path = os.path.join(ROOT, "scenarios", "demo-canteen-pos.json")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    tid = new_tid(runtime, broker)
    o = office(tid)
    term = data["terminals"][0]
    term["vm_heap"] = "%dK" % (int(term["vm_heap"][:-1]) + 40)
    term["config"].update(terminal_id=tid, wifi={"ssid": "canteen", "password": "x"},
                          mqtt={"host": broker.host, "port": broker.port, "user": tid,
                                "password": "pw", "keepalive": 30})
    scenario = Scenario(data, path)
    scenario.base_dir = os.path.dirname(path)
    lines = Run(scenario).run(runtime).lines
    plain = Run(Scenario.load(path)).run(runtime).lines
    assert '"event": "sync", "state": "up"' in "".join(lines)
    assert [x for x in lines if '"event": "sync"' not in x] == plain
    assert o.wait(lambda: o.heartbeats())
    last = max(h["last"] for h in o.heartbeats())
    assert o.wait(lambda: set(o.seqs()) >= set(range(1, last + 1)))


def test_the_wlan_stand_in_follows_the_link_and_the_link_outlives_a_power_cut():
    """hw_sim/network.py: connected once active and joined, while the board's link is up;
    a scenario's link event is refused unless true or false."""
    import network  # the stand-in, as the firmware imports it under hw_sim.install()

    from hw_sim.scenario import Scenario, ScenarioError
    from hw_sim.scenario import load_board as board
    from hw_sim.terminal import SimTerminal

    sim = SimTerminal(board("devkitc-turnstile"))
    sim.wiring.link_pace = 0
    sim.activate()
    wlan = network.WLAN(network.STA_IF)
    assert not wlan.isconnected() and wlan.status() == network.STAT_IDLE
    wlan.active(True)
    wlan.connect("depot", "secret")
    assert wlan.isconnected() and wlan.status() == network.STAT_GOT_IP
    sim.wiring.link = False
    assert not wlan.isconnected() and wlan.status() == network.STAT_NO_AP_FOUND
    sim.power_cycle()
    assert sim.wiring.link is False  # the access point is still out of reach
    data = {"terminals": [{"id": "T1", "role": "fixed_fare", "board": "devkitc-turnstile"}],
            "cards": [], "events": [{"at": 1, "link": "down"}]}
    with pytest.raises(ScenarioError, match=r"events\[0\]: 'link' must be true"):
        Scenario(data, "s.json")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_retained_update_too_large_to_receive_pauses_updates_not_the_records(
        runtime, broker, office, tmp_path):
    tid = new_tid(runtime, broker)
    o = office(tid)
    env = updates.sign("config", 5, bytes.fromhex(tid), b'{"pad": "%s"}' % (b"x" * 4096),
                       MASTER)

    def act(what):
        if what == "big":
            o.publish("upd/config", b"\x01" + bytes(4) + env, retain=True)
        else:
            o.publish("ack", ack(tid, 3))
    try:
        out = run_case(runtime, "too_big", broker, tmp_path, tid, act)
    finally:
        o.publish("upd/config", b"", retain=True)
    assert out["paused"] == 1 and out["acked"] == 3 and out["state"] == 3  # UP
    assert o.wait(lambda: set(o.seqs()) >= {1, 2, 3})


# -- updates larger than a packet: a manifest, then parts (docs/sync.md "Updates in parts") ---

PART = 512


def manifest(file, part=PART, apply_by=0):
    """0x02, apply-by, size, part size, SHA-256 of the file, the file's 20-byte header."""
    return (b"\x02" + struct.pack(">IIH", apply_by, len(file), part)
            + hashlib.sha256(file).digest() + file[:20])


def big_config(tid, version=6, size=6000):
    payload = b'{"pad": "%s"}' % (b"x" * size)
    return payload, updates.sign("config", version, bytes.fromhex(tid), payload, MASTER)


def _download(runtime, broker, office, tmp_path, case, forge=False):
    tid = new_tid(runtime, broker)
    o = office(tid)
    payload, env = big_config(tid)

    def act(what):
        if what == "manifest":
            o.serve_parts("config", env, PART, forge=forge)
            o.publish("upd/config", manifest(env), retain=True)
    try:
        out = run_case(runtime, case, broker, tmp_path, tid, act)
    finally:
        o.publish("upd/config", b"", retain=True)
    return o, payload, out


def _installed_whole(out, payload):
    assert out["config_len"] == len(payload)
    assert out["config_sha"] == hashlib.sha256(payload).hexdigest()
    assert out["installed"] == [[4, 6]]  # update-installed: kind config, version 6
    assert out["left"] == [] and out["inbox"] == []


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_an_update_larger_than_a_packet_is_downloaded_in_parts_across_a_link_drop(
        runtime, broker, office, tmp_path):
    o, payload, out = _download(runtime, broker, office, tmp_path, "download")
    parts = -(-(len(payload) + 36) // PART)
    assert parts > 10 and out["cut_at"] >= 3
    assert out["inbox_while_cut"] == []  # nothing half-installed while the link is down
    assert out["part_while_cut"] == out["cut_at"] * PART  # whole parts only
    _installed_whole(out, payload)
    assert o.gets()[0][1] == 0  # from the first part
    assert out["counts"][cases.ns.E_DIGEST] == 0


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_download_cut_by_a_power_cut_resumes_at_the_next_whole_part(runtime, broker,
                                                                         office, tmp_path):
    o, payload, out = _download(runtime, broker, office, tmp_path, "download_power_cut")
    assert out["inbox_at_cut"] == [] and out["files_at_cut"] == ["dl.man", "dl.part"]
    assert out["part_at_cut"] == out["cut_at"] * PART
    assert out["resumed_at"] == out["cut_at"]  # not from the start
    _installed_whole(out, payload)
    # after the reboot, the first part asked for is the one the cut left next
    firsts = [g[1] for g in o.gets()]
    assert out["cut_at"] in firsts and 0 not in firsts[firsts.index(out["cut_at"]):]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_parts_that_do_not_hash_to_the_manifest_are_dropped_and_never_in_the_inbox(
        runtime, broker, office, tmp_path):
    _, _, out = _download(runtime, broker, office, tmp_path, "download_forged", forge=True)
    assert out["digest"] >= 1 and out["inbox"] == [] and out["left"] == []
