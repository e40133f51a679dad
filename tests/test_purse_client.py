"""Firmware purse client + SoftSam against the simulated card (docs/purse.md section 6).

The link is in memory: ``transceive`` is the card application's ``process``; it records
every C-APDU so tests can check what the terminal did (and did not) send.
"""


import pytest

from hw_sim.issuer import IssuerKeys, issue_card, verify_load_tac, verify_tac

KEYS = IssuerKeys.from_seed(b"shanghai-test")
FORGER = IssuerKeys.from_seed(b"forger")
CARD_NO = "31049900000012345678"
TERMINAL = bytes.fromhex("000000000101")
DT = bytes.fromhex("20240305083000")
REC = bytes(range(48))
TX_PURCHASE, TX_CAPP = 0x06, 0x09


class Link:
    """In-memory ISO-DEP stand-in. ``lose`` = (INS, before_card): lose that command's
    answer (after the card applied it, or before it reached the card) and leave the field."""

    def __init__(self, fw, app):
        self.fw = fw
        self.app = app
        self.sent = []
        self.lose = None
        self.tamper = None  # fn(capdu, rapdu) -> rapdu

    def transceive(self, capdu):
        capdu = bytes(capdu)
        self.sent.append(capdu)
        if self.lose and capdu[1] == self.lose[0]:
            before_card = self.lose[1]
            self.lose = None
            if not before_card:
                self.app.process(capdu)
            self.app.power_on()
            raise self.fw.errors.CardGone("card left the field")
        rapdu = self.app.process(capdu)
        if self.tamper:
            rapdu = self.tamper(capdu, rapdu)
        return rapdu

    def sent_ins(self, ins):
        return [c for c in self.sent if c[0] == 0x80 and c[1] == ins]


def tap(fw, app):
    """A new tap: the card powers up, the terminal selects it."""
    app.power_on()
    link = Link(fw, app)
    card = fw.purse.PurseCard(fw.iso7816.Iso7816(link))
    card.select()
    return card, link


def make_sam(fw, keys=KEYS, **kw):
    return fw.sam.SoftSam(keys.sam_keys(), TERMINAL, **kw)


def snapshot(app):
    return (app.balance, app.offline_atc, app.online_atc, dict(app.records), list(app.log))


@pytest.fixture
def app():
    return issue_card(CARD_NO, balance_fen=1000, issuer_keys=KEYS, category=2)


# -- reading -----------------------------------------------------------------------------------


def test_select_decodes_the_public_info(fw):
    app = issue_card(
        CARD_NO, balance_fen=0, issuer_keys=KEYS, category=1, start=20230601, end=20330531
    )
    card, _ = tap(fw, app)
    info = card.info
    assert info.card_no == CARD_NO
    assert (info.issuer_code, info.city_code, info.industry_code) == (1, 0x2900, 1)
    assert (info.app_type, info.app_version, info.category) == (1, 1, 1)
    assert (info.start, info.end) == (20230601, 20330531)
    assert info.serial8 == bytes.fromhex("9900000012345678")


def test_select_reads_file_15_when_the_fci_lacks_it(fw):
    app = issue_card(CARD_NO, balance_fen=0, issuer_keys=KEYS, fci_public_info=False)
    card, link = tap(fw, app)
    assert bytes.fromhex("00B095001E") in link.sent
    assert card.info.card_no == CARD_NO


def test_select_of_a_blocked_card_is_refused(fw):
    app = issue_card(CARD_NO, balance_fen=1000, issuer_keys=KEYS, blocked=True)
    with pytest.raises(fw.errors.CardRefused, match="card blocked"):
        tap(fw, app)


def test_malformed_card_number_is_refused(fw, app):
    info = bytearray(app.public_info)
    info[19] = 0x5A
    app.public_info = bytes(info)
    with pytest.raises(fw.errors.CardRefused, match="malformed public info"):
        tap(fw, app)


def test_balance_reads_fen(fw, app):
    card, _ = tap(fw, app)
    assert card.balance() == 1000


