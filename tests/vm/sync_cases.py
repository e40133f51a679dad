# The terminal's fleet sync (ykt.net.sync, docs/sync.md) against a real broker, on both
# runtimes: tests/test_sync_terminal.py calls these functions under CPython, and runs this
# file on the VM
#
#     micropython sync_cases.py CASE HOST PORT ROOT TID
#
# ROOT is a host directory holding the terminal's files (the journal, /inbox, /versions),
# TID the terminal id (12 hex digits). A case prints "READY <what>" and waits for a line on
# stdin where the test, as the office, has to act (publish an ack, a resend, an update, the
# time), then one last line "RESULT <json>". The context is the firmware's own Context's
# clock-set and update-install paths on a journal over ROOT; the RTC is a stand-in whose
# time the case reads, and the sync's ticks a manual clock: timers move only when a case
# moves them. Every wait is a bounded number of steps with a short real nap between them.
import json
import sys

from dirfs import DirFs  # tests/vm/, next to this file

from ykt import caltime
from ykt import clock as ykt_clock
from ykt.main import Context
from ykt.net import mqtt
from ykt.net import sync as ns
from ykt.store.journal import Journal

_MPY = sys.implementation.name == "micropython"
STEPS = 3000
DEVICE_KEY = "000102030405060708090a0b0c0d0e0f"  # the journal key (config keys.device)
UPDATE_MASTER = "5b" * 16  # the back office's update master key
SEGMENT = 16  # records a journal segment, so acks free whole segments in a short test
START = caltime.secs(2026, 11, 29, 7, 0, 0)


class ManualClock:
    def __init__(self):
        self.t = 1000

    def ticks_ms(self):
        return self.t

    def elapsed_ms(self, since):
        return self.t - since


class Rtc:
    """machine.RTC's datetime(), on seconds since 2000 the case can read."""

    def __init__(self, secs):
        self.secs = secs

    def datetime(self, t=None):
        if t is None:
            y, mo, d, h, mi, s = caltime.civil(self.secs)
            return (y, mo, d, caltime.weekday(self.secs), h, mi, s, 0)
        self.secs = caltime.secs(t[0], t[1], t[2], t[4], t[5], t[6])
        return None


class Wlan:
    """network.WLAN's link, switched by the case."""

    def __init__(self):
        self.up = True
        self.joins = 0

    def active(self, on=None):
        return True

    def connect(self, ssid=None, password=None):
        self.joins += 1

    def isconnected(self):
        return self.up


class Ctx:
    """What Sync needs of ykt.main.Context, with the Context's own clock-set and
    update-install code."""

    set_clock = Context.set_clock
    install_updates = Context.install_updates
    _clock_update = Context._clock_update
    log = Context.log

    def __init__(self, root, tid, host, port, role="gate"):
        from ykt.store.updates import device_key

        self.fs = DirFs(root)
        self.terminal_id = bytes.fromhex(tid)
        self.config = {
            "terminal_id": tid, "role": role, "heartbeat_s": 60,
            "keys": {"device": DEVICE_KEY,
                     "update": device_key(bytes.fromhex(UPDATE_MASTER),
                                          self.terminal_id).hex()},
            "mqtt": {"host": host, "port": int(port), "user": "t" + tid, "password": "pw",
                     "keepalive": 60}}
        self.journal = Journal(self.fs, bytes.fromhex(DEVICE_KEY), self.terminal_id,
                               segment_records=SEGMENT, capacity_records=256)
        self.journal.open()
        self.clock_floor = 0
        self._tariff = None
        self._denylist = None


def nap():
    if _MPY:
        import time

        time.sleep_ms(1)
    else:
        import time

        time.sleep(0.001)


def drive(s, until, steps=STEPS):
    for _ in range(steps):
        s.step(5)
        if until():
            return True
        nap()
    return False


def _sales(j, n, t=None):
    """``n`` purchase records (a card each), as taps would leave them."""
    for i in range(n):
        j.append("purchase", time=(t or START) + i, card="3101230000000000%04d" % (i + 1),
                 amount=200, balance=10000 - 200 * i, tx_type=6, tac=b"\x01\x02\x03\x04",
                 tseq=i + 1)


def _files(ctx, path):
    try:
        return sorted(ctx.fs.listdir(path))
    except OSError:  # not made yet
        return []


