"""Electronic purse client, PBOC / T-Union style (docs/purse.md sections 3 and 6).

``PurseCard(iso)`` runs the purse commands over an ``Iso7816`` and a SAM
(``ykt.sam.SoftSam`` or a PSAM with the same methods). A purchase is split in
steps so that a terminal can survive a lost DEBIT answer::

    card.select()
    p = card.init_purchase(sam, amount, TX_CAPP, dt)  # refuses low balance
    card.update_record(1, record)                     # composite only
    result = card.debit(sam, p)                       # card.pending holds p
                                                      # until the answer is in
    # after the answer was lost, on the next tap of the same card:
    off_atc, on_atc = card.authenticate(sam)  # the card's counters, MAC-checked
    proof = card.prove(p)         # (MAC, TAC) of the transaction with p's counter
    ok = card.proof_is(sam, p, proof[0])       # ... and it is p's own

``ykt.payment`` decides from these (and the card's log) whether a pending
debit or load committed. Every number a card answers is bounded: a balance
above ``max_balance`` is a refused card, never an exception.

``card.verify_pin(bcd)`` has the card check its cardholder PIN (VERIFY): None
when right, else the tries left. Refusals raise ``CardRefused(reason)``; other
card errors ``ApduError(sw)``.
"""

from collections import namedtuple

from micropython import const

from ykt.errors import ApduError, CardRefused, YktError

AID = b"\xa0\x00\x00\x06\x32\x01\x01\x05"

TX_LOAD = const(0x02)
TX_PURCHASE = const(0x06)
TX_CAPP = const(0x09)

SFI_PUBLIC = const(0x15)
SFI_RECORDS = const(0x17)
SFI_LOG = const(0x18)
RECORD_SIZE = const(48)

CATEGORY_ORDINARY = const(0x00)
CATEGORY_SENIOR = const(0x01)
CATEGORY_STUDENT = const(0x02)
CATEGORY_DISABLED = const(0x03)
CATEGORY_STAFF = const(0x04)
CATEGORY_CHILD = const(0x05)
CATEGORY_VETERAN = const(0x06)
CATEGORY_TEST = const(0x10)

_CLA_ISO = const(0x00)
_CLA_EP = const(0x80)
_INS_SELECT = const(0xA4)
_INS_READ_BINARY = const(0xB0)
_INS_READ_RECORD = const(0xB2)
_INS_GET_BALANCE = const(0x5C)
_INS_INITIALIZE = const(0x50)
_INS_UPDATE_CAPP = const(0xDC)
_INS_DEBIT = const(0x54)
_INS_PROVE = const(0x5A)
_INS_CREDIT = const(0x52)
_INS_VERIFY = const(0x20)
_INS_INTERNAL_AUTH = const(0x88)

_P1_LOAD = const(0x00)
_P1_PURCHASE = const(0x01)
_P1_CAPP = const(0x03)
_P2_PURSE = const(0x02)
_KEY_INDEX = const(0x01)

_PUBLIC_SIZE = const(30)
_LOG_SIZE = const(23)
_LOG_MAX = const(10)
_INIT_PURCHASE_SIZE = const(15)
_INIT_LOAD_SIZE = const(16)
_AUTH_SIZE = const(8)
MAX_BALANCE = const(100000)  # fen: the purse's personalisation default (purse.md 1)

_TAG_FCI = const(0x6F)
_TAG_PROPRIETARY = const(0xA5)
_TAG_PUBLIC_INFO = const(0x9F0C)

_SW_RECORD_NOT_FOUND = const(0x6A83)
_SW_NOT_FOUND = const(0x9403)
_SW_PIN_WRONG = const(0x63C0)  # | tries left
_SW_PIN_BLOCKED = const(0x6983)
_SW_NO_PIN = const(0x6A88)

_REASONS = {
    0x6283: "card blocked",
    0x9302: "card rejected terminal MAC (forged card or wrong keys)",
    0x9401: "insufficient balance",
    0x9402: "card balance or counter limit reached",
}