def test_read_record_returns_the_application_record(fw):
    app = issue_card(CARD_NO, balance_fen=0, issuer_keys=KEYS, records={1: REC})
    card, _ = tap(fw, app)
    assert card.read_record(1) == REC


def test_read_record_of_missing_record_raises_apdu_error_6a83(fw, app):
    card, _ = tap(fw, app)
    with pytest.raises(fw.errors.ApduError) as e:
        card.read_record(9)
    assert e.value.sw == 0x6A83


# -- purchase ----------------------------------------------------------------------------------


def test_purchase_debits_balance_and_atc_exactly_once(fw, app):
    card, link = tap(fw, app)
    result = card.purchase(make_sam(fw), 200, TX_PURCHASE, DT)
    assert (app.balance, app.offline_atc) == (800, 1)
    assert (result.balance, result.atc, result.amount) == (800, 0, 200)
    assert len(link.sent_ins(0x54)) == 1
    assert len(app.log) == 1


def test_purchase_uses_the_next_terminal_sequence(fw, app):
    sam = make_sam(fw, sequence=41)
    card, _ = tap(fw, app)
    first = card.purchase(sam, 100, TX_PURCHASE, DT)
    second = card.purchase(sam, 100, TX_PURCHASE, DT)
    assert (first.term_seq, second.term_seq, sam.sequence) == (41, 42, 43)
    assert (app.balance, app.offline_atc) == (800, 2)


def test_purchase_tac_verifies_at_the_back_office(fw, app):
    card, _ = tap(fw, app)
    r = card.purchase(make_sam(fw), 200, TX_PURCHASE, DT)
    fields = dict(
        balance_after=r.balance, atc=r.atc, amount=r.amount, tx_type=r.tx_type,
        terminal_id=TERMINAL, term_seq=r.term_seq, datetime7=DT,
    )
    assert verify_tac(KEYS, CARD_NO, r.tac, **fields)
    assert not verify_tac(KEYS, CARD_NO, r.tac, **dict(fields, amount=199))


def test_composite_purchase_commits_the_record_with_the_debit(fw, app):
    card, _ = tap(fw, app)
    card.purchase(make_sam(fw), 300, TX_CAPP, DT, record=(1, REC))
    assert app.record(1) == REC
    assert (app.balance, app.offline_atc) == (700, 1)
    assert card.read_record(1) == REC


def test_record_update_without_the_debit_is_not_committed(fw, app):
    card, link = tap(fw, app)
    sam = make_sam(fw)
    card.init_purchase(sam, 300, TX_CAPP, DT)
    card.update_record(1, REC)
    app.power_on()  # card pulled away before DEBIT
    card, _ = tap(fw, app)
    assert app.record(1) == bytes(48)
    assert card.read_record(1) == bytes(48)
    assert (app.balance, app.offline_atc) == (1000, 0)


def test_plain_purchase_with_a_record_is_rejected_by_the_client(fw, app):
    card, link = tap(fw, app)
    with pytest.raises(ValueError):
        card.purchase(make_sam(fw), 300, TX_PURCHASE, DT, record=(1, REC))
    assert link.sent_ins(0x50) == []


def test_forged_card_is_refused_with_a_clear_reason(fw):
    forged = issue_card(CARD_NO, balance_fen=1000, issuer_keys=FORGER)
    card, _ = tap(fw, forged)
    with pytest.raises(fw.errors.CardRefused) as e:
        card.purchase(make_sam(fw), 200, TX_PURCHASE, DT)
    assert e.value.args[0] == "card rejected terminal MAC (forged card or wrong keys)"
    assert (forged.balance, forged.offline_atc) == (1000, 0)
    assert card.pending is None


def test_wrong_mac2_is_refused(fw, app):
    card, link = tap(fw, app)

    def flip_mac2(capdu, rapdu):
        if capdu[1] == 0x54 and rapdu[-2:] == b"\x90\x00":
            return rapdu[:7] + bytes([rapdu[7] ^ 0x01]) + rapdu[8:]
        return rapdu

    link.tamper = flip_mac2
    with pytest.raises(fw.errors.CardRefused, match="card MAC2 invalid"):
        card.purchase(make_sam(fw), 200, TX_PURCHASE, DT)


