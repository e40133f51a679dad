"""Terminal configuration with per-device keys (`ykt provision`).

The operator holds one **master key file** (JSON, keep it offline, mode 0600)::

    {
      "format": "ykt-master-keys/1",
      "purchase": "<32 hex>",   issuer purchase master key (the terminal's SAM needs it)
      "load":     "<32 hex>",   issuer load master key (only terminals that load get it)
      "device":   "<32 hex>",   back office device master: journal keys
      "update":   "<32 hex>",   back office update master: update-file keys
      "tac":      "<32 hex>",   issuer TAC master: only the back office reads it
      "kcv": {"purchase": "<6 hex>", "load": ..., "device": ..., "update": ..., "tac": ...}
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

MQTT (docs/sync.md "Credentials and ACLs"): each terminal's broker user is its id and its
password ``HMAC-SHA256(device master, b"ykt mqtt|" ‖ tid)[:16]`` in hex
(:func:`mqtt_password`); with a broker the config gets ``"mqtt": {"host", "port", "user",
"password", "keepalive"}``. :func:`write_mosquitto` writes a Mosquitto ``passwd`` file (its
PBKDF2-SHA512 format, ``$7$``) and ``acl`` for the terminals and the office user.

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

import base64
import hashlib
import hmac
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
OFFICE_NAMES = ("tac",)  # written by new_master_keys; read by issuer.read_office_keys only
MQTT_KEEPALIVE = 60
MOSQUITTO_ITERATIONS = 101  # mosquitto_passwd's own count; the passwords are random 128 bits
# role -> the setting it needs (firmware/ykt/roles/*)
ROLES = {"fixed_fare": "fare_fen", "gate": "station", "entry_gate": "station",
         "exit_gate": "station", "validator": "route", "pos": "canteen", "venue": "venue"}
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
    names = MASTER_NAMES + OFFICE_NAMES
    keys = {name: os.urandom(16) for name in names}
    doc: dict[str, Any] = {"format": FORMAT}
    doc.update({name: keys[name].hex() for name in names})
    doc["kcv"] = {name: kcv(keys[name]) for name in names}
    return doc


# -- MQTT credentials (docs/sync.md) ----------------------------------------------------------

def mqtt_password(device_master: bytes, tid: bytes) -> str:
    """The terminal's MQTT password: HMAC-SHA256(device master, b"ykt mqtt|" + tid)[:16],
    32 hex digits."""
    if len(tid) != 6:
        raise BadInput("terminal id must be 6 bytes")
    return hmac.new(device_master, b"ykt mqtt|" + bytes(tid), hashlib.sha256).digest()[:16].hex()


def parse_hostport(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (the port 1883 when left out)."""
    host, sep, port = str(text).strip().rpartition(":")
    if not sep:
        host, port = port, "1883"
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in host:
        raise BadInput("broker %r: HOST:PORT (e.g. 10.0.0.2:1883)" % text)
    return host, int(port)


def mqtt_config(broker: str, device_master: bytes, tid: bytes) -> dict[str, Any]:
    """The config's ``"mqtt"`` entry for a terminal."""
    host, port = parse_hostport(broker)
    return {"host": host, "port": port, "user": tid.hex(),
            "password": mqtt_password(device_master, tid), "keepalive": MQTT_KEEPALIVE}


def mosquitto_hash(password: str, salt: bytes | None = None) -> str:
    """A Mosquitto 2 password file entry's hash: ``$7$ITER$salt$hash`` (PBKDF2-SHA512,
    base64), as ``mosquitto_passwd`` writes it."""
    salt = os.urandom(12) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, MOSQUITTO_ITERATIONS)
    return "$7$%d$%s$%s" % (MOSQUITTO_ITERATIONS, base64.b64encode(salt).decode(),
                            base64.b64encode(digest).decode())


MOSQUITTO_ACL = """\
# Mosquitto ACL for yikatong terminals and their back office (docs/sync.md,
# "Credentials and ACLs"), written by `ykt provision --mosquitto`.

# the back office reads and writes every yikatong topic
user {office}
topic readwrite ykt/#

# every terminal (its MQTT user name is its id) writes only under its own ykt/t/TID/
# and reads only its own ykt/o/TID/
pattern write ykt/t/%u/#
pattern read ykt/o/%u/#
"""


