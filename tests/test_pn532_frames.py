"""The PN532 chip model at the byte level (UM0701 §6-7), mostly over the UART transport."""

from hw_sim.clock import VirtualClock
from hw_sim.iso14443 import Card14443, Field, crc_a
from hw_sim.pn532 import PN532, PN532I2C, PN532SPI, PN532UART

ACK = bytes.fromhex("0000ff00ff00")
NACK = bytes.fromhex("0000ffff0000")
ERROR = bytes.fromhex("0000ff01ff7f8100")
GET_FIRMWARE = bytes.fromhex("0000ff02fed4022a00")
FIRMWARE = bytes.fromhex("0000ff06fad50332010607e800")
UID4 = bytes.fromhex("11223344")
UID7 = bytes.fromhex("04112233445566")
ATS = bytes.fromhex("0578807002")


def frame(body):
    """Information frame around TFI+data (test-side, by the UM0701 §6.2.1 recipe)."""
    n = len(body)
    if n > 255:
        head = bytes([0, 0, 0xFF, 0xFF, 0xFF, n >> 8, n & 0xFF, -((n >> 8) + n) & 0xFF])
    else:
        head = bytes([0, 0, 0xFF, n, -n & 0xFF])
    return head + body + bytes([-sum(body) & 0xFF, 0])


def cmd(hexstr):
    return frame(bytes.fromhex("d4" + hexstr))


def rsp(hexstr):
    return frame(bytes.fromhex("d5" + hexstr))


class Echo:
    def __init__(self, reply=None):
        self.seen = []
        self.reply = reply

    def process(self, apdu):
        self.seen.append(apdu)
        return self.reply if self.reply is not None else apdu[::-1] + b"\x90\x00"


class Rig:
    def __init__(self):
        self.clock = VirtualClock()
        self.field = Field()
        self.chip = PN532(self.clock, self.field)
        self.uart = PN532UART(self.chip)

    def card(self, uid=UID4, app=None, **kw):
        card = Card14443(uid, app or Echo(), **kw)
        self.field.place(card)
        return card

    def send(self, data, wait_us=200_000):
        """Write ``data`` and return everything the chip sends within ``wait_us``."""
        self.uart.uart_write(data)
        self.clock.advance(wait_us)
        return self.uart.uart_read()

    def call(self, hexstr):
        out = self.send(cmd(hexstr))
        assert out.startswith(ACK)
        return out[len(ACK):]


def test_get_firmware_version_exact_bytes():
    rig = Rig()
    assert rig.send(GET_FIRMWARE) == ACK + FIRMWARE


def test_ack_comes_before_the_response_is_ready():
    rig = Rig()
    rig.uart.uart_write(GET_FIRMWARE)
    assert rig.uart.uart_read() == b""
    rig.clock.advance(200)
    assert rig.uart.uart_read() == ACK
    rig.clock.advance(800)
    assert rig.uart.uart_read() == FIRMWARE


def test_garbage_and_wakeup_preamble_are_skipped():
    rig = Rig()
    noise = bytes.fromhex("5555") + bytes(15) + bytes.fromhex("ff13ff0000")
    assert rig.send(noise + GET_FIRMWARE) == ACK + FIRMWARE


def test_frame_split_across_writes_is_reassembled():
    rig = Rig()
    rig.send(GET_FIRMWARE[:4], 0)
    assert rig.send(GET_FIRMWARE[4:]) == ACK + FIRMWARE


def test_extended_frame_diagnose_echo_both_ways():
    rig = Rig()
    data = bytes(i & 0xFF for i in range(263))
    body = b"\xd4\x00" + data                       # 265 bytes: LEN 0x0109
    host = bytes.fromhex("0000ffffff0109f6") + body + bytes([-sum(body) & 0xFF, 0])
    echo = b"\xd5\x01" + data
    expected = bytes.fromhex("0000ffffff0109f6") + echo + bytes([-sum(echo) & 0xFF, 0])
    assert rig.send(host) == ACK + expected


