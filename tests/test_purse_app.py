"""The simulated card's purse application alone: every APDU and status word (docs/purse.md).

The terminal side is written here straight from the spec with ``cryptography`` (no firmware).
"""

import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from hw_sim.issuer import IssuerKeys, issue_card, verify_load_tac, verify_tac  # noqa: E402

KEYS = IssuerKeys.from_seed(b"shanghai-test")
CARD_NO = "31049900000012345678"
SERIAL8 = bytes.fromhex("9900000012345678")
TERMINAL = bytes.fromhex("000000000101")
DT = bytes.fromhex("20240305083000")
AID = bytes.fromhex("A000000632010105")
SELECT = bytes.fromhex("00A4040008") + AID + b"\x00"


# -- terminal-side crypto, from the spec ------------------------------------------------------


def ecb(key, block):
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def mac4(key, msg):
    c = CMAC(algorithms.AES(key))
    c.update(msg)
    return c.finalize()[:4]


def card_key(master):
    return ecb(master, SERIAL8 + bytes(b ^ 0xFF for b in SERIAL8))


def sesp(rnd, atc, seq, master=KEYS.purchase_master):
    block = rnd + atc.to_bytes(2, "big") + seq.to_bytes(4, "big") + b"\x80" + bytes(5)
    return ecb(card_key(master), block)


def sesl(rnd, atc, master=KEYS.load_master):
    return ecb(card_key(master), rnd + atc.to_bytes(2, "big") + b"\x80" + bytes(9))


def u32(v):
    return v.to_bytes(4, "big")


# -- helpers -----------------------------------------------------------------------------------


def new_card(**kw):
    kw.setdefault("balance_fen", 1000)
    kw.setdefault("issuer_keys", KEYS)
    return issue_card(CARD_NO, **kw)


def send(app, hexstr_or_bytes):
    apdu = bytes.fromhex(hexstr_or_bytes) if isinstance(hexstr_or_bytes, str) else hexstr_or_bytes
    r = app.process(apdu)
    return r[:-2], r[-2:].hex().upper()


@pytest.fixture
def card():
    app = new_card()
    assert send(app, SELECT)[1] == "9000"
    return app


def init_purchase(app, amount, p1=0x01):
    apdu = bytes([0x80, 0x50, p1, 0x02, 0x0B, 0x01]) + u32(amount) + TERMINAL + b"\x0f"
    data, sw = send(app, apdu)
    assert sw == "9000", sw
    return data


def debit_apdu(init_answer, amount, tx_type, seq=7, dt=DT, mac1=None):
    rnd, atc = init_answer[11:15], int.from_bytes(init_answer[4:6], "big")
    if mac1 is None:
        mac1 = mac4(sesp(rnd, atc, seq), u32(amount) + bytes([tx_type]) + TERMINAL + dt)
    return bytes.fromhex("805401000F") + u32(seq) + dt + mac1 + b"\x08"


def purchase(app, amount, p1=0x01, record=None, seq=7):
    ans = init_purchase(app, amount, p1)
    if record is not None:
        assert send(app, bytes([0x80, 0xDC, record[0], 0xB8, 0x30]) + record[1])[1] == "9000"
    data, sw = send(app, debit_apdu(ans, amount, 0x09 if p1 == 3 else 0x06, seq))
    return ans, data, sw


def state(app):
    return (app.balance, app.offline_atc, app.online_atc, dict(app.records), list(app.log))


# -- selection and dispatch --------------------------------------------------------------------


def test_select_answers_fci_with_public_info():
    app = new_card(category=2)
    data, sw = send(app, SELECT)
    assert sw == "9000"
    assert data[:2] == b"\x6f\x2d" and data[2:12] == b"\x84\x08" + AID
    assert data[12:17] == bytes.fromhex("A5219F0C1E")
    assert data[17:] == app.public_info and len(data) == 47


def test_select_fci_without_public_info_when_personalised_so():
    data, sw = send(new_card(fci_public_info=False), SELECT)
    assert (data, sw) == (bytes.fromhex("6F0A8408") + AID, "9000")


def test_select_of_blocked_card_answers_fci_with_6283():
    data, sw = send(new_card(blocked=True), SELECT)
    assert sw == "6283" and data[2:12] == b"\x84\x08" + AID


