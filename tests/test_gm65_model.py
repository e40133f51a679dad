"""The GM65 QR scanner: frames byte for byte against the vendor manual's examples, the CRC,
the module model (hw_sim/gm65.py) answering the manual's examples and the commands two
published clients send, and the scenario events ``scan`` / ``scan_garbage``.

Sources of the byte strings (none computed here from our own code):

* GM65 user manual (Hangzhou Grow), 8.2 read zone bit: read 0x000A ->
  ``7E 00 07 01 00 0A 01 EE 8A``, answer ``02 00 00 01 3E E4 AC``; 8.3 write zone bit: 0x3E
  to 0x000A -> ``7E 00 08 01 00 0A 3E 4C CF``, answer ``02 00 00 01 00 33 31``; with CRC
  ``11 22``, or cut short, no answer; 8.4 save: ``7E 00 09 01 00 00 00 DE C8``.
* Newland's wiki, "Command Trigger Mode" (the same frame set): command mode
  ``7E 00 08 01 00 00 F5 CB 23``, start reading ``7E 00 08 01 00 02 01 02 DA``, read 0x0006
  ``7E 00 07 01 00 06 01 AB E7`` -> ``02 00 00 01 0F C2 DE``, no time limit
  ``7E 00 08 01 00 06 00 DE 3F``.
* A GM65-based scanner's manual (Hamlet HBCS2D100W, 8.4): the trigger with ``AB CD`` in
  place of the CRC, ``7E 00 08 01 00 02 01 AB CD``, answered ``02 00 00 01 00 33 31``.
* Clients we did not write: specter-diy ``src/hosts/qr.py`` (MicroPython, GM65: get/set
  with ``AB CD``, save, factory reset ``7E 00 09 01 00 00 02 FE 8A``) and an MIT Python
  module for Grow scanners (``class GM65``: ScanMode ``0xD5`` to zone 0x0000, a two-byte
  write of ``15 0D`` to 0x0082, its CRC from a lookup table).
"""

import binascii
import random

import pytest

from hw_sim import gm65 as model
from hw_sim.clock import VirtualClock
from hw_sim.scenario import Run, Scenario, ScenarioError
from ykt.drivers import gm65 as driver

H = bytes.fromhex
ACK = H("02 00 00 01 00 33 31")

MANUAL = [  # (what the host sends, what the module answers), from the sources above
    (H("7E 00 08 01 00 0A 3E 4C CF"), ACK),
    (H("7E 00 07 01 00 0A 01 EE 8A"), H("02 00 00 01 3E E4 AC")),
    (H("7E 00 08 01 00 0A 3E 11 22"), b""),  # CRC wrong
    (H("7E 00 09 01 00 00 00 DE C8"), ACK),
    (H("7E 00 08 01 00 06 0F 2B 00"), b""),  # CRC wrong (the right one is computed below)
    (H("7E 00 08 01 00 06 00 DE 3F"), ACK),
    (H("7E 00 07 01 00 06 01 AB E7"), H("02 00 00 01 00 33 31")),  # reads the 00 just written
    (H("7E 00 08 01 00 00 F5 CB 23"), ACK),
    (H("7E 00 08 01 00 02 01 AB CD"), ACK),
    (H("7E 00 08 01 00 02 01 02 DA"), ACK),
]


@pytest.mark.parametrize("frame", [f for f, _ in MANUAL if f[-2:] not in (H("11 22"),
                                                                           H("2B 00"),
                                                                           H("AB CD"))])
def test_every_source_frame_has_our_crc16_and_cpythons(frame):
    body = frame[2:-2]
    want = int.from_bytes(frame[-2:], "big")
    assert model.crc16(body) == want
    assert driver.crc16(body, 0, len(body)) == want
    assert binascii.crc_hqx(body, 0) == want  # CPython's CRC-CCITT (XMODEM), not ours


def test_answers_crc_cover_type_to_data():
    for answer in (ACK, H("02 00 00 01 3E E4 AC"), H("02 00 00 01 0F C2 DE")):
        assert binascii.crc_hqx(answer[2:-2], 0) == int.from_bytes(answer[-2:], "big")
        assert model.answer(answer[4:5]) == answer


