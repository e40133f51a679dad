# Runs on the MicroPython VM: one request/response line pair per call to the
# CPython simulator that owns the chip models and the virtual clock.
import sys
import json

_out = sys.stdout
_in = sys.stdin


def rpc(*req):
    _out.write("\x01" + json.dumps(req) + "\n")
    v = json.loads(_in.readline())
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