def test_select_of_another_aid_is_6a82_and_deselects(card):
    assert send(card, "00A4040008A000000632010106")[1] == "6A82"
    assert send(card, "805C000204")[1] == "6985"


def test_select_with_wrong_p1_is_6a86():
    assert send(new_card(), bytes.fromhex("00A4000008") + AID)[1] == "6A86"


def test_commands_before_select_are_6985():
    assert send(new_card(), "805C000204")[1] == "6985"


def test_unknown_cla_is_6e00(card):
    assert send(card, "905C000204")[1] == "6E00"


def test_unknown_ins_is_6d00(card):
    assert send(card, "80CA000004")[1] == "6D00"


def test_inconsistent_lc_is_6700(card):
    assert send(card, "80500102050100")[1] == "6700"


# -- READ BINARY -------------------------------------------------------------------------------


def test_read_binary_returns_the_public_info_file():
    app = new_card(category=1, start=20230601, end=20330531)
    send(app, SELECT)
    data, sw = send(app, "00B095001E")
    assert sw == "9000"
    assert data[2:4] == b"\x29\x00"
    assert data[10:20].hex() == CARD_NO
    assert data[20:28].hex() == "2023060120330531"
    assert data[28] == 1


def test_read_binary_honours_offset_and_short_le(card):
    assert send(card, "00B0950A0A") == (bytes.fromhex(CARD_NO), "9000")


def test_read_binary_with_too_long_le_is_6cxx(card):
    assert send(card, "00B0951410")[1] == "6C0A"


def test_read_binary_of_another_sfi_is_6a82(card):
    assert send(card, "00B0960000")[1] == "6A82"


def test_read_binary_offset_beyond_file_is_6b00(card):
    assert send(card, "00B0951E00")[1] == "6B00"


def test_read_binary_without_sfi_bit_is_6a86(card):
    assert send(card, "00B0000000")[1] == "6A86"


# -- READ RECORD -------------------------------------------------------------------------------


def test_read_record_returns_48_byte_application_record():
    app = new_card(records={2: b"\x42" * 48})
    send(app, SELECT)
    assert send(app, "00B202BC30") == (b"\x42" * 48, "9000")
    assert send(app, "00B201BC00") == (bytes(48), "9000")


@pytest.mark.parametrize("rec", [0, 5])
def test_read_record_outside_the_file_is_6a83(card, rec):
    assert send(card, bytes([0x00, 0xB2, rec, 0xBC, 0x30]))[1] == "6A83"


def test_read_record_of_unknown_sfi_is_6a82(card):
    assert send(card, "00B201CC00")[1] == "6A82"


def test_read_record_with_wrong_le_is_6c30(card):
    assert send(card, "00B201BC10") == (b"", "6C30")


def test_read_record_with_p2_not_addressing_by_number_is_6a86(card):
    assert send(card, "00B201BD30")[1] == "6A86"


def test_empty_transaction_log_has_no_record_1(card):
    assert send(card, "00B201C417")[1] == "6A83"


# -- GET BALANCE -------------------------------------------------------------------------------


def test_get_balance_returns_four_bytes_of_fen(card):
    assert send(card, "805C000204") == (u32(1000), "9000")


def test_get_balance_with_wrong_p2_is_6a86(card):
    assert send(card, "805C000104")[1] == "6A86"


def test_get_balance_with_wrong_le_is_6c04(card):
    assert send(card, "805C000208")[1] == "6C04"


# -- INITIALIZE FOR PURCHASE -------------------------------------------------------------------


def test_initialize_for_purchase_answers_balance_atc_and_random():
    app = new_card(balance_fen=1234)
    app.offline_atc = 17
    send(app, SELECT)
    ans = init_purchase(app, 200)
    assert len(ans) == 15
    assert ans[0:4] == u32(1234)
    assert ans[4:6] == b"\x00\x11"
    assert ans[6:9] == b"\x00\x00\x00"
    assert ans[9:11] == b"\x01\x10"  # key version 1, AES


def test_initialize_for_purchase_does_not_refuse_an_amount_above_balance(card):
    assert init_purchase(card, 5000)[0:4] == u32(1000)


def test_initialize_with_wrong_key_index_is_6a88(card):
    assert send(card, "805001020B02000000C8" + TERMINAL.hex() + "0F")[1] == "6A88"


