"""Plain append-only transaction record file (one CSV line per record).

    seq,time,terminal,card,atc,fen,balance,kind,tseq,tac

``terminal`` is the 6-byte terminal id in hex, ``atc`` the card's offline
counter as INITIALIZE FOR PURCHASE answered it (the card holds atc + 1 after
the debit), ``tseq`` the terminal transaction sequence number that went into
MAC1, ``tac`` the card's transaction certificate (hex) which only the back
office can check.

``kind`` is ``purchase`` (debit confirmed by the card's MAC2), ``pending``
(DEBIT was sent but its answer was lost: the outcome is decided when the card
returns) or ``unpaid`` (a pending purchase that the card proved never
happened). Lines are only ever appended. The power-cut-safe journal replaces
this file (issue #3); its readers and writers use the same field order.
"""

FIELDS = ("seq", "time", "terminal", "card", "atc", "fen", "balance", "kind", "tseq", "tac")


class RecordLog:
    def __init__(self, fs, path):
        self.fs = fs
        self.path = path
        self._seq = 0
        for rec in self.records():
            self._seq = rec["seq"]

    def append(self, time, terminal, card, atc, fen, balance, kind, tseq, tac=""):
        self._seq += 1
        row = (self._seq, time, terminal, card, atc, fen, balance, kind, tseq, tac)
        with self.fs.open(self.path, "ab") as f:
            f.write((",".join([str(v) for v in row]) + "\n").encode())
        return self._seq

    def records(self):
        out = []
        try:
            f = self.fs.open(self.path, "rb")
        except OSError:
            return out
        with f:
            data = f.read()
        for text in data.decode().split("\n"):
            parts = text.strip().split(",")
            if len(parts) != len(FIELDS):
                continue  # a torn last line (power cut) is not a record
            rec = dict(zip(FIELDS, parts))
            for key in ("seq", "atc", "fen", "balance", "tseq"):
                rec[key] = int(rec[key])
            out.append(rec)
        return out
