"""One key file for every command that needs a key (issue 11, "One key file").

The operator's **master key file** (``ykt provision --new-master-key-file``, format in
:mod:`host_tools.lib.provision`) is what ``tariff build``, ``update sign/show``,
``journal verify``, ``collect`` and ``sim board`` take; each derives the per-terminal key it
needs here, so nobody extracts a key by hand:

- :func:`update_master`: the update master (``updates.sign``/``verify`` derive the
  terminal's update key from it and the terminal id);
- :func:`journal_key_for`: terminal id -> the terminal's journal (device) key.

For scripts written before the master key file, each still takes the single key it took
(32 hex digits, or 16 raw bytes for the update master). A file that is neither is one
line naming the file and what it should be.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from host_tools.lib.errors import BadInput
from host_tools.lib.provision import FORMAT, journal_key, read_master_file

MAKE = "the master key file from `ykt provision --new-master-key-file`"


def _read(path: str) -> bytes:
    """The file's bytes; anything that keeps it from being read is BadInput in one line."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise BadInput("no such key file: %s (give %s)" % (path, MAKE)) from None
    except IsADirectoryError:
        raise BadInput("key file %s is a directory (give %s)" % (path, MAKE)) from None
    except PermissionError:
        raise BadInput("key file %s cannot be read (permission denied)" % path) from None
    except OSError as e:
        raise BadInput("key file %s cannot be read (%s)" % (path, e.strerror or e)) from None


def _is_json(raw: bytes) -> bool:
    return raw.lstrip().startswith(b"{")


def _not_master(path: str, raw: bytes) -> BadInput:
    """What a JSON file that is not a master key file is, in words."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if isinstance(doc, dict) and "terminal_id" in doc and isinstance(doc.get("keys"), dict):
        return BadInput("%s is a terminal config (from `ykt provision --out`), not the master "
                        "key file: give %s" % (path, MAKE))
    return BadInput("%s: not a master key file (%s): give %s" % (path, FORMAT, MAKE))


def masters(path: str) -> dict[str, bytes]:
    """{name: 16-byte master} of a master key file, checked (check values) at once."""
    raw = _read(path)
    if not _is_json(raw):
        raise BadInput("%s: not a master key file (%s): give %s" % (path, FORMAT, MAKE))
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _not_master(path, raw)
    return read_master_file(path)


def _single_key(path: str, raw: bytes, what: str, allow_raw: bool) -> bytes:
    try:
        key = bytes.fromhex("".join(raw.decode("ascii").split()))
    except (UnicodeDecodeError, ValueError):
        key = raw if allow_raw else b""
    if len(key) != 16:
        raise BadInput("%s: neither a master key file nor %s (32 hex digits): give %s"
                       % (path, what, MAKE))
    return key


def update_master(path: str) -> bytes:
    """The update master key from a master key file, or the file's one 16-byte key (32 hex
    digits or 16 raw bytes, as ``updates.read_key_file`` took it)."""
    raw = _read(path)
    if _is_json(raw):
        return masters(path)["update"]
    return _single_key(path, raw, "an update master key", allow_raw=True)


def journal_key_for(path: str) -> Callable[[bytes], bytes]:
    """terminal id (6 bytes) -> journal key: derived per terminal from a master key file's
    device master, or the file's one device key in hex (any terminal). Checked at once."""
    raw = _read(path)
    if _is_json(raw):
        device_master = masters(path)["device"]
        return lambda tid: journal_key(device_master, tid)
    try:
        key = bytes.fromhex("".join(raw.decode("ascii").split()))
    except (UnicodeDecodeError, ValueError):
        key = b""
    if not key:
        raise BadInput("%s: neither a master key file nor a device key in hex: give %s"
                       % (path, MAKE))
    return lambda tid: key


def is_master_file(path: str) -> bool:
    """True if ``path`` holds JSON (a master key file, or something refused as one)."""
    return _is_json(_read(path))
