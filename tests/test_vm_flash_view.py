"""The MicroPython VM's view of its flash (NorFlash.share, hw_sim/vm/flashdev.py): the VM
reads the file and writes its own programs and erases into it as it posts them, so the
simulator's flash stays the truth and the view never waits for it."""

import os

import pytest

from hw_sim.flash import NorFlash


def test_sharing_gives_the_vm_the_flash_as_it_is():
    flash = NorFlash(8192)
    flash.program(10, b"\x12\x34")
    fd = flash.share(None)
    assert os.pread(fd, 8192, 0) == flash.image()


def test_sharing_again_drops_what_a_vm_wrote_ahead_of_a_power_cut():
    flash = NorFlash(8192)
    fd = flash.share(None)
    os.pwrite(fd, b"\x00" * 16, 4096)  # the dead VM's write the flash never took
    assert flash.share(None) == fd
    assert os.pread(fd, 8192, 0) == b"\xff" * 8192


def test_a_program_over_programmed_bits_is_refused_because_the_view_would_differ():
    flash = NorFlash(8192)
    flash.program(0, b"\x0f")
    with pytest.raises(ValueError, match="programmed bits at 0x0"):
        flash.vm_check(0, b"\xf0")


def test_a_program_of_erased_space_is_what_the_view_takes():
    flash = NorFlash(8192)
    flash.program(0, b"\x0f")
    flash.vm_check(0, b"\x0f")  # the same bits again: the AND is the data
    flash.vm_check(1, b"\x00\x5a")
