"""E-card QR verifies on the MicroPython VM (bench/qr.py).

``micropython qr_verify.py WHAT FILE N [alloc]`` runs N times one of: ``p256`` (an ECDSA P-256
verify of a fresh key: its table, s^-1, the double multiplication), ``sm2`` (an SM2 verify of
a fresh key, Z_A included), ``admit`` (a first admission: certificate and code, the issuer's
table already built), ``again`` (the holder's certificate already verified: the code alone).
FILE holds the inputs, one hex line each: P-256 key x y, message, r s; SM2 key x y,
message, r s; trust anchors; a code's text (hex). It prints the last outcome (1 or 0 for
a verify, the outcome code for an admission) and gc.mem_alloc() after one run beyond what
was allocated before it (the live bytes it needs at its end).
"""

import gc
import sys

from ykt.qr import credential, ec

what, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(path) as f:
    lines = [bytes.fromhex(x.strip()) for x in f]
ec.P256.gtable()
ec.SM2.gtable()
anchors = {a.kid: a for a in credential.read_anchors(lines[6])}
for a in anchors.values():
    a.table()
code = lines[7].decode()
v = credential.Verifier(anchors)
v.check(code, credential.decode(code).generated + 1)  # its certificate known from now on


def rs(b):
    return int.from_bytes(b[:32], "big"), int.from_bytes(b[32:], "big")


def run():
    if what == "p256":
        tab = ec.table(ec.P256, ec.point(ec.P256, lines[0]))
        r, s = rs(lines[2])
        return int(ec.ecdsa_p256(tab, lines[1], r, s))
    if what == "sm2":
        tab = ec.table(ec.SM2, ec.point(ec.SM2, lines[3]))
        r, s = rs(lines[5])
        return int(ec.sm2_verify(tab, ec.sm2_za(lines[3]), lines[4], r, s))
    now = credential.decode(code).generated + 1
    if what == "admit":
        return credential.Verifier(anchors).check(code, now)[0]
    v.recent = credential.Recent()  # "again": the certificate cache kept, no replay
    return v.check(code, now)[0]


if sys.argv[4:] == ["alloc"]:
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    out = run()
    print(out, gc.mem_alloc() - before)
else:
    out = 0
    for _ in range(n):
        out = run()
    print(out)
