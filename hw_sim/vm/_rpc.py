# Runs on the MicroPython VM: one request/response pair per call to the CPython simulator
# that owns the chip models and the virtual clock. `call` carries it: by default one line
# each way on stdout/stdin (hw_sim/vm_bridge.py); the virtual board's VM
# (hw_sim/board/mpy/boardvm.py) puts its control pipe there.
import json
import sys

_out = sys.stdout
_in = sys.stdin


# the virtual clock's ticks_us as the last answer gave it ("TICKS JSON" lines); None when a
# posted request may have moved the clock since (a bus write takes time on the wire)
now = [None]


def _line(req):
    _out.write("\x01" + json.dumps(req) + "\n")
    line = _in.readline()
    sp = line.find(" ")
    now[0] = int(line[:sp])
    return json.loads(line[sp + 1:])


call = _line


def _post_line(req):
    now[0] = None
    _out.write("\x03" + json.dumps(req) + "\n")


# a request with no answer to wait for (a pin or bus write that cannot fail): the simulator
# carries it out in order with the others, and the VM runs on without a round trip
post = _post_line


def rpc(*req):
    v = call(req)
    if isinstance(v, dict):
        if "end" in v:
            raise SystemExit(0)
        if "oserror" in v:
            raise OSError(v["oserror"])
        if "error" in v:
            raise ValueError(v["error"])
        if "b" in v:
            return bytes.fromhex(v["b"])
    return v


def b(data):
    return {"b": bytes(data).hex()}
