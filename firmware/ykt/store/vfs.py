"""The fs object stores use, over the builtin ``open`` and ``os``.

``Vfs(root)`` serves absolute paths inside the filesystem (``/journal/x``)
from the directory ``root`` (``"/"``: the filesystem root itself). On the
board that is the internal LittleFS; on the MicroPython VM the simulated flash
mounted at ``/flash``; under CPython any directory. Interface and errnos:
docs/architecture.md "Files on flash".
"""

import os


class Vfs:
    def __init__(self, root="/"):
        root = root.rstrip("/")
        self.root = root

    def path(self, path):
        """The runtime path of ``path`` (absolute inside this filesystem)."""
        if not path.startswith("/"):
            path = "/" + path
        return self.root + path if self.root else path

    def open(self, path, mode="rb"):
        return open(self.path(path), mode)

    def remove(self, path):
        os.remove(self.path(path))

    def rename(self, old, new):
        os.rename(self.path(old), self.path(new))

    def mkdir(self, path):
        os.mkdir(self.path(path))

    def listdir(self, path="/"):
        return os.listdir(self.path(path))

    def stat(self, path):
        return os.stat(self.path(path))

    def statvfs(self, path="/"):
        return os.statvfs(self.path(path))
