"""Walk-in prices by the venue's rules (config ``venue``, docs/venue.md §3).

``price(rules, age, region)`` -> (fen, steps): the full price, a resident's percentage for
the region codes of the cities ``residents`` names ("yrd": the Yangtze River Delta's 41
cities below, or a list of region-code prefixes), a senior's by age bands; the visitor pays
the lowest that applies. Integer fen, rounded down.
"""

# The Yangtze River Delta's 41 cities by the first 4 digits of an ID number's region code
# (GB/T 2260): Shanghai (31: 3101 districts, 3102 former counties), Jiangsu's 13, Zhejiang's
# 11 and Anhui's 16 prefecture-level cities (host_tools/lib/venue.py names them).
YRD = (
    31,
    3201, 3202, 3203, 3204, 3205, 3206, 3207, 3208, 3209, 3210, 3211, 3212, 3213,
    3301, 3302, 3303, 3304, 3305, 3306, 3307, 3308, 3309, 3310, 3311,
    3401, 3402, 3403, 3404, 3405, 3406, 3407, 3408, 3410, 3411, 3412, 3413, 3415, 3416,
    3417, 3418,
)


def resident(residents, region):
    """True if the 6-digit ``region`` code is one of ``residents`` ("yrd" or prefixes)."""
    if residents == "yrd":
        return region // 10000 == 31 or region // 100 in YRD
    text = "%06d" % region
    for p in residents:
        if text.startswith(p):
            return True
    return False


def price(rules, age, region):
    """(fen, steps) of a walk-in ticket; ``steps`` [(rule, fen)] the prices considered."""
    full = int(rules.get("price_fen", 0))
    fen = full
    steps = [("full", full)]
    pct = rules.get("resident_pct")
    if pct is not None and resident(rules.get("residents", "yrd"), region):
        p = full * int(pct) // 100
        steps.append(("resident", p))
        fen = min(fen, p)
    best = None
    for band in rules.get("ages", ()):
        if age >= band[0] and (best is None or band[0] > best[0]):
            best = band
    if best is not None:
        p = full * int(best[1]) // 100
        steps.append(("age %d+" % best[0], p))
        fen = min(fen, p)
    return fen, steps