def test_unknown_command_is_acked_then_answered_with_the_error_frame():
    rig = Rig()
    assert rig.send(cmd("70")) == ACK + ERROR


def test_bad_length_checksum_gets_no_ack():
    rig = Rig()
    bad = bytearray(GET_FIRMWARE)
    bad[4] ^= 0x01
    assert rig.send(bytes(bad)) == b""
    assert rig.send(GET_FIRMWARE) == ACK + FIRMWARE


def test_bad_data_checksum_gets_no_ack():
    rig = Rig()
    bad = bytearray(GET_FIRMWARE)
    bad[7] ^= 0x01
    assert rig.send(bytes(bad)) == b""
    assert rig.chip.commands == []


def test_nack_resends_the_last_response():
    rig = Rig()
    rig.send(GET_FIRMWARE)
    assert rig.send(NACK) == FIRMWARE


def test_host_ack_aborts_a_pending_poll():
    rig = Rig()
    assert rig.send(cmd("4a0100")) == ACK                 # no card: pending
    assert rig.send(ACK) == b""
    rig.card()
    assert rig.send(b"", 1_000_000) == b""


def test_new_command_aborts_a_pending_poll():
    rig = Rig()
    rig.send(cmd("4a0100"))
    assert rig.send(GET_FIRMWARE) == ACK + FIRMWARE
    rig.card()
    assert rig.send(b"", 1_000_000) == b""


def test_endless_retries_keep_the_poll_pending_until_a_card_arrives():
    rig = Rig()
    assert rig.send(cmd("4a0100"), 5_000_000) == ACK
    at = rig.clock.now_us() + 30_000
    rig.clock.schedule(at, lambda: rig.card())
    rig.clock.advance(30_000)
    assert rig.uart.uart_read() == b""                     # answer needs activation time
    rig.clock.advance(20_000)
    assert rig.uart.uart_read() == rsp("4b 01 01 0004 20 04 11223344" + ATS.hex())


def test_finite_retries_answer_no_target():
    rig = Rig()
    assert rig.call("320501ff02") == rsp("33")              # MxRtyPassiveActivation = 2
    assert rig.call("4a0100") == rsp("4b00")


def test_fifo_reads_reqa_after_an_empty_poll():
    rig = Rig()
    rig.call("3205 000000")
    rig.call("4a0100")
    assert rig.call("066339") == rsp("0726")


def test_seven_byte_uid_is_listed_with_sens_res_msb_first():
    rig = Rig()
    rig.card(UID7)
    assert rig.call("4a0100") == rsp("4b 01 01 0044 20 07" + UID7.hex() + ATS.hex())


def test_poll_sends_reqa_anticollision_select_and_rats_to_the_card():
    rig = Rig()
    card = rig.card()
    rig.call("4a0100")
    select = bytes.fromhex("93701122334444")
    sent = [f for d, f in card.trace if d == ">"]
    assert sent == [b"\x26", b"\x93\x20", select + crc_a(select), bytes.fromhex("e0803173")]


def test_two_cards_with_maxtg_2_are_both_listed():
    rig = Rig()
    rig.card(bytes.fromhex("11223344"))
    rig.card(bytes.fromhex("10223344"))
    out = rig.call("4a0200")
    assert out == rsp("4b 02"
                      "01 0004 20 04 11223344" + ATS.hex() +
                      "02 0004 20 04 10223344" + ATS.hex())


def test_two_cards_with_maxtg_1_resolve_to_the_one_with_bit_1_at_the_collision():
    rig = Rig()
    low = rig.card(bytes.fromhex("10223344"))
    rig.card(bytes.fromhex("11223344"))
    assert rig.call("4a0100") == rsp("4b 01 01 0004 20 04 11223344" + ATS.hex())
    assert low.state == "IDLE"