def test_the_models_frame_builder_gives_the_manuals_frames():
    assert model.frame(model.WRITE, 0x000A, b"\x3e") == MANUAL[0][0]
    assert model.frame(model.READ, 0x000A, b"\x01") == MANUAL[1][0]
    assert model.frame(model.SAVE, 0x0000, b"\x00") == MANUAL[3][0]
    assert model.frame(model.WRITE, 0x0002, b"\x01") == H("7E 00 08 01 00 02 01 02 DA")


def later(m, ms=10):
    """What the module has sent ``ms`` from now (its answers take time on the line)."""
    m.clock.advance(ms * 1000)
    return m.uart_read()


def test_the_model_answers_the_manuals_examples_byte_for_byte():
    m = model.GM65Model(VirtualClock())
    for sent, answer in MANUAL:
        m.uart_write(sent)
        assert later(m) == answer, sent.hex(" ")


def test_the_module_sends_at_its_baud_rate_one_byte_after_another():
    clock = VirtualClock()
    m = model.GM65Model(clock, baud=115200)
    m.uart_write(model.frame(model.WRITE, 0, b"\xd6"))  # continuous
    assert later(m) == ACK
    m.present("A" * 1233, scan_ms=0)  # an RSA code's length, its CR the 1,234th byte
    clock.advance(53000)  # 10 bits a byte: 86.8 us each, 610 bytes by 53 ms
    assert m.uart_read() == b"A" * 610
    clock.advance(54200)
    assert m.uart_read() == b"A" * 623 + b"\r"
    assert m.zones[0x2A:0x2C] == b"\x1a\x00"  # 3,000,000 / 115,200, little-endian


def test_the_factory_speed_is_9600_baud():
    m = model.GM65Model(VirtualClock())
    m.uart_write(model.frame(model.READ, 0x002A, b"\x02"))
    assert later(m) == model.answer(b"\x39\x01")  # the manual's answer for 9600


def test_a_frame_cut_short_is_dropped_after_400_ms():
    clock = VirtualClock()
    m = model.GM65Model(clock)
    m.uart_write(H("7E 00 07 01 00 0A 01"))  # the manual's "length of command too short"
    clock.advance(401000)
    assert m.uart_read() == b""
    m.uart_write(H("7E 00 07 01 00 0A 01 EE 8A"))
    assert later(m) == model.answer(b"\x00")  # zone 0x000A is 0 on a fresh module
    m.uart_write(b"\x55\xaa\x00" + H("7E 00 08 01 00 0A 3E 4C CF"))  # noise before: skipped
    assert later(m) == ACK


def test_clients_we_did_not_write():
    m = model.GM65Model(VirtualClock())
    # specter-diy: get (AB CD), set, get again, save; its get takes the value from byte -3
    m.uart_write(H("7E 00 07 01 00 00 01 AB CD"))
    got = later(m)
    assert len(got) == 7 and got[:4] == H("02 00 00 01") and got[-3] == 0xD5
    m.uart_write(H("7E 00 08 01 00 00 D2 AB CD"))  # continuous mode, as it scans
    assert later(m) == ACK and m.mode == model.CONTINUOUS
    m.uart_write(H("7E 00 07 01 00 00 01 AB CD"))
    assert later(m)[-3] == 0xD2
    m.uart_write(H("7E 00 09 01 00 00 00 DE C8"))
    assert later(m) == ACK and m.saved[0] == 0xD2
    # the MIT module: ScanMode 0xD5 to 0x0000, then 15 0D to 0x0082 (two bytes, len 2)
    m.uart_write(H("7E 00 08 01 00 00 D5") + binascii.crc_hqx(H("08 01 00 00 D5"), 0)
                 .to_bytes(2, "big"))
    assert later(m) == ACK and m.mode == model.COMMAND
    body = H("08 02 00 82 15 0D")
    m.uart_write(H("7E 00") + body + binascii.crc_hqx(body, 0).to_bytes(2, "big"))
    assert later(m) == ACK and m.zones[0x82:0x84] == H("15 0D")


