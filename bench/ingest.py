"""The back office's ingest (issue 13, section 5): 1,000 terminals -> broker -> office ->
database.

    python -m bench.ingest                  # every row below (part of `make bench`)
    python -m bench.ingest --terminals 200 --records 32 --rows pg1   # a smaller sample

Records: one simulator run of a fixed-fare gate (the firmware's own journal: boot, then a
purchase intent and a purchase per tap) is the template; terminal ``i`` replays it as
itself: its terminal id in every record, its own cards (so the cards of two terminals
never meet in clearing), every purchase's TAC made again with the issuer's TAC master for
that terminal and card, the chain MAC with the terminal's journal key, the CRC. The office
checks all of it as it would a real terminal's (CRC, chain, TAC).

Publishers: one process (``--load``, a selector loop over non-blocking sockets: no thread
per terminal) keeps an MQTT 3.1.1 connection per terminal, subscribed at QoS 0 to its
``ykt/o/TID/ack``, and uploads like the firmware: 16 records a message at QoS 1, the next
message after the broker's PUBACK. The acknowledgement latency is from a message's
PUBLISH to the office's ack covering its last record. Records per second: every record
of every terminal over the time from the first PUBLISH to the last ack.

The office: ``ykt office serve`` (one process per worker; two workers share the
subscriptions through MQTT 5 shared subscriptions, which Mosquitto has and amqtt does not)
into SQLite (WAL) or PostgreSQL (a server of its own on loopback, tests/pgserver.py, fsync
off as in the tests). Its memory is the peak resident set (VmHWM) of each worker process.
At the end every terminal's watermark in the database is checked to be its last seq and
every card's chain to close (clearing finds nothing).
"""

import argparse
import os
import selectors
import socket
import struct
import subprocess
import sys
import tempfile
import time

from bench import harness
from host_tools.lib import mqtt_packets as mqtt

ROOT = harness.ROOT
SEED = "yikatong-demo-issuer"  # hw_sim.scenario.DEFAULT_SEED (checked in _keys)
BATCH = 16
ROWS = {  # name: (broker, database, workers)
    "amqtt-sqlite1": ("amqtt", "sqlite", 1),
    "mosq-sqlite1": ("mosquitto", "sqlite", 1),
    "mosq-sqlite2": ("mosquitto", "sqlite", 2),
    "pg1": ("mosquitto", "postgresql", 1),
    "pg2": ("mosquitto", "postgresql", 2),
}


def _tests_path():
    path = os.path.join(ROOT, "tests")
    if path not in sys.path:
        sys.path.insert(0, path)


# -- records ----------------------------------------------------------------------------------

def template(taps):
    """A fixed-fare gate's journal records after ``taps`` purchases by three cards."""
    from hw_sim.lfs import LfsVfs
    from hw_sim.scenario import Run

    data = {"start": "2026-11-29T07:00:00",
            "terminals": [{"id": "T", "role": "fixed_fare", "board": "devkitc-turnstile",
                           "config": {"fare_fen": 200, "terminal_id": "290001000001"}}],
            "cards": [{"name": "c%d" % i, "number": "310123000000000000%02d" % i,
                       "balance_fen": 100000} for i in range(3)],
            "events": [{"at": 1 + 3 * i, "tap": "c%d" % (i % 3)} for i in range(taps)]}
    r = Run(data, "bench-ingest")
    r.run("cpython")
    fs = LfsVfs(r.terms["T"].flash)
    raw = b""
    for name in sorted(fs.listdir("/journal")):
        if name.endswith(".seg"):
            with fs.open("/journal/" + name, "rb") as f:
                raw += f.read()
    return [raw[i:i + 64] for i in range(0, len(raw), 64)]


def terminal_id(i):
    return "2901%08x" % i


