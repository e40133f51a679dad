"""The terminal's files on flash (docs/stores.md), all through an fs object
(docs/architecture.md "Files on flash")."""


def replace(fs, path, data, tmp=None):
    """Write ``data`` as the file ``path`` so that a power cut leaves the old file or
    the new one: to ``tmp`` (default ``<path>.new``) first, committed, then renamed over
    ``path``. Raises OSError."""
    tmp = tmp or path + ".new"
    with fs.open(tmp, "wb") as f:
        f.write(data)
        f.flush()
    fs.rename(tmp, path)
