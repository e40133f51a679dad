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

Roles (what ``firmware/ykt/main.py`` runs, and the setting each needs):

=====================================  =============================================
``fixed_fare``                         ``fare_fen``
``entry_gate``, ``exit_gate``, ``gate``  ``station`` (``gate``: entry and exit; a board with a gate)
``validator``                          ``route``, ``mode`` bus (default) or ferry
``pos`` (canteen)                      ``canteen`` (the rule set, menu included, put in
                                       the config), ``mode`` fixed (default), menu or
                                       amount, ``staff`` (a staff file); a board with a keypad
=====================================  =============================================

A role whose measured heap need does not fit the board's RAM is refused
(:func:`host_tools.lib.boardcheck.role_fit`), before anything is written.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from host_tools.lib import boardcheck, updates
from host_tools.lib.errors import BadInput
from host_tools.lib.files import read_input, write_atomic
from host_tools.lib.image import Board

FORMAT = "ykt-master-keys/1"
MASTER_NAMES = ("purchase", "load", "device", "update")
# role -> the setting it needs (firmware/ykt/roles/*)
ROLES = {"fixed_fare": "fare_fen", "gate": "station", "entry_gate": "station",
         "exit_gate": "station", "validator": "route", "pos": "canteen"}
# role -> the modes its firmware takes (config "mode"), the first the default
MODES = {"validator": ("bus", "ferry"), "pos": ("fixed", "menu", "amount")}
STAFF_ROLES = ("cashier", "supervisor")  # as ykt.pos.staff.ROLES


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


def read_canteen(path: str) -> dict[str, Any]:
    """A canteen rule set (docs/canteen.md; its menu is its ``items`` and ``set_meals``)."""
    raw = read_input(path, "canteen rules")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("periods"), list):
        raise BadInput("%s: not a canteen rule set (a JSON object with \"periods\", "
                       "e.g. canteens/putuo-example.json)" % path)
    if doc.get("format", 1) != 1:
        raise BadInput("%s: canteen rule set format %r not supported (need 1)"
                       % (path, doc.get("format")))
    return doc


def _hex_len(v: object, lo: int, hi: int) -> bool:
    try:
        return lo <= len(bytes.fromhex(str(v))) <= hi
    except ValueError:
        return False


def read_staff(path: str) -> list[dict[str, Any]]:
    """A staff file (a JSON list: card, name, role, salt, pin_sha256 per entry, as
    ``ykt staff add`` writes it), checked as the POS checks it at boot."""
    raw = read_input(path, "staff file")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, list):
        raise BadInput("%s: not a staff file (a JSON list of entries)" % path)
    cards = set()
    for i, e in enumerate(doc):
        where = "%s: staff[%d]" % (path, i)
        if not isinstance(e, dict):
            raise BadInput("%s: must be an object" % where)
        card = e.get("card")
        if not isinstance(card, str) or len(card) != 20 or not card.isdigit():
            raise BadInput("%s: card must be 20 digits" % where)
        if card in cards:
            raise BadInput("%s: card listed twice" % where)
        cards.add(card)
        name = e.get("name", "")
        if not isinstance(name, str) or not 0 < len(name) <= 12:
            raise BadInput("%s: name must be 1 to 12 characters" % where)
        if e.get("role") not in STAFF_ROLES:
            raise BadInput("%s: role must be cashier or supervisor" % where)
        if not _hex_len(e.get("salt"), 8, 32):
            raise BadInput("%s: salt must be 8 to 32 bytes of hex" % where)
        if not _hex_len(e.get("pin_sha256"), 32, 32):
            raise BadInput("%s: pin_sha256 must be 32 bytes of hex" % where)
    if len(doc) > 255:
        raise BadInput("%s: at most 255 staff" % path)
    return doc


def provision(board_name: str, terminal_id: str, role: str, masters: dict[str, bytes], *,
              station: int | None = None, route: str | None = None, fare_fen: int | None = None,
              canteen: str | None = None, mode: str | None = None, staff: str | None = None,
              load: bool = False, name: str | None = None,
              sequence_floor: int | None = None) -> dict[str, Any]:
    """The terminal config (dict) for one terminal. ``canteen`` and ``staff`` are files
    (the canteen rule set and the staff list of a ``pos``), put into the config."""
    board = Board(board_name)
    tid = updates.terminal_id(terminal_id)
    if role not in ROLES:
        raise BadInput("unknown role %r (one of %s)" % (role, ", ".join(sorted(ROLES))))
    given: dict[str, Any] = {"station": station, "route": route, "fare_fen": fare_fen,
                             "canteen": canteen}
    need = ROLES[role]
    if given[need] is None:
        raise BadInput("role %s needs --%s" % (role, need.replace("_", "-")))
    extra = [k for k, v in given.items() if v is not None and k != need]
    if staff is not None and role != "pos":
        extra.append("staff")
    if mode is not None and role not in MODES:
        extra.append("mode")
    if extra:
        raise BadInput("role %s takes no --%s" % (role, extra[0].replace("_", "-")))
    if mode is not None and mode not in MODES[role]:
        raise BadInput("role %s: --mode must be %s, not %r"
                       % (role, " or ".join(MODES[role]), mode))
    if need == "station" and "gate" not in board.spec:
        raise BadInput("role %s needs a board with a gate; %s has none" % (role, board.name))
    if role == "pos" and "keypad" not in board.spec:
        raise BadInput("role pos needs a board with a keypad; %s has none" % board.name)
    if need in ("station", "fare_fen") and given[need] < 0:
        raise BadInput("--%s must be >= 0" % need.replace("_", "-"))
    if sequence_floor is not None and not 0 <= sequence_floor <= 0xFFFFFFFF:
        raise BadInput("--sequence-floor must be 0 to 4294967295")
    unfit = boardcheck.role_fit(board.spec, role)
    if unfit:
        raise BadInput(unfit)
    cfg: dict[str, Any] = {"terminal_id": tid.hex(), "role": role}
    if name:
        cfg["name"] = name
    if sequence_floor:
        cfg["sequence_floor"] = int(sequence_floor)
    if need == "canteen":
        cfg["canteen"] = read_canteen(str(canteen))
        cfg["staff"] = read_staff(staff) if staff is not None else []
    else:
        cfg[need] = str(route) if need == "route" else int(given[need])
    if role in MODES:
        cfg["mode"] = mode or MODES[role][0]
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