def test_insufficient_balance_is_refused_without_sending_debit(fw, app):
    before = snapshot(app)
    sam = make_sam(fw)
    card, link = tap(fw, app)
    with pytest.raises(fw.errors.CardRefused, match="insufficient balance"):
        card.purchase(sam, 1001, TX_CAPP, DT, record=(1, REC))
    assert snapshot(app) == before
    assert link.sent_ins(0x54) == [] and link.sent_ins(0xDC) == []
    assert sam.sequence == 0


def test_card_with_unknown_key_version_is_refused_before_debit(fw, app):
    card, link = tap(fw, app)
    with pytest.raises(fw.errors.CardRefused, match="key version"):
        card.purchase(make_sam(fw, key_version=2), 100, TX_PURCHASE, DT)
    assert link.sent_ins(0x54) == []
    assert app.balance == 1000


# -- lost DEBIT answer (anti-tearing) ----------------------------------------------------------


def test_lost_debit_answer_leaves_the_pending_purchase(fw, app):
    card, link = tap(fw, app)
    sam = make_sam(fw)
    p = card.init_purchase(sam, 200, TX_CAPP, DT)
    link.lose = (0x54, False)
    with pytest.raises(fw.errors.CardGone):
        card.debit(sam, p)
    assert card.pending == p


def test_prove_after_lost_debit_answer_returns_the_debits_own_mac2_and_tac(fw, app):
    card, link = tap(fw, app)
    sam = make_sam(fw)
    p = card.init_purchase(sam, 200, TX_CAPP, DT)
    card.update_record(1, REC)
    link.lose = (0x54, False)
    with pytest.raises(fw.errors.CardGone):
        card.debit(sam, p)

    card2, link2 = tap(fw, app)
    mac2, tac = card2.prove(p)
    assert card2.proof_is(sam, p, mac2)
    result = card2.result(p, tac)
    assert (result.balance, result.atc, result.term_seq) == (800, 0, p.term_seq)
    assert link2.sent_ins(0x5A) == [bytes.fromhex("805A0009020001") + b"\x08"]
    assert link2.sent_ins(0x54) == []
    assert (app.balance, app.offline_atc, app.record(1)) == (800, 1, REC)
    assert verify_tac(
        KEYS, CARD_NO, result.tac, balance_after=800, atc=0, amount=200, tx_type=TX_CAPP,
        terminal_id=TERMINAL, term_seq=p.term_seq, datetime7=DT,
    )


def test_prove_for_a_debit_that_did_not_happen_returns_none(fw, app):
    card, link = tap(fw, app)
    sam = make_sam(fw)
    p = card.init_purchase(sam, 200, TX_PURCHASE, DT)
    link.lose = (0x54, True)  # DEBIT never reached the card
    with pytest.raises(fw.errors.CardGone):
        card.debit(sam, p)

    card2, link2 = tap(fw, app)
    assert card2.prove(p) is None
    assert (app.balance, app.offline_atc) == (1000, 0)


def test_prove_answers_for_an_older_debit_after_the_card_paid_elsewhere(fw, app):
    card, link = tap(fw, app)
    sam = make_sam(fw)
    p = card.init_purchase(sam, 200, TX_PURCHASE, DT)
    link.lose = (0x54, False)
    with pytest.raises(fw.errors.CardGone):
        card.debit(sam, p)
    other_terminal = fw.sam.SoftSam(KEYS.sam_keys(), bytes.fromhex("290000000077"))
    card_b, _ = tap(fw, app)
    card_b.purchase(other_terminal, 300, TX_PURCHASE, DT)

    card2, _ = tap(fw, app)
    mac2, tac = card2.prove(p)
    assert card2.proof_is(sam, p, mac2)
    assert app.offline_atc == 2


