"""The PN532 driver files on the real MicroPython VM.

Each file compiles with ``mpy-cross -march=xtensawin`` (the ESP32 target), and
``tests/vm/pn532_transports.py`` runs the driver over all three transports on the unix port
with a 96 KB heap: a tiny chip fake written for MicroPython answers GetFirmwareVersion,
InListPassiveTarget and InDataExchange (MI chaining, status 0x2B), so the
memoryview/bytearray idioms the driver uses are checked where they must work.
"""

import os
import subprocess

import pytest
import vmscripts

from host_tools.lib.build import mpy_cross

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ["ykt/drivers/pn532.py", "ykt/drivers/pn532_spi.py", "ykt/drivers/pn532_i2c.py",
         "ykt/drivers/pn532_uart.py", "ykt/isodep.py"]


@pytest.mark.parametrize("path", FILES)
def test_compiles_for_esp32(tmp_path, path):
    out = tmp_path / "x.mpy"
    r = subprocess.run([mpy_cross(), "-march=xtensawin", "-o", str(out),
                        os.path.join(ROOT, "firmware", path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 0


def test_runs_on_micropython_vm():
    r = vmscripts.run("pn532_transports")
    assert r.returncode == 0, r.stdout + r.stderr
    # only I2C needs NACKs: its 64-byte reads fall short of the 200+ byte frames
    assert r.stdout.split() == ["spi", "ok", "0", "i2c", "ok", "4", "uart", "ok", "0"]
