"""A persistent 32-bit counter in one small file (docs/stores.md "SAM sequence counter").

``Counter(fs, path)`` is the lease ``ykt.sam.SoftSam`` keeps its sequence
high-water mark in: ``load()`` returns the stored value (0 when the file is
missing) and ``store(v)`` replaces it atomically. The file is 8 bytes: the
value (4, big-endian) and CRC32("YKSQ" || value) (4), so a damaged file, or one
of the wrong size, is refused (``SequenceError``) instead of read as 0.
"""

import binascii

from micropython import const

from ykt.errors import SequenceError
from ykt.store import replace

PATH = "/sam.seq"
_SIZE = const(8)
_TAG = b"YKSQ"
_ENOENT = const(2)


def _crc(value4):
    return binascii.crc32(value4, binascii.crc32(_TAG))


class Counter:
    def __init__(self, fs, path=PATH):
        self.fs = fs
        self.path = path

    def load(self):
        """The stored value; 0 if there is no file. Raises SequenceError if the
        file is damaged, OSError if it cannot be read."""
        try:
            with self.fs.open(self.path, "rb") as f:
                data = f.read(_SIZE + 1)
        except OSError as e:
            if e.args and e.args[0] == _ENOENT:
                return 0
            raise
        if len(data) != _SIZE or int.from_bytes(data[4:], "big") != _crc(data[:4]):
            raise SequenceError("sequence counter damaged")
        return int.from_bytes(data[:4], "big")

    def store(self, value):
        """Replace the stored value (written to ``<path>.new``, renamed over the
        file: a power cut leaves the old value or the new one). Raises OSError."""
        v = (value & 0xFFFFFFFF).to_bytes(4, "big")
        replace(self.fs, self.path, v + _crc(v).to_bytes(4, "big"))