def _setup(host, port, root, tid, wlan=None):
    rtc = Rtc(START + 3600)
    saved = ykt_clock._rtc
    ykt_clock._rtc = rtc
    ctx = Ctx(root, tid, host, port)
    clk = ManualClock()
    s = ns.Sync(ctx, clock=clk, wlan=wlan)
    return ctx, s, clk, rtc, saved


def _uploaded(s):
    return lambda: (s.next_seq > s.journal.last_seq and not s.client.pending()) \
        or s.client.error


def _state(ctx):
    st = ctx.journal.state()
    return {"acked": st.acked, "last": st.last_seq, "used": st.used,
            "segments": [n for n in _files(ctx, "/journal") if n.endswith(".seg")]}


def _finish(s, out, saved):
    s.client.disconnect()
    for _ in range(200):
        if s.client.step(5) == mqtt.DOWN:
            break
        nap()
    ykt_clock._rtc = saved
    out["counts"] = s.counts
    out["error"] = s.client.error
    return out


def upload(host, port, root, tid, ready=None):
    """40 records go up in batches; then the office acknowledges (ready "ack")."""
    ctx, s, clk, rtc, saved = _setup(host, port, root, tid)
    try:
        _sales(ctx.journal, 40)
        drive(s, _uploaded(s))
        out = {"uploaded": s.uploaded, "next": s.next_seq, "before": _state(ctx)}
        ready("ack")  # the office acknowledges (or forges) what it was sent
        drive(s, lambda: sum(s.counts) >= 1)
        drive(s, lambda: False, 50)  # anything more would arrive now
        out["after"] = _state(ctx)
    finally:
        ykt_clock._rtc = saved
    return _finish(s, out, saved)


def resend(host, port, root, tid, ready=None):
    """20 records go up; the office asks for 5..8 again."""
    ctx, s, clk, rtc, saved = _setup(host, port, root, tid)
    try:
        _sales(ctx.journal, 20)
        drive(s, _uploaded(s))
        out = {"uploaded": s.uploaded}
        ready("resend")
        drive(s, lambda: sum(s.counts) >= 1)
        drive(s, _uploaded(s))
        out["again"] = s.uploaded
    finally:
        ykt_clock._rtc = saved
    return _finish(s, out, saved)


def update(host, port, root, tid, ready=None):
    """The office sends an update (apply-by: at once): stored in /inbox, installed."""
    ctx, s, clk, rtc, saved = _setup(host, port, root, tid)
    try:
        _sales(ctx.journal, 2)
        drive(s, _uploaded(s))
        ready("update")
        drive(s, lambda: sum(s.counts) >= 1)
        out = {"code": s.last_code}
        drive(s, lambda: not s._inbox)
        try:
            with ctx.fs.open("/config.json", "rb") as f:
                out["config"] = f.read().decode()
        except OSError:
            out["config"] = None
        out["inbox"] = _files(ctx, "/inbox")
        out["records"] = [[r.kind, r.tx_type, r.tseq] for r in ctx.journal.records(3)]
        drive(s, _uploaded(s))  # the heartbeat after the install, and its records
        ready("again")  # the same update once more: already installed, not stored
        drive(s, lambda: sum(s.counts) >= 2)
        out["again"] = s.last_code
        out["inbox_again"] = _files(ctx, "/inbox")
    finally:
        ykt_clock._rtc = saved
    return _finish(s, out, saved)


def update_later(host, port, root, tid, ready=None):
    """An update with an apply-by an hour ahead waits in /inbox while the terminal sells, and
    is installed when the terminal has been quiet long enough."""
    ctx, s, clk, rtc, saved = _setup(host, port, root, tid)
    try:
        drive(s, lambda: s.client.state == mqtt.UP and s.client.granted(0) >= 0)
        ready("update")
        drive(s, lambda: sum(s.counts) >= 1)
        out = {"code": s.last_code, "stored": _files(ctx, "/inbox")}
        for i in range(5):  # a sale every 10 s: not quiet
            _sales(ctx.journal, 1, START + 3600 + i)
            clk.t += 10000
            s.step(5)
        out["while_selling"] = _files(ctx, "/inbox")
        clk.t += 30000
        s.step(5)
        out["quiet"] = _files(ctx, "/inbox")
        out["installed"] = [r.tseq for r in ctx.journal.records(1) if r.kind == 0x50]
    finally:
        ykt_clock._rtc = saved
    return _finish(s, out, saved)