def replay(records, i, keys):
    """``records`` as terminal ``i`` would have written them: its id, its cards, TACs,
    chain and CRC made again."""
    from host_tools.lib import journal
    from host_tools.lib.issuer import _tac_key, cmac4, datetime7

    tid = bytes.fromhex(terminal_id(i))
    key = keys.journal_key(tid)
    mac = journal.genesis(key, tid)
    intents = {}
    out = []
    for raw in records:
        f = list(struct.unpack_from(journal.FORMAT, raw, 0))
        f[4] = tid
        if f[5] != bytes(10):  # a card: this terminal's own (20 digits)
            f[5] = bytes.fromhex("31%06d%s" % (i, f[5].hex()[8:]))
        seq, kind = f[0], f[2]
        if kind in (0x10, 0x15):
            intents[seq] = f[7]
        if kind == 0x11:
            card = f[5].hex()
            t = journal._EPOCH + __import__("datetime").timedelta(seconds=f[1])
            msg = (struct.pack(">IHIB", f[8], f[6], intents.get(f[11], f[7]), f[3]) + tid
                   + struct.pack(">I", f[12])
                   + datetime7(t.year, t.month, t.day, t.hour, t.minute, t.second))
            f[9] = cmac4(_tac_key(keys.tac_master, card), msg)
        fields = struct.pack(journal.FORMAT, *f)
        mac = journal.mac8(key, mac, fields)
        out.append(journal.seal(fields + mac + bytes(4)))
    return out


def _keys():
    from host_tools.lib.issuer import seed_keys
    from hw_sim.scenario import DEFAULT_SEED

    assert DEFAULT_SEED == SEED
    return seed_keys(SEED)


