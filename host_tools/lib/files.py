"""Files on the host: inputs named in an error, outputs replaced whole.

Imports nothing of the project, so the simulator may use it too.
"""

from __future__ import annotations

import os

from host_tools.lib.errors import BadInput


def read_input(path: str, what: str) -> bytes:
    """The bytes of an input file; a missing one is ValueError("no such WHAT file: PATH")."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise BadInput("no such %s file: %s" % (what, path)) from None


def write_atomic(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temporary file renamed over it."""
    tmp = "%s.tmp-%d" % (path, os.getpid())
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