def test_a_mac2_of_another_session_is_not_the_pending_debits_proof(fw, app):
    card, link = tap(fw, app)
    sam = make_sam(fw)
    p = card.init_purchase(sam, 200, TX_PURCHASE, DT)
    link.lose = (0x54, True)  # never reached the card
    with pytest.raises(fw.errors.CardGone):
        card.debit(sam, p)
    card_b, _ = tap(fw, app)
    card_b.purchase(make_sam(fw, sequence=50), 200, TX_PURCHASE, DT)  # uses the same ATC

    card2, _ = tap(fw, app)
    mac2, _ = card2.prove(p)
    assert not card2.proof_is(sam, p, mac2)


def test_a_tampered_debit_mac2_leaves_the_purchase_pending(fw, app):
    card, link = tap(fw, app)
    sam = make_sam(fw)
    p = card.init_purchase(sam, 200, TX_PURCHASE, DT)
    link.tamper = lambda c, r: (b"\x00" * 8 + r[-2:]) if c[1] == 0x54 else r
    with pytest.raises(fw.errors.CardRefused, match="card MAC2 invalid"):
        card.debit(sam, p)
    assert card.pending == p
    assert (app.balance, app.offline_atc) == (800, 1)


def test_prove_reraises_card_errors_other_than_9403(fw, app):
    card, link = tap(fw, app)
    sam = make_sam(fw)
    p = card.init_purchase(sam, 200, TX_PURCHASE, DT)
    card2, link2 = tap(fw, app)
    link2.tamper = lambda c, r: b"\x6f\x00" if c[1] == 0x5A else r
    with pytest.raises(fw.errors.ApduError) as e:
        card2.prove(p)
    assert e.value.sw == 0x6F00


def test_authenticate_returns_the_cards_counters(fw, app):
    card, link = tap(fw, app)
    sam = make_sam(fw)
    card.purchase(sam, 200, TX_PURCHASE, DT)
    card.load(sam, 300, DT)
    card2, _ = tap(fw, app)
    assert card2.authenticate(sam) == (1, 1)


def test_a_card_of_another_issuer_with_the_same_number_fails_authentication(fw):
    clone = issue_card(CARD_NO, balance_fen=1000, issuer_keys=FORGER)
    card, _ = tap(fw, clone)
    with pytest.raises(fw.errors.CardRefused, match="card failed authentication"):
        card.authenticate(make_sam(fw))


def test_a_replayed_authentication_answer_fails(fw, app):
    card, link = tap(fw, app)
    sam = make_sam(fw)
    answers = []
    link.tamper = lambda c, r: answers.append(r) or r
    card.authenticate(sam)
    card2, link2 = tap(fw, app)
    link2.tamper = lambda c, r: answers[0] if c[1] == 0x88 else r
    with pytest.raises(fw.errors.CardRefused, match="card failed authentication"):
        card2.authenticate(sam)


def test_a_balance_above_the_purse_maximum_is_a_refused_card(fw, app):
    card, link = tap(fw, app)
    link.tamper = lambda c, r: (b"\xff\xff\xff\xff" + r[4:]) if c[1] in (0x50, 0x5C) else r
    with pytest.raises(fw.errors.CardRefused, match="card balance out of range"):
        card.init_purchase(make_sam(fw), 200, TX_PURCHASE, DT)
    with pytest.raises(fw.errors.CardRefused, match="card balance out of range"):
        card.balance()


# -- load and refund ---------------------------------------------------------------------------


def test_load_credits_balance_and_online_atc(fw, app):
    card, link = tap(fw, app)
    result = card.load(make_sam(fw), 500, DT)
    assert (result.balance, result.online_atc) == (1500, 0)
    assert (app.balance, app.online_atc, app.offline_atc) == (1500, 1, 0)
    assert len(link.sent_ins(0x52)) == 1


def test_load_tac_verifies_at_the_back_office(fw, app):
    card, _ = tap(fw, app)
    r = card.load(make_sam(fw), 500, DT)
    assert verify_load_tac(
        KEYS, CARD_NO, r.tac, balance_after=1500, online_atc=0, amount=500,
        terminal_id=TERMINAL, datetime7=DT,
    )


