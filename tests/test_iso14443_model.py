"""The contactless card model: CRC_A, ISO 14443-3 activation, ISO 14443-4 blocks."""

import pytest

from hw_sim.iso14443 import Card14443, Field, crc_a

UID4 = bytes.fromhex("11223344")
UID7 = bytes.fromhex("04112233445566")


class Echo:
    """APDU answered with the APDU reversed + 90 00; remembers what it ran."""

    def __init__(self, reply=None):
        self.seen = []
        self.powered = 0
        self.reply = reply

    def power_on(self):
        self.powered += 1

    def process(self, apdu):
        self.seen.append(apdu)
        return self.reply if self.reply is not None else apdu[::-1] + b"\x90\x00"


def crc(data):
    return data + crc_a(data)


def placed(uid=UID4, app=None, **kw):
    field = Field()
    card = Card14443(uid, app or Echo(), **kw)
    field.place(card)
    return field, card


def activated(uid=UID4, app=None, rats=b"\xe0\x80", **kw):
    """Card taken through REQA, anticollision/SELECT and RATS."""
    field, card = placed(uid, app, **kw)
    card.transceive_frame(b"\x26", last_bits=7)
    for sel in (0x93, 0x95, 0x97):
        cl = card.transceive_frame(bytes([sel, 0x20]))
        sak = card.transceive_frame(crc(bytes([sel, 0x70]) + cl))
        if not sak[0] & 0x04:
            break
    assert card.transceive_frame(crc(rats)) is not None
    return field, card


@pytest.mark.parametrize("data, expected", [
    (b"123456789", "05bf"),
    (b"\x50\x00", "57cd"),
    (b"\xe0\x50", "bca5"),
    (b"\xe0\x80", "3173"),
    (b"\x30\x00", "02a8"),
    (bytes.fromhex("93700102030404"), "8e25"),
    (b"\xc2", "e0b4"),
    (b"\x02\x90\x00", "f109"),
    (b"\x00\x00", "a01e"),
])
def test_crc_a_matches_the_check_vectors(data, expected):
    assert crc_a(data).hex() == expected


def _crc_a_bitwise(data):
    """ISO 14443-3 Annex B's definition, one bit at a time."""
    crc = 0x6363
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return bytes([crc & 0xFF, crc >> 8])


def test_crc_a_equals_the_bitwise_definition_for_every_length_up_to_a_frame():
    import random

    rng = random.Random(14443)
    for n in range(0, 260):
        data = bytes(rng.randrange(256) for _ in range(n))
        assert crc_a(data) == _crc_a_bitwise(data), n


# -- layer 3 -----------------------------------------------------------------------

def test_reqa_answers_atqa_in_air_order_for_a_4_byte_uid():
    _, card = placed(UID4)
    assert card.transceive_frame(b"\x26", last_bits=7) == b"\x04\x00"
    assert card.state == "READY"


def test_reqa_answers_double_size_atqa_for_a_7_byte_uid():
    _, card = placed(UID7)
    assert card.transceive_frame(b"\x26", last_bits=7) == b"\x44\x00"


def test_reqa_as_a_full_8_bit_frame_is_not_a_request():
    _, card = placed()
    assert card.transceive_frame(b"\x26") is None
    assert card.state == "IDLE"


def test_anticollision_and_select_of_a_4_byte_uid():
    _, card = placed(UID4)
    card.transceive_frame(b"\x26", last_bits=7)
    assert card.transceive_frame(b"\x93\x20") == UID4 + b"\x44"  # BCC 11^22^33^44
    sak = card.transceive_frame(crc(b"\x93\x70" + UID4 + b"\x44"))
    assert sak == crc(b"\x20")
    assert card.state == "ACTIVE"


