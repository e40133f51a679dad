# Entry point on the MicroPython VM: fetch board and configuration from the
# simulator, then run the firmware exactly as main.py does on the board.
from _rpc import rpc

_cfg = rpc("boot")
import ykt.main

ykt.main.run(_cfg["board"], _cfg["config"])