def test_refund_after_purchase_restores_the_balance(fw, app):
    card, _ = tap(fw, app)
    sam = make_sam(fw)
    card.purchase(sam, 300, TX_PURCHASE, DT)
    card.load(sam, 300, DT)
    assert (app.balance, app.offline_atc, app.online_atc) == (1000, 1, 1)
    log = card.read_log()
    assert [(e.tx_type, e.amount) for e in log] == [(0x02, 300), (0x06, 300)]
    assert (log[0].terminal_id, log[0].date, log[0].time) == (TERMINAL, 20240305, 83000)


def test_load_with_a_sam_without_load_key_sends_nothing(fw, app):
    card, link = tap(fw, app)
    sam = fw.sam.SoftSam(KEYS.sam_keys(load=False), TERMINAL)
    with pytest.raises(fw.errors.YktError, match="no load key"):
        card.load(sam, 500, DT)
    assert link.sent_ins(0x50) == []
    assert app.balance == 1000


def test_load_above_the_maximum_balance_is_refused(fw):
    app = issue_card(CARD_NO, balance_fen=99_900, issuer_keys=KEYS)
    card, _ = tap(fw, app)
    with pytest.raises(fw.errors.CardRefused, match="limit"):
        card.load(make_sam(fw), 101, DT)
    assert app.balance == 99_900


def test_load_on_forged_card_is_refused_before_credit(fw):
    forged = issue_card(CARD_NO, balance_fen=1000, issuer_keys=FORGER)
    card, link = tap(fw, forged)
    with pytest.raises(fw.errors.CardRefused, match="card load MAC1 invalid"):
        card.load(make_sam(fw), 500, DT)
    assert link.sent_ins(0x52) == []
    assert forged.balance == 1000


# -- cardholder PIN (VERIFY) --------------------------------------------------------------------


def pin_card(pin="1234", **kw):
    return issue_card(CARD_NO, balance_fen=1000, issuer_keys=KEYS, pin=pin, **kw)


def test_verify_pin_sends_the_bcd_digits_and_returns_none_when_right(fw):
    app = pin_card("12345")
    card, link = tap(fw, app)
    assert card.verify_pin(bytes.fromhex("12345F")) is None
    assert link.sent[-1] == bytes.fromhex("002000000312345F")
    assert app.pins_verified == 1


def test_verify_pin_returns_the_tries_left_on_a_wrong_pin(fw):
    app = pin_card()
    card, _ = tap(fw, app)
    assert [card.verify_pin(b"\x99\x99") for _ in range(2)] == [2, 1]
    assert app.pin_tries == 1


def test_verify_pin_after_a_wrong_one_resets_the_card_tries(fw):
    app = pin_card()
    card, _ = tap(fw, app)
    card.verify_pin(b"\x99\x99")
    assert card.verify_pin(b"\x12\x34") is None
    assert app.pin_tries == 3


def test_last_wrong_pin_is_refused_as_blocked(fw):
    app = pin_card(pin_tries=1)
    card, _ = tap(fw, app)
    with pytest.raises(fw.errors.CardRefused, match="card PIN blocked"):
        card.verify_pin(b"\x99\x99")
    assert app.pin_tries == 0


def test_blocked_pin_is_refused_on_a_later_tap_even_when_right(fw):
    app = pin_card(pin_tries=1)
    card, _ = tap(fw, app)
    with pytest.raises(fw.errors.CardRefused):
        card.verify_pin(b"\x99\x99")
    card, _ = tap(fw, app)
    with pytest.raises(fw.errors.CardRefused, match="card PIN blocked"):
        card.verify_pin(b"\x12\x34")
    assert app.pins_verified == 0


def test_verify_pin_on_a_card_without_pin_is_refused(fw, app):
    card, _ = tap(fw, app)
    with pytest.raises(fw.errors.CardRefused, match="card has no PIN"):
        card.verify_pin(b"\x12\x34")


def test_verify_pin_raises_apdu_error_on_other_status_words(fw):
    app = pin_card()
    card, _ = tap(fw, app)
    with pytest.raises(fw.errors.ApduError) as e:
        card.verify_pin(bytes(7))  # 14 digits: more than the card takes
    assert e.value.sw == 0x6700
    assert app.pin_tries == 3


