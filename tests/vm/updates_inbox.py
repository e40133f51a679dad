"""Update files checked and installed by the firmware on the MicroPython VM
(tests/test_updates.py compares with CPython).

``micropython updates_inbox.py DIR MASTER TID check NAME... [--data PATH]`` prints, for each
file /NAME of the host directory DIR, ``[kind, version, payload]`` or the refusal's reason,
then, with ``--data``, ``[kind, version, payload length]`` for the bytes of PATH checked as
they are; ``... DIR MASTER TID scan NUMBER`` installs what the inbox holds, prints
``[name, kind, version, installed, reason]`` per file and then ``[denylist version,
contains(NUMBER), contains(an unlisted number)]``. MASTER and TID are hex.
"""

import json
import sys

from ykt.store import updates as U
from ykt.store.vfs import Vfs

root, master, tid, what = sys.argv[1:5]
args = sys.argv[5:]
u = U.Updates(Vfs(root), U.device_key(bytes.fromhex(master), bytes.fromhex(tid)),
              bytes.fromhex(tid))
if what == "check":
    data = None
    if "--data" in args:
        data = args[args.index("--data") + 1]
        args = args[:args.index("--data")]
    for name in args:
        try:
            k, v, p = u.check("/" + name)
            print(json.dumps([k, v, list(p)]))
        except U.UpdateRefused as e:
            print(json.dumps(e.reason))
    if data is not None:
        k, v, p = u.check(open(data, "rb").read())
        print(json.dumps([k, v, len(p)]))
elif what == "scan":
    for o in u.scan_inbox():
        print(json.dumps([o.name, o.kind, o.version, o.installed, o.reason]))
    from ykt.store.denylist import Denylist

    d = Denylist(u.fs)
    print(json.dumps([d.version, d.contains(args[0]), d.contains("31049900999999999999")]))
else:
    raise SystemExit("updates_inbox.py: check or scan, not " + what)
