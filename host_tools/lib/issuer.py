"""The card issuer's keys and the back office's TAC checks (docs/purse.md §5).

One implementation, used by the back office (:mod:`host_tools.lib.office`) and by the
simulator's card model and issuer (``hw_sim/purse_app.py``, ``hw_sim/issuer.py``, which
import from here):

- AES-128, ``cmac4`` (the first 4 bytes of AES-CMAC), card-key diversification
  ``diversify(master, serial8) = AES_master(serial8 ‖ NOT serial8)`` and the card
  authentication master;
- :class:`IssuerKeys`: the issuer's purchase, load and TAC masters (``from_seed`` for tests
  and scenarios);
- :func:`verify_tac` / :func:`verify_load_tac`: the checks only the back office can make (a
  terminal never holds the TAC master);
- :func:`read_office_keys`: the keys the back office needs, from one key file.

The office's key file is either

- the operator's **master key file** (``ykt provision --new-master-key-file``,
  :mod:`host_tools.lib.provision`) with one more entry, ``"tac"`` (32 hex digits, its check
  value in ``kcv.tac``): the issuer's TAC master, which no terminal ever gets. Journal keys
  are derived per terminal from its ``device`` master, as ``ykt journal verify`` derives them;
- or a **seed file** ``{"format": "ykt-issuer-seed/1", "seed": "yikatong-demo-issuer"}``:
  the keys a simulator scenario with that ``issuer_seed`` gives its cards and terminals
  (tests and demos only).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from host_tools.lib.errors import BadInput

TX_LOAD = 0x02
TX_PURCHASE = 0x06
TX_CAPP = 0x09

SEED_FORMAT = "ykt-issuer-seed/1"


# -- primitives (docs/purse.md §5.1, §5.2) -----------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _ecb(key: bytes) -> CipherContext:
    """An ECB encryptor for ``key``, kept: stateless between whole blocks, and making one
    costs ten times a block's encryption (the card model MACs every command)."""
    return Cipher(algorithms.AES(key), modes.ECB()).encryptor()


@functools.lru_cache(maxsize=1024)
def _cmac(key: bytes) -> CMAC:
    """A fresh CMAC over ``key``, to copy from."""
    return CMAC(algorithms.AES(key))


def aes_ecb(key: bytes, block: bytes) -> bytes:
    if len(block) % 16:
        raise ValueError("AES-ECB takes whole 16-byte blocks")
    return _ecb(bytes(key)).update(block)


def cmac4(key: bytes, msg: bytes) -> bytes:
    c = _cmac(bytes(key)).copy()
    c.update(msg)
    return c.finalize()[:4]


def diversify(master: bytes, serial8: bytes) -> bytes:
    """Card key = AES_master(serial8 || NOT serial8)."""
    return aes_ecb(master, serial8 + bytes(b ^ 0xFF for b in serial8))


def auth_master(purchase_master: bytes) -> bytes:
    """The issuer's card-authentication master key, derived from its purchase master
    (docs/purse.md §5.2): every SAM can derive it, and it never equals a purchase key."""
    return aes_ecb(purchase_master, b"ykt auth master\x00")


def card_number_bcd(card_no: str) -> bytes:
    if len(card_no) != 20 or not card_no.isdigit():
        raise BadInput("card number must be 20 digits")
    return bytes.fromhex(card_no)


def serial8(card_no: str) -> bytes:
    """The last 8 BCD bytes (16 digits) of the card number."""
    return card_number_bcd(card_no)[2:]


@dataclass(frozen=True)
class IssuerKeys:
    """An issuer's three AES-128 master keys."""

    purchase_master: bytes  # DPK: in every terminal's SAM
    load_master: bytes  # DLK: in load/refund terminals' SAMs
    tac_master: bytes  # DTK: back office only
    key_version: int = 1

    @classmethod
    def from_seed(cls, seed: bytes) -> IssuerKeys:
        """Deterministic keys for tests and scenarios."""

        def derive(label: bytes) -> bytes:
            return hashlib.sha256(b"ykt-issuer|" + label + b"|" + seed).digest()[:16]

        return cls(derive(b"DPK"), derive(b"DLK"), derive(b"DTK"))

    def sam_keys(self, *, load: bool = True) -> dict[str, bytes]:
        """The ``keys`` dict for ``ykt.sam.SoftSam`` (never the TAC key)."""
        keys = {"purchase": self.purchase_master}
        if load:
            keys["load"] = self.load_master
        return keys

    def card_keys(self, card_no: str) -> tuple[bytes, bytes, bytes]:
        """(purchase, load, TAC) card keys of ``card_no``."""
        s8 = serial8(card_no)
        return (
            diversify(self.purchase_master, s8),
            diversify(self.load_master, s8),
            diversify(self.tac_master, s8),
        )


# -- the back office's checks (docs/purse.md §5.4) ----------------------------------------------


def _tac_key(tac_master: bytes, card_no: str) -> bytes:
    return diversify(tac_master, serial8(card_no))


