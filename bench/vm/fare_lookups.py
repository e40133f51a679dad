"""Distance lookups, quotes and exit-tap pricing on the MicroPython VM (bench/fare.py).

``micropython fare_lookups.py TARIFF.bin PAIRS.bin FLASH.img BLOCKS ENTRY EXIT EXITS REPEAT``:
PAIRS.bin holds the origin/destination pairs (two big-endian uint16 each); FLASH.img is a host
file of BLOCKS 4 KB blocks that becomes a real LittleFS (the board's vfs partition), the
tariff copied onto it. For the tariff read from the host file and then from LittleFS it
prints us to open it, the best of REPEAT passes' us for every distance lookup and every
``quote_trip`` over the pairs, and the sums of their fen and decametres; then, on the
LittleFS copy, the best us for EXITS exit pricings with the card record's decode and encode
and without, and the timed exit's fare (an exit at EXIT, entered at ENTRY 30 minutes before,
bus transfer, monthly discount).
"""

import gc
import os
import struct
import sys
import time

from ykt import caltime
from ykt.fare import engine
from ykt.fare import transit_record as tr
from ykt.fare.tariff import Tariff

path, pairs_file, flash = sys.argv[1], sys.argv[2], sys.argv[3]
blocks, entry, exit_, exits, repeat = [int(x) for x in sys.argv[4:9]]


class FileFlash:
    # a NOR-like block device for a real LittleFS (the board's vfs partition), kept in a
    # host file so the VM's heap holds only the firmware (as esp32.Partition on the board)
    def __init__(self, path, blocks, size=4096):
        self.f = open(path, "r+b")
        self.size = size
        self.blocks = blocks
        self.ff = b"\xff" * size

    def readblocks(self, n, buf, off=0):
        self.f.seek(n * self.size + off)
        self.f.readinto(buf)

    def writeblocks(self, n, buf, off=None):
        if off is None:
            self.ioctl(6, n)
            off = 0
        self.f.seek(n * self.size + off)
        self.f.write(buf)

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return self.size
        if op == 6:
            self.f.seek(arg * self.size)
            self.f.write(self.ff)
            return 0
        return None


dev = FileFlash(flash, blocks)
os.VfsLfs2.mkfs(dev)
os.mount(os.VfsLfs2(dev), "/flash")
buf = bytearray(512)
with open(path, "rb") as fi:
    with open("/flash/tariff.bin", "wb") as fo:
        while True:
            k = fi.readinto(buf)
            if not k:
                break
            fo.write(memoryview(buf)[:k])
with open(pairs_file, "rb") as f:
    raw = f.read()
pairs = [struct.unpack_from(">HH", raw, 4 * i) for i in range(len(raw) // 4)]
del raw
gc.collect()
at = caltime.secs(2026, 11, 30, 8, 0)
d = time.ticks_diff


def lookups(path):
    # best of REPEAT passes over the pairs (the host is shared)
    gc.collect()
    t0 = time.ticks_us()
    t = Tariff(open(path, "rb"))
    opened = d(time.ticks_us(), t0)
    best_d = best_q = None
    for _ in range(repeat):
        gc.collect()
        t1 = time.ticks_us()
        for a, b in pairs:
            t.distance_dam(a, b)
        t2 = time.ticks_us()
        fen = dam = 0
        for a, b in pairs:
            q = engine.quote_trip(t, a, b, at)
            fen += q.fen
            dam += q.distance_dam
        t3 = time.ticks_us()
        if best_d is None or d(t2, t1) < best_d:
            best_d = d(t2, t1)
        if best_q is None or d(t3, t2) < best_q:
            best_q = d(t3, t2)
    return t, [opened, best_d, best_q, fen, dam]


t, host = lookups(path)
t.close()
t, lfs = lookups("/flash/tariff.bin")
s = tr.TransitState()
s.flags = tr.FLAG_ENTRY_OPEN
s.entry_station = entry
s.entry_time = at
s.entry_terminal = b"\x29\x00\x10\x20\x25\x01"
s.last_mode = 2
s.last_time = at - 1200
s.last_fare = 200
s.month = (2026, 11)
s.month_spend = 7500
s.month_rides = 30
rec = tr.encode(s)
out = at + 1800
n = exits
best_x = best_e = None
for _ in range(repeat):
    gc.collect()
    t4 = time.ticks_us()
    for _ in range(n):
        q = engine.metro_exit(t, tr.decode(rec), exit_, out, 0, 0x2900)
        new = tr.encode(q.state)
    t5 = time.ticks_us()
    st = tr.decode(rec)
    for _ in range(n):
        engine.metro_exit(t, st, exit_, out, 0, 0x2900)
    t6 = time.ticks_us()
    if best_x is None or d(t5, t4) < best_x:
        best_x = d(t5, t4)
    if best_e is None or d(t6, t5) < best_e:
        best_e = d(t6, t5)
print(*(host + lfs + [best_x, best_e, q.fen]))
