"""E-card QR verifies on the MicroPython VM (bench/qr.py).

``micropython qr_verify.py WHAT FILE N [alloc]`` runs N times one of: ``p256`` (an ECDSA P-256
verify of a fresh key: its table, s^-1, the double multiplication), ``sm2`` (an SM2 verify of
a fresh key, Z_A included), ``rsa`` / ``rsa3`` (an RSA-2048 PKCS#1 v1.5 verify of a fresh
key, e 65537 / e 3: the key read, SHA-256, one ``pow``), ``admit`` / ``admit-rsa`` (a first
admission of a P-256 / RSA code: certificate and code, the issuer's table already built),
``again`` / ``again-rsa`` (the holder's certificate already verified: the code alone);
``admit-rsa3`` / ``again-rsa3`` the same with e 3 keys (issuer and holder).
FILE holds the inputs, one hex line each: P-256 key x y, message, r s; SM2 key x y,
message, r s; trust anchors; a code's text (hex); RSA key n e, message, signature; RSA e 3
key n e, signature; RSA trust anchors; an RSA code's text (hex); the same two for e 3. It
prints the last outcome (1 or 0 for a verify, the outcome code for an admission) and, with
``alloc``, gc.mem_alloc() after one run beyond what was allocated before it.
"""

import gc
import sys

from ykt.qr import credential

what, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(path) as f:
    lines = [bytes.fromhex(x.strip()) for x in f]
RSA_CASE = "rsa" in what
if RSA_CASE:  # an RSA-only terminal: no curve module, no tables
    from ykt.qr import rsa
else:
    from ykt.qr import ec

    ec.P256.gtable()
    if what == "sm2":
        ec.SM2.gtable()
at = 15 if what.endswith("rsa3") else 13 if RSA_CASE else 6
anchors = {a.kid: a for a in credential.read_anchors(lines[at])}
for a in anchors.values():
    if a.alg == credential.ALG_P256:
        a.table()
code = lines[at + 1].decode()
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
    if what == "rsa":
        return int(rsa.verify(rsa.key_of(lines[8]), lines[9], lines[10]))
    if what == "rsa3":
        return int(rsa.verify(rsa.key_of(lines[11]), lines[9], lines[12]))
    now = credential.decode(code).generated + 1
    if what.startswith("admit"):
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
