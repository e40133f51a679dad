"""The benches (bench/, `make bench`): outside the installed package, one heap bisection, and
the POS shift they measure is the one tests/poskit.py would script."""

import ast
import json
import os
import re

from poskit import Day

from bench import harness
from hw_sim.scenario import Scenario

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = ("host_tools", "hw_sim", "firmware")
TEST_HELPERS = {f[:-3] for f in os.listdir(os.path.join(ROOT, "tests")) if f.endswith(".py")}


def test_the_installed_package_has_no_bench():
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    packages = re.search(r"^\[tool\.setuptools\]\s*packages\s*=\s*\[(.*?)\]", text,
                         re.M | re.S).group(1)
    names = re.findall(r'"([^"]+)"', packages)
    assert "host_tools" in names
    assert not [p for p in names if p.split(".")[0] in ("bench", "tests")]


def test_nothing_shipped_imports_the_benches_or_the_tests():
    bad = []
    for top in SHIPPED:
        for base, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(base, name)
                with open(path, encoding="utf-8") as f:
                    tree = ast.parse(f.read(), path)
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        mods = [a.name for a in node.names]
                    elif isinstance(node, ast.ImportFrom) and not node.level:
                        mods = [node.module or ""]
                    else:
                        continue
                    for m in mods:
                        if m.split(".")[0] in {"bench", "tests"} | TEST_HELPERS:
                            bad.append("%s: %s" % (os.path.relpath(path, ROOT), m))
    assert not bad


def test_the_heap_bisection_finds_the_smallest_step_that_runs():
    tried = []

    def runs(kb):
        tried.append(kb)
        return kb >= 110

    assert harness.smallest_heap_kb(runs, 64, 192) == 112
    assert all(kb % 4 == 0 for kb in tried)
    assert harness.smallest_heap_kb(lambda kb: kb >= 230, 160, 384, 16) == 240
    assert harness.smallest_heap_kb(lambda kb: False, 96, 176) == 176  # nothing smaller


def _poskit_shift():
    """The shift bench/pos.py measured with tests/poskit.py before it had its own file."""
    d = Day(start="2025-03-05T11:40:00", mode="menu")
    d.card("elder", "31012300000000000002", balance=8000, birth=19550101,
           flags=["resident", "hukou"], subsidy_balance=1000, subsidy_expiry=20250331)
    d.staff_card("li").staff_card("zhao")
    d.sign_in("li").type("101#103#104#201#").tap("elder", tear_at_apdu=6).tap("elder")
    d.authorise("2").type("#").tap("elder").authorise("4")
    return d


def test_the_pos_shift_file_is_the_poskit_shift():
    with open(os.path.join(ROOT, "bench", "pos-shift.json"), encoding="utf-8") as f:
        shift = json.load(f)
    d = _poskit_shift()
    want = d.scenario()
    term, = shift["terminals"]
    assert "vm_heap" not in term  # the bisection sets the heap
    path = os.path.join(ROOT, "bench", "pos-shift.json")
    assert Scenario.load(path).terminal_config()["canteen"] == d.rules
    assert dict(term["config"], canteen=d.rules) == want["terminals"][0]["config"]
    assert shift["start"] == want["start"]
    assert [{k: v for k, v in c.items() if k != "records"} for c in shift["cards"]] == \
        want["cards"]
    assert {c["name"]: c["records"]["2"] for c in shift["cards"] if "records" in c} == \
        {name: rec.encode().hex() for name, rec in d.records.items()}
    assert [e for e in shift["events"] if "tap" in e] == want["events"]
    assert [(e["at"], e["keys"]) for e in shift["events"] if "keys" in e] == d.keys


def test_the_pos_heap_script_measures_the_pos_modules():
    """bench/vm/heap_pos.py imports the POS role's modules for the heap they take: the figure
    between its two marks is theirs (a linter once removed those 'unused' imports)."""
    from bench import pos
    from hw_sim.vm_bridge import vm_path

    base, role, rules = harness.run_script("heap_pos", "heap_pos_rules.py", pos.EXAMPLE,
                                           path=vm_path())
    assert base > 30000 and role > 30000  # the terminal, then the POS role on top: tens of KB
    assert rules > 0


def test_the_gate_heap_script_measures_the_gate_modules(tmp_path):
    from bench import fare
    from host_tools.lib import tariff
    from hw_sim.vm_bridge import vm_path

    path = tmp_path / "t.bin"
    path.write_bytes(tariff.build(fare.SOURCE, 1))
    v = harness.run_script("heap_gate", "heap_gate_tariff.py", path, path, fare.ENTRY_STATION,
                           fare.EXIT_STATION, path=vm_path())
    assert v[1] > 10000  # gate role and fare modules on top of the fixed-fare terminal


def test_the_station_benches_find_the_files_their_scenario_names():
    """bench.fare runs demo-station's terminals as dicts: their relative paths (next to the
    scenario file) are made absolute first, so the tariff is found from any directory."""
    import os

    from bench import fare

    paths = [t["config"]["tariff"] for t in fare._station()["terminals"]
             if t.get("config", {}).get("tariff")]
    assert paths and all(os.path.isabs(p) and os.path.isfile(p) for p in paths)


def test_a_scenario_of_a_hundred_terminals_gives_each_its_own_six_byte_id():
    """bench/scale.py runs 100 terminals: the default terminal id must stay 6 bytes past 99."""
    from bench import scale
    from hw_sim.scenario import Scenario

    s = Scenario(scale.scenario(120, 1))
    ids = [s.terminal_config(t)["terminal_id"] for t in s.terminals]
    assert len(set(ids)) == 120 and all(len(bytes.fromhex(i)) == 6 for i in ids)
    assert ids[0] == "290000000001" and ids[119] == "290000000120"


def test_the_network_day_draws_the_same_day_from_the_same_seed():
    from bench import network_day

    assert network_day.demand(50, "s") == network_day.demand(50, "s")
    assert network_day.demand(50, "s") != network_day.demand(50, "t")


def test_the_network_day_keeps_each_commuter_at_the_gates_of_one_process():
    from bench import network_day

    trips = network_day.demand(200, "s")
    for part in range(2):
        data = network_day.scenario(trips, part, 2)
        gates = {t["id"] for t in data["terminals"]}
        assert {e["terminal"] for e in data["events"]} <= gates
        assert all(t.split("-")[1] == str(part) for t in gates)
        assert {c["name"] for c in data["cards"]} == {"c%d" % c for c in range(part, 200, 2)}


def test_the_network_day_queues_passengers_one_card_at_a_time_per_gate():
    from bench import network_day

    data = network_day.scenario(network_day.demand(2000, "s"), 0, 1)
    last = {}
    for e in sorted(data["events"], key=lambda e: e["at"]):
        assert e["at"] - last.get(e["terminal"], -99) >= network_day.GAP_S
        last[e["terminal"]] = e["at"]
    assert len(data["events"]) == 4 * 2000
