"""The MicroPython VM writes a journal (tests/test_journal.py: the same bytes as CPython's).

``micropython journal_write.py DIR CARD`` writes four purchase intents, two completions, a
refund and an ack into a journal in the host directory DIR and prints ``done LAST_SEQ``.
"""

import sys

from dirfs import DirFs

from ykt.store.journal import Journal

root, card = sys.argv[1], sys.argv[2]
j = Journal(DirFs(root), bytes(range(16)), b"\x11\x22\x33\x44\x55\x66",
            segment_records=3, capacity_records=50)
j.open()
for n in range(4):
    s = j.append("purchase-intent", time=1000 + n, card=card, atc=n, amount=250 + n,
                 balance=5000, tx_type=6, random=b"\x0b\xad\xf0\x0d", tseq=n)
    if n % 2:
        j.append("purchase", time=1001 + n, card=card, atc=n, amount=250 + n, balance=4750,
                 tac=b"\x01\x02\x03\x04", link=s, tseq=n)
j.append("refund", time=2000, card=card, amount=-251, balance=5000, link=4)
j.ack(4)
print("done", j.last_seq)
