"""Fleet sync over MQTT, the terminal's side (docs/sync.md): records home, updates out.

``Sync(ctx)`` keeps one MQTT session to the back office's broker (config ``"mqtt"``: host,
port, user, password, keepalive) over the board's WiFi (config ``"wifi"``: ssid, password;
without it the link is taken to be up) and, one bounded slice per ``step()``, between taps:

* uploads the journal's unacknowledged records in seq order to ``ykt/t/TID/rec``, up to 16
  a message, one message in flight until its PUBACK (from the watermark again after each
  reconnect, and from where ``resend`` says);
* sends the heartbeat to ``ykt/t/TID/hb`` at connect, every ``heartbeat_s`` (config, 60)
  and after an update is installed;
* takes ``ykt/o/TID/ack`` (the MAC checked with the journal key, then ``Journal.ack``),
  ``resend``, ``upd/NAME`` (stored in ``/inbox``, installed by ``Context.install_updates``
  once the terminal is quiet and no later than the apply-by time; a manifest instead when
  the file is larger than a packet: the parts are asked for on ``ykt/t/TID/get`` and come
  on ``part/NAME`` into ``/dl.part``, checked whole against the manifest's SHA-256, resumed
  after a link drop or a power cut) and ``time`` (set through ``Context.set_clock``,
  journaled, never behind the newest record).

Every message handled has an outcome code (``OK``, ``E_*``; ``REASONS[code]``), counted in
``counts``; a refusal is reported on the console as ``sync-refused`` and otherwise ignored.
Nothing here waits: ``step`` polls the link, steps the MQTT client for at most
``budget_ms`` and does at most one upload and one heartbeat. Buffers are allocated once.
``attach(ctx, role)`` hooks a Sync into a role's idle time (``ykt.main.run`` does it when
the configuration has ``"mqtt"``; nothing of this module is loaded otherwise).
"""

import binascii
import hashlib
import json
import struct

from micropython import const

from ykt import clock as _ykt_clock
from ykt import report
from ykt.errors import YktError
from ykt.net import mqtt

FW = "0.2.0"  # the firmware's version (firmware/manifest.py; tests hold them equal)

# Outcome codes of the messages the office sends (``counts[code]``, ``REASONS[code]``)
OK = const(0)
E_MALFORMED = const(1)  # wrong length or format byte, an unknown topic
E_MAC = const(2)  # an ack whose MAC does not verify: nothing freed
E_BEYOND = const(3)  # an ack (or resend) beyond the last record: nothing freed
E_NAME = const(4)  # an update name that is not a plain file name
E_NOT_MINE = const(5)  # an update file that is not one, or not for this terminal
E_OLD = const(6)  # an update not newer than the installed version: not stored
E_BEHIND = const(7)  # office time before the newest record: the clock is left alone
E_RANGE = const(8)  # office time outside 2024..2099
E_FLASH = const(9)  # the update could not be stored
E_JOURNAL = const(10)  # the journal could not record it (ack file, clock-set)
E_FAULT = const(11)  # handling it raised: a firmware bug, reported
E_TOO_BIG = const(12)  # an update larger than max_packet: updates are not taken for a while
E_DIGEST = const(13)  # a downloaded update whose SHA-256 is not its manifest's: dropped
REASONS = ("ok", "malformed", "bad MAC", "beyond the last record", "bad update name",
           "not an update for this terminal", "not newer than installed",
           "behind the newest record", "outside 2024..2099", "flash error", "journal error",
           "fault", "update larger than max_packet", "download digest mismatch")