PublicInfo = namedtuple(
    "PublicInfo",
    (
        "card_no",  # 20-digit string
        "issuer_code",
        "city_code",
        "industry_code",
        "app_type",
        "app_version",
        "start",  # int YYYYMMDD
        "end",  # int YYYYMMDD
        "category",
        "serial8",  # last 8 BCD bytes of the card number: key diversification
    ),
)

# Everything needed to finish a purchase later; holds no key bytes.
Pending = namedtuple(
    "Pending",
    (
        "card_no",
        "serial8",
        "balance",  # before the debit
        "atc",  # offline ATC INITIALIZE answered; the card holds atc + 1 after
        "random",
        "amount",
        "tx_type",
        "terminal_id",
        "datetime7",
        "term_seq",
    ),
)

PurchaseResult = namedtuple(
    "PurchaseResult", ("balance", "atc", "amount", "tx_type", "term_seq", "tac")
)
LoadResult = namedtuple("LoadResult", ("balance", "online_atc", "amount", "tac"))
LogEntry = namedtuple(
    "LogEntry", ("atc", "amount", "tx_type", "terminal_id", "date", "time")
)


def _int(b):
    return int.from_bytes(b, "big")


def _bcd_str(b):
    digits = []
    for byte in b:
        for nib in (byte >> 4, byte & 0x0F):
            if nib > 9:
                raise CardRefused("malformed public info")
            digits.append(chr(0x30 + nib))
    return "".join(digits)


def _bcd_int(b):
    return int(_bcd_str(b))


def parse_public_info(data):
    """Decode the 30 bytes of file 0x15 (section 2.1)."""
    if len(data) < _PUBLIC_SIZE:
        raise CardRefused("malformed public info")
    return PublicInfo(
        _bcd_str(data[10:20]),
        _int(data[0:2]),
        _int(data[2:4]),
        _int(data[4:6]),
        data[8],
        data[9],
        _bcd_int(data[20:24]),
        _bcd_int(data[24:28]),
        data[28],
        bytes(data[12:20]),
    )


def _tlv(data, tag):
    """Value of ``tag`` among the TLVs in ``data`` (one level), or None."""
    i = 0
    n = len(data)
    while i + 2 <= n:
        t = data[i]
        i += 1
        if t & 0x1F == 0x1F:
            t = (t << 8) | data[i]
            i += 1
        if i >= n:
            return None
        size = data[i]
        i += 1
        if size == 0x81 and i < n:
            size = data[i]
            i += 1
        if t == tag:
            return data[i : i + size] if i + size <= n else None
        i += size
    return None


def _u32(v):
    if not 0 <= v <= 0xFFFFFFFF:
        raise ValueError("amount out of range")
    return v.to_bytes(4, "big")