def test_initiator_uid_selects_that_card():
    rig = Rig()
    rig.card(bytes.fromhex("11223344"))
    rig.card(bytes.fromhex("10223344"))
    assert rig.call("4a0100 10223344") == rsp("4b 01 01 0004 20 04 10223344" + ATS.hex())


def test_in_data_exchange_runs_the_apdu_over_iso_dep():
    rig = Rig()
    app = Echo()
    card = rig.card(app=app)
    rig.call("4a0100")
    assert rig.call("4001 00a40400") == rsp("4100 0004a400 9000")
    assert app.seen == [bytes.fromhex("00a40400")]
    block = bytes.fromhex("0200a40400")
    assert card.trace[-2] == (">", block + crc_a(block))


def test_in_data_exchange_chains_to_the_card_fsc():
    rig = Rig()
    app = Echo()
    card = rig.card(app=app, ats=bytes.fromhex("0572807002"))  # FSC 32
    rig.call("4a0100")
    apdu = bytes(range(70))
    assert rig.call("4001" + apdu.hex()) == rsp("4100" + (apdu[::-1] + b"\x90\x00").hex())
    pcbs = [f[0] for d, f in card.trace if d == ">"][-3:]
    sizes = [len(f) for d, f in card.trace if d == ">"][-3:]
    assert pcbs == [0x12, 0x13, 0x02] and sizes == [32, 32, 15]  # 29 + 29 + 12 INF bytes
    assert app.seen == [apdu]


def test_long_answer_comes_to_the_host_in_mi_parts():
    rig = Rig()
    reply = bytes(i & 0xFF for i in range(298)) + b"\x90\x00"
    rig.card(app=Echo(reply))
    rig.call("4a0100")
    assert rig.call("4001 00b00000") == frame(b"\xd5\x41\x40" + reply[:262])
    assert rig.call("4001") == rsp("4100" + reply[262:].hex())


def test_host_mi_chaining_is_sent_to_the_card_as_one_apdu():
    rig = Rig()
    app = Echo()
    rig.card(app=app)
    rig.call("4a0100")
    assert rig.call("4041 0102") == rsp("4100")
    assert rig.call("4001 03") == rsp("4100 030201 9000")
    assert app.seen == [b"\x01\x02\x03"]


def test_in_data_exchange_with_the_card_removed_times_out():
    rig = Rig()
    card = rig.card()
    rig.call("4a0100")
    rig.field.remove(card)
    assert rig.call("4001 00a40400") == rsp("4101")


def test_torn_apdu_times_out_after_the_card_ran_it():
    rig = Rig()
    app = Echo()
    card = rig.card(app=app)
    card.tear_at_apdu = 1
    rig.call("4a0100")
    assert rig.call("4001 00dc0000") == rsp("4101")
    assert app.seen == [bytes.fromhex("00dc0000")]


def test_in_communicate_thru_passes_raw_frames_without_auto_rats():
    rig = Rig()
    rig.card()
    assert rig.call("1200") == rsp("13")
    assert rig.call("4a0100") == rsp("4b 01 01 0004 20 04 11223344")
    assert rig.call("42 e080") == rsp("4300" + ATS.hex())
    assert rig.call("42 02 0102") == rsp("4300 02 0201 9000")


def test_in_release_deselects_and_forgets_the_target():
    rig = Rig()
    card = rig.card()
    rig.call("4a0100")
    assert rig.call("5201") == rsp("5300")
    assert card.state == "HALT"
    assert rig.call("4001 00") == rsp("4127")


def test_repeat_poll_finds_a_card_still_on_the_reader():
    rig = Rig()
    rig.card()
    rig.call("4a0100")
    rig.call("5200")
    assert rig.call("4a0100") == rsp("4b 01 01 0004 20 04 11223344" + ATS.hex())


