"""The layers of the tree, read from the imports (docs/architecture.md, "Host side").

Every import counts, at the top of a module or inside a function. Firmware is MicroPython
and imports only itself; the host library is the bottom of the host side; the simulator
holds models and the runner and calls the library, never the CLI; nothing shipped imports
the tests or the benches; and there is no import circle anywhere.
"""

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TREES = {"firmware": "firmware", "host_tools": "", "hw_sim": "", "bench": "", "tests": ""}


def _modules():
    """{dotted module name: path} of every Python file in the trees."""
    out = {}
    for top, strip in TREES.items():
        for base, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for f in files:
                if not f.endswith(".py"):
                    continue
                rel = os.path.relpath(os.path.join(base, f), os.path.join(ROOT, strip))
                name = rel[:-3].replace(os.sep, ".")
                if name.endswith(".__init__"):
                    name = name[: -len(".__init__")]
                out[name] = os.path.join(base, f)
    return out


MODULES = _modules()


def _imports(path):
    """Every module name an import statement in ``path`` names (``from a import b`` names
    ``a.b`` when that is a module of ours, else ``a``)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                sub = node.module + "." + a.name
                out.add(sub if sub in MODULES else node.module)
    return out


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _in(name, *packages):
    return any(name == p or name.startswith(p + ".") for p in packages)


def _crossings(frm, to):
    return sorted("%s imports %s" % (m, d) for m, deps in GRAPH.items() if _in(m, *frm)
                  for d in deps if _in(d, *to))


def test_firmware_imports_only_itself_and_micropython():
    assert _crossings(["ykt"], ["host_tools", "hw_sim", "bench", "tests"]) == []


def test_the_network_package_imports_nothing_above_the_drivers():
    """``ykt.net`` (the MQTT client, docs/mqtt.md) is at the drivers' level: of the firmware it
    imports only the clock and the shared errors. The fleet sync (``ykt.net.sync``,
    docs/sync.md) is its one exception, below."""
    assert sorted("%s imports %s" % (m, d) for m, deps in GRAPH.items()
                  if _in(m, "ykt.net") and m != "ykt.net.sync" for d in deps
                  if _in(d, "ykt") and not _in(d, "ykt.net", "ykt.clock", "ykt.errors")) == []


def test_the_sync_imports_only_the_network_clock_errors_and_report():
    """``ykt.net.sync`` works on the journal, the filesystem and the context it is handed
    (``ykt.main`` attaches it to the role): it imports the MQTT client, the clock, the errors
    and the console report, no store, role or main; and only ``ykt.main`` imports it, inside
    ``run`` when the configuration has ``"mqtt"`` (a terminal without sync never loads it)."""
    assert sorted(d for d in GRAPH["ykt.net.sync"] if _in(d, "ykt") and not _in(
        d, "ykt.net.mqtt", "ykt.clock", "ykt.errors", "ykt.report")) == []
    assert sorted(m for m, deps in GRAPH.items() if "ykt.net.sync" in deps
                  and _in(m, "ykt", "host_tools", "hw_sim")) == ["ykt.main"]


def test_the_host_library_imports_nothing_above_it():
    assert _crossings(["host_tools.lib"],
                      ["host_tools.device", "host_tools.cli", "hw_sim", "bench"]) == []


def test_device_operations_do_not_import_the_cli_or_the_simulator():
    assert _crossings(["host_tools.device"], ["host_tools.cli", "hw_sim", "bench"]) == []


def test_the_simulator_never_imports_the_cli_or_device_operations():
    assert _crossings(["hw_sim"], ["host_tools.cli", "host_tools.device", "bench"]) == []


def test_nothing_shipped_imports_the_tests_or_the_benches():
    shipped = ["ykt", "host_tools", "hw_sim"]
    tests = [m for m in MODULES if MODULES[m].startswith(os.path.join(ROOT, "tests") + os.sep)]
    assert _crossings(shipped, ["bench"] + tests) == []


def _cycles():
    state, found = {}, []

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH.get(node, ())):
            if nxt not in GRAPH:
                continue
            if state.get(nxt) == 1:
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [])
    return found


def test_there_is_no_import_circle():
    assert [" -> ".join(c) for c in _cycles()] == []


def test_the_checker_sees_a_circle_and_a_crossing():
    """The checks above can fail: a made-up circle and a made-up crossing are seen."""
    saved = dict(GRAPH)
    try:
        GRAPH["hw_sim.scenario"] = saved["hw_sim.scenario"] | {"host_tools.cli"}
        GRAPH["host_tools.cli"] = saved["host_tools.cli"] | {"hw_sim.scenario"}
        assert "hw_sim.scenario imports host_tools.cli" in _crossings(["hw_sim"],
                                                                      ["host_tools.cli"])
        assert any("hw_sim.scenario" in c and "host_tools.cli" in c for c in _cycles())
    finally:
        GRAPH.clear()
        GRAPH.update(saved)
