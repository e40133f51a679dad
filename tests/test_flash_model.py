"""The simulated NOR flash: bit semantics, operation counting, power cuts, block-device protocol."""

import pytest

from hw_sim.flash import NorFlash, PowerCut

BS = 4096


def test_new_flash_reads_erased():
    flash = NorFlash(4 * BS)
    assert flash.read(0, 4 * BS) == b"\xff" * (4 * BS)


def test_program_only_clears_bits():
    flash = NorFlash(BS)
    flash.program(10, b"\x0f\xf0")
    flash.program(10, b"\x3c\x3c")
    assert flash.read(10, 2) == b"\x0c\x30"


def test_erase_sets_whole_block_to_ff_and_leaves_neighbours():
    flash = NorFlash(3 * BS)
    flash.program(0, b"\x00" * (3 * BS))
    flash.erase(1)
    assert flash.read(BS, BS) == b"\xff" * BS
    assert flash.read(0, BS) == b"\x00" * BS
    assert flash.read(2 * BS, BS) == b"\x00" * BS


def test_program_and_erase_each_count_one_op():
    flash = NorFlash(2 * BS)
    flash.program(0, b"\x00" * 300)
    flash.erase(1)
    flash.read(0, 10)
    assert (flash.ops, flash.programs, flash.erases) == (2, 1, 1)


def test_op_log_records_programs_and_erases():
    flash = NorFlash(2 * BS, log=True)
    flash.program(64, b"\x00" * 32)
    flash.erase(1)
    assert flash.log == [("program", 64, 32), ("erase", 1)]


def test_program_outside_flash_is_refused():
    flash = NorFlash(BS)
    with pytest.raises(ValueError):
        flash.program(BS - 1, b"\x00\x00")


def test_write_unit_alignment_is_enforced():
    flash = NorFlash(BS, write_unit=4)
    with pytest.raises(ValueError):
        flash.program(2, b"\x00" * 4)


def test_cut_at_n_applies_the_ops_before_and_not_op_n():
    flash = NorFlash(BS)
    flash.cut_at(3)
    flash.program(0, b"\x01")
    flash.program(1, b"\x02")
    with pytest.raises(PowerCut):
        flash.program(2, b"\x03")
    flash.power_on()
    assert flash.read(0, 3) == b"\x01\x02\xff"


def test_cut_counts_from_the_arming_moment():
    flash = NorFlash(BS)
    flash.program(0, b"\x00")
    flash.program(1, b"\x00")
    flash.cut_at(1)
    with pytest.raises(PowerCut):
        flash.program(2, b"\x00")
    assert flash.ops == 3


def test_partial_program_applies_only_the_first_bytes():
    flash = NorFlash(BS)
    flash.cut_at(1, partial=3)
    with pytest.raises(PowerCut):
        flash.program(100, b"\x00" * 8)
    flash.power_on()
    assert flash.read(100, 8) == b"\x00" * 3 + b"\xff" * 5


def test_partial_erase_resets_only_the_first_bytes():
    flash = NorFlash(2 * BS)
    flash.program(BS, b"\x00" * BS)
    flash.cut_at(1, partial=100)
    with pytest.raises(PowerCut):
        flash.erase(1)
    flash.power_on()
    assert flash.read(BS, BS) == b"\xff" * 100 + b"\x00" * (BS - 100)


def test_cut_erase_without_partial_leaves_block_untouched():
    flash = NorFlash(BS)
    flash.program(0, b"\x12" * BS)
    flash.cut_at(1)
    with pytest.raises(PowerCut):
        flash.erase(0)
    flash.power_on()
    assert flash.read(0, BS) == b"\x12" * BS


def test_every_access_after_a_cut_raises_until_power_on():
    flash = NorFlash(BS)
    flash.cut_at(1)
    with pytest.raises(PowerCut):
        flash.program(0, b"\x00")
    for access in (lambda: flash.program(1, b"\x00"), lambda: flash.erase(0),
                   lambda: flash.read(0, 1), lambda: flash.ioctl(3, 0)):
        with pytest.raises(PowerCut):
            access()
    flash.power_on()
    assert flash.read(0, 2) == b"\xff\xff"


def test_ops_after_a_cut_are_not_applied():
    flash = NorFlash(BS)
    flash.cut_at(1)
    with pytest.raises(PowerCut):
        flash.program(0, b"\x00")
    with pytest.raises(PowerCut):
        flash.program(1, b"\x00")
    flash.power_on()
    assert flash.read(0, 2) == b"\xff\xff"


def test_power_on_restores_writes_and_the_cut_does_not_repeat():
    flash = NorFlash(BS)
    flash.cut_at(1)
    with pytest.raises(PowerCut):
        flash.program(0, b"\x00")
    flash.power_on()
    flash.program(5, b"\x00")
    flash.program(6, b"\x00")
    assert flash.read(5, 2) == b"\x00\x00" and flash.cuts == 1


def test_power_cut_is_not_an_exception_subclass():
    assert issubclass(PowerCut, BaseException) and not issubclass(PowerCut, Exception)


def test_ioctl_reports_geometry_and_erases():
    flash = NorFlash(8 * BS)
    flash.program(3 * BS, b"\x00" * 16)
    assert flash.ioctl(4, 0) == 8
    assert flash.ioctl(5, 0) == BS
    assert flash.ioctl(6, 3) == 0
    assert flash.read(3 * BS, 16) == b"\xff" * 16
    assert [flash.ioctl(op, 0) for op in (1, 2, 3)] == [0, 0, 0]


def test_readblocks_with_offset_fills_buffer():
    flash = NorFlash(4 * BS)
    flash.program(2 * BS + 40, b"abcdef")
    buf = bytearray(6)
    flash.readblocks(2, buf, 40)
    assert buf == b"abcdef"


def test_writeblocks_with_offset_programs_without_erasing():
    flash = NorFlash(2 * BS)
    flash.program(BS, b"\x0f")
    flash.writeblocks(1, b"\xf3", 0)
    assert flash.read(BS, 1) == b"\x03" and (flash.programs, flash.erases) == (2, 0)


def test_writeblocks_without_offset_erases_then_programs_each_block():
    flash = NorFlash(4 * BS, log=True)
    flash.program(BS, b"\x00" * (2 * BS))
    flash.log.clear()
    data = bytes(range(256)) * 16
    flash.writeblocks(1, data * 2)
    assert flash.read(BS, 2 * BS) == data * 2
    assert flash.log == [("erase", 1), ("program", BS, BS), ("erase", 2), ("program", 2 * BS, BS)]


def test_image_round_trip_keeps_contents():
    flash = NorFlash(2 * BS)
    flash.program(17, b"yikatong")
    copy = NorFlash.from_image(flash.image())
    assert copy.image() == flash.image() and copy.read(17, 8) == b"yikatong"
    assert copy.ops == 0 and copy.block_count == 2


def test_image_is_a_snapshot():
    flash = NorFlash(BS)
    snap = flash.image()
    flash.program(0, b"\x00")
    assert snap[0] == 0xFF