def test_general_status_lists_the_target():
    rig = Rig()
    rig.card()
    rig.call("4a0100")
    assert rig.call("04") == rsp("05 00 00 01 01000000 00")


def test_set_serial_baudrate_switches_after_the_host_ack():
    rig = Rig()
    assert rig.call("1007") == rsp("11")
    assert rig.uart.baudrate == 115200
    assert rig.send(ACK) == b""
    assert rig.uart.baudrate == 921600


def test_write_then_read_register():
    rig = Rig()
    assert rig.call("08 6302 00") == rsp("09")
    assert rig.call("06 6302 6303") == rsp("07 00 80")


def test_irq_is_low_only_while_a_frame_is_ready():
    rig = Rig()
    rig.uart.uart_write(GET_FIRMWARE)
    assert rig.chip.irq_level() == 1
    rig.clock.advance(200)
    assert rig.chip.irq_level() == 0
    rig.uart.uart_read()
    assert rig.chip.irq_level() == 1


# -- I2C -------------------------------------------------------------------------------

def test_i2c_status_only_read_does_not_consume_the_frame():
    rig = Rig()
    i2c = PN532I2C(rig.chip)
    assert i2c.i2c_address == 0x24
    i2c.i2c_write(b"")                                     # address probe
    i2c.i2c_write(GET_FIRMWARE)
    assert i2c.i2c_read(1) == b"\x00"
    rig.clock.advance(200)
    assert i2c.i2c_read(1) == b"\x01"
    assert i2c.i2c_read(1) == b"\x01"
    assert i2c.i2c_read(7) == b"\x01" + ACK
    assert i2c.i2c_read(1) == b"\x00"
    rig.clock.advance(1000)
    assert i2c.i2c_read(16) == b"\x01" + FIRMWARE + bytes(2)


def test_i2c_write_with_a_cut_frame_is_dropped():
    rig = Rig()
    i2c = PN532I2C(rig.chip)
    i2c.i2c_write(GET_FIRMWARE[:6])
    i2c.i2c_write(GET_FIRMWARE[6:])
    rig.clock.advance(10_000)
    assert i2c.i2c_read(1) == b"\x00"


# -- SPI -------------------------------------------------------------------------------

def spi_tx(spi, mosi):
    spi.spi_select(True)
    miso = spi.spi_transfer(mosi)
    spi.spi_select(False)
    return miso


def test_spi_is_lsb_first_with_dw_sr_dr():
    rig = Rig()
    spi = PN532SPI(rig.chip)
    assert spi.spi_firstbit == "LSB"
    spi_tx(spi, b"\x01" + GET_FIRMWARE)
    assert spi_tx(spi, b"\x02\x00") == b"\x00\x00"
    rig.clock.advance(200)
    assert spi_tx(spi, b"\x02\x00")[1] == 0x01
    assert spi_tx(spi, b"\x03" + bytes(6))[1:] == ACK
    assert spi_tx(spi, b"\x02\x00")[1] == 0x00
    rig.clock.advance(1000)
    assert spi_tx(spi, b"\x03" + bytes(20))[1:] == FIRMWARE + bytes(7)


def test_spi_read_pointer_survives_chunked_reads_like_libnfc():
    rig = Rig()
    spi = PN532SPI(rig.chip)
    spi_tx(spi, b"\x01" + GET_FIRMWARE)
    rig.clock.advance(200)
    spi_tx(spi, b"\x03" + bytes(6))                        # the ACK
    rig.clock.advance(1000)
    got = spi_tx(spi, b"\x03" + bytes(4))[1:]              # 00 00 FF 06
    assert spi_tx(spi, b"\x00") == bytes([FIRMWARE[4]])    # peek: no shift without DR
    got += spi_tx(spi, b"\x03" + bytes(3))                 # op slot carries that byte
    got += spi_tx(spi, b"\x03" + bytes(4))
    assert got == FIRMWARE
    assert spi_tx(spi, b"\x02\x00")[1] == 0x00


