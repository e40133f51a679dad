"""`ykt flash` with three ports: three virtual ESP32s flashed in parallel by the real
esptool, one of which loses power in the middle of writing the image.

The failing board's flash is armed with ``NorFlash.cut_at`` to die a few
dozen program operations into the vfs data (after FLASH_DEFL_BEGIN has erased
the partition); the board switches itself off (docs/virtual-board.md) and this
test's server then closes the connection, as a USB-serial adapter vanishes
when the board loses power.
"""

import json
import random
import re

import pytest
from hostkit import start_board, ykt

from hw_sim.board.server import BoardServer

BOARD = "devkitc-turnstile"
VFS, FIRMWARE = 0x200000, 0x1000
VFS_BLOCKS = 512  # FLASH_DEFL_BEGIN erases the 2 MB partition: 512 operations


class PowerLossServer(BoardServer):
    """Drops the host connection once the board has switched off."""

    def _step(self):
        super()._step()
        if self.board.mode == "off" and self.client is not None:
            self._drop()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    w = tmp_path_factory.mktemp("fleet")
    master = w / "master.json"
    assert ykt("provision", "--new-master-key-file", master).returncode == 0
    images = []
    for i in range(3):  # three terminals: each board its own identity
        config, image = w / ("config-%d.json" % i), w / ("vfs-%d.img" % i)
        assert ykt("provision", "--board", BOARD, "--terminal-id", "29003100020%d" % i,
                   "--role", "gate", "--station", 3, "--master-key-file", master, "--out",
                   config).returncode == 0
        assert ykt("image", "--board", BOARD, "--config", config, "--out",
                   image).returncode == 0
        images.append(image)
    firmware = w / "micropython.bin"
    firmware.write_bytes(random.Random(7).randbytes(64 * 1024))
    boards = []
    try:
        for i in range(3):
            cls = PowerLossServer if i == 1 else BoardServer
            boards.append(start_board(mode="rom", name="fleet-%d" % i, server_cls=cls))
        boards[1][0].flash.cut_at(VFS_BLOCKS + 20, partial=100)
        ports = [server.url for _, server in boards]
        run = ykt("flash", "--board", BOARD,
                  *[a for p, img in zip(ports, images) for a in ("--port", "%s=%s" % (p, img))],
                  "--firmware", firmware, "--report", w / "report.json")
    finally:
        for _, server in boards:
            server.stop()
    report = {d["port"]: d for d in json.loads((w / "report.json").read_text())["devices"]}
    return dict(run=run, boards=[b for b, _ in boards], ports=ports, report=report,
                images=[img.read_bytes() for img in images], firmware=firmware.read_bytes())


def test_flash_exits_1_when_one_device_failed(fleet):
    assert fleet["run"].returncode == 1, fleet["run"].stdout + fleet["run"].stderr


def test_report_names_the_failed_port_with_esptools_reason(fleet):
    failed = fleet["ports"][1]
    assert fleet["report"][failed]["result"] == "FAILED"
    assert fleet["report"][failed]["reason"] == ("write-flash: A serial exception error "
                                                 "occurred: read failed: socket disconnected")
    assert re.search(re.escape(failed) + r"\s+mac \S+\s+FAILED", fleet["run"].stdout)


def test_the_other_two_boards_are_flashed_and_verified(fleet):
    for i in (0, 2):
        dev = fleet["report"][fleet["ports"][i]]
        assert dev["result"] == "OK"
        flash = fleet["boards"][i].flash
        assert flash.read(VFS, len(fleet["images"][i])) == fleet["images"][i]
        assert flash.read(FIRMWARE, len(fleet["firmware"])) == fleet["firmware"]


def test_the_failed_board_holds_an_incomplete_image(fleet):
    board = fleet["boards"][1]
    board.flash.power_on()
    assert board.flash.read(VFS, len(fleet["images"][1])) != fleet["images"][1]


def test_each_port_gets_its_own_progress_lines(fleet):
    out = fleet["run"].stdout
    for port in fleet["ports"]:
        assert re.search(re.escape(port) + r"\s+\[[#.]+\]\s+\d+\.\d%\s+writing vfs", out)


def test_report_gives_each_ok_device_its_mac(fleet):
    for i in (0, 2):
        mac = ":".join("%02x" % b for b in fleet["boards"][i].mac)
        assert fleet["report"][fleet["ports"][i]]["mac"] == mac