def clock_set(host, port, root, tid, ready=None):
    """The office's time sets the clock (journaled clock-set, source sync); a time before
    the newest record does not."""
    ctx, s, clk, rtc, saved = _setup(host, port, root, tid)
    try:
        _sales(ctx.journal, 3, START + 3000)  # the newest record at START + 3002
        drive(s, lambda: s.client.state == mqtt.UP and s.client.granted(0) >= 0)
        out = {"before": rtc.secs}
        ready("ahead")  # office time START + 7200
        drive(s, lambda: sum(s.counts) >= 1)
        out["after_ahead"] = rtc.secs
        out["code_ahead"] = s.last_code
        ready("behind")  # office time START + 1000: before the newest record
        drive(s, lambda: sum(s.counts) >= 2)
        out["after_behind"] = rtc.secs
        out["code_behind"] = s.last_code
        out["clock_sets"] = [[r.time, r.amount, r.tx_type] for r in ctx.journal.records(1)
                             if r.kind == 0x02]
    finally:
        ykt_clock._rtc = saved
    return _finish(s, out, saved)


def offline(host, port, root, tid, ready=None):
    """The link goes down for three days of selling; when it is back the backlog goes up in
    seq order."""
    wlan = Wlan()
    ctx, s, clk, rtc, saved = _setup(host, port, root, tid, wlan)
    try:
        _sales(ctx.journal, 5)
        drive(s, _uploaded(s))
        out = {"online": s.uploaded}
        wlan.up = False
        states = []
        for day in range(3):  # sales all day, the sync stepping between them
            for i in range(30):
                _sales(ctx.journal, 1, START + 86400 * (day + 1) + i * 60)
                clk.t += 60000
                states.append(s.step(5))
                nap()
            clk.t += 86400000 - 30 * 60000
        out["offline_states"] = sorted(set(states))
        out["offline_uploaded"] = s.uploaded
        out["joins"] = wlan.joins > 1
        wlan.up = True
        clk.t += 10000
        drive(s, _uploaded(s))
        out["uploaded"] = s.uploaded
        out["last"] = ctx.journal.last_seq
        ready("done")
    finally:
        ykt_clock._rtc = saved
    return _finish(s, out, saved)


def heartbeat(host, port, root, tid, ready=None):
    """The heartbeat at connect, and again after heartbeat_s."""
    ctx, s, clk, rtc, saved = _setup(host, port, root, tid)
    try:
        j = ctx.journal
        _sales(j, 3)
        j.append("purchase-intent", time=START + 10, card="31012300000000000009", amount=300,
                 balance=5000, tx_type=6, random=b"\x09\x09\x09\x09", tseq=9)
        drive(s, _uploaded(s))
        ready("first")
        clk.t += 60000
        drive(s, _uploaded(s))
        ready("second")
    finally:
        ykt_clock._rtc = saved
    return _finish(s, {"clock": rtc.secs}, saved)


def too_big(host, port, root, tid, ready=None):
    """A retained update larger than the client's packets: updates are paused (not the
    connection), and records and acks flow again."""
    ctx, s, clk, rtc, saved = _setup(host, port, root, tid)
    try:
        drive(s, lambda: s.client.state == mqtt.UP and s.client.granted(3) >= 0)
        ready("big")
        drive(s, lambda: s.counts[ns.E_TOO_BIG] >= 1)
        out = {"paused": s.counts[ns.E_TOO_BIG]}
        clk.t += 5000  # the next connect
        _sales(ctx.journal, 3)
        drive(s, lambda: s.uploaded >= 3 and not s.client.pending())
        ready("ack")
        drive(s, lambda: ctx.journal.state().acked == 3)
        out["acked"] = ctx.journal.state().acked
        out["state"] = s.client.state
    finally:
        ykt_clock._rtc = saved
    return _finish(s, out, saved)


def _done(ctx, s, kind_key):
    """The download is whole, in /inbox and installed (or refused), nothing left over."""
    return lambda: s._dl is None and not s._inbox and not s._waiting and \
        not _files(ctx, "/inbox") and s._versions()[kind_key] > 0