def _master(keys: IssuerKeys | bytes) -> bytes:
    return keys.tac_master if isinstance(keys, IssuerKeys) else bytes(keys)


def verify_tac(
    keys: IssuerKeys | bytes,
    card_no: str,
    tac: bytes,
    *,
    balance_after: int,
    atc: int,
    amount: int,
    tx_type: int,
    terminal_id: bytes,
    term_seq: int,
    datetime7: bytes,
) -> bool:
    """Back office: check a purchase TAC (``atc`` = the one INITIALIZE answered).
    ``keys``: the issuer's keys or its TAC master alone."""
    msg = (
        struct.pack(">IHIB", balance_after, atc, amount, tx_type)
        + bytes(terminal_id)
        + struct.pack(">I", term_seq)
        + bytes(datetime7)
    )
    return hmac.compare_digest(cmac4(_tac_key(_master(keys), card_no), msg), bytes(tac))


def verify_load_tac(
    keys: IssuerKeys | bytes,
    card_no: str,
    tac: bytes,
    *,
    balance_after: int,
    online_atc: int,
    amount: int,
    terminal_id: bytes,
    datetime7: bytes,
) -> bool:
    """Back office: check a load (or refund) TAC."""
    msg = (
        struct.pack(">IHIB", balance_after, online_atc, amount, TX_LOAD)
        + bytes(terminal_id)
        + bytes(datetime7)
    )
    return hmac.compare_digest(cmac4(_tac_key(_master(keys), card_no), msg), bytes(tac))


def datetime7(y: int, mo: int, d: int, h: int, mi: int, s: int) -> bytes:
    """``YYYY MM DD hh mm ss`` in BCD (7 bytes), as DEBIT and CREDIT carry it."""
    return bytes.fromhex("%04d%02d%02d%02d%02d%02d" % (y, mo, d, h, mi, s))


# -- the back office's keys ---------------------------------------------------------------------


@dataclass(frozen=True)
class OfficeKeys:
    """What the back office checks with: each terminal's journal key and the TAC master."""

    journal_key: Callable[[bytes], bytes]  # terminal id (6 bytes) -> its journal key
    tac_master: bytes
    update_master: bytes | None = None  # signs the updates the office publishes


def sim_device_key(seed: str, terminal_id: bytes) -> bytes:
    """The journal (device) key a simulator scenario with ``issuer_seed`` gives a terminal
    (``hw_sim.scenario.Scenario.terminal_config``)."""
    return hashlib.sha256(b"ykt-device|" + seed.encode() + bytes(terminal_id)).digest()[:16]


def sim_update_master(seed: str) -> bytes:
    """The update master a simulator scenario with ``issuer_seed`` signs its terminals'
    updates with (``hw_sim.scenario.Scenario.update_master``; tests hold the two equal)."""
    return hashlib.sha256(b"ykt-update-master|" + seed.encode()).digest()[:16]


def seed_keys(seed: str) -> OfficeKeys:
    """The office keys of a simulator scenario's issuer seed."""
    return OfficeKeys(lambda tid: sim_device_key(seed, tid),
                      IssuerKeys.from_seed(seed.encode()).tac_master, sim_update_master(seed))


def _tac_entry(path: str, doc: dict[str, object]) -> bytes:
    from host_tools.lib.provision import kcv

    try:
        tac = bytes.fromhex(str(doc.get("tac") or ""))
    except ValueError:
        tac = b""
    if len(tac) != 16:
        raise BadInput("%s holds no TAC master (\"tac\": 32 hex digits): the back office "
                       "checks every TAC with it" % path)
    checks = doc.get("kcv")
    if isinstance(checks, dict) and "tac" in checks and checks["tac"] != kcv(tac):
        raise BadInput("%s: key 'tac' fails its check value (damaged or edited file)" % path)
    return tac


def read_office_keys(path: str) -> OfficeKeys:
    """The office keys from a master key file with a ``tac`` entry, or a seed file (the
    provisioning modules are imported here: the card model imports this module too)."""
    from host_tools.lib import keys
    from host_tools.lib.provision import journal_key

    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise BadInput("no such key file: %s" % path) from None
    except OSError as e:
        raise BadInput("key file %s cannot be read (%s)" % (path, e.strerror or e)) from None
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if isinstance(doc, dict) and doc.get("format") == SEED_FORMAT:
        seed = doc.get("seed")
        if not isinstance(seed, str) or not seed:
            raise BadInput("%s: \"seed\" must be a non-empty string" % path)
        return seed_keys(seed)
    if not isinstance(doc, dict):
        raise BadInput("%s: not a key file (give %s with a \"tac\" entry, or a %s file)"
                       % (path, keys.MAKE, SEED_FORMAT))
    masters = keys.masters(path)
    device = masters["device"]
    tac = _tac_entry(path, doc)
    return OfficeKeys(lambda tid: journal_key(device, tid), tac, masters["update"])
