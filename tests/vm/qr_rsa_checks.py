"""RSA-2048 PKCS#1 v1.5 / SHA-256 verifies (ykt.qr.rsa) on both runtimes
(tests/test_qr_rsa.py).

``micropython qr_rsa_checks.py CHECK FILE`` prints the result of one check as JSON; under
CPython the tests import this module and call the same functions. FILE holds one case a line
(the unix port's command line takes no argument of 256 characters or more):

- ``verify``: ``key|raw n_hex e msg_hex sig_hex``: ``key`` reads the key as codes do (2048
  bits, e 3 or 65537), ``raw`` takes n and e as they are (the CAVP vector's e is neither) ->
  [True or False, ...], or "key refused" for a key ``rsa.key`` refuses;
- ``codes``: ``anchors_hex now`` then one code a line -> [outcome, ...] on one verifier.
"""

import json
import sys

# NIST CAVP FIPS 186-3 RSA test vectors, SigVer15_186-3.rsp: [mod = 2048], SHAAlg = SHA256,
# the case at lines 758-764 (as carried by Microchip-MPLAB-Harmony/crypto,
# apps/speed_tests/firmware/test_data/cryptoSTD_rsa_SigVer_PKCS1_Ver_1p5.c); a good
# signature (cryptography verifies it too: tests/test_qr_rsa.py)
CAVP = {
    "n": "c47abacc2a84d56f3614d92fd62ed36ddde459664b9301dcd1d61781cfcc026b"
         "cb2399bee7e75681a80b7bf500e2d08ceae1c42ec0b707927f2b2fe92ae85208"
         "7d25f1d260cc74905ee5f9b254ed05494a9fe06732c3680992dd6f0dc634568d"
         "11542a705f83ae96d2a49763d5fbb24398edf3702bc94bc168190166492b8671"
         "de874bb9cecb058c6c8344aa8c93754d6effcd44a41ed7de0a9dcd9144437f21"
         "2b18881d042d331a4618a9e630ef9bb66305e4fdf8f0391b3b2313fe549f0189"
         "ff968b92f33c266a4bc2cffc897d1937eeb9e406f5d0eaa7a14782e76af3fce9"
         "8f54ed237b4a04a4159a5f6250a296a902880204e61d891c4da29f2d65f34cbb",
    "e": 0x49D2A1,
    "msg": "95123c8d1b236540b86976a11cea31f8bd4e6c54c235147d20ce722b03a6ad75"
           "6fbd918c27df8ea9ce3104444c0bbe877305bc02e35535a02a58dcda306e632a"
           "d30b3dc3ce0ba97fdf46ec192965dd9cd7f4a71b02b8cba3d442646eeec4af59"
           "0824ca98d74fbca934d0b6867aa1991f3040b707e806de6e66b5934f05509bea",
    "s": "51265d96f11ab338762891cb29bf3f1d2b3305107063f5f3245af376dfcc7027"
         "d39365de70a31db05e9e10eb6148cb7f6425f0c93c4fb0e2291adbd22c77656a"
         "fc196858a11e1c670d9eeb592613e69eb4f3aa501730743ac4464486c7ae68fd"
         "509e896f63884e9424f69c1c5397959f1e52a368667a598a1fc90125273d9341"
         "295d2f8e1cc4969bf228c860e07a3546be2eeda1cde48ee94d062801fe666e4a"
         "7ae8cb9cd79262c017b081af874ff00453ca43e34efdb43fffb0bb42a4e2d32a"
         "5e5cc9e8546a221fe930250e5f5333e0efe58ffebf19369a3b8ae5a67f6a048b"
         "c9ef915bda25160729b508667ada84a0c27e7e26cf2abca413e5e4693f4a9405",
}


def _u(h):
    return bytes.fromhex(h)


def cavp():
    """[the vector accepted, accepted with the message's last byte changed, accepted with
    the signature's last byte changed, its key taken as a code's key]."""
    from ykt.qr import rsa

    v = CAVP
    k = rsa.Key(int(v["n"], 16), v["e"])
    msg, sig = _u(v["msg"]), _u(v["s"])
    try:
        rsa.key(_u(v["n"]), v["e"])
        policy = "key taken"
    except ValueError:
        policy = "key refused"
    return [rsa.verify(k, msg, sig), rsa.verify(k, msg[:-1] + bytes((msg[-1] ^ 1,)), sig),
            rsa.verify(k, msg, sig[:-1] + bytes((sig[-1] ^ 1,))), policy]


def verify(path):
    from ykt.qr import rsa

    out = []
    with open(path) as f:
        for line in f:
            how, n, e, msg, sig = line.split()
            try:
                k = rsa.key(_u(n), int(e)) if how == "key" else rsa.Key(int(n, 16), int(e))
            except ValueError:
                out.append("key refused")
                continue
            out.append(rsa.verify(k, _u(msg), _u(sig)))
    return out


def codes(path):
    from ykt.qr import credential

    with open(path) as f:
        lines = [line.rstrip("\n") for line in f]
    anchors_hex, now = lines[0].split()
    v = credential.Verifier({a.kid: a for a in credential.read_anchors(_u(anchors_hex))})
    return [v.check(c, int(now))[0] for c in lines[1:]]


CHECKS = {"cavp": cavp, "verify": verify, "codes": codes}

if __name__ == "__main__":
    print(json.dumps(CHECKS[sys.argv[1]](*sys.argv[2:])))
