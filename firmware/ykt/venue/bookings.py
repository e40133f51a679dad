"""A venue's day of timed-entry bookings: ``/bookings.bin``, installed by an update of kind 10
``bookings`` (docs/venue.md §4; written by ``host_tools/lib/venue.py``).

Big-endian: ``YKTB``, format 1, version (4), date YYYYMMDD (4), slot count (1), booking count
(2); per slot start and end (minutes after midnight) and capacity (2 bytes each); per
booking id (4), holder match key (16), slot index (1), people (1), paid (4) and due (4) fen.

The slots are kept in RAM; bookings are looked up by match key straight from the file, a
chunk at a time, so a day of thousands of bookings costs no RAM.
"""

import struct

from micropython import const

MAGIC = b"YKTB"
_HEAD = const(16)
_SLOT = const(6)
_BOOKING = const(30)
_CHUNK = const(32)  # bookings read at a time

PATH = "/bookings.bin"


def header(head, size):
    """(version, date, slot count, booking count) of a payload's first 16 bytes, its total
    ``size`` checked; ValueError if it is not a bookings payload."""
    if len(head) < _HEAD or bytes(head[:4]) != MAGIC or head[4] != 1:
        raise ValueError("not a bookings file")
    version, date, ns, nb = struct.unpack(">IIBH", head[5:_HEAD])
    if size != _HEAD + ns * _SLOT + nb * _BOOKING:
        raise ValueError("bookings of %d slots and %d bookings is %d bytes" % (ns, nb, size))
    return version, date, ns, nb


class Booking:
    def __init__(self, raw):
        self.id, self.match, self.slot, self.people, self.paid, self.due = struct.unpack(
            ">I16sBBII", raw)


class Bookings:
    """The installed bookings (``fs``): ``date``, ``slots`` [(start, end, capacity)] in
    minutes after midnight, ``booked`` people per slot, ``find(match)``. With no file:
    a day of no slots."""

    def __init__(self, fs, path=PATH):
        self._fs = fs
        self._path = path
        self.version = 0
        self.date = 0
        self.slots = []
        self.booked = []
        self._n = 0
        try:
            size = fs.stat(path)[6]
        except OSError:
            return
        with fs.open(path, "rb") as f:
            self.version, self.date, ns, self._n = header(f.read(_HEAD), size)
            for _ in range(ns):
                self.slots.append(struct.unpack(">HHH", f.read(_SLOT)))
            self.booked = [0] * ns
            for b in self._each(f):
                if b.slot < ns:
                    self.booked[b.slot] += b.people

    def _each(self, f):
        left = self._n
        while left:
            k = left if left < _CHUNK else _CHUNK
            chunk = f.read(k * _BOOKING)
            for i in range(k):
                yield Booking(chunk[i * _BOOKING : (i + 1) * _BOOKING])
            left -= k

    def find(self, match):
        """The bookings of the holder with this match key, in file order."""
        out = []  # type: list[Booking]
        if not self._n:
            return out
        with self._fs.open(self._path, "rb") as f:
            f.seek(_HEAD + len(self.slots) * _SLOT)
            for b in self._each(f):
                if b.match == match:
                    out.append(b)
        return out
