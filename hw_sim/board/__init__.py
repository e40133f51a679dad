"""The virtual ESP32 board that the real esptool and mpremote talk to (issue #6).

``rom`` (ROM serial bootloader), ``repl`` (MicroPython REPL, raw REPL and
raw-paste), ``vm`` (the MicroPython unix-port process behind the REPL),
``board`` (flash, modes and boot sequencing), ``server`` (loopback TCP and
``ykt sim board``). See docs/virtual-board.md.
"""