def test_initialize_with_unknown_p1_is_6a86(card):
    assert send(card, "805002020B01000000C8" + TERMINAL.hex() + "0F")[1] == "6A86"


def test_initialize_with_short_data_is_6700(card):
    assert send(card, "805001020A01000000C8" + TERMINAL.hex()[:-2] + "0F")[1] == "6700"


def test_initialize_on_blocked_card_is_6283():
    app = new_card(blocked=True)
    send(app, SELECT)
    assert send(app, "805001020B01000000C8" + TERMINAL.hex() + "0F")[1] == "6283"


def test_initialize_when_offline_atc_is_exhausted_is_9402(card):
    card.offline_atc = 0xFFFF
    assert send(card, "805001020B01000000C8" + TERMINAL.hex() + "0F")[1] == "9402"


# -- DEBIT FOR PURCHASE ------------------------------------------------------------------------


def test_debit_takes_the_amount_and_counts_the_atc(card):
    ans, data, sw = purchase(card, 200)
    assert sw == "9000" and len(data) == 8
    assert (card.balance, card.offline_atc, card.online_atc) == (800, 1, 0)


def test_debit_answers_mac2_of_the_session(card):
    ans, data, sw = purchase(card, 200, seq=9)
    assert data[4:8] == mac4(sesp(ans[11:15], 0, 9), u32(200))


def test_debit_tac_verifies_at_the_back_office(card):
    ans, data, sw = purchase(card, 200, seq=9)
    assert verify_tac(
        KEYS, CARD_NO, data[0:4], balance_after=800, atc=0, amount=200, tx_type=6,
        terminal_id=TERMINAL, term_seq=9, datetime7=DT,
    )


def test_debit_appends_a_log_record(card):
    purchase(card, 200)
    data, sw = send(card, "00B201C417")
    assert sw == "9000"
    assert data == b"\x00\x00" + bytes(3) + u32(200) + b"\x06" + TERMINAL + DT


def test_debit_without_initialize_is_6985(card):
    assert send(card, "805401000F" + "00" * 15 + "08")[1] == "6985"


def test_debit_with_wrong_length_is_6700(card):
    init_purchase(card, 200)
    assert send(card, "805401000E" + "00" * 14 + "08")[1] == "6700"


def test_debit_with_bad_mac1_is_9302_and_changes_nothing(card):
    before = state(card)
    ans = init_purchase(card, 200)
    assert send(card, debit_apdu(ans, 200, 6, mac1=b"\x00" * 4))[1] == "9302"
    assert state(card) == before


def test_debit_with_mac1_for_another_amount_is_9302(card):
    ans = init_purchase(card, 200)
    mac1 = mac4(sesp(ans[11:15], 0, 7), u32(1) + b"\x06" + TERMINAL + DT)
    assert send(card, debit_apdu(ans, 200, 6, mac1=mac1))[1] == "9302"


def test_failed_debit_closes_the_session(card):
    ans = init_purchase(card, 200)
    send(card, debit_apdu(ans, 200, 6, mac1=b"\x00" * 4))
    assert send(card, debit_apdu(ans, 200, 6))[1] == "6985"
    assert card.balance == 1000


def test_debit_above_balance_is_9401_and_changes_nothing(card):
    before = state(card)
    _, _, sw = purchase(card, 1001)
    assert sw == "9401"
    assert state(card) == before


def test_debit_of_whole_balance_leaves_zero(card):
    assert purchase(card, 1000)[2] == "9000"
    assert card.balance == 0


def test_zero_amount_debit_still_counts(card):
    assert purchase(card, 0)[2] == "9000"
    assert (card.balance, card.offline_atc) == (1000, 1)


def test_card_from_another_issuer_rejects_mac1():
    forged = issue_card(CARD_NO, balance_fen=1000, issuer_keys=IssuerKeys.from_seed(b"forger"))
    send(forged, SELECT)
    assert purchase(forged, 200)[2] == "9302"
    assert forged.balance == 1000


def test_power_on_drops_a_pending_purchase(card):
    ans = init_purchase(card, 200)
    card.power_on()
    send(card, SELECT)
    assert send(card, debit_apdu(ans, 200, 6))[1] == "6985"
    assert card.balance == 1000


