"""Canteen sale computation (docs/canteen.md): pure logic, no hardware, no card I/O.

``rules.load(dict)`` validates a canteen rule set, ``pricing.price_sale(...)``
prices one sale, ``canteen_record`` encodes the card's canteen state (record 2 of
SFI 0x17). This module holds what they share: the rule-set error and the checks
that turn a bad value into a one-line message naming where it is.
"""


class RuleError(ValueError):
    """A canteen rule set is invalid; ``args[0]`` is one line: ``where: what``."""


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_keys(d, where, allowed):
    """``d`` must be a dict whose keys are in ``allowed`` (keys starting with ``_`` are notes)."""
    if not isinstance(d, dict):
        raise RuleError("%s: must be an object" % where)
    for k in d:
        if k not in allowed and not (isinstance(k, str) and k.startswith("_")):
            raise RuleError("%s: unknown key '%s'" % (where, k))


def get_int(d, key, where, lo, hi, default=None, required=False):
    """``d[key]`` as a whole number in ``lo..hi`` (``hi`` None: no upper bound)."""
    v = d.get(key)
    if v is None:
        if required:
            raise RuleError("%s: '%s' is required" % (where, key))
        return default
    if not is_int(v):
        raise RuleError("%s: %s must be a whole number, got %r" % (where, key, v))
    if v < lo or (hi is not None and v > hi):
        if hi is None:
            raise RuleError("%s: %s %d out of range (at least %d)" % (where, key, v, lo))
        raise RuleError("%s: %s %d out of range %d..%d" % (where, key, v, lo, hi))
    return v


def ascii_name(v, where, key="name", maxlen=24):
    """A non-empty printable-ASCII name (what every display can show)."""
    if not isinstance(v, str) or not v:
        raise RuleError("%s: '%s' must be a non-empty text" % (where, key))
    if len(v) > maxlen:
        raise RuleError("%s: %s '%s' longer than %d characters" % (where, key, v, maxlen))
    for c in v:
        if not 32 <= ord(c) < 127:
            raise RuleError("%s: %s '%s' must be printable ASCII" % (where, key, v))
    return v


def name_list(d, key, where, known, what):
    """``d[key]``: a list of names each in ``known``; None when absent (matches anything)."""
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, list) or not v:
        raise RuleError("%s: '%s' must be a non-empty list" % (where, key))
    for n in v:
        if n not in known:
            raise RuleError("%s: unknown %s %r" % (where, what, n))
    return v
