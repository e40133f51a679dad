"""Transit fare figures for `make bench` (figures, not tests; issue #4).

``bench_fare()`` returns a dict, ``main()`` prints it under ``[transit fares]``:

- for the 2017 Shanghai network (302 stations, ``tariffs/shanghai-2017.json``) and for a
  synthetic 1,000-station network (``synthetic_source``): the compiled tariff's size and its
  distance table (``DIST``), the compile time, and the mean microseconds per distance lookup
  (``Tariff.distance_dam``) and per ``engine.quote_trip`` over a fixed seeded sample of
  origin/destination pairs, on CPython and on the MicroPython VM (.mpy, tariff file read by
  seek as on the device; the VM's quotes are checked against CPython's);
- exit-tap compute on the VM: decode the card's transit record, ``engine.metro_exit`` on a
  realistic state (entry open, bus transfer, monthly discount), encode the new record, per
  call, no bridge;
- VM heap: what the gate role's modules, the open tariff and one exit pricing take
  (``gc.mem_alloc``), and the smallest heap each gate of ``scenarios/demo-station.json``
  runs in (4 KB bisection of its ``vm_heap``, outputs compared with the declared heap's);
- CPython taps per second of wall time for an entry gate and an exit gate on virtual time,
  and the exit gate's virtual tap -> fare latency.

The VM figures come from bench/vm/fare_lookups.py and bench/vm/heap_gate.py. Run
``python -m bench.fare`` (``--no-heap`` skips the bisection).
"""

import datetime
import json
import math
import os
import random
import struct
import sys
import tempfile
import time

from bench import harness

ROOT = harness.ROOT
SOURCE = os.path.join(ROOT, "tariffs", "shanghai-2017.json")
STATION_SCENARIO = os.path.join(ROOT, "scenarios", "demo-station.json")
SEED = 2017
PAIRS = 2000  # origin/destination pairs per lookup figure
EXITS = 500  # exit pricings timed on the VM
REPEAT = 3  # timed loops are run this many times, the best one counts (a shared host)
HEAP_STEP_KB = 4
VFS_BYTES = 2 * 1024 * 1024  # the turnstile board's vfs partition
# the exit tap timed: entered at ENTRY_STATION 08:00, bus 926 at 07:40 (transfer), month
# spend above the monthly threshold; leaves at EXIT_STATION 08:30
ENTRY_STATION, EXIT_STATION = 2025, 2035  # Xujiahui, People's Square
GATE_ID = "290010202501"


# -- the synthetic network ---------------------------------------------------------------------

def _rules():
    """The fare rules, policies, categories, issuers and routes of the shipped tariff."""
    with open(SOURCE, encoding="utf-8") as f:
        src = json.load(f)
    keep = ("metro_fare", "policies", "transfers", "monthly", "categories", "issuers", "routes")
    return {k: src[k] for k in keep}