BATCH = const(16)  # records a message
_REC = const(64)
_BUDGET_MS = const(5)  # a slice of the MQTT client's work
_RETRY_MS = const(5000)  # after a connection failed or was lost, before the next try
_WIFI_RETRY_MS = const(10000)  # WLAN.connect again while the link stays down
_QUIET_MS = const(30000)  # no new record for this long: quiet enough to install an update
_UPD_PAUSE_MS = const(3600000)  # after an update too large to receive: no updates this long
_CLOCK_SLACK_S = const(2)  # office time this close to the clock changes nothing
_TMP = "/inbox.tmp"  # an update being stored (renamed into /inbox when whole)
_INBOX = "/inbox"
_PART = "/dl.part"  # an update being downloaded in parts (renamed into /inbox when whole)
_MAN = "/dl.man"  # its name and manifest: what a download after a power cut resumes
_MAN_SIZE = const(63)  # 0x02, apply-by, size, part size, SHA-256, the file's header
_GET_N = const(4)  # parts asked for at once
_GET_RETRY_MS = const(10000)  # no part for this long: ask again
_WAITING = const(8)  # manifests kept while another update downloads
_EEXIST = const(17)
_NAME_OK = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
# update kind codes (docs/stores.md "Update files") -> the heartbeat's keys
_VERSION_KEYS = ("tariff", "denylist", "denylist-delta", "config", "staff", "clock", "canteen")


def _equal(a, b):
    """Constant-time comparison of two byte strings of the same length."""
    d = len(a) ^ len(b)
    for i in range(min(len(a), len(b))):
        d |= a[i] ^ b[i]
    return d == 0