def fleet(terminals, per, tmp):
    """Write every terminal's records to one file: (path, records in all)."""
    keys = _keys()
    base = template(-(-per // 2) + 1)
    if len(base) < per:
        raise SystemExit("the template holds %d records, fewer than %d" % (len(base), per))
    path = os.path.join(tmp, "fleet.bin")
    with open(path, "wb") as f:
        for i in range(terminals):
            f.write(b"".join(replay(base[:per], i, keys)))
    return path, terminals * per


# -- the publishers (a process of their own) --------------------------------------------------

class _Conn:
    __slots__ = ("tid", "sock", "inbuf", "out", "recs", "next", "pid", "sent", "acked",
                 "state", "last")

    def __init__(self, tid, recs):
        self.tid, self.recs = tid, recs
        self.inbuf = bytearray()
        self.out = b""
        self.next = 0  # index of the next record to send
        self.pid = 0
        self.sent = []  # (last seq of a message, when published)
        self.acked = 0
        self.state = 0  # 0 connecting, 1 up (waiting for SUBACK), 2 sending, 3 waiting PUBACK
        self.last = struct.unpack_from(">I", recs[-1])[0]


def _publish(c):
    """The terminal's next message of records (QoS 1), as the firmware sends it."""
    batch = c.recs[c.next:c.next + BATCH]
    c.next += len(batch)
    c.pid = c.pid % 65535 + 1
    c.out += mqtt.publish("ykt/t/%s/rec" % c.tid, b"\x01" + b"".join(batch), qos=1, pid=c.pid)
    c.sent.append((struct.unpack_from(">I", batch[-1])[0], time.monotonic()))
    c.state = 3
    try:
        n = c.sock.send(c.out)
        c.out = c.out[n:]
    except BlockingIOError:
        pass


def load(host, port, path, terminals, per, deadline_s):
    """Upload every terminal's records; print the figures as one line of numbers."""
    data = open(path, "rb").read()
    sel = selectors.DefaultSelector()
    conns = []
    for i in range(terminals):
        blob = data[i * per * 64:(i + 1) * per * 64]
        c = _Conn(terminal_id(i), [blob[k:k + 64] for k in range(0, len(blob), 64)])
        s = socket.create_connection((host, port))
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.sock = s
        c.out = mqtt.connect("bench-" + c.tid) + mqtt.subscribe(1, [("ykt/o/%s/ack" % c.tid, 0)])
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        conns.append(c)
    latencies = []
    t0 = None
    done = 0
    end = time.monotonic() + deadline_s
    while done < terminals and time.monotonic() < end:
        for key, ev in sel.select(1.0):
            c = key.data
            if ev & selectors.EVENT_WRITE and c.out:
                try:
                    n = c.sock.send(c.out)
                    c.out = c.out[n:]
                except BlockingIOError:
                    pass
            if ev & selectors.EVENT_READ:
                try:
                    chunk = c.sock.recv(65536)
                except BlockingIOError:
                    chunk = b""
                c.inbuf += chunk
                for b0, body in mqtt.take_packets(c.inbuf):
                    kind = b0 >> 4
                    if kind in (9, 4):  # SUBACK: start uploading; PUBACK: the next message
                        c.state = 2
                    elif kind == 3:  # an ack from the office (QoS 0)
                        tl = struct.unpack_from(">H", body)[0]
                        seq = struct.unpack_from(">I", body, 2 + tl + 1)[0]
                        now = time.monotonic()
                        while c.sent and c.sent[0][0] <= seq:
                            latencies.append(now - c.sent.pop(0)[1])
                        if seq > c.acked:
                            c.acked = seq
                            done += seq >= c.last
                if c.state == 2 and c.next < len(c.recs):
                    t0 = t0 or time.monotonic()
                    _publish(c)
            sel.modify(c.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if c.out else 0),
                       c)
    wall = time.monotonic() - (t0 or time.monotonic())
    for c in conns:
        c.sock.close()
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else 0

    print("%d %d %.6f %.6f %.6f" % (done, sum(c.acked for c in conns), wall, pct(0.50),
                                     pct(0.99)))


# -- the office and the brokers ---------------------------------------------------------------

def _vmhwm(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _serve(broker, target, seed, worker, share):
    cmd = [sys.executable, "-m", "host_tools.cli", "office", "serve", "--broker",
           "mqtt://%s:%d" % (broker.host, broker.port), "--db", target, "--keys", seed,
           "--client-id", "bench-office-%d-%d" % (os.getpid(), worker), "--max-drift",
           str(10**9)]
    if share:
        cmd += ["--share", "bench"]
    log = open(os.path.join(tempfile.gettempdir(), "office-%d.log" % worker), "w+")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        log.seek(0)
        if "subscribed" in log.read():
            return proc, log
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    log.seek(0)
    proc.kill()
    raise SystemExit("the office did not start: %s" % log.read()[-400:])


def _check(target, terminals, per):
    from host_tools.lib.office import clearing
    from host_tools.lib.office.db import open_db

    db = open_db(target)
    try:
        marks = dict(db.query("SELECT terminal, watermark FROM terminals"))
        short = sum(1 for i in range(terminals) if int(marks.get(terminal_id(i), 0)) < per)
        n = db.one("SELECT COUNT(*) FROM records")[0]
        findings = len(clearing.clear(db))
        bad = db.one("SELECT COUNT(*) FROM records WHERE tac_ok = 0")[0]
    finally:
        db.close()
    return short, int(n), findings, int(bad)


def row(name, path, terminals, per, seed, tmp, pg):
    """One configuration: (records/s, ack p50 s, p99 s, peak RSS per worker, checks)."""
    _tests_path()
    import brokers

    kind, database, workers = ROWS[name]
    if kind == "amqtt":
        cm = brokers.amqtt_broker()
    else:
        d = tempfile.mkdtemp(dir=tmp)
        cm = _mosquitto(d)
    with cm as broker:
        if database == "sqlite":
            target = os.path.join(tempfile.mkdtemp(dir=tmp), "office.sqlite")
        else:
            target = pg.new_database("bench_%s_%d" % (name, os.getpid()))
        offices = [_serve(broker, target, seed, w, workers > 1) for w in range(workers)]
        try:
            out = subprocess.run(
                [sys.executable, "-m", "bench.ingest", "--load", broker.host, str(broker.port),
                 path, str(terminals), str(per)], capture_output=True, text=True, cwd=ROOT,
                timeout=3600)
            if out.returncode:
                raise SystemExit("publishers failed: %s" % out.stderr[-400:])
            done, acked, wall, p50, p99 = out.stdout.split()
            rss = [_vmhwm(p.pid) for p, _ in offices]
        finally:
            for p, log in offices:
                p.terminate()
                p.wait(60)
                log.close()
        checks = _check(target, terminals, per)
    total = terminals * per
    return total / float(wall), float(p50), float(p99), rss, int(done), checks


def _mosquitto(d):
    import contextlib

    import brokers

    @contextlib.contextmanager
    def run():
        exe = brokers.require_mosquitto()
        port = brokers.free_port()
        conf = os.path.join(d, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 100000\nmax_inflight_messages 100\n" % port)
        proc = subprocess.Popen([exe, "-c", conf], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        if not brokers._wait_listening(port, lambda: proc.poll() is None):
            raise SystemExit("mosquitto did not start")
        try:
            yield brokers.Broker("mosquitto", "127.0.0.1", port, {})
        finally:
            proc.terminate()
            proc.wait(30)
    return run()


# -- the tap path with sync running --------------------------------------------------------------

def _office_on(broker, keys):
    """``ykt office serve``'s Office and Service on a thread: (service, thread, lines)."""
    import threading

    from host_tools.lib.office.service import BrokerOptions, Office, Service

    lines = []
    svc = Service(BrokerOptions(broker.host, broker.port, client_id="bench-tap-%d" % os.getpid()),
                  Office(os.path.join(tempfile.mkdtemp(), "o.sqlite"), keys, lines.append,
                         max_drift=10**9), lines.append)
    t = threading.Thread(target=svc.run, daemon=True)
    t.start()
    if not svc.connected.wait(30):
        raise SystemExit("the office did not start: %s" % lines[-3:])
    return svc, t


def tap_latency(taps=100, records=240):
    """(virtual tap->debit ms without and with sync: (mean, max) each; the VM's slice
    figures: steps, p50, p99, max us, records acknowledged)."""
    _tests_path()
    import brokers

    from bench import tap
    from host_tools.lib.issuer import IssuerKeys, OfficeKeys
    from hw_sim.vm_bridge import micropython_binary, vm_dir

    plain = tap._scenario(taps)
    synced = tap._scenario(taps)
    out = []
    with brokers.amqtt_broker() as b:
        svc, t = _office_on(b, _keys())
        try:
            synced["terminals"][0]["config"].update(
                terminal_id="290077000001", wifi={"ssid": "bench", "password": "x"},
                mqtt={"host": b.host, "port": b.port, "user": "t", "password": "pw",
                      "keepalive": 30})
            for data in (plain, synced):
                _, lines, _ = harness.run_scenario(data)
                lat = tap._latencies_ms(lines, data)
                out.append((sum(lat) / len(lat), max(lat)))
        finally:
            svc.stop()
            t.join(30)
        # the VM: one sync slice at a time, timed, while a backlog goes up and is acked
        sys.path.insert(0, os.path.join(ROOT, "tests", "vm"))
        import sync_cases

        key = bytes.fromhex(sync_cases.DEVICE_KEY)
        keys = OfficeKeys(lambda tid: key, IssuerKeys.from_seed(b"bench").tac_master)
        svc, t = _office_on(b, keys)
        try:
            root = tempfile.mkdtemp()
            env = dict(os.environ, MICROPYPATH=vm_dir() + ":" + os.path.join(ROOT, "tests",
                                                                              "vm"))
            run = subprocess.run([micropython_binary(), "-X", "heapsize=256K",
                                  "sync_slice.py", b.host, str(b.port), root, "290077000002",
                                  str(records)], capture_output=True, text=True, env=env,
                                 cwd=harness.SCRIPTS, timeout=600)
            if run.returncode:
                raise SystemExit("sync_slice failed: %s" % run.stderr[-400:])
            figures = [int(x) for x in run.stdout.split()[-5:]]
        finally:
            svc.stop()
            t.join(30)
    return out[0], out[1], figures


def main_tap():
    from bench import tap

    (m0, x0), (m1, x1), (steps, p50, p99, top, acked) = tap_latency()
    compute_us = tap.bench_vm_compute()
    print("\n[tap path with the fleet sync running: fixed-fare gate, 100 taps, amqtt + office]")
    print("  CPython, virtual tap->debit:  without sync %.1f ms mean, %.1f ms worst; with "
          "sync %.1f ms mean, %.1f ms worst (%+.1f%%)" % (m0, x0, m1, x1, (m1 / m0 - 1) * 100))
    print("  VM, one sync slice (Sync.step, 240 records going up, %d acknowledged): p50 %d us, "
          "p99 %d us, max %d us over %d slices" % (acked, p50, p99, top, steps))
    print("  a tap arriving during a slice waits for its end: +%.2f%% of the mean tap->debit at "
          "p99, +%.1f%% at worst (firmware compute of a purchase on the VM: %.2f ms; the VM "
          "runs on this x86, an ESP32 is slower)"
          % (p99 / 10 / m0, top / 10 / m0, compute_us / 1000))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.ingest")
    ap.add_argument("--terminals", type=int, default=1000)
    ap.add_argument("--records", type=int, default=64, help="records per terminal")
    ap.add_argument("--rows", default=",".join(ROWS), help="which of %s" % ", ".join(ROWS))
    ap.add_argument("--tap", action="store_true", help="only the tap path with sync")
    ap.add_argument("--load", nargs=5, metavar=("HOST", "PORT", "FILE", "N", "PER"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.load:
        host, port, path, n, per = args.load
        load(host, int(port), path, int(n), int(per), 1800)
        return 0
    if args.tap:
        main_tap()
        return 0
    rows = [r for r in args.rows.split(",") if r]
    for r in rows:
        if r not in ROWS:
            raise SystemExit("unknown row %r (one of %s)" % (r, ", ".join(ROWS)))
    print("\n[office ingest: %d terminals x %d records -> broker -> ykt office serve -> "
          "database]" % (args.terminals, args.records))
    pg = None
    if any(ROWS[r][1] == "postgresql" for r in rows):  # (its own directory: its own user)
        _tests_path()
        import pgserver

        old, tempfile.tempdir = tempfile.tempdir, None  # (not a bench scratch: mode 0700)
        try:
            pg = pgserver.start(durable=True)
        finally:
            tempfile.tempdir = old
    with harness.scratch() as tmp:
        path, total = fleet(args.terminals, args.records, tmp)
        seed = os.path.join(tmp, "seed.json")
        with open(seed, "w") as f:
            f.write('{"format": "ykt-issuer-seed/1", "seed": "%s"}' % SEED)
        try:
            for r in rows:
                kind, database, workers = ROWS[r]
                rate, p50, p99, rss, done, (short, n, findings, bad) = row(
                    r, path, args.terminals, args.records, seed, tmp, pg)
                print("  %-9s %-10s %d worker(s): %7.0f records/s   ack p50 %6.1f ms  "
                      "p99 %7.1f ms   office RSS %s MB"
                      % (kind, database, workers, rate, p50 * 1000, p99 * 1000,
                         "+".join("%.0f" % (x / 2**20) for x in rss)))
                ok = done == args.terminals and short == 0 and n == total and not findings \
                    and not bad
                print("            checks: %d/%d terminals acknowledged to their last seq, "
                      "%d records stored, %d clearing findings, %d bad TACs: %s"
                      % (done, args.terminals, n, findings, bad, "ok" if ok else "FAILED"))
        finally:
            if pg is not None:
                pg.stop()
    main_tap()
    return 0


if __name__ == "__main__":
    sys.exit(main())
