"""The purse crypto on the MicroPython VM (tests/test_crypto_vm.py compares with CPython).

``micropython crypto_checks.py CHECK ARG...`` prints the result of one check as JSON;
arguments and byte results are hex.
"""

import binascii
import json
import sys


def h(b):
    return binascii.hexlify(bytes(b)).decode()


def u(s):
    return binascii.unhexlify(s)


def cmac(key, msg):
    """CMAC of the first 0, 16, 40 and 64 bytes of ``msg``."""
    from ykt import crypto

    k, m = u(key), u(msg)
    return [h(crypto.cmac(k, m[:n])) for n in (0, 16, 40, 64)]


def diversify(master, serial8):
    from ykt import crypto

    return h(crypto.diversify(u(master), u(serial8)))


def sam_macs(purchase_key, load_key, serial8, rnd, terminal, dt):
    """A SoftSam's purchase MAC1 and load MAC2 for fixed amounts and counters."""
    from ykt.sam import SoftSam

    s8, rnd, term, dt = u(serial8), u(rnd), u(terminal), u(dt)
    sam = SoftSam({"purchase": u(purchase_key), "load": u(load_key)}, term)
    return [h(sam.purchase_mac1(s8, rnd, 5, 250, 9, term, dt, 42)),
            h(sam.load_mac2(s8, rnd, 3, 100, term, dt))]


def aes(key, iv, data):
    """cryptolib (the VM's own): ECB over ``data``, then CBC in two calls."""
    import cryptolib

    key, iv, data = u(key), u(iv), u(data)
    cbc = cryptolib.aes(key, 2, iv)
    return [h(cryptolib.aes(key, 1).encrypt(data)),
            h(cbc.encrypt(data[:16]) + cbc.encrypt(data[16:]))]


CHECKS = {"cmac": cmac, "diversify": diversify, "sam_macs": sam_macs, "aes": aes}

if __name__ == "__main__":
    print(json.dumps(CHECKS[sys.argv[1]](*sys.argv[2:])))