def _passwd_users(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return [ln.split(":", 1)[0] for ln in f if ":" in ln]
    except FileNotFoundError:
        return []


def write_mosquitto(directory: str, device_master: bytes, terminals: list[bytes],
                    office_user: str = "office") -> dict[str, Any]:
    """``passwd`` (the office user and every terminal: those given and those already in
    it), ``acl`` and ``OFFICE.password`` (made once, random, kept) in ``directory``.
    Terminal passwords are derived (:func:`mqtt_password`); none is returned or printed."""
    if not office_user or ":" in office_user or len(office_user) == 12 and all(
            c in "0123456789abcdef" for c in office_user):
        raise BadInput("office user %r: a name that is not a terminal id, no ':'"
                       % office_user)
    os.makedirs(directory, exist_ok=True)
    passwd = os.path.join(directory, "passwd")
    known = {u for u in _passwd_users(passwd) if len(u) == 12 and all(
        c in "0123456789abcdef" for c in u)}
    tids = sorted(known | {bytes(t).hex() for t in terminals})
    pwfile = os.path.join(directory, office_user + ".password")
    if not os.path.exists(pwfile):
        write_atomic(pwfile, (os.urandom(16).hex() + "\n").encode(), mode=0o600)
    with open(pwfile, encoding="utf-8") as f:
        office_pw = f.readline().strip()
    lines = ["%s:%s" % (office_user, mosquitto_hash(office_pw))]
    lines += ["%s:%s" % (t, mosquitto_hash(mqtt_password(device_master, bytes.fromhex(t))))
              for t in tids]
    write_atomic(passwd, ("\n".join(lines) + "\n").encode(), mode=0o600)
    write_atomic(os.path.join(directory, "acl"),
                 MOSQUITTO_ACL.format(office=office_user).encode(), mode=0o644)
    return {"terminals": tids, "office_user": office_user, "office_password_file": pwfile,
            "passwd": passwd, "acl": os.path.join(directory, "acl")}


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


def _venue(role: str, venue: str | None, match_secret: bytes | None,
           qr_test_keys: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """(config, keys) a venue gate adds: its rules (a file), the match secret, whether it
    takes the test trust anchors; BadInput for those given to another role."""
    if role != "venue":
        if match_secret is not None or qr_test_keys:
            raise BadInput("role %s takes no --%s" % (
                role, "match-secret-file" if match_secret is not None else "qr-test-keys"))
        return {}, {}
    if not match_secret:
        raise BadInput("role venue needs --match-secret-file")
    from host_tools.lib import venue as venue_lib

    try:
        rules = json.loads(read_input(str(venue), "venue rules"))
    except ValueError as e:
        raise BadInput("%s: not JSON (%s)" % (venue, e)) from None
    cfg: dict[str, Any] = {"venue": venue_lib.rules(rules)}
    if qr_test_keys:
        cfg["qr_test_keys"] = True
    return cfg, {"match": bytes(match_secret).hex()}


def provision(board_name: str, terminal_id: str, role: str, masters: dict[str, bytes], *,
              station: int | None = None, route: str | None = None, fare_fen: int | None = None,
              canteen: str | None = None, mode: str | None = None, staff: str | None = None,
              load: bool = False, name: str | None = None,
              sequence_floor: int | None = None, broker: str | None = None,
              venue: str | None = None, match_secret: bytes | None = None,
              qr_test_keys: bool = False) -> dict[str, Any]:
    """The terminal config (dict) for one terminal. ``canteen`` and ``staff`` are files
    (the canteen rule set and the staff list of a ``pos``), put into the config; so is
    ``venue``, a venue gate's price rules (``host_tools.lib.venue.rules``), which also needs
    the holder ``match_secret`` (docs/venue.md)."""
    board = Board(board_name)
    tid = updates.terminal_id(terminal_id)
    if role not in ROLES:
        raise BadInput("unknown role %r (one of %s)" % (role, ", ".join(sorted(ROLES))))
    given: dict[str, Any] = {"station": station, "route": route, "fare_fen": fare_fen,
                             "canteen": canteen, "venue": venue}
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
    if broker is not None:
        parse_hostport(broker)
    if sequence_floor is not None and not 0 <= sequence_floor <= 0xFFFFFFFF:
        raise BadInput("--sequence-floor must be 0 to 4294967295")
    venue_cfg, venue_keys = _venue(role, venue, match_secret, qr_test_keys)
    unfit = boardcheck.role_fit(board.spec, role)
    if unfit:
        raise BadInput(unfit)
    cfg: dict[str, Any] = {"terminal_id": tid.hex(), "role": role}
    if name:
        cfg["name"] = name
    if sequence_floor:
        cfg["sequence_floor"] = int(sequence_floor)
    cfg.update(venue_cfg)
    if need == "canteen":
        cfg["canteen"] = read_canteen(str(canteen))
        cfg["staff"] = read_staff(staff) if staff is not None else []
    elif need != "venue":
        cfg[need] = str(route) if need == "route" else int(given[need])
    if role in MODES:
        cfg["mode"] = mode or MODES[role][0]
    keys = {"purchase": masters["purchase"].hex()}
    if load:
        keys["load"] = masters["load"].hex()
    keys["device"] = journal_key(masters["device"], tid).hex()
    keys["update"] = updates.device_key(masters["update"], tid).hex()
    keys.update(venue_keys)
    cfg["keys"] = keys
    if broker is not None:
        cfg["mqtt"] = mqtt_config(broker, masters["device"], tid)
    cfg["data_dir"] = "/"
    return cfg


def write_config(path: str, cfg: dict[str, Any]) -> None:
    """Write the config (keys inside: mode 0600)."""
    write_atomic(path, (json.dumps(cfg, indent=2) + "\n").encode(), mode=0o600)