def test_select_drops_a_pending_purchase(card):
    ans = init_purchase(card, 200)
    send(card, SELECT)
    assert send(card, debit_apdu(ans, 200, 6))[1] == "6985"


# -- UPDATE CAPP DATA CACHE --------------------------------------------------------------------

REC = bytes(range(48))


def test_capp_record_commits_with_the_debit(card):
    _, _, sw = purchase(card, 300, p1=0x03, record=(1, REC))
    assert sw == "9000"
    assert card.record(1) == REC and card.balance == 700
    assert send(card, "00B201BC30") == (REC, "9000")


def test_capp_record_is_not_written_before_the_debit(card):
    init_purchase(card, 300, p1=0x03)
    assert send(card, bytes.fromhex("80DC01B830") + REC)[1] == "9000"
    assert card.record(1) == bytes(48)


def test_capp_record_is_lost_when_the_debit_mac_is_bad(card):
    ans = init_purchase(card, 300, p1=0x03)
    send(card, bytes.fromhex("80DC01B830") + REC)
    assert send(card, debit_apdu(ans, 300, 9, mac1=b"\xff" * 4))[1] == "9302"
    assert card.record(1) == bytes(48)


def test_capp_record_is_lost_when_the_balance_is_short(card):
    _, _, sw = purchase(card, 5000, p1=0x03, record=(1, REC))
    assert sw == "9401"
    assert card.record(1) == bytes(48)


def test_capp_record_is_lost_when_the_card_leaves_before_debit(card):
    ans = init_purchase(card, 300, p1=0x03)
    send(card, bytes.fromhex("80DC01B830") + REC)
    card.power_on()
    send(card, SELECT)
    assert send(card, debit_apdu(ans, 300, 9))[1] == "6985"
    assert card.record(1) == bytes(48)


def test_capp_update_after_plain_initialize_is_6985(card):
    init_purchase(card, 300, p1=0x01)
    assert send(card, bytes.fromhex("80DC01B830") + REC)[1] == "6985"


def test_capp_update_without_initialize_is_6985(card):
    assert send(card, bytes.fromhex("80DC01B830") + REC)[1] == "6985"


def test_capp_update_of_wrong_length_is_6700(card):
    init_purchase(card, 300, p1=0x03)
    assert send(card, bytes.fromhex("80DC01B82F") + REC[:47])[1] == "6700"


def test_capp_update_of_missing_record_is_6a83(card):
    init_purchase(card, 300, p1=0x03)
    assert send(card, bytes.fromhex("80DC05B830") + REC)[1] == "6A83"


def test_capp_update_of_other_file_is_6a82(card):
    init_purchase(card, 300, p1=0x03)
    assert send(card, bytes.fromhex("80DC01C030") + REC)[1] == "6A82"


def test_zero_amount_capp_purchase_writes_the_record(card):
    assert purchase(card, 0, p1=0x03, record=(2, REC))[2] == "9000"
    assert card.record(2) == REC and card.record(1) == bytes(48)
    assert card.balance == 1000


# -- GET TRANSACTION PROVE ---------------------------------------------------------------------


def test_prove_returns_mac2_and_tac_of_the_last_debit(card):
    _, data, _ = purchase(card, 200, p1=0x03, record=(1, REC))
    assert send(card, "805A0009020001" + "08") == (data[4:8] + data[0:4], "9000")


def test_prove_still_answers_after_leaving_the_field(card):
    _, data, _ = purchase(card, 200)
    card.power_on()
    send(card, SELECT)
    assert send(card, "805A0006020001" + "08") == (data[4:8] + data[0:4], "9000")


def test_prove_with_the_atc_before_the_debit_is_9403(card):
    purchase(card, 200)
    assert send(card, "805A0006020000" + "08")[1] == "9403"


def test_prove_with_another_type_is_9403(card):
    purchase(card, 200)
    assert send(card, "805A0009020001" + "08")[1] == "9403"


def test_prove_on_a_card_that_never_debited_is_9403(card):
    assert send(card, "805A0006020001" + "08")[1] == "9403"


def test_prove_after_a_failed_debit_is_9403(card):
    ans = init_purchase(card, 200)
    send(card, debit_apdu(ans, 200, 6, mac1=bytes(4)))
    assert send(card, "805A0006020001" + "08")[1] == "9403"


