"""Denylist figures (not tests; `make bench`): the size of a 250,000-card file and the cost of
a lookup on the MicroPython VM (bench/vm/denylist_lookups.py), the firmware's store reading
the file by seek."""

import os
import random
import tempfile

from bench import harness
from host_tools.lib.denylist import build_base, sample_numbers


def bench_list(n, seed=1):
    """The benchmark's list: ``sample_numbers(n, seed)``, 90 % lost, 10 % other reasons."""
    rng = random.Random(seed)
    return [(no, 1 if rng.random() < 0.9 else rng.choice((2, 3, 4, 6)))
            for no in sample_numbers(n, seed)]


def bench_denylist(n=250_000, lookups=2000, seed=1):
    """(file size in bytes for n entries, mean lookup microseconds on the MicroPython VM,
    mean bytes read per lookup) for ``bench_list(n, seed)``; half of the probes are
    listed, half are not."""
    entries = bench_list(n, seed)
    numbers = [no for no, _ in entries]
    data = build_base(entries, 1)
    rng = random.Random(seed + 1)
    listed = set(numbers)
    probes = rng.sample(numbers, lookups // 2)
    while len(probes) < lookups:
        no = "3104990%013d" % rng.randrange(10 ** 13)
        if no not in listed:
            probes.append(no)
    rng.shuffle(probes)
    with tempfile.TemporaryDirectory(prefix="ykt-denylist-") as tmp:
        with open(os.path.join(tmp, "denylist.bin"), "wb") as f:
            f.write(data)
        with open(os.path.join(tmp, "probes.txt"), "w") as f:
            f.write("".join(no + "\n" for no in probes))
        try:
            dt, nread, hits = harness.run_script(
                "denylist_lookups", tmp, os.path.join(tmp, "probes.txt"), heap="96K",
                path=os.path.join(harness.ROOT, "firmware"))
        except RuntimeError as e:
            raise RuntimeError("denylist bench failed on the VM: %s" % e) from None
    if hits != lookups // 2:
        raise RuntimeError("denylist bench: %d hits, expected %d" % (hits, lookups // 2))
    return len(data), dt / lookups, nread / lookups


if __name__ == "__main__":
    with harness.scratch():
        size, us, nread = bench_denylist()
    print("denylist 250k: %d bytes, %.0f us/lookup on the VM, %.0f bytes read/lookup"
          % (size, us, nread))
