"""The card side of the yikatong purse application (docs/purse.md).

``PurseApplication.process(apdu) -> R-APDU`` is what a contactless CPU card
runs (``hw_sim.iso14443.Card14443`` calls it). It is written from the spec
alone and does its cryptography with the ``cryptography`` package, never with
firmware code, so the simulated card checks the firmware's CMAC and key
schedule independently.

Every command either completes or changes nothing: DEBIT FOR PURCHASE applies
the CAPP cache records, the balance, the ATC, the log and its proof in one step
after all its checks passed. The optional cardholder PIN and its try counter
(VERIFY) are persistent like the balance.

The card keeps, beside each record of its transaction log (SFI 0x18), the
proof of that transaction (MAC2 and TAC of a debit, load proof and TAC of a
load), so GET TRANSACTION PROVE answers for any transaction still in the log
(docs/purse.md §3.8). INTERNAL AUTHENTICATE answers a terminal's challenge with
the card's counters under its authentication key (§3.12).

Beside the purse, a card may carry the social security application (third-generation
social security card, ``SscFiles``; docs/venue.md §1): SELECT by its AID ("sx1.sh."
and 社会保障 in GBK), then SELECT of EF05 or EF06 by file id, READ RECORD of a tag (P1 the
tag, P2 04), answered as the TLV ``tag len value``. While it is selected the purse answers
nothing (6985) until the purse is selected again.

``commits`` lists every transaction the card committed, in order, as
``Commit`` tuples: the card-side truth the exactly-once ledger checks
(``tests/ledger.py``). No real card exposes it; it is the model's record.
"""

from __future__ import annotations

import hmac
import random
from collections import namedtuple

from host_tools.lib.issuer import aes_ecb, cmac4

AID = bytes.fromhex("A000000632010105")
ALG_AES = 0x10
KEY_INDEX = 0x01

TX_LOAD = 0x02
TX_PURCHASE = 0x06
TX_CAPP = 0x09

SFI_PUBLIC = 0x15
SFI_RECORDS = 0x17
SFI_LOG = 0x18
PUBLIC_SIZE = 30
RECORD_SIZE = 48
RECORD_COUNT = 4
LOG_SIZE = 23
LOG_MAX = 10
DEFAULT_MAX_BALANCE = 100_000  # fen
DEFAULT_PIN_TRIES = 3
PIN_MIN_DIGITS = 2
PIN_MAX_DIGITS = 12

SW_OK = 0x9000
SW_BLOCKED = 0x6283
SW_WRONG_LENGTH = 0x6700
SW_FILE_NOT_FOUND = 0x6A82
SW_RECORD_NOT_FOUND = 0x6A83
SW_WRONG_P1P2 = 0x6A86
SW_KEY_NOT_FOUND = 0x6A88
SW_NO_PIN = 0x6A88  # referenced data (the PIN) not found
SW_PIN_WRONG = 0x63C0  # | tries left
SW_PIN_BLOCKED = 0x6983
SW_WRONG_OFFSET = 0x6B00
SW_CONDITIONS = 0x6985
SW_INS_UNKNOWN = 0x6D00
SW_CLA_UNKNOWN = 0x6E00
SW_BAD_MAC = 0x9302
SW_NO_FUNDS = 0x9401
SW_LIMIT = 0x9402
SW_TX_NOT_FOUND = 0x9403

# the social security application (docs/venue.md §1; ../shared/reference/services.md §1)
SSC_AID = bytes.fromhex("7378312E73682E") + "社会保障".encode("gbk")
SSC_EF05 = 0xEF05  # card: identifier (01), issue date (05), expiry (06), card number (07)
SSC_EF06 = 0xEF06  # holder: ID number (08), name (09), sex (0A), ethnicity (0B), birth date (0D)
SW_NO_CURRENT_EF = 0x6986

_P1_LOAD = 0x00
_P1_PURCHASE = 0x01
_P1_CAPP = 0x03

# One committed transaction: kind "debit" or "load"; atc is the counter the
# transaction used (offline ATC for a debit, online ATC for a load: the value
# INITIALIZE answered); balance the purse after.
Commit = namedtuple(
    "Commit", ("kind", "atc", "amount", "tx_type", "terminal_id", "datetime7", "balance")
)


# -- card-side cryptography (docs/purse.md section 5): host_tools.lib.issuer, one copy for the
# card model, the issuer and the back office --------------------------------------------------


def _pad_block(msg: bytes) -> bytes:
    return msg + b"\x80" + bytes(15 - len(msg))


