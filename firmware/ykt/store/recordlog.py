"""Plain append-only transaction record file (one CSV line per record).

    seq,time,terminal,card,atc,fen,balance,kind,tac

``kind`` is ``purchase`` (debit confirmed by the card's MAC2), ``pending``
(DEBIT was sent but its answer was lost: the outcome is decided when the card
returns) or ``unpaid`` (a pending purchase that the card proved never
happened). Lines are only ever appended. The power-cut-safe journal replaces
this file (issue #3); its readers and writers use the same field order.
"""

FIELDS = ("seq", "time", "terminal", "card", "atc", "fen", "balance", "kind", "tac")


class RecordLog:
    def __init__(self, path):
        self.path = path
        self._seq = 0
        for rec in self.records():
            self._seq = rec["seq"]

    def append(self, time, terminal, card, atc, fen, balance, kind, tac=""):
        self._seq += 1
        row = (self._seq, time, terminal, card, atc, fen, balance, kind, tac)
        with open(self.path, "a") as f:
            f.write(",".join([str(v) for v in row]) + "\n")
        return self._seq

    def records(self):
        out = []
        try:
            f = open(self.path)
        except OSError:
            return out
        with f:
            for text in f:
                parts = text.strip().split(",")
                if len(parts) != len(FIELDS):
                    continue  # a torn last line (power cut) is not a record
                rec = dict(zip(FIELDS, parts))
                for key in ("seq", "atc", "fen", "balance"):
                    rec[key] = int(rec[key])
                out.append(rec)
        return out
