# The yikatong terminal firmware as a MicroPython manifest (docs.micropython.org, "MicroPython
# manifest files"). Freeze it into a MicroPython build for the board, so its bytecode runs from
# flash instead of the heap:
#
#     make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/firmware/manifest.py
#
# `ykt build` reports this version; it is not a module of the firmware (not compiled or copied).
metadata(description="yikatong card-terminal firmware", version="0.2.0")  # noqa: F821

include("$(PORT_DIR)/boards/manifest.py")  # noqa: F821
package("ykt", opt=3)  # noqa: F821