def _u32(v: int) -> bytes:
    return v.to_bytes(4, "big")


def _u16(v: int) -> bytes:
    return v.to_bytes(2, "big")


class _Status(Exception):
    """Ends a command with a status word (and no data)."""

    def __init__(self, sw: int):
        super().__init__("%04X" % sw)
        self.sw = sw


class _Session:
    """What INITIALIZE opened; volatile."""

    def __init__(self, kind, tx_type, rnd, atc, amount, terminal_id, key=None):
        self.kind = kind  # "purchase" or "load"
        self.tx_type = tx_type
        self.random = rnd
        self.atc = atc
        self.amount = amount
        self.terminal_id = terminal_id
        self.key = key  # load session key (purchase: made at DEBIT)


class PurseApplication:
    """One card's purse application: persistent files and counters, volatile session."""

    def __init__(
        self,
        *,
        public_info: bytes,
        purchase_key: bytes,
        load_key: bytes,
        tac_key: bytes,
        auth_key: bytes | None = None,
        balance: int = 0,
        offline_atc: int = 0,
        online_atc: int = 0,
        key_version: int = 1,
        max_balance: int = DEFAULT_MAX_BALANCE,
        records: dict | None = None,
        blocked: bool = False,
        fci_public_info: bool = True,
        pin: str | None = None,
        pin_tries: int = DEFAULT_PIN_TRIES,
        rng_seed=None,
        ssc: dict | None = None,
    ):
        if len(public_info) != PUBLIC_SIZE:
            raise ValueError("public info is 30 bytes")
        self.public_info = bytes(public_info)
        self._dpk = bytes(purchase_key)
        self._dlk = bytes(load_key)
        self._dtk = bytes(tac_key)
        self._dak = None if auth_key is None else bytes(auth_key)
        self.balance = balance
        self.offline_atc = offline_atc
        self.online_atc = online_atc
        self.key_version = key_version
        self.max_balance = max_balance
        self.blocked = blocked
        self.fci_public_info = fci_public_info
        self.records = {n: bytes(RECORD_SIZE) for n in range(1, RECORD_COUNT + 1)}
        for n, data in (records or {}).items():
            if n not in self.records or len(data) != RECORD_SIZE:
                raise ValueError("bad initial record %r" % (n,))
            self.records[n] = bytes(data)
        self.log = []  # 23-byte records, newest first
        self.proofs = []  # beside each log record: (proof MAC, TAC)
        self.commits = []  # every committed transaction (Commit), oldest first
        self.set_pin(pin, pin_tries)
        # the social security application's files: {file id: {tag: value}}, or None
        self.ssc = None if ssc is None else {f: dict(recs) for f, recs in ssc.items()}
        self.ssc_reads = []  # (file id, tag) of every record read (tests)
        self._rng = random.Random(self.public_info if rng_seed is None else rng_seed)
        self.power_on()

    def set_pin(self, pin, tries=DEFAULT_PIN_TRIES):
        """Personalise the PIN (2-12 digits, or None for no PIN) with ``tries`` tries."""
        if pin is not None and not (
            isinstance(pin, str)
            and pin.isdigit()
            and PIN_MIN_DIGITS <= len(pin) <= PIN_MAX_DIGITS
        ):
            raise ValueError("PIN must be a string of 2 to 12 digits")
        if not 1 <= tries <= 15:
            raise ValueError("PIN tries must be 1 to 15")
        self.pin = pin
        self.pin_max_tries = tries
        self.pin_tries = tries  # tries left; 0: blocked
        self.pins_verified = 0  # VERIFYs answered 9000 (for tests; no real card counts them)

    # -- field events ------------------------------------------------------------------------

    def power_on(self):
        """The card entered the field: volatile state is gone."""
        self._selected = False
        self._session = None
        self._cache = {}
        self._ssc_selected = False
        self._ef = None

    @property
    def card_no(self) -> str:
        return self.public_info[10:20].hex()

    def record(self, n: int) -> bytes:
        return self.records[n]

    # -- APDU entry point --------------------------------------------------------------------

    def process(self, apdu: bytes) -> bytes:
        apdu = bytes(apdu)
        try:
            data, sw = self._dispatch(apdu)
        except _Status as st:
            return _u16(st.sw)
        return data + _u16(sw)

    def _dispatch(self, apdu):
        if len(apdu) < 4:
            raise _Status(SW_WRONG_LENGTH)
        cla, ins, p1, p2 = apdu[:4]
        data, le = _parse_body(apdu[4:])
        table = _COMMANDS.get(cla)
        if table is None:
            raise _Status(SW_CLA_UNKNOWN)
        handler = table.get(ins)
        if handler is None:
            raise _Status(SW_INS_UNKNOWN)
        if self._ssc_selected and ins != 0xA4:
            if cla != 0x00 or ins != 0xB2:
                raise _Status(SW_CONDITIONS)
            return self._ssc_read_record(p1, p2, le)
        if not self._selected and ins != 0xA4:
            raise _Status(SW_CONDITIONS)
        return handler(self, p1, p2, data, le)

    # -- ISO commands ------------------------------------------------------------------------

    def _select(self, p1, p2, data, le):
        if p1 == 0x02 and p2 == 0x00 and self._ssc_selected:
            return self._ssc_select_ef(data)
        if p1 != 0x04 or p2 != 0x00:
            raise _Status(SW_WRONG_P1P2)
        self._session = None
        self._cache = {}
        self._ssc_selected = False
        self._ef = None
        if data == SSC_AID and self.ssc is not None:
            self._selected = False
            self._ssc_selected = True
            inner = b"\x84" + bytes((len(SSC_AID),)) + SSC_AID
            return b"\x6f" + bytes((len(inner),)) + inner, SW_OK
        if data != AID:
            self._selected = False
            raise _Status(SW_FILE_NOT_FOUND)
        self._selected = True
        return self._fci(), (SW_BLOCKED if self.blocked else SW_OK)

    def _fci(self):
        inner = b"\x84" + bytes((len(AID),)) + AID
        if self.fci_public_info:
            a5 = b"\x9f\x0c" + bytes((PUBLIC_SIZE,)) + self.public_info
            inner += b"\xa5" + bytes((len(a5),)) + a5
        return b"\x6f" + bytes((len(inner),)) + inner

    def _ssc_select_ef(self, data):
        if len(data) != 2:
            raise _Status(SW_WRONG_LENGTH)
        fid = int.from_bytes(data, "big")
        if fid not in self.ssc:
            raise _Status(SW_FILE_NOT_FOUND)
        self._ef = fid
        return b"", SW_OK

    def _ssc_read_record(self, p1, p2, le):
        if p2 != 0x04:
            raise _Status(SW_WRONG_P1P2)
        if self._ef is None:
            raise _Status(SW_NO_CURRENT_EF)
        value = self.ssc[self._ef].get(p1)
        if value is None:
            raise _Status(SW_RECORD_NOT_FOUND)
        self.ssc_reads.append((self._ef, p1))
        return _answer(bytes((p1, len(value))) + value, le)

    def _read_binary(self, p1, p2, data, le):
        if not p1 & 0x80:
            raise _Status(SW_WRONG_P1P2)
        if p1 & 0x1F != SFI_PUBLIC:
            raise _Status(SW_FILE_NOT_FOUND)
        if p2 >= PUBLIC_SIZE:
            raise _Status(SW_WRONG_OFFSET)
        rest = self.public_info[p2:]
        if le is None or le == 0:
            return rest, SW_OK
        if le > len(rest):
            raise _Status(0x6C00 | len(rest))
        return rest[:le], SW_OK

    def _read_record(self, p1, p2, data, le):
        if p2 & 0x07 != 0x04:
            raise _Status(SW_WRONG_P1P2)
        sfi = p2 >> 3
        if sfi == SFI_RECORDS:
            if p1 not in self.records:
                raise _Status(SW_RECORD_NOT_FOUND)
            return _answer(self.records[p1], le)
        if sfi == SFI_LOG:
            if not 1 <= p1 <= len(self.log):
                raise _Status(SW_RECORD_NOT_FOUND)
            return _answer(self.log[p1 - 1], le)
        raise _Status(SW_FILE_NOT_FOUND)

    def _verify(self, p1, p2, data, le):
        if p1 != 0x00 or p2 != 0x00:
            raise _Status(SW_WRONG_P1P2)
        if not 1 <= len(data) <= (PIN_MAX_DIGITS + 1) // 2:
            raise _Status(SW_WRONG_LENGTH)
        if self.pin is None:
            raise _Status(SW_NO_PIN)
        if self.pin_tries == 0:
            raise _Status(SW_PIN_BLOCKED)
        if hmac.compare_digest(_pin_block(self.pin), data):
            self.pin_tries = self.pin_max_tries
            self.pins_verified += 1
            return b"", SW_OK
        self.pin_tries -= 1
        raise _Status(SW_PIN_WRONG | self.pin_tries)

    # -- purse commands ----------------------------------------------------------------------

    def _get_balance(self, p1, p2, data, le):
        if p1 != 0x00 or p2 != 0x02:
            raise _Status(SW_WRONG_P1P2)
        return _answer(_u32(self.balance), le)

    def _initialize(self, p1, p2, data, le):
        self._session = None
        self._cache = {}
        if p2 != 0x02 or p1 not in (_P1_LOAD, _P1_PURCHASE, _P1_CAPP):
            raise _Status(SW_WRONG_P1P2)
        if len(data) != 11:
            raise _Status(SW_WRONG_LENGTH)
        if self.blocked:
            raise _Status(SW_BLOCKED)
        if data[0] != KEY_INDEX:
            raise _Status(SW_KEY_NOT_FOUND)
        amount = int.from_bytes(data[1:5], "big")
        terminal_id = data[5:11]
        rnd = self._rng.randbytes(4)
        if p1 == _P1_LOAD:
            return self._initialize_load(amount, terminal_id, rnd, le)
        if self.offline_atc >= 0xFFFF:
            raise _Status(SW_LIMIT)
        tx_type = TX_CAPP if p1 == _P1_CAPP else TX_PURCHASE
        self._session = _Session(
            "purchase", tx_type, rnd, self.offline_atc, amount, terminal_id
        )
        answer = (
            _u32(self.balance)
            + _u16(self.offline_atc)
            + bytes(3)
            + bytes((self.key_version, ALG_AES))
            + rnd
        )
        return _answer(answer, le)

    def _initialize_load(self, amount, terminal_id, rnd, le):
        if self.balance + amount > self.max_balance or self.online_atc >= 0xFFFF:
            raise _Status(SW_LIMIT)
        key = aes_ecb(self._dlk, _pad_block(rnd + _u16(self.online_atc)))
        self._session = _Session(
            "load", TX_LOAD, rnd, self.online_atc, amount, terminal_id, key
        )
        mac1 = cmac4(
            key, _u32(self.balance) + _u32(amount) + bytes((TX_LOAD,)) + terminal_id
        )
        answer = (
            _u32(self.balance)
            + _u16(self.online_atc)
            + bytes((self.key_version, ALG_AES))
            + rnd
            + mac1
        )
        return _answer(answer, le)

    def _update_capp(self, p1, p2, data, le):
        if p2 & 0x07:
            raise _Status(SW_WRONG_P1P2)
        if p2 >> 3 != SFI_RECORDS:
            raise _Status(SW_FILE_NOT_FOUND)
        if p1 not in self.records:
            raise _Status(SW_RECORD_NOT_FOUND)
        if len(data) != RECORD_SIZE:
            raise _Status(SW_WRONG_LENGTH)
        s = self._session
        if s is None or s.kind != "purchase" or s.tx_type != TX_CAPP:
            raise _Status(SW_CONDITIONS)
        self._cache[p1] = bytes(data)
        return b"", SW_OK

    def _debit(self, p1, p2, data, le):
        if p1 != 0x01 or p2 != 0x00:
            raise _Status(SW_WRONG_P1P2)
        if len(data) != 15:
            raise _Status(SW_WRONG_LENGTH)
        s = self._session
        if s is None or s.kind != "purchase":
            raise _Status(SW_CONDITIONS)
        cache = self._cache
        self._session = None
        self._cache = {}
        term_seq, dt, mac1 = data[0:4], data[4:11], data[11:15]
        key = aes_ecb(self._dpk, _pad_block(s.random + _u16(s.atc) + term_seq))
        expected = cmac4(key, _u32(s.amount) + bytes((s.tx_type,)) + s.terminal_id + dt)
        if not hmac.compare_digest(expected, mac1):
            raise _Status(SW_BAD_MAC)
        if s.amount > self.balance:
            raise _Status(SW_NO_FUNDS)
        balance = self.balance - s.amount
        mac2 = cmac4(key, _u32(s.amount))
        tac = cmac4(
            self._dtk,
            _u32(balance)
            + _u16(s.atc)
            + _u32(s.amount)
            + bytes((s.tx_type,))
            + s.terminal_id
            + term_seq
            + dt,
        )
        # commit: everything below happens together
        self.balance = balance
        self.offline_atc = s.atc + 1
        self.records.update(cache)
        self._append_log(s, dt, mac2, tac)
        self.commits.append(
            Commit("debit", s.atc, s.amount, s.tx_type, bytes(s.terminal_id), bytes(dt), balance)
        )
        return _answer(tac + mac2, le)

    def _prove(self, p1, p2, data, le):
        if p1 != 0x00 or p2 not in (TX_PURCHASE, TX_CAPP, TX_LOAD):
            raise _Status(SW_WRONG_P1P2)
        if len(data) != 2:
            raise _Status(SW_WRONG_LENGTH)
        atc = int.from_bytes(data, "big")
        for rec, (mac, tac) in zip(self.log, self.proofs):
            if rec[9] == p2 and int.from_bytes(rec[0:2], "big") + 1 == atc:
                return _answer(mac + tac, le)
        raise _Status(SW_TX_NOT_FOUND)

    def _internal_auth(self, p1, p2, data, le):
        if self._dak is None:
            raise _Status(SW_INS_UNKNOWN)
        if p1 != 0x00 or p2 != 0x00:
            raise _Status(SW_WRONG_P1P2)
        if len(data) != 8:
            raise _Status(SW_WRONG_LENGTH)
        counters = _u16(self.offline_atc) + _u16(self.online_atc)
        mac = cmac4(self._dak, bytes(data) + counters + self.public_info[10:20])
        return _answer(counters + mac, le)

    def _credit(self, p1, p2, data, le):
        if p1 != 0x00 or p2 != 0x00:
            raise _Status(SW_WRONG_P1P2)
        if len(data) != 11:
            raise _Status(SW_WRONG_LENGTH)
        s = self._session
        if s is None or s.kind != "load":
            raise _Status(SW_CONDITIONS)
        self._session = None
        dt, mac2 = data[0:7], data[7:11]
        expected = cmac4(s.key, _u32(s.amount) + bytes((TX_LOAD,)) + s.terminal_id + dt)
        if not hmac.compare_digest(expected, mac2):
            raise _Status(SW_BAD_MAC)
        balance = self.balance + s.amount
        tac = cmac4(
            self._dtk,
            _u32(balance)
            + _u16(s.atc)
            + _u32(s.amount)
            + bytes((TX_LOAD,))
            + s.terminal_id
            + dt,
        )
        self.balance = balance
        self.online_atc = s.atc + 1
        self._append_log(s, dt, cmac4(s.key, _u32(s.amount) + bytes((TX_LOAD,))), tac)
        self.commits.append(
            Commit("load", s.atc, s.amount, TX_LOAD, bytes(s.terminal_id), bytes(dt), balance)
        )
        return _answer(tac, le)

    def _append_log(self, s, dt, mac, tac):
        rec = (
            _u16(s.atc)
            + bytes(3)
            + _u32(s.amount)
            + bytes((s.tx_type,))
            + s.terminal_id
            + dt[0:4]
            + dt[4:7]
        )
        self.log.insert(0, rec)
        self.proofs.insert(0, (bytes(mac), bytes(tac)))
        del self.log[LOG_MAX:]
        del self.proofs[LOG_MAX:]