def test_7_byte_uid_needs_two_cascade_levels():
    _, card = placed(UID7)
    card.transceive_frame(b"\x26", last_bits=7)
    cl1 = card.transceive_frame(b"\x93\x20")
    assert cl1 == bytes.fromhex("88041122") + bytes([0x88 ^ 0x04 ^ 0x11 ^ 0x22])
    assert card.transceive_frame(crc(b"\x93\x70" + cl1)) == crc(b"\x04")  # UID not complete
    cl2 = card.transceive_frame(b"\x95\x20")
    assert cl2 == bytes.fromhex("33445566") + bytes([0x33 ^ 0x44 ^ 0x55 ^ 0x66])
    assert card.transceive_frame(crc(b"\x95\x70" + cl2)) == crc(b"\x20")
    assert card.state == "ACTIVE"


def test_select_with_a_bad_crc_gets_no_answer():
    _, card = placed(UID4)
    card.transceive_frame(b"\x26", last_bits=7)
    frame = crc(b"\x93\x70" + UID4 + b"\x44")
    assert card.transceive_frame(frame[:-1] + bytes([frame[-1] ^ 1])) is None
    assert card.state != "ACTIVE"


def test_select_of_another_uid_sends_the_card_back_to_idle():
    _, card = placed(UID4)
    card.transceive_frame(b"\x26", last_bits=7)
    other = bytes.fromhex("55667788")
    assert card.transceive_frame(crc(b"\x93\x70" + other + b"\x88")) is None
    assert card.state == "IDLE"


def test_bit_anticollision_answers_only_when_the_known_bits_match():
    _, card = placed(UID4)  # 0x11 = 0b00010001, LSB first on air
    card.transceive_frame(b"\x26", last_bits=7)
    # NVB 0x21: SEL, NVB + 1 bit; first UID bit is 1 -> answer, that bit zeroed.
    rest = card.transceive_frame(b"\x93\x21\x01", last_bits=1)
    assert rest == bytes([0x10]) + UID4[1:] + b"\x44"
    assert card.transceive_frame(b"\x93\x21\x00", last_bits=1) is None
    assert card.state == "READY"


def test_hlta_halts_and_only_wupa_wakes():
    _, card = placed(UID4)
    card.transceive_frame(b"\x26", last_bits=7)
    card.transceive_frame(crc(b"\x93\x70" + UID4 + b"\x44"))
    assert card.transceive_frame(crc(b"\x50\x00")) is None
    assert card.state == "HALT"
    assert card.transceive_frame(b"\x26", last_bits=7) is None
    assert card.transceive_frame(b"\x52", last_bits=7) == b"\x04\x00"


def test_explicit_atqa_is_msb_first_and_sent_lsb_first():
    _, card = placed(UID4, atqa=0x0344)
    assert card.atqa == b"\x03\x44"
    assert card.transceive_frame(b"\x26", last_bits=7) == b"\x44\x03"


def test_card_without_power_stays_silent():
    field, card = placed()
    field.set_rf(False)
    assert card.transceive_frame(b"\x26", last_bits=7) is None


def test_power_on_runs_when_placed_and_when_the_field_returns():
    app = Echo()
    field, card = placed(app=app)
    assert app.powered == 1
    field.set_rf(False)
    field.set_rf(True)
    assert app.powered == 2 and card.state == "IDLE"


# -- layer 4 --------------------------------------------------------------------------

def test_rats_returns_the_ats_with_crc():
    _, card = placed(UID4)
    card.transceive_frame(b"\x26", last_bits=7)
    card.transceive_frame(crc(b"\x93\x70" + UID4 + b"\x44"))
    assert card.transceive_frame(bytes.fromhex("e0803173")) == crc(bytes.fromhex("0578807002"))
    assert card.state == "PROTOCOL"


def test_i_blocks_carry_the_pcd_block_number_back():
    app = Echo()
    _, card = activated(app=app)
    assert card.transceive_frame(crc(b"\x02\x00\x84\x00\x00\x08")) == crc(
        b"\x02\x08\x00\x00\x84\x00\x90\x00")
    assert card.transceive_frame(crc(b"\x03\xab")) == crc(b"\x03\xab\x90\x00")
    assert app.seen == [b"\x00\x84\x00\x00\x08", b"\xab"]