class PurseCard:
    """The purse application on one card, over an ``Iso7816``."""

    def __init__(self, iso, max_balance=MAX_BALANCE):
        self._iso = iso
        self.max_balance = max_balance  # a card claiming more is refused
        self.info = None  # PublicInfo once selected
        self.pending = None  # Pending while a DEBIT or CREDIT answer is outstanding
        self._bcd10 = None  # card number as on the card (10 bytes BCD)

    def _call(self, cla, ins, p1, p2, data=None, le=None):
        try:
            return self._iso.exchange(cla, ins, p1, p2, data, le)
        except ApduError as e:
            reason = _REASONS.get(e.sw)
            if reason is None:
                raise
            raise CardRefused(reason)

    def select(self):
        """SELECT the purse; return its PublicInfo (from the FCI if present)."""
        fci = self._call(_CLA_ISO, _INS_SELECT, 0x04, 0x00, AID, 0)
        raw = _tlv(_tlv(fci, _TAG_FCI) or b"", _TAG_PROPRIETARY)
        raw = _tlv(raw or b"", _TAG_PUBLIC_INFO)
        if raw is not None and len(raw) == _PUBLIC_SIZE:
            self.info = parse_public_info(raw)
            self._bcd10 = bytes(raw[10:20])
            return self.info
        return self.read_public_info()

    def read_public_info(self):
        """READ BINARY of file 0x15, parsed."""
        data = self._call(
            _CLA_ISO, _INS_READ_BINARY, 0x80 | SFI_PUBLIC, 0, None, _PUBLIC_SIZE
        )
        self.info = parse_public_info(data)
        self._bcd10 = bytes(data[10:20])
        return self.info

    def _bounded(self, balance):
        if balance > self.max_balance:
            raise CardRefused("card balance out of range")
        return balance

    def balance(self):
        """GET BALANCE, in fen."""
        r = self._call(_CLA_EP, _INS_GET_BALANCE, 0x00, _P2_PURSE, None, 4)
        if len(r) != 4:
            raise YktError("bad GET BALANCE answer")
        return self._bounded(_int(r))

    def read_record(self, rec, sfi=SFI_RECORDS):
        """READ RECORD ``rec`` of ``sfi`` (application records by default)."""
        le = RECORD_SIZE if sfi == SFI_RECORDS else _LOG_SIZE if sfi == SFI_LOG else 0
        return self._call(_CLA_ISO, _INS_READ_RECORD, rec, (sfi << 3) | 4, None, le)

    def read_log(self):
        """The card's transaction log, newest first, as LogEntry tuples."""
        out = []
        for rec in range(1, _LOG_MAX + 1):
            try:
                r = self.read_record(rec, SFI_LOG)
            except ApduError as e:
                if e.sw == _SW_RECORD_NOT_FOUND:
                    break
                raise
            if len(r) != _LOG_SIZE:
                raise YktError("bad log record")
            out.append(
                LogEntry(
                    _int(r[0:2]),
                    _int(r[5:9]),
                    r[9],
                    bytes(r[10:16]),
                    _bcd_int(r[16:20]),
                    _bcd_int(r[20:23]),
                )
            )
        return out

    def verify_pin(self, bcd):
        """VERIFY the cardholder PIN ``bcd`` (digits in BCD, an odd count padded with F).

        Returns None when the card accepts it, else the tries left (at least 1).
        Raises CardRefused("card PIN blocked") when no try is left (this one was
        the last, or the PIN was already blocked) and CardRefused("card has no
        PIN"); other status words raise ApduError.
        """
        self._check_selected()
        try:
            self._call(_CLA_ISO, _INS_VERIFY, 0x00, 0x00, bcd)
        except ApduError as e:
            sw = e.sw
            if sw & 0xFFF0 == _SW_PIN_WRONG and sw & 0x0F:
                return sw & 0x0F
            if sw == _SW_PIN_WRONG or sw == _SW_PIN_BLOCKED:
                raise CardRefused("card PIN blocked")
            if sw == _SW_NO_PIN:
                raise CardRefused("card has no PIN")
            raise
        return None

    def _check_selected(self):
        if self.info is None:
            raise YktError("purse not selected")

    def init_purchase(self, sam, amount, tx_type, datetime7):
        """INITIALIZE FOR PURCHASE; return the Pending purchase.

        Refuses (before anything is written on the card) when the balance is
        below ``amount`` or the SAM does not know the card's keys.
        """
        self._check_selected()
        if tx_type == TX_PURCHASE:
            p1 = _P1_PURCHASE
        elif tx_type == TX_CAPP:
            p1 = _P1_CAPP
        else:
            raise ValueError("purchase type must be TX_PURCHASE or TX_CAPP")
        if len(datetime7) != 7:
            raise ValueError("datetime7 must be 7 BCD bytes")
        terminal_id = sam.terminal_id()
        data = bytes((_KEY_INDEX,)) + _u32(amount) + terminal_id
        r = self._call(_CLA_EP, _INS_INITIALIZE, p1, _P2_PURSE, data, _INIT_PURCHASE_SIZE)
        if len(r) != _INIT_PURCHASE_SIZE:
            raise YktError("bad INITIALIZE FOR PURCHASE answer")
        if not sam.supports(r[9], r[10]):
            raise CardRefused("card key version not supported")
        balance = self._bounded(_int(r[0:4]))
        if balance < amount:
            raise CardRefused("insufficient balance")
        return Pending(
            self.info.card_no,
            self.info.serial8,
            balance,
            _int(r[4:6]),
            bytes(r[11:15]),
            amount,
            tx_type,
            terminal_id,
            bytes(datetime7),
            sam.next_sequence(),
        )

    def update_record(self, rec, data):
        """UPDATE CAPP DATA CACHE: record ``rec`` commits with the next DEBIT."""
        if len(data) != RECORD_SIZE:
            raise ValueError("a record is 48 bytes")
        self._call(_CLA_EP, _INS_UPDATE_CAPP, rec, SFI_RECORDS << 3, data)

    def debit(self, sam, p):
        """DEBIT FOR PURCHASE of Pending ``p``; check MAC2; return the result.

        ``self.pending`` is ``p`` from the moment DEBIT is sent until a status
        word proves the card refused it (then nothing was debited). If the
        answer is lost (CardGone, a reader or link error), garbled or carries a
        bad MAC2, ``self.pending`` stays set: the outcome is unknown and the
        payment layer keeps the purchase pending.
        """
        mac1 = sam.purchase_mac1(
            p.serial8, p.random, p.atc, p.amount, p.tx_type,
            p.terminal_id, p.datetime7, p.term_seq,
        )
        data = p.term_seq.to_bytes(4, "big") + p.datetime7 + mac1
        self.pending = p
        try:
            r = self._call(_CLA_EP, _INS_DEBIT, 0x01, 0x00, data, 8)
        except (ApduError, CardRefused):
            self.pending = None
            raise
        if len(r) != 8:
            raise YktError("bad DEBIT answer")
        result = self._finish(sam, p, r[4:8], r[0:4])
        self.pending = None
        return result

    def transaction_prove(self, atc_after, tx_type):
        """GET TRANSACTION PROVE for the transaction of ``tx_type`` that left its
        counter at ``atc_after`` (offline ATC for a debit, online ATC for a load).

        Returns (mac, tac): MAC2 of a debit, the load proof of a load; None when
        the card has no such transaction in its log (9403).
        """
        try:
            r = self._call(_CLA_EP, _INS_PROVE, 0x00, tx_type,
                           (atc_after & 0xFFFF).to_bytes(2, "big"), 8)
        except ApduError as e:
            if e.sw == _SW_NOT_FOUND:
                return None
            raise
        if len(r) != 8:
            raise YktError("bad GET TRANSACTION PROVE answer")
        return bytes(r[0:4]), bytes(r[4:8])

    def prove(self, p):
        """GET TRANSACTION PROVE for the counter value Pending ``p`` used."""
        return self.transaction_prove(p.atc + 1, p.tx_type)

    @staticmethod
    def proof_is(sam, p, mac):
        """True if ``mac`` (from DEBIT or GET TRANSACTION PROVE) is Pending ``p``'s own:
        only the card ``p`` was made with, in ``p``'s session, can answer it."""
        if p.tx_type == TX_LOAD:
            return sam.verify_load_proof(p.serial8, p.random, p.atc, p.amount, mac)
        return sam.verify_purchase_mac2(p.serial8, p.random, p.atc, p.term_seq, p.amount, mac)

    def authenticate(self, sam):
        """INTERNAL AUTHENTICATE (purse.md 3.12): the card answers the SAM's challenge
        with its counters under its authentication key. Returns (offline ATC,
        online ATC), proven to come from a card of this issuer with this number.
        Raises CardRefused("card failed authentication") otherwise."""
        self._check_selected()
        challenge = sam.challenge()
        try:
            r = self._call(_CLA_ISO, _INS_INTERNAL_AUTH, 0x00, 0x00, challenge, _AUTH_SIZE)
        except ApduError:
            raise CardRefused("card failed authentication")
        if len(r) != _AUTH_SIZE or not sam.verify_card_auth(
                self.info.serial8, self._bcd10, challenge, r[0:4], r[4:8]):
            raise CardRefused("card failed authentication")
        return _int(r[0:2]), _int(r[2:4])

    def _finish(self, sam, p, mac2, tac):
        if not self.proof_is(sam, p, mac2):
            raise CardRefused("card MAC2 invalid")
        return self.result(p, tac)

    @staticmethod
    def result(p, tac):
        """The PurchaseResult of Pending purchase ``p`` once proven, with its ``tac``."""
        return PurchaseResult(
            p.balance - p.amount, p.atc, p.amount, p.tx_type, p.term_seq, bytes(tac)
        )

    def purchase(self, sam, amount, tx_type, datetime7, record=None):
        """One-shot purchase; ``record`` is (rec, 48 bytes) for TX_CAPP."""
        if record is not None and tx_type != TX_CAPP:
            raise ValueError("a record update needs TX_CAPP")
        p = self.init_purchase(sam, amount, tx_type, datetime7)
        if record is not None:
            self.update_record(record[0], record[1])
        return self.debit(sam, p)

    def init_load(self, sam, amount, datetime7):
        """INITIALIZE FOR LOAD; check the card's MAC1; return the Pending load
        (``tx_type`` TX_LOAD, ``atc`` the online ATC). Changes nothing on the card."""
        self._check_selected()
        if not sam.can_load():
            raise YktError("SAM has no load key")
        if len(datetime7) != 7:
            raise ValueError("datetime7 must be 7 BCD bytes")
        terminal_id = sam.terminal_id()
        data = bytes((_KEY_INDEX,)) + _u32(amount) + terminal_id
        r = self._call(_CLA_EP, _INS_INITIALIZE, _P1_LOAD, _P2_PURSE, data, _INIT_LOAD_SIZE)
        if len(r) != _INIT_LOAD_SIZE:
            raise YktError("bad INITIALIZE FOR LOAD answer")
        if not sam.supports(r[6], r[7]):
            raise CardRefused("card key version not supported")
        balance = self._bounded(_int(r[0:4]))
        online_atc = _int(r[4:6])
        random = bytes(r[8:12])
        if not sam.verify_load_mac1(
            self.info.serial8, random, online_atc, balance, amount, terminal_id, r[12:16]
        ):
            raise CardRefused("card load MAC1 invalid")
        return Pending(self.info.card_no, self.info.serial8, balance, online_atc, random,
                       amount, TX_LOAD, terminal_id, bytes(datetime7), sam.next_sequence())

    def credit(self, sam, p):
        """CREDIT FOR LOAD of Pending load ``p``; return the LoadResult.

        As for ``debit``: ``self.pending`` stays ``p`` unless the answer arrived
        whole or a status word proved the card refused it."""
        mac2 = sam.load_mac2(p.serial8, p.random, p.atc, p.amount, p.terminal_id, p.datetime7)
        self.pending = p
        try:
            tac = self._call(_CLA_EP, _INS_CREDIT, 0x00, 0x00, p.datetime7 + mac2, 4)
        except (ApduError, CardRefused):
            self.pending = None
            raise
        if len(tac) != 4:
            raise YktError("bad CREDIT FOR LOAD answer")
        self.pending = None
        return self.load_result(p, tac)

    @staticmethod
    def load_result(p, tac):
        """The LoadResult of Pending load ``p`` once committed, with its ``tac``."""
        return LoadResult(p.balance + p.amount, p.atc, p.amount, bytes(tac))

    def load(self, sam, amount, datetime7):
        """Load (top-up or refund) ``amount`` fen; return the LoadResult."""
        return self.credit(sam, self.init_load(sam, amount, datetime7))
