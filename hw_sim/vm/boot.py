# Entry point on the MicroPython VM: fetch board and configuration from the
# simulator, then run the firmware exactly as main.py does on the board.
# When the scenario ends, heap figures go to stderr for the benchmark.
import builtins
import gc
import sys

import _rpc
from _rpc import rpc

_print = print


def _console(*args, **kw):
    # the console line goes after the posted requests queued before it (_rpc.queue), so the
    # simulator stamps it when the board would print it
    _rpc.flush()
    _print(*args, **kw)


builtins.print = _console

gc.threshold(4096)  # collect often: the bridge's garbage must not fragment the heap
_cfg = rpc("boot")
if _cfg["config"].get("data_dir") == "/flash":
    import flashdev

    flashdev.mount("/flash", file=_cfg.pop("flash_file", None))
try:
    import ykt.main

    ykt.main.run(_cfg["board"], _cfg["config"])
finally:
    _rpc.flush()
    gc.collect()
    sys.stderr.write("ykt-vm heap_live=%d heap_total=%d\n"
                     % (gc.mem_alloc(), gc.mem_alloc() + gc.mem_free()))
