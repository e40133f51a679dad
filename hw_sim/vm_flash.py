"""CPython end of the VM's flash requests (``hw_sim/vm/flashdev.py``).

Requests, as JSON arrays from the VM:

- ``["flash_read", block, offset, n]`` -> bytes
- ``["flash_write", block, offset_or_null, {"b": hex}]`` -> None
  (offset null: erase the block(s), then program, as ``writeblocks`` without offset)
- ``["flash_ioctl", op, arg]`` -> int or None

``handle`` returns None for any other request name, so a dispatcher can try it
first. :class:`hw_sim.flash.PowerCut` propagates: the dispatcher answers it
with ``{"end": 1}`` so the VM stops as if its supply died mid-write.
"""

from hw_sim.flash import PowerCut  # noqa: F401  (re-exported for the dispatcher)

NAMES = ("flash_read", "flash_write", "flash_ioctl")


def _bytes(v):
    if isinstance(v, dict) and set(v) == {"b"}:
        return bytes.fromhex(v["b"])
    if isinstance(v, str):
        return bytes.fromhex(v)
    raise ValueError("flash_write wants {'b': hex}")


def handle(flash, req):
    """Serve one flash request on ``flash``; None if ``req`` is not a flash request."""
    op = req[0]
    if op == "flash_read":
        buf = bytearray(req[3])
        flash.readblocks(req[1], buf, req[2])
        return bytes(buf)
    if op == "flash_write":
        flash.writeblocks(req[1], _bytes(req[3]), req[2])
        return None
    if op == "flash_ioctl":
        return flash.ioctl(req[1], req[2])
    return None
