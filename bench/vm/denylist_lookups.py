"""Denylist lookups on the MicroPython VM (bench/denylist.py): the firmware's store over a
host directory, through an fs that counts the bytes read.

``micropython denylist_lookups.py DIR PROBES.txt`` looks up every number of PROBES.txt in
DIR/denylist.bin and prints the total microseconds, the bytes read and the hits.
"""

import sys
import time

from ykt.store.denylist import Denylist


class F:
    def __init__(self, f, fs):
        self.f = f
        self.fs = fs

    def readinto(self, b):
        n = self.f.readinto(b)
        self.fs.read += n or 0
        return n

    def read(self, n):
        d = self.f.read(n)
        self.fs.read += len(d)
        return d

    def seek(self, *a):
        return self.f.seek(*a)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.f.close()


class Fs:
    read = 0

    def __init__(self, root):
        self.root = root

    def open(self, path, mode):
        return F(open(self.root + path, mode), self)


fs = Fs(sys.argv[1])
d = Denylist(fs)
d.contains("31049900000000000000")
fs.read = 0
hits = 0
dt = 0
for line in open(sys.argv[2]):
    no = line.strip()
    t0 = time.ticks_us()
    if d.contains(no)[0]:
        hits += 1
    dt += time.ticks_diff(time.ticks_us(), t0)
print(dt, fs.read, hits)
