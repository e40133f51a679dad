# Runs on the MicroPython VM: one request/response pair per call to the CPython simulator
# that owns the chip models and the virtual clock. `raw` carries it: by default a line out
# on stdout and an answer back on stdin (hw_sim/vm_bridge.py); the virtual board's VM
# (hw_sim/board/mpy/boardvm.py) puts its control pipe there.
import json
import sys

_bw = sys.stdout.buffer.write  # the same stream, unbuffered: requests stay in order
_read = sys.stdin.buffer.read  # one read per call: a readline would read byte by byte

# An answer: 12 hex digits of the virtual clock in microseconds (unwrapped), 6 of the value's
# length, the value: "n" (None), an int in decimal, "#" and raw bytes, or JSON
# (hw_sim/vm_bridge.py).

# the virtual clock (us) as the last answer gave it; None when a posted request may have
# moved the clock since (a bus write takes time on the wire)
now = [None]


# Posted requests (and the flash's posted programs, hw_sim/vm/flashdev.py) wait here and go
# out with the next request that is answered, or before the next console line (boot.py's
# print): one write where each was one, and the simulator woken once. It carries them out in
# the order written, before that request, so nothing it does or answers changes.
_QUEUE = 1024  # bytes (SHIM_HEAP_KB counts them); a longer post goes out at once
_pb = bytearray(_QUEUE)
_pn = [0]


def queue(data):
    n = len(data)
    p = _pn[0]
    if p + n > _QUEUE:
        flush()
        if n > _QUEUE:
            _bw(data)
            return
        p = 0
    _pb[p:p + n] = data
    _pn[0] = p + n


def flush():
    p = _pn[0]
    if p:
        _pn[0] = 0
        _bw(_pb, p)


def _raw(msg):
    queue(msg)
    flush()
    head = _read(18)
    now[0] = int(head[:12], 16)
    v = _read(int(head[12:], 16))
    c = v[0]
    if c == 110:  # "n"
        return None
    if c == 35:  # "#"
        return v[1:]
    if 48 <= c <= 57 or c == 45:
        return int(v)
    return json.loads(v)


def _post_raw(msg):
    now[0] = None
    queue(msg)


def _post_still(msg):
    queue(msg)


# ``msg``: a request as the bytes of its line, "\x01" (answered) or "\x03" (posted: a pin or
# bus write that cannot fail; the simulator carries it out in order with the others, and
# the VM runs on without a round trip) + JSON + "\n". The requests sent again and again (a
# pin read or write, a bus transfer, a sleep) are made with bytes formatting
# (hw_sim/vm/machine.py): a str per request would cost the VM a qstr lookup and more
# garbage. A pipe that takes objects (the virtual board's) sets these two to decode it.
raw = _raw
post_raw = _post_raw
# a posted request that moves neither the clock nor a level a chip drives (a pin's mode):
# the last answer's clock reading and wake-up level stay good
post_still = _post_still


def _checked(v):
    if isinstance(v, dict):
        if "end" in v:
            raise SystemExit(0)
        if "oserror" in v:
            raise OSError(v["oserror"])
        if "error" in v:
            raise ValueError(v["error"])
        if "b" in v:  # bytes from a JSON answer (the virtual board's pipe)
            return bytes.fromhex(v["b"])
    return v


# The level of the light sleep's wake-up pin as the sleep's answer gave it: pin << 1 | level,
# or -1. Good until the next request: only a request moves the simulator (a sleep, a bus
# transfer, a pin write), so the pin read that follows a light sleep needs no round trip.
wake = [-1]


def rpc_raw(msg):
    wake[0] = -1
    return _checked(raw(msg))


def rpc(*req):
    wake[0] = -1
    return _checked(raw(b"\x01" + json.dumps(req).encode() + b"\n"))


def send(msg):
    """Post ``msg`` (a request line's bytes, "\x03" first): no answer awaited."""
    wake[0] = -1
    post_raw(msg)


def post(req):
    send(b"\x03" + json.dumps(req).encode() + b"\n")


def b(data):
    return {"b": bytes(data).hex()}