def test_the_drivers_frames_byte_for_byte():
    clock = VirtualClock()
    m = model.GM65Model(clock)

    class Line:  # the driver's UART straight onto the model (no simulator board)
        def __init__(self):
            self.rx = b""

        def write(self, data):
            m.uart_write(bytes(data))

        def any(self):
            self.rx += m.uart_read()
            return len(self.rx)

        def readinto(self, buf, n):
            k = min(n, len(self.rx), len(buf))
            buf[:k] = self.rx[:k]
            self.rx = self.rx[k:]
            return k

    import hw_sim.wiring as wiring

    wiring.Wiring(clock).activate()  # ykt.clock reads this clock
    qr = driver.GM65(Line(), driver.TRIGGER, read_ms=3000)
    assert qr.configure() == driver.OK
    assert qr.trigger() == driver.OK
    assert m.frames == [
        model.frame(model.READ, 0x0000, b"\x01"),
        H("7E 00 07 01 00 06 01 AB E7"),  # the Newland wiki's read of 0x0006
        model.frame(model.WRITE, 0x0006, b"\x1e"),  # 3000 ms in 100 ms steps
        H("7E 00 07 01 00 06 01 AB E7"),
        H("7E 00 08 01 00 02 01 02 DA"),  # the Newland wiki's start reading
    ]
    assert m.answers == [model.answer(b"\xd5"), model.answer(b"\x32"), ACK,
                         model.answer(b"\x1e"), ACK]
    # a frame the line corrupted: the module ignores a wrong CRC, the driver says no reply
    qr._frame[7] ^= 1
    qr._uart.write(qr._frame)
    assert qr._answer() == driver.NO_REPLY


def _scenario(events, board="devkitc-venue-gate"):
    return {"terminals": [{"id": "G1", "role": "fixed_fare", "board": board,
                           "config": {"fare_fen": 300}}],
            "cards": [{"name": "a", "number": "31012300000000000001", "balance_fen": 1000}],
            "events": events}


@pytest.mark.parametrize("event, message", [
    ({"at": 1, "scan": ""}, "'scan' must be the code's text"),
    ({"at": 1, "scan": "A\rB"}, "'scan' must be the code's text"),
    ({"at": 1, "scan": 7}, "'scan' must be the code's text"),
    ({"at": 1, "scan_garbage": 0}, "'scan_garbage' must be a number of bytes"),
    ({"at": 1, "scan": "A", "scan_ms": 0}, "'scan_ms' must be a positive whole number"),
    ({"at": 1, "scan": "A", "gap_ms": 3}, "gap_ms: not a key here; it belongs to a 'keys'"),
    ({"at": 1, "scan": "A", "hold": 1}, "hold: unknown key; did you mean hold_ms?"),
])
def test_scan_events_are_checked(event, message):
    with pytest.raises(ScenarioError) as e:
        Scenario(_scenario([event]), "s.json")
    assert message in str(e.value)


def test_a_board_without_a_scanner_refuses_a_scan():
    with pytest.raises(ScenarioError, match="G1 has no QR scanner"):
        Run(_scenario([{"at": 1, "scan": "A"}], board="devkitc-turnstile"), "s.json")


def test_scan_events_reach_the_scanner_on_virtual_time():
    run = Run(_scenario([{"at": 1, "terminal": "G1", "scan": "VENUE-7", "scan_ms": 250},
                         {"at": 3, "terminal": "G1", "scan_garbage": 12, "hold_ms": 400}]),
              "s.json")
    scanner = run.terms["G1"].scanner
    clock = run.terms["G1"].clock
    # the firmware's role does not use the scanner yet: switch it to continuous mode by hand
    scanner.uart_write(model.frame(model.WRITE, 0, b"\xd6"))
    assert later(scanner) == ACK
    clock.advance(4 * 10**6)
    assert [(at, len(data)) for at, data in scanner.sent] == [(1250000, 8), (3150000, 12)]
    assert scanner.sent[0][1] == b"VENUE-7\r"
    assert scanner.uart_read()[:8] == b"VENUE-7\r"