def synthetic_source(n=1000, seed=SEED, rules=None):
    """A deterministic tariff source of ``n`` stations (ids 1..n): a jittered grid of k
    east-west and k north-south lines (k = sqrt(n) / 2.2, 2..16, so at most 32 lines) over a
    square city of 1.9 * sqrt(n) km, interchanges where two lines cross and the other stations
    spread over the lines' sections. Stations get WGS-84 coordinates around Shanghai and each
    edge the great-circle km between its two stations rounded half up to whole metres, the
    way ``host_tools.lib.tariff_source`` derives the real network's km. Fare rules are the
    shipped tariff's (``rules``: a dict to use instead), with a -1 yuan exception on line 5
    like Shanghai's Line 5."""
    from host_tools.lib.tariff_source import great_circle_m

    rng = random.Random(seed)
    k = max(2, min(16, int(round(math.sqrt(n) / 2.2))))
    if n < k * k + 2:
        raise ValueError("a %d-line grid needs at least %d stations" % (2 * k, k * k + 2))
    side = 1.9 * math.sqrt(n)  # km
    gap = side / (k + 1)
    cross = [gap * (j + 1) for j in range(k)]  # where the lines run (km from the west/south)
    stations = []  # [x_km, y_km, set of line ids]

    def station(x, y):
        stations.append([x, y, set()])
        return len(stations) - 1

    hubs = [[station(cross[j] + rng.uniform(-0.2, 0.2) * gap,
                     cross[i] + rng.uniform(-0.2, 0.2) * gap) for j in range(k)]
            for i in range(k)]
    # line L: east-west lines 1..k (row i), north-south lines k+1..2k (column j)
    lines = [[hubs[i][j] for j in range(k)] for i in range(k)]
    lines += [[hubs[i][j] for i in range(k)] for j in range(k)]
    sections = [(L, s) for L in range(2 * k) for s in range(k + 1)]  # s: before hub s
    extra = n - k * k
    counts = [extra // len(sections)] * len(sections)
    for p in rng.sample(range(len(sections)), extra % len(sections)):
        counts[p] += 1
    paths = []
    for L, hub_ids in enumerate(lines):
        ew = L < k
        fixed = cross[L if ew else L - k]

        def at(along, across_jitter):
            a = fixed + across_jitter
            return (along, a) if ew else (a, along)

        path = []
        for s in range(k + 1):
            m = counts[L * (k + 1) + s]
            lo = 0.0 if s == 0 else stations[hub_ids[s - 1]][0 if ew else 1]
            hi = side if s == k else stations[hub_ids[s]][0 if ew else 1]
            for t in range(m):
                # the first tail starts at the city edge, the last ends there
                if s == 0:
                    f = t / m
                elif s == k:
                    f = (t + 1) / m
                else:
                    f = (t + 1) / (m + 1)
                x, y = at(lo + (hi - lo) * f, rng.uniform(-0.15, 0.15) * gap)
                path.append(station(x, y))
            if s < k:
                path.append(hub_ids[s])
        paths.append(path)
    line_ids = [str(L + 1) for L in range(2 * k)]
    for L, path in enumerate(paths):
        for idx in path:
            stations[idx][2].add(line_ids[L])
    lat0, lon0 = 30.95, 121.15
    kx = 111.195 * math.cos(math.radians(lat0 + side / 2 / 111.195))

    def lonlat(idx):  # the coordinates the source states; km are derived from these
        x, y, _ = stations[idx]
        return round(lon0 + x / kx, 6), round(lat0 + y / 111.195, 6)

    edges = []
    for L, path in enumerate(paths):
        for a, b in zip(path, path[1:]):
            metres = int(math.floor(great_circle_m(*lonlat(a), *lonlat(b)) + 0.5))
            edges.append({"a": a + 1, "b": b + 1, "line": line_ids[L],
                          "km": max(1, metres) / 1000.0})
    src = {
        "format": "ykt-tariff-source/1",
        "name": "synthetic %d-station grid (bench)" % n,
        "lines": [{"id": lid, "name": "Line " + lid} for lid in line_ids],
        "stations": [{"id": i + 1, "name": "Synthetic %04d" % (i + 1),
                      "lines": sorted(s[2], key=int),
                      "lon": lonlat(i)[0], "lat": lonlat(i)[1]}
                     for i, s in enumerate(stations)],
        "edges": edges,
        "line_exceptions": [{"line": "5", "adjust_fen": -100}] if "5" in line_ids else [],
    }
    src.update(rules if rules is not None else _rules())
    return src


# -- compiling and sampling --------------------------------------------------------------------

def compile_network(src):
    """(payload, DIST section bytes, seconds to validate and compile, stations, lines) of a
    source dict; TariffSourceError if the compiler refuses it."""
    from host_tools.lib import tariff as ht

    t0 = time.perf_counter()
    m = ht.validate(src)
    payload = ht.compile_payload(m, 1)
    seconds = time.perf_counter() - t0
    nsec = struct.unpack_from(">H", payload, 6)[0]
    dist = 0
    for i in range(nsec):
        tag, _, size = struct.unpack_from(">4sII", payload, 24 + 12 * i)
        if tag == b"DIST":
            dist = size
    return payload, dist, seconds, len(m.ids), len(m.lines)


def od_pairs(ids, count=PAIRS, seed=SEED):
    """A fixed seeded sample of (origin, destination) station ids, origin != destination."""
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        a, b = rng.choice(ids), rng.choice(ids)
        if a != b:
            out.append((a, b))
    return out


def _at():
    from ykt import caltime

    return caltime.secs(2026, 11, 30, 8, 0)  # a Monday morning


def lookup(tariff, a, b, at=None):
    """What the bench times: ``engine.quote_trip`` for a card with no history (the engine
    `ykt fare quote` runs), as (fen, decametres)."""
    from ykt.fare import engine

    q = engine.quote_trip(tariff, a, b, _at() if at is None else at)
    return q.fen, q.distance_dam


def cpython_lookups(path, pairs):
    """Mean us per distance lookup and per quote on CPython, and (sum of fen, sum of dam)."""
    import hw_sim

    hw_sim.install()
    from ykt.fare import engine
    from ykt.fare.tariff import Tariff

    at = _at()
    best_d = best_q = None
    with open(path, "rb") as f:
        t = Tariff(f)
        for _ in range(REPEAT):
            t0 = time.perf_counter()
            for a, b in pairs:
                t.distance_dam(a, b)
            t1 = time.perf_counter()
            fen = dam = 0
            for a, b in pairs:
                q = engine.quote_trip(t, a, b, at)
                fen += q.fen
                dam += q.distance_dam
            t2 = time.perf_counter()
            best_d = min(best_d or t1 - t0, t1 - t0)
            best_q = min(best_q or t2 - t1, t2 - t1)
    n = len(pairs)
    return best_d * 1e6 / n, best_q * 1e6 / n, (fen, dam)


# -- the MicroPython VM ------------------------------------------------------------------------

def vm_lookups(path, pairs, entry, exit_, exits=EXITS, work=None, vfs_bytes=VFS_BYTES):
    """On the VM (512 KB heap), with the tariff file on the host disk and in a LittleFS of
    ``vfs_bytes`` (4 KB blocks, as the board's vfs partition; the block device is a host
    file): us to open the tariff, mean us per distance lookup and per quote, (sum of fen,
    sum of dam); on the LittleFS copy, us per exit pricing with and without the record
    decode/encode, and the timed exit's fare."""
    work = work or tempfile.mkdtemp(prefix="ykt-bench-fare-")
    pfile = os.path.join(work, "pairs.bin")
    with open(pfile, "wb") as f:
        f.write(b"".join(struct.pack(">HH", a, b) for a, b in pairs))
    flash = os.path.join(work, "vfs.img")
    with open(flash, "wb") as f:
        f.truncate(vfs_bytes)
    v = harness.run_script("fare_lookups", path, pfile, flash, vfs_bytes // 4096, entry, exit_,
                           exits, REPEAT)
    n = len(pairs)
    out = {}
    for key, w in (("host", v[0:5]), ("lfs", v[5:10])):
        out[key] = {"open_us": w[0], "dist_us": w[1] / n, "quote_us": w[2] / n,
                    "sums": (w[3], w[4])}
    out.update(exit_us=v[10] / exits, exit_engine_us=v[11] / exits, exit_fen=v[12])
    return out


def vm_heap(small, big, entry=ENTRY_STATION, exit_=EXIT_STATION):
    """Bytes (gc.mem_alloc, 64-bit unix port, .mpy code in RAM): fixed-fare terminal modules,
    gate role and fare modules on top, the open 302-station tariff, one exit pricing's
    allocations (gc off), the open 1,000-station tariff (``big`` None: 0)."""
    from hw_sim.vm_bridge import vm_path

    v = harness.run_script("heap_gate", "heap_gate_tariff.py", small, big or small, entry,
                           exit_, path=vm_path())
    return {"base": v[0], "gate_modules": v[1], "tariff": v[2], "exit_alloc": v[3],
            "tariff_big": v[4] if big else None}


# -- station scenarios -------------------------------------------------------------------------

def _station():
    """demo-station.json as a dict, its terminals' relative file paths made absolute (a
    scenario's paths resolve next to its file; the benches run parts of it as dicts)."""
    with open(STATION_SCENARIO, encoding="utf-8") as f:
        data = json.load(f)
    base = os.path.dirname(STATION_SCENARIO)
    terms = []
    for t in data["terminals"]:
        cfg = dict(t.get("config", {}))
        for key in ("tariff", "canteen"):
            if isinstance(cfg.get(key), str) and not os.path.isabs(cfg[key]):
                cfg[key] = os.path.normpath(os.path.join(base, cfg[key]))
        terms.append(dict(t, config=cfg))
    return dict(data, terminals=terms)


def _gates_scenario():
    """demo-station.json's gates and validator and their taps, idle gaps cut to at most 10 s
    (their smallest heaps are the needs host_tools/lib/boardcheck.py ROLE_VM_NEED_KB holds)."""
    data = _station()
    terms = [t for t in data["terminals"]
             if t["role"] in ("entry_gate", "exit_gate", "validator")]
    ids = {t["id"] for t in terms}
    start = datetime.datetime.fromisoformat(data["start"])
    at, last, events = 2, None, []
    for e in data["events"]:
        if e.get("terminal") not in ids:
            continue
        when = datetime.datetime.combine(start.date(), datetime.time.fromisoformat(e["at"]))
        if last is not None:
            at += min(10, max(1, (when - last).total_seconds()))
        last = when
        events.append(dict(e, at=at))
    return dict(data, terminals=terms, events=events)


def gate_min_heap_kb(step=HEAP_STEP_KB, lo=96):
    """Per gate (and the validator) of demo-station.json: (terminal id, role, declared vm_heap,
    smallest heap in ``step`` KB its taps run in with the same output as at the declared
    heap)."""
    data = _gates_scenario()
    _, ref, _ = harness.run_scenario(data, "micropython", name="bench-fare")
    out = []
    for k, term in enumerate(data["terminals"]):
        declared = int(term.get("vm_heap", "176K")[:-1])

        def runs(kb, k=k):
            trial = dict(data, terminals=[dict(t, vm_heap="%dK" % kb) if i == k else t
                                          for i, t in enumerate(data["terminals"])])
            return harness.runs_in(trial, None, same_as=ref, name="bench-fare")

        out.append((term["id"], term["role"], declared,
                    harness.smallest_heap_kb(runs, lo, declared, step)))
    return out


def taps_per_second(passengers=100):
    """CPython, virtual time: demo-station's entry gate (Xujiahui) and exit gate (People's
    Square); ``passengers`` cards tap in 2 s apart, then out 10 minutes later. Returns (taps,
    taps per wall second, exit tap -> fare mean and worst virtual ms, fen charged)."""
    terms = [t for t in _station()["terminals"] if t["role"] in ("entry_gate", "exit_gate")]
    gin = [t["id"] for t in terms if t["role"] == "entry_gate"][0]
    gout = [t["id"] for t in terms if t["role"] == "exit_gate"][0]
    names = ["p%03d" % i for i in range(passengers)]
    cards = [{"name": n, "number": "310100000001%08d" % i, "balance_fen": 99000}
             for i, n in enumerate(names)]
    events = [{"at": 1 + 2 * i, "terminal": gin, "tap": n, "hold_ms": 600}
              for i, n in enumerate(names)]
    events += [{"at": 601 + 2 * i, "terminal": gout, "tap": n, "hold_ms": 600}
               for i, n in enumerate(names)]
    data = {"start": "2026-11-30T08:00:00", "terminals": terms, "cards": cards, "events": events}
    _, lines, wall = harness.run_scenario(data, name="bench-fare")
    start = datetime.datetime.fromisoformat(data["start"])
    taps = sorted(start + datetime.timedelta(seconds=e["at"]) for e in events
                  if e["terminal"] == gout)
    lat, fen = [], 0
    for x in lines:
        e = json.loads(x)
        if e.get("event") == "exit":
            t = datetime.datetime.fromisoformat(e["t"])
            lat.append((t - max(p for p in taps if p <= t)).total_seconds() * 1000)
            fen += e["fen"]
    if len(lat) != passengers:
        raise RuntimeError("%d of %d exits charged" % (len(lat), passengers))
    return len(events), len(events) / wall, sum(lat) / len(lat), max(lat), fen


# -- flash -------------------------------------------------------------------------------------

def tariff_updates(payload, board="devkitc-turnstile"):
    """The firmware's update path (``ykt.store.updates``) on a fresh LittleFS of the board's
    vfs partition (CPython, simulated NOR): install the payload as v1, then as v2 over it
    (inbox envelope + ``.new`` copy + the installed file). Returns (vfs bytes, free bytes
    after v1, v2 reason ("" = installed), free bytes after v2)."""
    import hw_sim

    hw_sim.install()
    from host_tools.lib import boards
    from host_tools.lib import updates as hu
    from hw_sim.terminal import SimTerminal
    from ykt.store.updates import Updates

    data = boards.load(board)
    sim = SimTerminal(data)
    fs = sim.filesystem()
    fs.mkdir("/inbox")
    master, tid = bytes(range(16)), bytes.fromhex(GATE_ID)
    u = Updates(fs, hu.device_key(master, tid), tid)
    free, reason = [], ""
    for version in (1, 2):
        with fs.open("/inbox/tariff.upd", "wb") as f:
            f.write(hu.sign("tariff", version, tid, payload, master))
        [o] = u.scan_inbox("/inbox")
        if not o.installed:
            reason = o.reason
        st = fs.statvfs("/")
        free.append(st[0] * st[3])
    return data["partitions"]["vfs"]["size"], free[0], reason, free[1]


def largest_updatable(lo=302, hi=1000, step=10):
    """Stations of the largest synthetic network (``step`` resolution) whose tariff can be
    updated over an installed one on the turnstile board, and its payload bytes."""
    size = {}

    def fits(n):
        payload = compile_network(synthetic_source(n))[0]
        size[n] = len(payload)
        return tariff_updates(payload)[2] == ""

    if not fits(lo):
        return None, None
    lo = harness.bisect(lambda n: not fits(n), lo, hi, step)[0]
    return lo, size[lo]


# -- the whole bench ---------------------------------------------------------------------------

def _network(label, make, work, entry, exit_):
    """Figures for one network; ``make()`` returns the source dict. A network the compiler
    refuses gets ``error`` (its one-line reason) instead of figures."""
    from host_tools.lib.tariff import TariffSourceError

    out = {"label": label}
    try:
        src = make()
        payload, dist, secs, n, nlines = compile_network(src)
    except (TariffSourceError, ValueError, OSError) as e:
        out["error"] = str(e)
        return out
    path = os.path.join(work, "%s.bin" % label)
    with open(path, "wb") as f:
        f.write(payload)
    ids = sorted(s["id"] for s in src["stations"])
    pairs = od_pairs(ids)
    cp_dist, cp_quote, cp_sums = cpython_lookups(path, pairs)
    vm = vm_lookups(path, pairs, entry(ids), exit_(ids), work=work)
    for where in ("host", "lfs"):
        if vm[where]["sums"] != cp_sums:
            raise RuntimeError("%s: the VM's quotes differ from CPython's (%r != %r)"
                               % (label, vm[where]["sums"], cp_sums))
    out.update(path=path, stations=n, lines=nlines, size=len(payload), dist=dist,
               compile_s=secs, pairs=len(pairs), cp_dist_us=cp_dist,
               cp_quote_us=cp_quote, mean_fen=cp_sums[0] / len(pairs),
               mean_km=cp_sums[1] / len(pairs) / 100, vm=vm, flash=tariff_updates(payload))
    return out


def bench_fare(heap=True):
    from hw_sim.vm_bridge import vm_dir

    vm_dir()
    work = tempfile.mkdtemp(prefix="ykt-bench-fare-")
    out = {}

    def shanghai():
        if not os.path.exists(SOURCE):
            raise OSError("%s not found" % os.path.relpath(SOURCE, ROOT))
        with open(SOURCE, encoding="utf-8") as f:
            return json.load(f)

    out["shanghai"] = _network("shanghai-302", shanghai, work,
                               lambda ids: ENTRY_STATION, lambda ids: EXIT_STATION)
    # the synthetic exit: entered at the first station, leaves at the one in the middle
    out["synthetic"] = _network("synthetic-1000", lambda: synthetic_source(1000), work,
                                lambda ids: ids[0], lambda ids: ids[len(ids) // 2])
    if out["synthetic"].get("flash", (0, 0, ""))[2]:
        out["largest_updatable"] = largest_updatable()
    if "path" in out["shanghai"]:
        out["heap"] = vm_heap(out["shanghai"]["path"], out["synthetic"].get("path"))
        if heap:
            out["gate_min_heap"] = gate_min_heap_kb()
        out["taps"] = taps_per_second()
    return out


def _print_network(f, largest=None):
    titles = {"shanghai-302": "2017 Shanghai network (tariffs/shanghai-2017.json)",
              "synthetic-1000": "synthetic 1,000-station grid (seeded)"}
    print("  %s" % titles[f["label"]])
    if "error" in f:
        print("    not compiled: %s" % f["error"])
        return
    vm = f["vm"]
    host, lfs = vm["host"], vm["lfs"]
    print("    stations / lines:                  %d / %d" % (f["stations"], f["lines"]))
    print("    compiled tariff:                   %d bytes, distance table %d of them"
          " (compiled in %.1f s)" % (f["size"], f["dist"], f["compile_s"]))
    print("    %d seeded pairs, mean trip %.1f km, mean fare %.2f yuan; mean us per call:"
          % (f["pairs"], f["mean_km"], f["mean_fen"] / 100))
    print("      distance lookup:  VM %3.0f us from LittleFS, VM %3.0f us from a host file,"
          " CPython %.1f us" % (lfs["dist_us"], host["dist_us"], f["cp_dist_us"]))
    print("      quote_trip:       VM %3.0f us from LittleFS, VM %3.0f us from a host file,"
          " CPython %.1f us" % (lfs["quote_us"], host["quote_us"], f["cp_quote_us"]))
    print("    tariff open on the VM:             %.1f ms (LittleFS)" % (lfs["open_us"] / 1000))
    print("    exit-tap pricing on the VM:        %.0f us (record decode + metro_exit + encode;"
          " metro_exit alone %.0f us; fare %d fen)"
          % (vm["exit_us"], vm["exit_engine_us"], vm["exit_fen"]))
    vfs, free1, reason, free2 = f["flash"]
    if not reason:
        update = "fits"
    else:
        update = "is refused: %s; %d KB free after" % (reason, free2 // 1024)
    print("    turnstile vfs (%d KB):            install leaves %d KB free; update over it %s"
          % (vfs // 1024, free1 // 1024, update))
    if largest:
        print("    largest synthetic grid an update fits: ~%d stations (%d-byte tariff)"
              % largest)


def main():
    import hw_sim

    hw_sim.install()
    f = bench_fare(heap="--no-heap" not in sys.argv)
    print("\n[transit fares]")
    if "error" in f["shanghai"]:
        print("  2017 Shanghai network: skipped (%s)" % f["shanghai"]["error"])
    else:
        _print_network(f["shanghai"])
    _print_network(f["synthetic"], f.get("largest_updatable"))
    print("  (VM: 64-bit unix port, .mpy; LittleFS: a real LittleFS of 2 MB, 4 KB blocks, on a"
          " host-file block device;\n   exit tap: entered 30 min before, bus transfer, monthly"
          " discount; quotes on the VM equal CPython's)")
    if "heap" in f:
        h = f["heap"]
        print("  heap on the MicroPython VM (gc.mem_alloc; .mpy code in RAM, 64-bit pointers):")
        print("    fixed-fare terminal modules:       %.1f KB" % (h["base"] / 1024))
        print("    gate role + fare modules on top:   %.1f KB" % (h["gate_modules"] / 1024))
        if h["tariff_big"] is None:
            print("    open tariff, 302 stations:         %.1f KB" % (h["tariff"] / 1024))
        else:
            print("    open tariff, 302 / 1,000 stations: %.1f KB / %.1f KB"
                  % (h["tariff"] / 1024, h["tariff_big"] / 1024))
        print("    one exit-tap pricing allocates:    %.1f KB (gc off; garbage after the tap)"
              % (h["exit_alloc"] / 1024))
        print("    modules + 302 tariff + one exit:   %.1f KB"
              % ((h["base"] + h["gate_modules"] + h["tariff"] + h["exit_alloc"]) / 1024))
        for tid, role, declared, kb in f.get("gate_min_heap", ()):
            print("    smallest heap, %-20s %d KB (scenario declares %dK; demo-station taps,"
                  " torn exit, boot updates)" % (role.replace("_", " ") + " " + tid + ":", kb,
                                                 declared))
    if "taps" in f:
        n, rate, mean, worst, _ = f["taps"]
        print("  simulated taps, CPython on virtual time (entry gate + exit gate, %d taps):" % n)
        print("    %.0f taps/s wall; exit tap->fare %.1f ms mean, %.1f ms worst (virtual)"
              % (rate, mean, worst))


if __name__ == "__main__":
    with harness.scratch():
        main()
