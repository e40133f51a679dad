"""Money is integer fen (1 yuan = 100 fen); this is the only place that formats it."""


def yuan(fen):
    """``1234`` -> ``"12.34"``; ``-50`` -> ``"-0.50"``."""
    sign = "-" if fen < 0 else ""
    fen = -fen if fen < 0 else fen
    return "%s%d.%02d" % (sign, fen // 100, fen % 100)