def test_verify_pin_before_select_sends_nothing(fw):
    app = pin_card()
    link = Link(fw, app)
    card = fw.purse.PurseCard(fw.iso7816.Iso7816(link))
    with pytest.raises(fw.errors.YktError, match="not selected"):
        card.verify_pin(b"\x12\x34")
    assert link.sent == []


# -- Iso7816 framing ---------------------------------------------------------------------------


class Script:
    """A link that answers from a list and records what it got."""

    def __init__(self, answers):
        self.answers = [bytes.fromhex(a) for a in answers]
        self.sent = []

    def transceive(self, capdu):
        self.sent.append(bytes(capdu).hex().upper())
        return self.answers.pop(0)


@pytest.mark.parametrize(
    "args, apdu",
    [
        ((0x00, 0xA4, 0x04, 0x00, b"\xa0\x00", None), "00A4040002A000"),
        ((0x80, 0x5C, 0x00, 0x02, None, 4), "805C000204"),
        ((0x00, 0xB2, 0x01, 0xBC, None, 256), "00B201BC00"),
        ((0x80, 0x5A, 0x00, 0x06, b"\x00\x01", 8), "805A0006020001" + "08"),
        ((0x00, 0x84, 0x00, 0x00, None, None), "00840000"),
    ],
)
def test_exchange_encodes_short_apdus(fw, args, apdu):
    link = Script(["9000"])
    fw.iso7816.Iso7816(link).exchange(*args)
    assert link.sent == [apdu]


def test_exchange_returns_data_on_9000(fw):
    iso = fw.iso7816.Iso7816(Script(["01029000"]))
    assert iso.exchange(0x80, 0x5C, 0, 2, None, 4) == b"\x01\x02"


def test_exchange_follows_61xx_with_get_response(fw):
    link = Script(["AABB6102", "CCDD6101", "EE9000"])
    data = fw.iso7816.Iso7816(link).exchange(0x00, 0xA4, 0x04, 0x00, b"\x01", 0)
    assert data == bytes.fromhex("AABBCCDDEE")
    assert link.sent[1:] == ["00C0000002", "00C0000001"]


def test_exchange_resends_with_the_le_asked_by_6cxx(fw):
    link = Script(["6C30", "11" * 48 + "9000"])
    data = fw.iso7816.Iso7816(link).exchange(0x00, 0xB2, 0x01, 0xBC, None, 0x10)
    assert data == b"\x11" * 48
    assert link.sent == ["00B201BC10", "00B201BC30"]


def test_exchange_raises_apdu_error_with_the_status_word(fw):
    with pytest.raises(fw.errors.ApduError) as e:
        fw.iso7816.Iso7816(Script(["6A82"])).exchange(0x00, 0xA4, 0x04, 0x00, b"\x01")
    assert e.value.sw == 0x6A82


def test_exchange_raises_when_get_response_ends_in_error(fw):
    with pytest.raises(fw.errors.ApduError) as e:
        fw.iso7816.Iso7816(Script(["AA6102", "6F00"])).exchange(0x00, 0xA4, 0x04, 0x00, b"\x01")
    assert e.value.sw == 0x6F00


def test_exchange_rejects_an_answer_without_status_word(fw):
    with pytest.raises(fw.errors.YktError):
        fw.iso7816.Iso7816(Script(["90"])).exchange(0x80, 0x5C, 0, 2, None, 4)


def test_read_record_with_wrong_le_is_recovered_through_6c(fw):
    app = issue_card(CARD_NO, balance_fen=0, issuer_keys=KEYS, records={1: REC})
    link = Link(fw, app)
    iso = fw.iso7816.Iso7816(link)
    iso.exchange(0x00, 0xA4, 0x04, 0x00, bytes.fromhex("A000000632010105"), 0)
    assert iso.exchange(0x00, 0xB2, 0x01, 0xBC, None, 0x10) == REC
    assert link.sent[-2:] == [bytes.fromhex("00B201BC10"), bytes.fromhex("00B201BC30")]