def test_pcd_chaining_is_acknowledged_and_the_apdu_assembled():
    app = Echo()
    _, card = activated(app=app)
    assert card.transceive_frame(crc(b"\x12\x01\x02")) == crc(b"\xa2")
    assert card.transceive_frame(crc(b"\x03\x03")) == crc(b"\x03\x03\x02\x01\x90\x00")
    assert app.seen == [b"\x01\x02\x03"]


def test_picc_chains_a_long_answer_to_the_fsd():
    reply = bytes(range(20)) + b"\x90\x00"  # 22 bytes; FSD 16 -> 13 INF bytes per block
    _, card = activated(app=Echo(reply), rats=b"\xe0\x00")
    assert card.transceive_frame(crc(b"\x02\x00")) == crc(b"\x12" + reply[:13])
    assert card.transceive_frame(crc(b"\xa3")) == crc(b"\x03" + reply[13:])


def test_r_ack_with_the_current_block_number_resends_the_last_block():
    _, card = activated()
    first = card.transceive_frame(crc(b"\x02\x42"))
    assert card.transceive_frame(crc(b"\xa2")) == first


def test_r_nak_with_the_other_block_number_is_answered_with_r_ack():
    _, card = activated()
    card.transceive_frame(crc(b"\x02\x42"))
    assert card.transceive_frame(crc(b"\xb3")) == crc(b"\xa2")


def test_deselect_answers_and_halts():
    _, card = activated()
    assert card.transceive_frame(crc(b"\xc2")) == crc(b"\xc2")
    assert card.state == "HALT"


def test_card_with_a_cid_ignores_blocks_without_it():
    _, card = activated(rats=b"\xe0\x81")  # CID 1; default ATS TC1 = 02 (CID supported)
    assert card.transceive_frame(crc(b"\x02\x42")) is None
    assert card.transceive_frame(crc(b"\x0a\x01\x42")) == crc(b"\x0a\x01\x42\x90\x00")


def test_frame_longer_than_the_fsc_is_ignored():
    _, card = activated(ats=bytes.fromhex("0570807002"))  # FSCI 0: FSC 16
    assert card.transceive_frame(crc(b"\x02" + bytes(14))) is None
    assert card.transceive_frame(crc(b"\x02" + bytes(13))) is not None


def test_wtx_is_requested_before_the_answer():
    _, card = activated()
    card.wtx_rounds = 1
    assert card.transceive_frame(crc(b"\x02\x42")) == crc(b"\xf2\x01")
    assert card.transceive_frame(crc(b"\xf2\x01")) == crc(b"\x02\x42\x90\x00")


# -- leaving the field ------------------------------------------------------------------

def test_remove_after_apdu_answers_that_apdu_then_leaves():
    field, card = activated()
    card.remove_after_apdu = 2
    assert card.transceive_frame(crc(b"\x02\x01")) == crc(b"\x02\x01\x90\x00")
    assert card in field.cards
    assert card.transceive_frame(crc(b"\x03\x02")) == crc(b"\x03\x02\x90\x00")
    assert card not in field.cards and card.field is None


def test_remove_after_apdu_leaves_after_the_last_chained_block():
    reply = bytes(20) + b"\x90\x00"
    field, card = activated(app=Echo(reply), rats=b"\xe0\x00")
    card.remove_after_apdu = 1
    card.transceive_frame(crc(b"\x02\x00"))
    assert card in field.cards
    card.transceive_frame(crc(b"\xa3"))
    assert card not in field.cards


def test_tear_at_apdu_applies_the_command_but_loses_the_answer():
    app = Echo()
    field, card = activated(app=app)
    card.tear_at_apdu = 1
    assert card.transceive_frame(crc(b"\x02\x55")) is None
    assert app.seen == [b"\x55"]
    assert card not in field.cards and card.state == "OFF"


def test_apdus_are_counted_from_placement():
    field, card = activated()
    card.transceive_frame(crc(b"\x02\x01"))
    assert card.apdu_count == 1
    field.remove(card)
    field.place(card)
    assert card.apdu_count == 0


def test_field_clear_removes_every_card():
    field, card = placed()
    other = Card14443(UID7, Echo())
    field.place(other)
    field.clear()
    assert field.cards == [] and card.field is None and other.field is None