class Sync:
    """The terminal's sync: ``step()`` from idle time; see the module docstring."""

    def __init__(self, ctx, clock=None, wlan=None):
        config = ctx.config
        m = config["mqtt"]
        self.ctx = ctx
        self.journal = ctx.journal
        self._clock = clock or _ykt_clock
        tid = self._tid = bytes(ctx.terminal_id)
        self.tid = binascii.hexlify(tid).decode()
        key = binascii.unhexlify(config["keys"]["device"])
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key += bytes(64 - len(key))
        self._ipad = bytes(b ^ 0x36 for b in key)
        self._opad = bytes(b ^ 0x5C for b in key)
        self.heartbeat_ms = int(config.get("heartbeat_s", 60)) * 1000
        self._t_rec = ("ykt/t/%s/rec" % self.tid).encode()
        self._t_hb = ("ykt/t/%s/hb" % self.tid).encode()
        self._prefix = ("ykt/o/%s/" % self.tid).encode()
        self.client = mqtt.MQTTClient(
            "ykt-" + self.tid, m["host"], int(m.get("port", 1883)), user=m.get("user"),
            password=m.get("password"), keepalive=int(m.get("keepalive", 60)), clean=True,
            on_message=self._on_message, max_packet=int(m.get("max_packet", 2048)),
            inflight=2, subs=5, clock=self._clock)
        self._t_get = ("ykt/t/%s/get" % self.tid).encode()
        # the largest part a part message can carry within max_packet
        # (fixed header 5, topic 2 + prefix + "part/" + a name of 32, packet id 2, 9 bytes)
        self._part_max = self.client.max_packet - 55 - len(self._prefix)
        for what in (b"ack", b"resend", b"time", b"part/#", b"upd/#"):  # upd/# last
            self._sub = self.client.subscribe(self._prefix + what, 1)
        # the download in progress: [name, manifest, next part, parts, asked at (None:
        # ask now), bytes hashed (-1: downloading), hash, end of the parts asked for]
        self._dl = None
        self._waiting = {}  # name -> manifest of updates to download after it
        self._upd_off = None  # ticks when updates were paused (None: taken)
        self._buf = bytearray(1 + BATCH * _REC)
        self._buf[0] = 1
        self._mv = memoryview(self._buf)
        self.counts = [0] * len(REASONS)
        self.last_code = OK
        self.uploaded = 0  # records published (and acknowledged by the broker or not)
        self.next_seq = self.journal.state().acked + 1  # the next record to upload
        self._batch = 0  # packet id of the record message in flight (0: none)
        self._hb_due = False
        self._hb_at = 0
        self._up = False
        self._tried = None  # ticks of the last connect attempt (None: none yet)
        self._said = -1  # the last connection error reported
        self._inbox = False  # an update waits in /inbox
        self._apply_by = 0  # seconds since 2000: the earliest apply-by of those (0: at once)
        self._seen = self.journal.last_seq
        self._quiet_at = self._clock.ticks_ms()
        self._wlan = wlan
        self._wifi = config.get("wifi")
        self._wifi_at = 0
        if self._wifi and wlan is None:
            import network

            self._wlan = network.WLAN(network.STA_IF)
        if self._wlan is not None:
            self._wlan.active(True)
            self._join()

    # -- the link ---------------------------------------------------------------
    def _join(self):
        self._wifi_at = self._clock.ticks_ms()
        w = self._wifi or {}
        try:
            self._wlan.connect(w.get("ssid"), w.get("password"))
        except OSError:
            pass  # already connecting; tried again later

    def link_up(self):
        w = self._wlan
        if w is None or w.isconnected():
            return True
        if self._clock.elapsed_ms(self._wifi_at) >= _WIFI_RETRY_MS:
            self._join()
        return False

    # -- the slice --------------------------------------------------------------
    def step(self, budget_ms=_BUDGET_MS):
        """One bounded slice of the sync's work; never waits. -> the MQTT state."""
        c = self.client
        clk = self._clock
        if self.journal.last_seq != self._seen:
            self._seen = self.journal.last_seq
            self._quiet_at = clk.ticks_ms()
        if not self.link_up():
            if c.state != mqtt.DOWN:
                c.abort()  # the network is gone: nothing more can be sent
            self._lost()
            self._download(False)
            self._install_due()
            return c.state
        if c.state == mqtt.DOWN:
            self._lost()
            self._too_big()
            if self._tried is None or clk.elapsed_ms(self._tried) >= _RETRY_MS:
                self._tried = clk.ticks_ms()
                c.connect()
        st = c.step(budget_ms)
        if st == mqtt.UP:
            if not self._up:
                self._up = True
                self._said = -1
                self._hb_due = True
                self.next_seq = self.journal.state().acked + 1  # lost acks: upload again
                if self._dl is not None:
                    self._dl[4] = None  # parts asked for before are lost: ask again
                report.emit("sync", ("state", "up"))
            self._upload()
            if self._hb_due or clk.elapsed_ms(self._hb_at) >= self.heartbeat_ms:
                self.heartbeat()
        elif st == mqtt.DOWN:
            self._lost()
        self._download(st == mqtt.UP)
        self._install_due()
        return c.state

    def _lost(self):
        c = self.client
        if self._up:
            self._up = False
            report.emit("sync", ("state", "down"), ("error", c.error))
            self._said = c.error
        elif c.state == mqtt.DOWN and c.error and c.error != self._said:
            self._said = c.error
            report.emit("sync", ("state", "down"), ("error", c.error), ("connack", c.connack))

    def _too_big(self):
        """A retained update larger than the client's packets comes again at every
        connect and closes each (E_TOO_BIG): stop subscribing to updates for a while, so
        records, acks and the time still flow; then try them again."""
        c = self.client
        if self._upd_off is None:
            if c.error == mqtt.E_TOO_BIG:
                c.error = mqtt.OK
                c.forget(self._sub)
                self._upd_off = self._clock.ticks_ms()
                self.counts[E_TOO_BIG] += 1
                self.last_code = E_TOO_BIG
                report.emit("sync-refused", ("topic", "upd"), ("code", E_TOO_BIG),
                            ("reason", REASONS[E_TOO_BIG]))
        elif self._clock.elapsed_ms(self._upd_off) >= _UPD_PAUSE_MS:
            self._upd_off = None
            self._sub = c.subscribe(self._prefix + b"upd/#", 1)

    def _upload(self):
        c = self.client
        if self._batch and not c.is_pending(self._batch):
            self._batch = 0
        j = self.journal
        if self._batch or self.next_seq > j.last_seq:
            return
        n = j.raw(self.next_seq, self._mv[1:], BATCH)
        if not n:  # not on flash (acknowledged and deleted): from the watermark on
            self.next_seq = max(self.next_seq + 1, j.state().acked + 1)
            return
        pid = c.publish(self._t_rec, self._mv[:1 + n * _REC], 1)
        if pid > 0:
            self._batch = pid
            self.next_seq += n
            self.uploaded += n

    def heartbeat(self):
        """Publish the heartbeat now (QoS 1); False when no slot was free (tried again)."""
        j = self.journal
        s = j.state()
        v = self._versions()
        msg = ('{"v": 1, "id": "%s", "role": %s, "fw": "%s", "tariff": %d, "deny": %d, '
               '"config": %d, "staff": %d, "canteen": %d, "clock": %d, "used": %d, "free": %d, '
               '"last": %d, "acked": %d, "backlog": %d, "pending": %d}'
               % (self.tid, json.dumps(self.ctx.config.get("role", "")), FW, v[0],
                  max(v[1], v[2]), v[3], v[4], v[6], _ykt_clock.seconds(), s.used, s.free,
                  s.last_seq, s.acked, s.used, s.reserved))
        pid = self.client.publish(self._t_hb, msg, 1)
        self._hb_due = pid <= 0
        if pid > 0:
            self._hb_at = self._clock.ticks_ms()
        return pid > 0

    def _versions(self):
        """Installed update versions by kind code - 1 (``/versions``; 0 when none)."""
        out = [0] * len(_VERSION_KEYS)
        try:
            with self.ctx.fs.open("/versions", "rb") as f:
                table = json.loads(f.read())
            for i in range(len(_VERSION_KEYS)):
                rec = table.get(_VERSION_KEYS[i])
                if rec:
                    out[i] = int(rec[0])
        except (OSError, ValueError, TypeError, AttributeError):
            pass
        return out

    # -- messages from the office -----------------------------------------------
    def _on_message(self, topic, msg):
        p = self._prefix
        what = topic[len(p):] if topic[:len(p)] == p else b""
        try:
            if what == b"ack":
                code = self._ack(msg)
            elif what == b"resend":
                code = self._resend(msg)
            elif what == b"time":
                code = self._time(msg)
            elif what[:4] == b"upd/":
                code = self._update(what[4:], msg)
            elif what[:5] == b"part/":
                code = self._part(what[5:], msg)
            else:
                code = E_MALFORMED
        except Exception as e:  # the tap loop must go on: say so, drop the message
            report.emit("error", ("reason", "sync: %s" % e))
            code = E_FAULT
        self.counts[code] += 1
        self.last_code = code
        if code and what:  # (amqtt may hand over other terminals' retained messages)
            report.emit("sync-refused", ("topic", what.decode()), ("code", code),
                        ("reason", REASONS[code]))

    def ack_mac(self, seq):
        """The ack's MAC: HMAC-SHA256(journal key, "ykt sync ack" || TID || seq)[:8]."""
        h = hashlib.sha256(self._ipad)
        h.update(b"ykt sync ack")
        h.update(self._tid)
        h.update(struct.pack(">I", seq))
        o = hashlib.sha256(self._opad)
        o.update(h.digest())
        return o.digest()[:8]

    def _ack(self, msg):
        if len(msg) != 13 or msg[0] != 1:
            return E_MALFORMED
        seq = struct.unpack_from(">I", msg, 1)[0]
        if not _equal(self.ack_mac(seq), bytes(msg[5:13])):
            return E_MAC
        j = self.journal
        if seq > j.last_seq:
            return E_BEYOND
        try:
            j.ack(seq)
        except YktError:
            return E_JOURNAL
        if self.next_seq <= seq:
            self.next_seq = seq + 1
        return OK

    def _resend(self, msg):
        if len(msg) != 9 or msg[0] != 1:
            return E_MALFORMED
        first, last = struct.unpack_from(">II", msg, 1)
        if not 0 < first <= last:
            return E_MALFORMED
        if first > self.journal.last_seq:
            return E_BEYOND
        self.next_seq = max(first, self.journal.state().acked + 1)
        return OK

    def _time(self, msg):
        if len(msg) != 5 or msg[0] != 1:
            return E_MALFORMED
        secs = struct.unpack_from(">I", msg, 1)[0]
        if secs < self.journal.last_time:
            return E_BEHIND
        if abs(secs - _ykt_clock.seconds()) <= _CLOCK_SLACK_S:
            return OK
        try:
            self.ctx.set_clock(secs, "sync")
        except ValueError:
            return E_RANGE
        except YktError:
            return E_JOURNAL
        return OK

    def _update(self, name, msg):
        if not msg:  # the office cleared its retained message
            return OK
        if not 0 < len(name) <= 32 or name[0] == 46:  # "."
            return E_NAME
        for ch in name:
            if ch not in _NAME_OK:
                return E_NAME
        if len(msg) and msg[0] == 2:
            return self._manifest(bytes(name), msg)
        if len(msg) < 41 or msg[0] != 1:
            return E_MALFORMED
        apply_by = struct.unpack_from(">I", msg, 1)[0]
        code = self._head_ok(bytes(msg[5:25]))
        if code:
            return code
        fs = self.ctx.fs
        try:
            self._mkinbox()
            with fs.open(_TMP, "wb") as f:
                f.write(msg[5:])
            fs.rename(_TMP, _INBOX + "/" + name.decode())
        except OSError:
            self._remove(_TMP)
            return E_FLASH
        self._stored(apply_by)
        return OK

    def _head_ok(self, head):
        """OK for an update file's header addressed to this terminal and newer than the
        version of its kind installed; else the refusal's code."""
        if head[:4] != b"YKUP" or head[6:12] != self._tid:
            return E_NOT_MINE
        kind = head[5]
        version = struct.unpack_from(">I", head, 12)[0]
        if 0 < kind <= len(_VERSION_KEYS) and version <= self._versions()[kind - 1]:
            return E_OLD
        return OK

    def _mkinbox(self):
        try:
            self.ctx.fs.mkdir(_INBOX)
        except OSError as e:
            if e.args[0] != _EEXIST:
                raise

    def _remove(self, path):
        try:
            self.ctx.fs.remove(path)
        except OSError:
            pass

    def _size(self, path):
        """A file's size, -1 when it is not there."""
        try:
            with self.ctx.fs.open(path, "rb") as f:
                f.seek(0, 2)
                return f.tell()
        except OSError:
            return -1

    def _stored(self, apply_by):
        if not self._inbox or apply_by < self._apply_by:
            self._apply_by = apply_by
        self._inbox = True

    # -- updates larger than a packet: a manifest, then parts asked for ------------------
    def _manifest(self, name, msg):
        """A retained manifest (docs/sync.md "Updates in parts"): download the file it
        names part by part into /dl.part, or go on with the download it already started."""
        if len(msg) != _MAN_SIZE:
            return E_MALFORMED
        man = bytes(msg)
        code = self._head_ok(man[43:63])
        if code:
            return code
        size, part = struct.unpack_from(">IH", man, 5)
        if size < 36 or not part:
            return E_MALFORMED
        if part > self._part_max:
            return E_TOO_BIG
        version = man[55:59]
        try:  # the same version (or a later one) whole in the inbox already
            with self.ctx.fs.open(_INBOX + "/" + name.decode(), "rb") as f:
                head = f.read(20)
            if head[5] == man[48] and head[12:16] >= version:
                return OK
        except (OSError, IndexError):
            pass
        d = self._dl
        if d is not None:
            if d[0] == name:
                if d[1] == man:  # sent again (a reconnect): go on where it is
                    d[4] = None
                    return OK
                self._drop()  # a newer file replaces the one downloading
            else:
                if name in self._waiting or len(self._waiting) < _WAITING:
                    self._waiting[name] = man
                return OK
        return self._start(name, man)

    def _start(self, name, man):
        size, part = struct.unpack_from(">IH", man, 5)
        parts = (size + part - 1) // part
        rec = bytes([len(name)]) + name + man
        fs = self.ctx.fs
        nxt = -1
        try:
            with fs.open(_MAN, "rb") as f:
                same = f.read() == rec
        except OSError:
            same = False
        if same:  # a download this manifest began before a reset: whole parts kept
            have = self._size(_PART)
            if have >= 0 and (have % part == 0 or have == size) and have <= size:
                nxt = (have + part - 1) // part
        if nxt < 0:
            self._remove(_PART)
            try:
                with fs.open(_MAN, "wb") as f:
                    f.write(rec)
            except OSError:
                self._remove(_MAN)
                return E_FLASH
            nxt = 0
        self._dl = [name, man, nxt, parts, None, -1, None, 0]
        if nxt == parts:
            self._dl[5] = 0
            self._dl[6] = hashlib.sha256()
        return OK

    def _drop(self):
        self._dl = None
        self._remove(_PART)
        self._remove(_MAN)

    def _part(self, name, msg):
        """One part of the file downloading, appended to /dl.part when it is the next."""
        if len(msg) < 9 or msg[0] != 1:
            return E_MALFORMED
        d = self._dl
        if d is None or d[0] != name or d[5] >= 0:
            return OK  # asked for before a reset or a newer manifest: nothing to do
        man = d[1]
        if msg[1:5] != man[55:59] or struct.unpack_from(">I", msg, 5)[0] != d[2]:
            return OK  # another version's part, or one already written (asked again)
        size, part = struct.unpack_from(">IH", man, 5)
        if len(msg) - 9 != min(part, size - d[2] * part):
            return E_MALFORMED
        try:
            with self.ctx.fs.open(_PART, "ab") as f:
                f.write(msg[9:])
        except OSError:
            self._drop()
            return E_FLASH
        d[2] += 1
        d[4] = self._clock.ticks_ms()
        if d[2] == d[3]:
            d[5] = 0
            d[6] = hashlib.sha256()
        elif d[2] >= d[7]:
            d[4] = None  # the parts asked for are in: ask for the next ones
        return OK

    def _download(self, up):
        """The download's share of a slice: ask for parts (link up), or hash one buffer
        of the whole file; when it matches its manifest's digest, into /inbox."""
        d = self._dl
        if d is None:
            if self._waiting:
                name = next(iter(self._waiting))
                self._start(name, self._waiting.pop(name))
            return
        if d[5] < 0:
            if up and (d[4] is None or d[2] >= d[7]
                       or self._clock.elapsed_ms(d[4]) >= _GET_RETRY_MS):
                n = min(_GET_N, d[3] - d[2])
                msg = b"\x01" + d[1][55:59] + struct.pack(">IB", d[2], n) + d[0]
                if self.client.publish(self._t_get, msg, 0) == 0:
                    d[4] = self._clock.ticks_ms()
                    d[7] = d[2] + n
            return
        man = d[1]
        size = struct.unpack_from(">I", man, 5)[0]
        fs = self.ctx.fs
        try:
            with fs.open(_PART, "rb") as f:
                f.seek(d[5])
                # (the record buffer after its format byte: free between uploads)
                n = f.readinto(self._mv[1:1 + min(BATCH * _REC, size - d[5])]) \
                    if d[5] < size else 0
            if n:
                d[6].update(self._mv[1:1 + n])
                d[5] += n
                if d[5] < size:
                    return
            if d[5] != size or self._size(_PART) != size or d[6].digest() != man[11:43]:
                self._drop()
                self.counts[E_DIGEST] += 1
                self.last_code = E_DIGEST
                report.emit("sync-refused", ("topic", "upd/" + d[0].decode()),
                            ("code", E_DIGEST), ("reason", REASONS[E_DIGEST]))
                return
            self._mkinbox()
            fs.rename(_PART, _INBOX + "/" + d[0].decode())
        except OSError:
            self._drop()
            self.counts[E_FLASH] += 1
            self.last_code = E_FLASH
            return
        self._dl = None
        self._remove(_MAN)
        self._stored(struct.unpack_from(">I", man, 1)[0])

    def _install_due(self):
        """Install what waits in /inbox when the terminal has been quiet for a while, or at
        once when an apply-by time (0: at once) has come."""
        if not self._inbox:
            return
        if (self._clock.elapsed_ms(self._quiet_at) < _QUIET_MS
                and _ykt_clock.seconds() < self._apply_by):
            return
        self._inbox = False
        self.ctx.install_updates()
        self._hb_due = True  # the office sees the versions (and clears its message)


def attach(ctx, role):
    """Run a Sync in ``role``'s idle time (each ``idle()`` call, then one slice) and keep
    the reader's light sleep (``Reader.idle_ms``) within 3/4 of the MQTT keepalive."""
    sync = Sync(ctx)
    idle = role.idle

    def idle_and_sync():
        idle()
        sync.step()

    role.idle = idle_and_sync
    ka = sync.client.keepalive * 750
    if ka and ctx.reader.idle_ms > ka:
        ctx.reader.idle_ms = ka
    return sync
