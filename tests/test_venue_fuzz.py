"""Whatever the QR scanner sends, the venue gate's loop goes on (docs/venue.md §5): misreads,
random text, codes cut short, bit-flipped, overlong or with bytes outside ASCII, between
card taps, on both runtimes with the same output. Each is refused or discarded with a code;
every card tap is still served, and the genuine code shown last is admitted."""

import random

import pytest
import venuekit
from simrun import events

from host_tools.lib import qr
from hw_sim.scenario import Run

SEED = 14


def _junk(rng, genuine):
    kind = rng.randrange(6)
    if kind == 0:
        return {"scan_garbage": rng.randrange(1, 80)}
    if kind == 1:  # printable text of any length, some of it near the size of a code
        n = rng.choice((1, 5, 40, 363, 364, 365, 600))
        return {"scan": "".join(chr(rng.randrange(0x20, 0x7F)) for _ in range(n))}
    if kind == 2:  # a code cut short
        return {"scan": genuine[:rng.randrange(4, len(genuine))]}
    if kind == 3:  # a code with a flipped byte inside
        raw = bytearray(qr.decode(genuine))
        raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        return {"scan": qr.encode(bytes(raw))}
    if kind == 4:  # the prefix with base45 that is not 240 bytes
        return {"scan": "YK1:" + "".join(rng.choice("0123456789ABCDEF $%*+-./:")
                                         for _ in range(rng.randrange(0, 400)))}
    return {"scan": "X" * 700}  # longer than the driver's buffer


@pytest.fixture(scope="module")
def fuzz_data():
    rng = random.Random(SEED)
    genuine = venuekit.code("gina", "320502199001011234", "G32050201", "2026-12-05T09:19:55")
    evts = []
    t = 9 * 3600 + 60
    for i in range(36):
        e = _junk(rng, genuine)
        e["at"] = "%02d:%02d:%02d" % (t // 3600, t // 60 % 60, t % 60)
        e["hold_ms"] = 400
        evts.append(e)
        t += 20
        if i % 12 == 11:
            evts.append({"at": "%02d:%02d:%02d" % (t // 3600, t // 60 % 60, t % 60),
                         "tap": ["bob", "carol", "henry"][i // 12]})
            t += 20
    evts.append({"at": "09:20:00", "scan": genuine})
    return venuekit.with_events(evts)


@pytest.fixture(scope="module")
def runs(fuzz_data):
    return {rt: Run(fuzz_data, "fuzz").run(rt) for rt in ("cpython", "micropython")}


def test_fuzzed_scanner_output_never_stops_the_gate(runs):
    r = runs["cpython"]
    assert not [e for e in events(r) if e["event"] in ("fault", "error")]
    tickets = [e["card"][-4:] for e in events(r, "ticket")]
    assert tickets == ["0103", "0104", "0105"]
    [admit] = events(r, "admit")
    assert (admit["qr"], admit["booking"]) == ("*****0201", 2004)


def test_every_junk_scan_is_refused_or_discarded_with_a_code(runs):
    r = runs["cpython"]
    refused = [e["code"] for e in events(r, "refused")]
    discarded = events(r, "scan-error")
    assert set(refused) <= {8, 10} and len(refused) + len(discarded) >= 30


def test_both_runtimes_print_the_same(runs):
    assert runs["cpython"].lines == runs["micropython"].lines
