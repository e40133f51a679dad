"""firmware/manifest.py: MicroPython's freeze manifest, carrying the firmware's version."""

import re

import pytest

from host_tools import cli
from host_tools.lib.build import MANIFEST, BuildError, firmware_version, sources


def test_the_manifest_carries_the_firmware_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+", firmware_version())


def test_the_manifest_freezes_the_ykt_package():
    with open(MANIFEST, encoding="utf-8") as f:
        text = f.read()
    assert 'package("ykt", opt=3)' in text
    assert 'include("$(PORT_DIR)/boards/manifest.py")' in text


def test_the_manifest_is_not_a_firmware_module():
    assert "manifest.py" not in sources()
    assert "ykt/main.py" in sources()


def test_ykt_build_reports_the_version_and_compiles_no_manifest(tmp_path, capsys):
    assert cli.main(["build", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("firmware %s: built " % firmware_version())
    assert (tmp_path / "ykt" / "main.mpy").exists()
    assert not (tmp_path / "manifest.mpy").exists()


def test_a_manifest_without_a_version_is_refused(tmp_path):
    bad = tmp_path / "manifest.py"
    bad.write_text('package("ykt")\n')
    with pytest.raises(BuildError, match="no metadata"):
        firmware_version(str(bad))