def test_spi_split_transfers_in_one_select_form_one_frame():
    rig = Rig()
    spi = PN532SPI(rig.chip)
    spi.spi_select(True)
    spi.spi_transfer(b"\x01" + GET_FIRMWARE[:3])
    spi.spi_transfer(GET_FIRMWARE[3:])
    spi.spi_select(False)
    rig.clock.advance(2000)
    assert spi_tx(spi, b"\x03" + bytes(6))[1:] == ACK


def ready_after(rig, hexstr):
    """Virtual microseconds from the command frame until its response is readable."""
    rig.uart.uart_write(cmd(hexstr))
    start = rig.clock.now_us()
    while rig.uart.uart_read()[-2:] != bytes([-sum(b"\xd5\x4b\x00") & 0xFF, 0]):
        rig.clock.advance(100)
    return rig.clock.now_us() - start


def test_each_passive_retry_adds_one_attempt_time():
    few, many = Rig(), Rig()
    few.call("3205 ffff00")
    many.call("3205 ffff05")
    assert ready_after(many, "4a0100") - ready_after(few, "4a0100") == 5 * 1000


def test_card_placed_during_a_finite_poll_is_found():
    rig = Rig()
    rig.call("3205 ffff20")                                 # 33 attempts: about 35 ms
    rig.uart.uart_write(cmd("4a0100"))
    rig.clock.advance(5_000)
    rig.card()
    rig.clock.advance(200_000)
    assert rig.uart.uart_read() == ACK + rsp("4b 01 01 0004 20 04 11223344" + ATS.hex())


def test_deselected_target_is_woken_with_wupa_for_the_next_exchange():
    rig = Rig()
    card = rig.card()
    rig.call("4a0100")
    assert rig.call("4401") == rsp("4500")
    assert card.state == "HALT"
    assert rig.call("4001 0102") == rsp("4100 0201 9000")
    select, block = bytes.fromhex("93701122334444"), b"\x02\x01\x02"
    sent = [f for d, f in card.trace if d == ">"]
    assert sent[-4:] == [b"\x52", select + crc_a(select), bytes.fromhex("e0803173"),
                         block + crc_a(block)]


def test_second_target_is_addressed_with_its_cid():
    rig = Rig()
    rig.card(bytes.fromhex("11223344"))
    second = rig.card(bytes.fromhex("10223344"))
    rig.call("4a0200")
    assert rig.call("4002 0102") == rsp("4100 0201 9000")
    block = bytes.fromhex("0a01 0102")                      # I-block, CID 1 follows
    assert (">", block + crc_a(block)) in second.trace


def test_card_wtx_request_is_confirmed_by_the_chip():
    rig = Rig()
    card = rig.card()
    card.wtx_rounds = 1
    rig.call("4a0100")
    assert rig.call("4001 0102") == rsp("4100 0201 9000")
    assert (">", b"\xf2\x01" + crc_a(b"\xf2\x01")) in card.trace


def test_power_down_answers_and_switches_the_carrier_off():
    rig = Rig()
    card = rig.card()
    rig.call("4a0100")
    assert rig.call("16b000") == rsp("1700")
    assert not rig.field.rf_on and card.state == "OFF"
    assert rig.call("066304") == rsp("0780")               # CIU_TxControl: Tx1/Tx2RFEn off


def test_presence_check_answers_while_the_card_is_there():
    rig = Rig()
    card = rig.card()
    rig.call("4a0100")
    rig.call("4001 0102")
    assert rig.call("0006") == rsp("0100")
    rig.field.remove(card)
    assert rig.call("0006") == rsp("0101")


def test_irq_stays_high_when_sam_configuration_disables_it():
    rig = Rig()
    rig.call("14010000")
    rig.uart.uart_write(GET_FIRMWARE)
    rig.clock.advance(2000)
    assert rig.chip.irq_level() == 1
