"""The purse client on the MicroPython VM, replaying a card transcript recorded under CPython
(tests/test_crypto_vm.py): it must send the very same APDUs (same MAC1, same load MAC2) and
reach the same results.

``micropython purse_replay.py TRANSCRIPT.json PURCHASE_KEY LOAD_KEY`` (keys in hex; the
transcript is ``[[C-APDU hex, R-APDU hex], ...]``) prints
``[purchase result, load result, APDUs left over]`` as JSON.
"""

import binascii
import json
import sys

from ykt.card.purse import PurseCard
from ykt.iso7816 import Iso7816
from ykt.sam import SoftSam


def h(b):
    return binascii.hexlify(bytes(b)).decode()


u = binascii.unhexlify


class Replay:
    def __init__(self, steps):
        self.steps = steps

    def transceive(self, capdu):
        want, answer = self.steps.pop(0)
        if h(capdu) != want:
            raise Exception("sent %s, expected %s" % (h(capdu), want))
        return u(answer)


with open(sys.argv[1]) as f:
    steps = json.load(f)
card = PurseCard(Iso7816(Replay(steps)))
card.select()
sam = SoftSam({"purchase": u(sys.argv[2]), "load": u(sys.argv[3])}, u("000000000101"), 7)
dt = u("20240305083000")
b = card.purchase(sam, 250, 9, dt, (1, bytes(range(48))))
ld = card.load(sam, 500, dt)
print(json.dumps([list(b[:5]) + [h(b.tac)], list(ld[:3]) + [h(ld.tac)], len(steps)]))
