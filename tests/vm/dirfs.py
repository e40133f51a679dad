"""A Vfs-like adapter over a host directory, the same source on both runtimes
(tests/test_journal.py imports it; ``journal_write.py`` uses it on the VM)."""

import os


class DirFs:
    def __init__(self, root):
        self.root = root

    def open(self, path, mode="rb"):
        return open(self.root + path, mode)

    def remove(self, path):
        os.remove(self.root + path)

    def rename(self, old, new):
        os.rename(self.root + old, self.root + new)

    def mkdir(self, path):
        os.mkdir(self.root + path)

    def listdir(self, path):
        return os.listdir(self.root + path)

    def stat(self, path):
        return os.stat(self.root + path)
