"""Terminal configuration with per-device keys (`ykt provision`).

The operator holds one **master key file** (JSON, keep it offline, mode 0600)::

    {
      "format": "ykt-master-keys/1",
      "purchase": "<32 hex>",   issuer purchase master key (the terminal's SAM needs it)
      "load":     "<32 hex>",   issuer load master key (only terminals that load get it)
      "device":   "<32 hex>",   back office device master: journal keys
      "update":   "<32 hex>",   back office update master: update-file keys
      "kcv": {"purchase": "<6 hex>", "load": ..., "device": ..., "update": ...}
    }

``kcv`` holds each key's check value, the first 3 bytes of AES_key(16 zero
bytes) (the usual key check value), so a mistyped or damaged key is refused
instead of provisioning terminals that cannot talk to their cards or back
office. ``ykt provision --new-master-key-file F`` writes a file with fresh
random keys.

Per terminal (terminal id ``tid``, 6 bytes), as the purse diversification of
docs/purse.md §5.2 with a two-byte prefix that no BCD card serial has::

    journal key  = AES_device_master(FF FE ‖ tid ‖ NOT(FF FE ‖ tid))
    update key   = AES_update_master(FF FF ‖ tid ‖ NOT(FF FF ‖ tid))  (host_tools.lib.updates)

The config gets ``keys.device`` (journal key), ``keys.update`` (update key),
``keys.purchase`` (and ``keys.load`` with ``--load``): masters never leave the
file otherwise. Key values are never printed.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from host_tools.lib import updates
from host_tools.lib.errors import BadInput
from host_tools.lib.files import read_input, write_atomic
from host_tools.lib.image import Board

FORMAT = "ykt-master-keys/1"
MASTER_NAMES = ("purchase", "load", "device", "update")
# role -> the setting it needs (firmware/ykt/roles/*)
ROLES = {"fixed_fare": "fare_fen", "gate": "station", "entry_gate": "station",
         "exit_gate": "station", "validator": "route"}


def _aes(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def kcv(key: bytes) -> str:
    """Key check value: AES_key(0^16)[:3] as 6 hex digits."""
    return _aes(key, bytes(16))[:3].hex()


def journal_key(device_master: bytes, tid: bytes) -> bytes:
    """The terminal's journal (device) key."""
    block8 = b"\xff\xfe" + bytes(tid)
    if len(block8) != 8:
        raise BadInput("terminal id must be 6 bytes")
    return _aes(device_master, block8 + bytes(b ^ 0xFF for b in block8))


def new_master_keys() -> dict[str, Any]:
    keys = {name: os.urandom(16) for name in MASTER_NAMES}
    doc: dict[str, Any] = {"format": FORMAT}
    doc.update({name: keys[name].hex() for name in MASTER_NAMES})
    doc["kcv"] = {name: kcv(keys[name]) for name in MASTER_NAMES}
    return doc


def write_new_master_file(path: str) -> None:
    if os.path.exists(path):
        raise BadInput("%s exists: refusing to replace master keys" % path)
    write_atomic(path, (json.dumps(new_master_keys(), indent=2) + "\n").encode(), mode=0o600)


def read_master_file(path: str) -> dict[str, bytes]:
    """{name: 16-byte key} from a master key file; ValueError naming what is wrong."""
    raw = read_input(path, "master key")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BadInput("%s: not a master key file (%s)" % (path, FORMAT))
    checks = doc["kcv"] if isinstance(doc.get("kcv"), dict) else {}
    keys = {}
    for name in MASTER_NAMES:
        try:
            key = bytes.fromhex(doc.get(name) or "")
        except (TypeError, ValueError):
            key = b""
        if len(key) != 16:
            raise BadInput("%s: key %r is missing or not 32 hex digits" % (path, name))
        if checks.get(name) != kcv(key):
            raise BadInput("%s: key %r fails its check value (damaged or edited file)"
                             % (path, name))
        keys[name] = key
    return keys


def provision(board_name: str, terminal_id: str, role: str, masters: dict[str, bytes], *,
              station: int | None = None, route: str | None = None, fare_fen: int | None = None,
              load: bool = False, name: str | None = None,
              sequence_floor: int | None = None) -> dict[str, Any]:
    """The terminal config (dict) for one terminal."""
    board = Board(board_name)
    tid = updates.terminal_id(terminal_id)
    if role not in ROLES:
        raise BadInput("unknown role %r (one of %s)" % (role, ", ".join(sorted(ROLES))))
    given: dict[str, Any] = {"station": station, "route": route, "fare_fen": fare_fen}
    need = ROLES[role]
    if given[need] is None:
        raise BadInput("role %s needs --%s" % (role, need.replace("_", "-")))
    extra = [k for k, v in given.items() if v is not None and k != need]
    if extra:
        raise BadInput("role %s takes no --%s" % (role, extra[0].replace("_", "-")))
    if need == "station" and "gate" not in board.spec:
        raise BadInput("role %s needs a board with a gate; %s has none" % (role, board.name))
    if need in ("station", "fare_fen") and given[need] < 0:
        raise BadInput("--%s must be >= 0" % need.replace("_", "-"))
    if sequence_floor is not None and not 0 <= sequence_floor <= 0xFFFFFFFF:
        raise BadInput("--sequence-floor must be 0 to 4294967295")
    cfg: dict[str, Any] = {"terminal_id": tid.hex(), "role": role}
    if name:
        cfg["name"] = name
    if sequence_floor:
        cfg["sequence_floor"] = int(sequence_floor)
    cfg[need] = str(route) if need == "route" else int(given[need])
    keys = {"purchase": masters["purchase"].hex()}
    if load:
        keys["load"] = masters["load"].hex()
    keys["device"] = journal_key(masters["device"], tid).hex()
    keys["update"] = updates.device_key(masters["update"], tid).hex()
    cfg["keys"] = keys
    cfg["data_dir"] = "/"
    return cfg


def write_config(path: str, cfg: dict[str, Any]) -> None:
    """Write the config (keys inside: mode 0600)."""
    write_atomic(path, (json.dumps(cfg, indent=2) + "\n").encode(), mode=0o600)