def test_trigger_mode_reads_once_and_times_out():
    clock = VirtualClock()
    m = model.GM65Model(clock)
    m.uart_write(model.frame(model.WRITE, 0x0006, b"\x05"))  # 500 ms readings
    m.present("EARLY", hold_ms=2000)
    clock.advance(100000)
    m.uart_write(model.frame(model.WRITE, 0x0002, b"\x01"))
    clock.advance(149000)
    assert m.uart_read() == ACK + ACK
    clock.advance(1000)
    assert later(m, 7) == b"EARLY\r" and m.zones[2] == 0  # bit 0 cleared after the code
    m.uart_write(model.frame(model.WRITE, 0x0002, b"\x01"))
    clock.advance(600000)
    m.present("LATE")  # the reading ended at 500 ms
    clock.advance(10**6)
    assert m.uart_read() == ACK and m.zones[2] == 0


def test_garbage_is_random_but_fixed():
    def run():
        m = model.GM65Model(VirtualClock())
        m.uart_write(model.frame(model.WRITE, 0, b"\xd6"))
        later(m)
        m.present_garbage(64, scan_ms=0)
        return later(m, 100)

    a = run()
    assert a == run() and len(a) == 64 and a != bytes(64)
    assert random.Random(65).randrange(256) == a[0]


def test_the_venue_gate_board_checks_and_fits_a_gate():
    from host_tools.lib.boardcheck import check, role_fit
    from host_tools.lib.boards import load

    board = load("devkitc-venue-gate")
    assert [m for level, m in check(board) if level == "error"] == []
    assert role_fit(board, "gate") is None
    clash = dict(board, qr=dict(board["qr"], uart={"id": 1, "tx": 14, "rx": 35}))
    assert any("14" in m for level, m in check(clash) if level == "error")


def test_a_power_cut_restarts_the_module_from_its_eeprom():
    from host_tools.lib.boards import load
    from hw_sim.terminal import SimTerminal

    sim = SimTerminal(load("devkitc-venue-gate"))
    m = sim.scanner
    m.uart_write(model.frame(model.WRITE, 0, b"\xd6"))  # continuous, not saved
    m.uart_write(model.frame(model.WRITE, 6, b"\x0a"))
    m.uart_write(model.frame(model.SAVE, 0, b"\x00"))  # saved with both
    m.uart_write(model.frame(model.WRITE, 6, b"\x14"))  # changed again, not saved
    m.present("LOST", hold_ms=5000)
    sim.power_cycle()
    assert sim.scanner is m and m.zones[0] == 0xD6 and m.zones[6] == 0x0A
    assert m.uart_read() == b""  # what was on the line, and the code in view, are gone


def test_the_board_reader_builds_the_driver_from_the_board_file():
    from host_tools.lib.boards import load
    from hw_sim.terminal import SimTerminal
    from ykt import board as yboard

    board = load("devkitc-venue-gate")
    SimTerminal(board).activate()
    qr = yboard.qr(board)
    assert (qr.mode, qr.read_ms, len(qr._buf)) == (driver.TRIGGER, 5000, 1536)
    qr = yboard.qr(dict(board, qr={"uart": board["qr"]["uart"], "mode": "continuous"}))
    assert (qr.mode, qr.read_ms) == (driver.CONTINUOUS, 5000)
    assert yboard.qr(load("devkitc-turnstile")) is None


def test_the_venue_boards_uart_holds_a_whole_rsa_code(monkeypatch):
    from host_tools.lib.boards import load
    from hw_sim.terminal import SimTerminal
    from ykt import board as yboard

    made = []
    real = yboard.machine.UART

    def uart(*a, **kw):
        made.append((a, kw))
        return real(*a, **kw)

    board = load("devkitc-venue-gate")
    SimTerminal(board).activate()
    monkeypatch.setattr(yboard.machine, "UART", uart)
    qr = yboard.qr(board)
    (uid, baud), kw = made[0]
    assert (uid, baud, kw["rxbuf"]) == (1, 115200, 2048)
    assert kw["rxbuf"] >= 1234 and len(qr._buf) >= 1234  # "YK1:" + 1,230 base45 characters
