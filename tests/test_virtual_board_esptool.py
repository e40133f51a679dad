"""The real esptool (v5, ROM loader, no stub) against the virtual board over socket://."""

import hashlib
import os
import random
import subprocess
import sys
import time

import pytest

from hw_sim.board.board import Board
from hw_sim.board.server import BoardServer
from hw_sim.flash import NorFlash

ESPTOOL = os.path.join(os.path.dirname(sys.executable), "esptool")
FLASH_SIZE = 4 << 20


@pytest.fixture
def rom_board():
    """A board powered on in ROM download mode, served on a free loopback port."""
    board = Board(NorFlash(FLASH_SIZE), name="esptool-test")
    server = BoardServer(board)
    board.power_on("rom")
    server.start(max_seconds=120)
    yield board, server
    server.stop()


def esptool(server, *args, timeout=60):
    cmd = [ESPTOOL, "--port", server.url, "--before", "no-reset", "--no-stub", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def mac_text(board):
    return ":".join("%02x" % b for b in board.mac)


def put(board, offset, data):
    """Bytes into the flash directly (erase + program), as a previous flashing left them."""
    for block in range(offset // 4096, -(-(offset + len(data)) // 4096)):
        board.flash.erase(block)
    board.flash.program(offset, data)


def wait_for(condition, timeout=20.0):
    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        time.sleep(0.02)
    return condition()


def test_chip_id_detects_an_esp32_and_reads_the_mac_instead(rom_board):
    board, server = rom_board
    r = esptool(server, "chip-id")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Detecting chip type... ESP32" in r.stdout
    assert "ESP32 has no chip ID" in r.stdout + r.stderr
    assert "MAC:                " + mac_text(board) in r.stdout


def test_read_mac_prints_the_mac_from_the_efuses(rom_board):
    board, server = rom_board
    r = esptool(server, "read-mac")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "MAC:                " + mac_text(board) in r.stdout


def test_flash_id_reports_the_jedec_id_and_the_board_flash_size(rom_board):
    _, server = rom_board
    r = esptool(server, "flash-id")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Manufacturer: ef" in r.stdout
    assert "Device: 4016" in r.stdout
    assert "Detected flash size: 4MB" in r.stdout


def test_write_flash_erases_then_writes_the_file_bytes(rom_board, tmp_path):
    board, server = rom_board
    data = random.Random(1).randbytes(70000)
    put(board, 0x10000, bytes(72 * 1024))  # old contents: zeros, which only an erase undoes
    image = tmp_path / "app.bin"
    image.write_bytes(data)
    r = esptool(server, "write-flash", "0x10000", str(image))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Hash of data verified." in r.stdout
    assert board.flash.read(0x10000, len(data)) == data
    assert board.flash.read(0x10000 + len(data), 16) == b"\xff" * 16


def test_write_flash_compressed_inflates_the_stream_into_flash(rom_board, tmp_path):
    board, server = rom_board
    rnd = random.Random(2)
    data = b"".join(bytes([rnd.randrange(4)]) * rnd.randrange(1, 200) for _ in range(900))
    image = tmp_path / "fs.bin"
    image.write_bytes(data)
    r = esptool(server, "write-flash", "-z", "0x300000", str(image))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "compressed" in r.stdout
    assert board.flash.read(0x300000, len(data)) == data


def test_verify_flash_matches_the_file_in_flash(rom_board, tmp_path):
    board, server = rom_board
    data = random.Random(3).randbytes(5000)
    put(board, 0x1000, data)
    image = tmp_path / "boot.bin"
    image.write_bytes(data)
    r = esptool(server, "verify-flash", "0x1000", str(image))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Verification successful (digest matched)." in r.stdout


def test_verify_flash_fails_when_the_file_differs_from_flash(rom_board, tmp_path):
    board, server = rom_board
    data = random.Random(4).randbytes(5000)
    put(board, 0x1000, data)
    changed = bytearray(data)
    changed[1234] ^= 0x01
    image = tmp_path / "boot.bin"
    image.write_bytes(bytes(changed))
    r = esptool(server, "verify-flash", "0x1000", str(image))
    assert r.returncode != 0
    assert "digest mismatch" in r.stdout + r.stderr
    assert board.flash.read(0x1000, len(data)) == data


def test_read_flash_reads_flash_bytes_through_the_rom(rom_board, tmp_path):
    board, server = rom_board
    data = random.Random(5).randbytes(300)
    put(board, 0x8000, data)
    out = tmp_path / "read.bin"
    r = esptool(server, "read-flash", "0x8000", "300", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert out.read_bytes() == data
    assert hashlib.md5(out.read_bytes()).digest() == hashlib.md5(data).digest()


def test_stub_only_erase_flash_is_refused_by_the_rom_and_leaves_flash_alone(rom_board):
    board, server = rom_board
    put(board, 0x10000, b"keep me")
    r = esptool(server, "erase-flash")
    assert r.returncode != 0
    assert board.flash.read(0x10000, 7) == b"keep me"


def test_after_soft_reset_leaves_download_mode_and_boots_micropython(rom_board):
    board, server = rom_board
    r = esptool(server, "--after", "soft-reset", "read-mac")
    assert r.returncode == 0, r.stdout + r.stderr
    assert wait_for(lambda: board.mode == "app" and board.busy is None)
    assert board.boots == ["rom", "hard"]
    assert board.repl.mode == "friendly"