def _pin_block(pin):
    """PIN digits in BCD, an odd count padded with an F nibble."""
    return bytes.fromhex(pin + "F" * (len(pin) % 2))


def _parse_body(body):
    """Split what follows the header into (data, Le) by the short-APDU cases."""
    if not body:
        return b"", None
    if len(body) == 1:
        return b"", body[0]
    lc = body[0]
    if lc and len(body) == 1 + lc:
        return body[1:], None
    if lc and len(body) == 2 + lc:
        return body[1:-1], body[-1]
    raise _Status(SW_WRONG_LENGTH)


def _answer(data, le):
    """The full data when Le is absent, 00 or exact; else 6Cxx."""
    if le is None or le == 0 or le == len(data):
        return data, SW_OK
    raise _Status(0x6C00 | len(data))


_COMMANDS = {
    0x00: {
        0xA4: PurseApplication._select,
        0xB0: PurseApplication._read_binary,
        0xB2: PurseApplication._read_record,
        0x20: PurseApplication._verify,
        0x88: PurseApplication._internal_auth,
    },
    0x80: {
        0x5C: PurseApplication._get_balance,
        0x50: PurseApplication._initialize,
        0xDC: PurseApplication._update_capp,
        0x54: PurseApplication._debit,
        0x5A: PurseApplication._prove,
        0x52: PurseApplication._credit,
    },
}
