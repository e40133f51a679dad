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


def _raw(msg):
    _bw(msg)
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
    _bw(msg)


# ``msg``: a request as the bytes of its line, "\x01" (answered) or "\x03" (posted: a pin or
# bus write that cannot fail; the simulator carries it out in order with the others, and
# the VM runs on without a round trip) + JSON + "\n". The requests sent again and again (a
# pin read or write, a bus transfer, a sleep) are made with bytes formatting
# (hw_sim/vm/machine.py): a str per request would cost the VM a qstr lookup and more
# garbage. A pipe that takes objects (the virtual board's) sets these two to decode it.
raw = _raw
post_raw = _post_raw


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


def rpc_raw(msg):
    return _checked(raw(msg))


def rpc(*req):
    return _checked(raw(b"\x01" + json.dumps(req).encode() + b"\n"))


def post(req):
    post_raw(b"\x03" + json.dumps(req).encode() + b"\n")


def b(data):
    return {"b": bytes(data).hex()}
