"""Firmware-only compute per purchase on the MicroPython VM (bench/tap.py): the purse client
and the SAM run a purchase ``N`` times against a card's recorded answers, no bridge.

``micropython purchase.py PURCHASE_KEY N ANSWER...`` (key and answers in hex) prints the mean
microseconds per purchase.
"""

import sys
import time
from binascii import unhexlify

from ykt.card.purse import TX_PURCHASE, PurseCard
from ykt.iso7816 import Iso7816
from ykt.sam import SoftSam

answers = [unhexlify(x) for x in sys.argv[3:]]


class Link:
    def __init__(self):
        self.i = 0

    def transceive(self, capdu):
        self.i += 1
        return answers[self.i - 1]


keys = {"purchase": unhexlify(sys.argv[1])}
dt = unhexlify("20261129070001")
n = int(sys.argv[2])
t0 = time.ticks_us()
for _ in range(n):
    card = PurseCard(Iso7816(Link()))
    card.select()
    sam = SoftSam(keys, unhexlify("290000000001"))
    card.purchase(sam, 200, TX_PURCHASE, dt)
print(time.ticks_diff(time.ticks_us(), t0) // n)