def _dl_files(ctx):
    return sorted(n for n in _files(ctx, "/") if n.startswith("dl."))


def _download_out(ctx, s):
    try:
        with ctx.fs.open("/config.json", "rb") as f:
            config = f.read()
    except OSError:
        config = b""
    return {"config_len": len(config), "config_sha": _sha(config),
            "installed": [[r.tx_type, r.tseq] for r in ctx.journal.records(1)
                          if r.kind == 0x50],
            "left": _dl_files(ctx), "inbox": _files(ctx, "/inbox")}


def _sha(data):
    import binascii
    import hashlib

    return binascii.hexlify(hashlib.sha256(data).digest()).decode()


def download(host, port, root, tid, ready=None):
    """An update larger than a packet: the office publishes its manifest, the terminal asks
    for the parts; the link drops after 3 parts and comes back; the download goes on from
    where it was, is checked whole against the digest, lands in /inbox and is installed."""
    wlan = Wlan()
    ctx, s, clk, rtc, saved = _setup(host, port, root, tid, wlan)
    try:
        drive(s, lambda: s.client.state == mqtt.UP and s.client.granted(4) >= 0)
        ready("manifest")
        drive(s, lambda: s._dl is not None and s._dl[2] >= 3)
        wlan.up = False  # the link drops mid-download
        out = {"cut_at": s._dl[2]}
        for _ in range(5):
            clk.t += 1000
            s.step(5)
        out["inbox_while_cut"] = _files(ctx, "/inbox")
        out["part_while_cut"] = s._size("/dl.part")
        wlan.up = True
        clk.t += 10000
        drive(s, _done(ctx, s, 3), STEPS * 3)
        out.update(_download_out(ctx, s))
        ready("done")
    finally:
        ykt_clock._rtc = saved
    return _finish(s, out, saved)


def download_power_cut(host, port, root, tid, ready=None):
    """Power cut mid-download: RAM is lost, /dl.part and /dl.man stay; after the reboot
    the retained manifest comes again and the download resumes at the next whole part."""
    ctx, s, clk, rtc, saved = _setup(host, port, root, tid)
    try:
        drive(s, lambda: s.client.state == mqtt.UP and s.client.granted(4) >= 0)
        ready("manifest")
        drive(s, lambda: s._dl is not None and s._dl[2] >= 3)
        out = {"cut_at": s._dl[2], "part_at_cut": s._size("/dl.part")}
        s.client.abort()  # the power goes: nothing more is sent, RAM is gone
        out["inbox_at_cut"] = _files(ctx, "/inbox")
        out["files_at_cut"] = _dl_files(ctx)
        ready("cut")
        ctx = Ctx(root, tid, host, port)  # the reboot: files as the flash kept them
        s = ns.Sync(ctx, clock=clk)
        drive(s, lambda: s._dl is not None)
        out["resumed_at"] = s._dl[2]
        drive(s, _done(ctx, s, 3), STEPS * 3)
        out.update(_download_out(ctx, s))
        ready("done")
    finally:
        ykt_clock._rtc = saved
    return _finish(s, out, saved)


def download_forged(host, port, root, tid, ready=None):
    """Parts that do not hash to the manifest's digest: dropped, never in /inbox."""
    ctx, s, clk, rtc, saved = _setup(host, port, root, tid)
    try:
        drive(s, lambda: s.client.state == mqtt.UP and s.client.granted(4) >= 0)
        ready("manifest")
        drive(s, lambda: s.counts[ns.E_DIGEST] >= 1)
        out = {"digest": s.counts[ns.E_DIGEST], "inbox": _files(ctx, "/inbox"),
               "left": _dl_files(ctx), "dl": s._dl is None}
    finally:
        ykt_clock._rtc = saved
    return _finish(s, out, saved)


CASES = {"download": download, "download_power_cut": download_power_cut,
         "download_forged": download_forged,
         "upload": upload, "resend": resend, "update": update, "update_later": update_later,
         "clock_set": clock_set, "offline": offline, "heartbeat": heartbeat,
         "too_big": too_big}


def _ready(what):
    print("READY", what)
    sys.stdin.readline()


if __name__ == "__main__":
    args = sys.argv[1:]
    print("RESULT", json.dumps(CASES[args[0]](*args[1:], ready=_ready)))