def test_prove_with_a_load_type_and_no_load_is_9403(card):
    assert send(card, "805A0002020001" + "08")[1] == "9403"


def test_prove_with_an_unknown_type_is_6a86(card):
    assert send(card, "805A0007020001" + "08")[1] == "6A86"


def test_prove_answers_for_an_older_debit_still_in_the_log(card):
    _, first, _ = purchase(card, 200)
    purchase(card, 100)
    assert send(card, "805A0006020001" + "08") == (first[4:8] + first[0:4], "9000")
    assert send(card, "805A0006020002" + "08")[1] == "9000"


def test_prove_forgets_a_debit_that_left_the_log(card):
    for _ in range(11):
        purchase(card, 10)
    assert send(card, "805A0006020001" + "08")[1] == "9403"
    assert send(card, "805A0006020002" + "08")[1] == "9000"


def test_internal_authenticate_answers_the_counters_and_a_mac(card):
    purchase(card, 200)
    data, sw = send(card, "0088000008" + "0102030405060708" + "08")
    assert sw == "9000" and data[0:4] == bytes.fromhex("00010000") and len(data) == 8


def test_internal_authenticate_with_a_short_challenge_is_6700(card):
    assert send(card, "00880000040102030408")[1] == "6700"


def test_prove_changes_nothing(card):
    purchase(card, 200)
    before = state(card)
    send(card, "805A0006020001" + "08")
    assert state(card) == before


# -- INITIALIZE FOR LOAD / CREDIT FOR LOAD -----------------------------------------------------


def init_load(app, amount):
    data, sw = send(app, bytes.fromhex("805000020B01") + u32(amount) + TERMINAL + b"\x10")
    assert sw == "9000", sw
    return data


def credit_apdu(ans, amount, dt=DT, mac2=None):
    rnd, atc = ans[8:12], int.from_bytes(ans[4:6], "big")
    if mac2 is None:
        mac2 = mac4(sesl(rnd, atc), u32(amount) + b"\x02" + TERMINAL + dt)
    return bytes.fromhex("805200000B") + dt + mac2 + b"\x04"


def test_initialize_for_load_answers_a_valid_mac1(card):
    ans = init_load(card, 500)
    assert len(ans) == 16
    assert ans[0:4] == u32(1000) and ans[4:6] == b"\x00\x00" and ans[6:8] == b"\x01\x10"
    assert ans[12:16] == mac4(sesl(ans[8:12], 0), u32(1000) + u32(500) + b"\x02" + TERMINAL)


def test_credit_adds_the_amount_and_counts_the_online_atc(card):
    ans = init_load(card, 500)
    data, sw = send(card, credit_apdu(ans, 500))
    assert sw == "9000" and len(data) == 4
    assert (card.balance, card.online_atc, card.offline_atc) == (1500, 1, 0)


def test_credit_tac_verifies_at_the_back_office(card):
    data, _ = send(card, credit_apdu(init_load(card, 500), 500))
    assert verify_load_tac(
        KEYS, CARD_NO, data, balance_after=1500, online_atc=0, amount=500,
        terminal_id=TERMINAL, datetime7=DT,
    )


def test_credit_logs_a_type_02_record(card):
    send(card, credit_apdu(init_load(card, 500), 500))
    data, _ = send(card, "00B201C417")
    assert data == b"\x00\x00" + bytes(3) + u32(500) + b"\x02" + TERMINAL + DT


def test_credit_with_bad_mac2_is_9302_and_changes_nothing(card):
    before = state(card)
    assert send(card, credit_apdu(init_load(card, 500), 500, mac2=bytes(4)))[1] == "9302"
    assert state(card) == before


def test_credit_without_initialize_for_load_is_6985(card):
    assert send(card, "805200000B" + "00" * 11 + "04")[1] == "6985"


def test_credit_after_initialize_for_purchase_is_6985(card):
    init_purchase(card, 100)
    assert send(card, "805200000B" + "00" * 11 + "04")[1] == "6985"


def test_load_above_the_maximum_balance_is_9402():
    app = new_card(balance_fen=99_000)
    send(app, SELECT)
    assert send(app, bytes.fromhex("805000020B01") + u32(1001) + TERMINAL + b"\x10")[1] == "9402"


def test_card_of_another_issuer_rejects_load_mac2():
    forged = issue_card(CARD_NO, balance_fen=1000, issuer_keys=IssuerKeys.from_seed(b"forger"))
    send(forged, SELECT)
    assert send(forged, credit_apdu(init_load(forged, 500), 500))[1] == "9302"
    assert forged.balance == 1000


# -- transaction log ---------------------------------------------------------------------------


def test_log_keeps_the_ten_newest_records_newest_first(card):
    for i in range(12):
        assert purchase(card, i, seq=i)[2] == "9000"
    assert send(card, "00B20AC417")[0][5:9] == u32(2)
    assert send(card, "00B201C417")[0][0:2] == b"\x00\x0b"
    assert send(card, "00B20BC417")[1] == "6A83"


# -- VERIFY (cardholder PIN) -------------------------------------------------------------------


def verify(app, bcd_hex):
    return send(app, "00200000%02X" % (len(bcd_hex) // 2) + bcd_hex)[1]


@pytest.fixture
def pin_card():
    app = new_card(pin="12345")
    send(app, SELECT)
    return app


def test_verify_of_the_right_pin_is_9000(pin_card):
    assert verify(pin_card, "12345F") == "9000"
    assert (pin_card.pin_tries, pin_card.pins_verified) == (3, 1)


def test_verify_of_an_even_length_pin_needs_no_padding():
    app = new_card(pin="2468")
    send(app, SELECT)
    assert verify(app, "2468") == "9000"


def test_wrong_pin_is_63cx_with_the_tries_left(pin_card):
    assert [verify(pin_card, "54321F") for _ in range(2)] == ["63C2", "63C1"]
    assert (pin_card.pin_tries, pin_card.pins_verified) == (1, 0)


def test_pin_of_another_length_is_a_wrong_pin_not_a_length_error(pin_card):
    assert verify(pin_card, "1234") == "63C2"


def test_right_pin_resets_the_tries(pin_card):
    verify(pin_card, "99999F")
    verify(pin_card, "99999F")
    assert verify(pin_card, "12345F") == "9000"
    assert pin_card.pin_tries == 3


def test_last_wrong_pin_answers_63c0_and_blocks_the_pin(pin_card):
    assert [verify(pin_card, "00000F") for _ in range(3)] == ["63C2", "63C1", "63C0"]
    assert pin_card.pin_tries == 0


def test_blocked_pin_is_6983_even_for_the_right_pin(pin_card):
    for _ in range(3):
        verify(pin_card, "00000F")
    assert verify(pin_card, "12345F") == "6983"
    assert (pin_card.pin_tries, pin_card.pins_verified) == (0, 0)


def test_blocked_pin_stays_blocked_after_leaving_the_field(pin_card):
    for _ in range(3):
        verify(pin_card, "00000F")
    pin_card.power_on()
    send(pin_card, SELECT)
    assert verify(pin_card, "12345F") == "6983"


def test_tries_left_survive_leaving_the_field(pin_card):
    verify(pin_card, "00000F")
    pin_card.power_on()
    send(pin_card, SELECT)
    assert verify(pin_card, "00000F") == "63C1"


def test_verify_on_a_card_without_pin_is_6a88(card):
    assert verify(card, "1234") == "6A88"


def test_verify_with_p2_not_00_is_6a86(pin_card):
    assert send(pin_card, "0020008003" + "12345F")[1] == "6A86"
    assert pin_card.pin_tries == 3


@pytest.mark.parametrize("apdu", ["00200000", "00200000071234567890123F"])
def test_verify_without_pin_or_longer_than_12_digits_is_6700(pin_card, apdu):
    assert send(pin_card, apdu)[1] == "6700"
    assert pin_card.pin_tries == 3


def test_verify_before_select_is_6985():
    app = new_card(pin="1234")
    assert verify(app, "1234") == "6985"
    assert app.pin_tries == 3


@pytest.mark.parametrize("pin", ["1", "1234567890123", "12a4", 1234])
def test_issuing_a_card_with_a_malformed_pin_is_refused(pin):
    with pytest.raises(ValueError, match="PIN"):
        new_card(pin=pin)
