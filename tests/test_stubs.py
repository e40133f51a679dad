"""The simulator's stand-ins for MicroPython's built-in modules, held to the stubs the firmware is
type-checked against (``micropython-esp32-stubs``, see tests/typecheck_firmware.py). A missing
stubs package fails these tests: it is a dev dependency, and a check that cannot run must not pass.

The firmware (``firmware/ykt/**/*.py``) is read with ``ast``: every name it takes from
``machine``, ``time``, ``micropython``, ``cryptolib``, ``esp32`` and ``network`` (``import machine``
then ``machine.X`` / ``machine.X.Y``, ``from machine import X``), every call of those names, and
every method call on an object it built from one of their classes in the same module
(``_rtc = machine.RTC()`` ... ``_rtc.datetime(...)``, ``cryptolib.aes(...).encrypt(...)``). A driver
is handed its bus as a constructor argument, of a class the scan cannot know: a keyword argument
in a method call on such an object (``self._i2c.writeto(..., stop=False)``) is checked against the
used classes that have a method of that name, when no firmware class defines one. The stubs are
read with ``ast`` too, never imported.

Who serves the firmware's imports:

* CPython: ``hw_sim.install()`` puts ``hw_sim.machine``, ``hw_sim.esp32``, ``hw_sim.network``,
  ``hw_sim.cryptolib`` and a ``micropython`` module (``hw_sim.runtime``) in ``sys.modules``
  and grafts ``hw_sim.runtime``'s ticks and sleep functions onto CPython's ``time``. A
  callable the firmware reaches must be the simulator's (its ``__module__`` in ``hw_sim``):
  CPython's own ``time.sleep`` would run on the wall clock.
* The MicroPython unix VM: a file in ``hw_sim/vm/`` (``machine.py``, ``time.py``,
  ``esp32.py``, ``network.py``) is first on the VM's path and shadows the built-in module of
  that name *entirely* (``time.ticks_ms`` on the VM is ``hw_sim/vm/time.py``'s, not the unix
  port's), so it must define every name the firmware uses from that module. A module without a file
  there (``micropython``, ``cryptolib``) is the unix port's own, MicroPython's real
  implementation: it needs no stand-in, and the VM is asked whether it has the names.

A stand-in's parameters are a subset of the stub's, for what the firmware calls and for every
public function, constructor and method a stand-in shares with the stub (the firmware may call
it tomorrow): each named parameter is one some overload of the stub has, by name, or by position
where the stub's parameter is positional-only (``/``: its name is not part of the API). A
stand-in's ``*args``/``**kwargs`` invent no name. A parameter the stand-in takes positionally must
be positional in the stub too. The reverse is allowed: MicroPython code cannot declare
positional-only parameters, so a proxy may let a caller name one; the call sites check that the
firmware never does. Where the stub is wrong, ``STUB_ERRATA`` gives the signature of the C
source and the reason; an erratum the stub no longer needs fails its own test.
"""

import ast
import functools
import glob
import inspect
import json
import os
import subprocess
import sys
from importlib import metadata

import pytest

import hw_sim
from hw_sim import vm_bridge

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware", "ykt")
VM_DIR = os.path.join(ROOT, "hw_sim", "vm")
MODULES = ("machine", "time", "micropython", "cryptolib", "esp32", "network")
STUB_DISTS = ("micropython-stdlib-stubs", "micropython-esp32-stubs")  # the ESP32 port's win
P = inspect.Parameter
POSITIONAL = (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)
KEYWORD = (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)
MISSING = object()


# -- the stubs and the VM proxies, read with ast --------------------------------------------------

def stub_files():
    """Module name -> .pyi path, from the stub distributions' RECORDs. Fails when one is missing:
    the stubs are a dev dependency, and a check that cannot run must not pass."""
    paths = {}
    for dist in STUB_DISTS:
        try:
            d = metadata.distribution(dist)
        except metadata.PackageNotFoundError:
            pytest.fail("%s is not installed (pip install -e '.[dev]'): the stand-ins cannot be "
                        "checked against MicroPython's API" % dist)
        for f in d.files or ():
            rel = str(f)
            if rel.endswith(".pyi"):
                mod = rel[:-4].replace("/", ".")
                paths[mod[:-9] if mod.endswith(".__init__") else mod] = str(d.locate_file(f))
    return paths


@functools.lru_cache(maxsize=None)
def stubs():
    files = stub_files()
    missing = [m for m in MODULES if m not in files]
    assert not missing, "no stub for %s in %s" % (missing, STUB_DISTS)
    return Modules(files.get, reexports_only=True)


# Where the stub is wrong, the signature MicroPython's C source gives the ESP32 port, and why.
STUB_ERRATA = {
    ("machine", "RTC"): (
        "def RTC(): ...",
        "the stub has RTC(id=0, ...) from the generic docs; ports/esp32/machine_rtc.c's make_new "
        "calls mp_arg_check_num(n_args, n_kw, 0, 0, false): the ESP32's RTC takes no argument"),
    ("machine", "WDT"): (
        "def WDT(id=0, timeout=5000): ...",
        "the stub makes id and timeout keyword-only; extmod/machine_wdt.c parses both as "
        "MP_ARG_INT, positional or keyword, and the docs say WDT(id=0, timeout=5000)"),
    ("machine", "RTC.datetime"): (
        "def datetime(datetimetuple=None, /): ...",
        "the stub lets the tuple be passed as datetimetuple=...; every port's machine_rtc.c "
        "defines it with MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(..., 1, 2, ...), positional only, "
        "so that keyword would pass the stub and fail on the board"),
}


def stub_signatures(module, dotted):
    """The stub's overloads for a callable (None if not callable there), errata applied."""
    if (module, dotted) in STUB_ERRATA:
        fn = ast.parse(STUB_ERRATA[module, dotted][0]).body[0]
        return [ast_signature(fn, method=False)]
    return stubs().get(module).signatures(dotted)


class Modules:
    """ast modules by name, loaded on demand (a class's base may live in another module)."""

    def __init__(self, locate, reexports_only):
        self._locate = locate
        self._reexports_only = reexports_only
        self._loaded = {}

    def get(self, name):
        if name not in self._loaded:
            path = self._locate(name)
            self._loaded[name] = AstModule(name, path, self) if path else None
        return self._loaded[name]


def _scope(body, out, imports):
    """name -> the nodes that define it (several for overloads), ``if`` branches included."""
    for n in body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.setdefault(n.name, []).append(n)
        elif isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Name):
                    out.setdefault(t.id, []).append(n)
        elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name):
            out.setdefault(n.target.id, []).append(n)
        elif isinstance(n, ast.ImportFrom) and n.module and not n.level and imports is not None:
            for a in n.names:
                imports[a.asname or a.name] = (n.module, a.name, a.asname == a.name)
        elif isinstance(n, ast.If):
            _scope(n.body, out, imports)
            _scope(n.orelse, out, imports)
    return out


class AstModule:
    def __init__(self, name, path, modules):
        self.name, self.path, self.modules = name, path, modules
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        self.imports = {}
        self.scope = _scope(tree.body, {}, self.imports)

    def top(self, name):
        """The nodes defining a module-level name: its own, or a re-export (``import X as X``)."""
        if name in self.scope:
            return self, self.scope[name]
        if name in self.imports:
            mod, orig, reexport = self.imports[name]
            other = self.modules.get(mod)
            if other is not None and (reexport or not self.modules._reexports_only):
                return other.top(orig)
        return self, []

    def _base(self, node):
        if isinstance(node, ast.Name):
            if node.id in self.scope:
                return self, [n for n in self.scope[node.id] if isinstance(n, ast.ClassDef)]
            if node.id in self.imports:  # a base class from another module, re-exported or not
                mod, orig, _ = self.imports[node.id]
                other = self.modules.get(mod)
                if other is not None:
                    return other._base(ast.Name(orig))
        return self, []

    def member(self, cls_node, name, seen=()):
        """The nodes defining ``name`` in a class or, failing that, in its bases."""
        found = _scope(cls_node.body, {}, None).get(name)
        if found:
            return found
        for b in cls_node.bases:
            mod, classes = self._base(b)
            for c in classes:
                if c not in seen:
                    got = mod.member(c, name, seen + (cls_node,))
                    if got:
                        return got
        return []

    def members(self, cls_node, seen=()):
        names = set(_scope(cls_node.body, {}, None))
        for b in cls_node.bases:
            mod, classes = self._base(b)
            for c in classes:
                if c not in seen:
                    names |= mod.members(c, seen + (cls_node,))
        return names

    def lookup(self, dotted):
        """(nodes, owner class node or None) for ``X`` or ``X.Y``."""
        parts = dotted.split(".")
        mod, nodes = self.top(parts[0])
        owner = None
        for part in parts[1:]:
            classes = [n for n in nodes if isinstance(n, ast.ClassDef)]
            if not classes:
                return [], None
            owner = classes[0]
            nodes = mod.member(owner, part)
        return nodes, owner

    def exists(self, dotted):
        return bool(self.lookup(dotted)[0])

    def signatures(self, dotted):
        """Signatures (one per overload) of a function, method or class constructor; None if
        ``dotted`` is not callable here."""
        nodes, owner = self.lookup(dotted)
        classes = [n for n in nodes if isinstance(n, ast.ClassDef)]
        if classes:
            for ctor in ("__init__", "__new__"):
                defs = [n for n in self._resolve_class(dotted).member(classes[0], ctor)
                        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
                if defs:
                    return [ast_signature(d, method=True) for d in defs]
            return [inspect.Signature()]
        defs = [n for n in nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        return [ast_signature(d, method=owner is not None) for d in defs] or None

    def _resolve_class(self, dotted):
        return self.top(dotted.split(".")[0])[0]

    def value(self, dotted):
        """The literal value a name is assigned, MISSING when there is none (``x: int``)."""
        for n in self.lookup(dotted)[0]:
            if isinstance(n, (ast.Assign, ast.AnnAssign)) and n.value is not None:
                try:
                    return ast.literal_eval(n.value)
                except ValueError:
                    pass
        return MISSING

    def class_methods(self, cls_name):
        """Public methods (and ``__call__``) of a class, its bases' included."""
        nodes, _ = self.lookup(cls_name)
        classes = [n for n in nodes if isinstance(n, ast.ClassDef)]
        if not classes:
            return set()
        mod = self._resolve_class(cls_name)
        return {m for m in mod.members(classes[0]) if (not m.startswith("_") or m == "__call__")
                and self.signatures(cls_name + "." + m)}


class _Source:
    """A default value shown as written (``mode=-1``) in messages."""

    def __init__(self, node):
        self.text = ast.unparse(node)

    def __repr__(self):
        return self.text


def ast_signature(fn, method):
    a = fn.args
    pos = a.posonlyargs + a.args
    first_default = len(pos) - len(a.defaults)
    params = []
    for i, arg in enumerate(pos):
        kind = P.POSITIONAL_ONLY if i < len(a.posonlyargs) else P.POSITIONAL_OR_KEYWORD
        if kind is P.POSITIONAL_OR_KEYWORD and arg.arg.startswith("__") \
                and not arg.arg.endswith("__"):
            kind = P.POSITIONAL_ONLY  # the older stub spelling of a positional-only parameter
        default = _Source(a.defaults[i - first_default]) if i >= first_default else P.empty
        params.append(P(arg.arg, kind, default=default))
    if a.vararg:
        params.append(P(a.vararg.arg, P.VAR_POSITIONAL))
    for arg, d in zip(a.kwonlyargs, a.kw_defaults):
        params.append(P(arg.arg, P.KEYWORD_ONLY, default=P.empty if d is None else _Source(d)))
    if a.kwarg:
        params.append(P(a.kwarg.arg, P.VAR_KEYWORD))
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
    if method and not static and params and params[0].kind in POSITIONAL:
        params = params[1:]
    return inspect.Signature(params)


@functools.lru_cache(maxsize=None)
def vm_proxies():
    return Modules(_vm_file, reexports_only=False)


def _vm_file(module):
    path = os.path.join(VM_DIR, module + ".py")
    return path if os.path.exists(path) else None


# -- the CPython stand-ins, inspected -------------------------------------------------------------

class CPythonStandins:
    """What the firmware's imports resolve to under CPython after ``hw_sim.install()``."""

    def __init__(self):
        hw_sim.install()

    def obj(self, module, dotted):
        obj = sys.modules.get(module, MISSING)
        for part in dotted.split("."):
            obj = getattr(obj, part, MISSING) if obj is not MISSING else MISSING
        if callable(obj) and not getattr(obj, "__module__", "").startswith("hw_sim"):
            return MISSING  # CPython's own (time.sleep), not the simulator's
        return obj

    def exists(self, module, dotted):
        return self.obj(module, dotted) is not MISSING

    def signatures(self, module, dotted):
        obj = self.obj(module, dotted)
        if inspect.isclass(obj):
            return [inspect.signature(obj)]
        if not callable(obj):
            return None
        sig = inspect.signature(obj)
        if "." in dotted:  # a method, read from the class: drop self
            sig = sig.replace(parameters=list(sig.parameters.values())[1:])
        return [sig]

    def value(self, module, dotted):
        return self.obj(module, dotted)

    def class_methods(self, module, cls_name):
        cls = self.obj(module, cls_name)
        if not inspect.isclass(cls):
            return set()
        return {m for m in dir(cls) if (not m.startswith("_") or m == "__call__")
                and inspect.isfunction(getattr(cls, m))}


class VMStandins:
    """The proxies in hw_sim/vm/; None for a module the VM serves natively."""

    def module(self, module):
        return vm_proxies().get(module)

    def signatures(self, module, dotted):
        return self.module(module).signatures(dotted)

    def class_methods(self, module, cls_name):
        return self.module(module).class_methods(cls_name)


# -- what the firmware uses -----------------------------------------------------------------------

class Use:
    """One use of ``module.dotted`` at file:line; for a call, its argument shape."""

    def __init__(self, module, dotted, where, call=None):
        self.module, self.dotted, self.where = module, dotted, where
        self.call = call

    @property
    def name(self):
        return "%s.%s" % (self.module, self.dotted)

    def __repr__(self):
        return "%s (%s)" % (self.name, self.where)


def _chain(node):
    """``a.b.c`` -> ["a", "b", "c"]; None when it does not start at a plain name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id] + parts[::-1]
    return None


def _receiver_key(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id == "self":
        return "self." + node.attr
    return None


def _shape(call):
    """The argument shape of a call: positional count, keyword names, ``*``/``**`` present."""
    return {"npos": sum(not isinstance(a, ast.Starred) for a in call.args),
            "keywords": [k.arg for k in call.keywords if k.arg is not None],
            "open": any(isinstance(a, ast.Starred) for a in call.args)
            or any(k.arg is None for k in call.keywords)}


class _Scan:
    """The uses of MODULES in one source file."""

    def __init__(self, tree, rel, is_class):
        self.rel, self.is_class = rel, is_class
        self.aliases = {}  # local name -> (module, [dotted prefix])
        self.uses = []
        self.loose = []  # (method, where, shape): keyword calls on receivers of unknown class
        self.own_methods = {f.name for c in ast.walk(tree) if isinstance(c, ast.ClassDef)
                            for f in c.body
                            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
        for n in ast.walk(tree):
            if isinstance(n, ast.Import):
                for a in n.names:
                    if a.name in MODULES:
                        self.aliases[a.asname or a.name] = (a.name, [])
            elif isinstance(n, ast.ImportFrom) and n.module in MODULES and not n.level:
                for a in n.names:
                    self.aliases[a.asname or a.name] = (n.module, [a.name])
                    self.uses.append(Use(n.module, a.name, self.where(n)))
        # receiver ("x", "self.x") -> (module, class), from `x = machine.C(...)` in this file
        self.instances = {}
        for n in ast.walk(tree):
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call):
                made = self.made(n.value)
                for key in filter(None, map(_receiver_key, n.targets)):
                    if made:
                        self.instances[key] = made
        for n in ast.walk(tree):
            if isinstance(n, ast.Attribute) and not isinstance(n.ctx, ast.Store):
                got = self.resolve(n)
                if got and got[1].count(".") <= 1:  # a module name or a class attribute
                    self.uses.append(Use(got[0], got[1], self.where(n)))
            if isinstance(n, ast.Call):
                self.call(n)

    def where(self, node):
        return "%s:%d" % (self.rel, node.lineno)

    def resolve(self, node):
        """(module, dotted) an expression names, or None."""
        parts = _chain(node)
        if not parts or parts[0] not in self.aliases:
            return None
        module, prefix = self.aliases[parts[0]]
        dotted = prefix + parts[1:]
        return (module, ".".join(dotted)) if dotted else None

    def made(self, call):
        """(module, class) when ``call`` constructs one of the modules' classes."""
        got = self.resolve(call.func)
        return got if got and "." not in got[1] and self.is_class(*got) else None

    def call(self, n):
        got = self.resolve(n.func)
        if got:
            self.uses.append(Use(got[0], got[1], self.where(n), _shape(n)))
        elif isinstance(n.func, ast.Attribute):  # a method of an object built from a class
            recv = n.func.value
            made = self.made(recv) if isinstance(recv, ast.Call) \
                else self.instances.get(_receiver_key(recv))
            if made:
                self.uses.append(Use(made[0], made[1] + "." + n.func.attr, self.where(n),
                                     _shape(n)))
            elif n.keywords:
                self.loose.append((n.func.attr, self.where(n), _shape(n)))


def scan_source(source, filename, is_class=None):
    """The uses of MODULES in one firmware source (``is_class(module, name)``: by the stubs)."""
    rel = os.path.relpath(filename, ROOT) if os.path.isabs(filename) else filename
    is_class = is_class or (lambda m, name: _is_class(stubs().get(m), name))
    return _Scan(ast.parse(source, filename), rel, is_class)


@functools.lru_cache(maxsize=None)
def firmware_scans():
    scans = []
    for path in sorted(glob.glob(os.path.join(FIRMWARE, "**", "*.py"), recursive=True)):
        with open(path, encoding="utf-8") as f:
            scans.append(scan_source(f.read(), path))
    return tuple(scans)


def firmware_uses():
    return tuple(u for scan in firmware_scans() for u in scan.uses)


def used_names():
    """(module, dotted) -> first place the firmware uses it."""
    names = {}
    for u in firmware_uses():
        names.setdefault((u.module, u.dotted), u.where)
    return names


def _is_class(mod, name):
    return any(isinstance(n, ast.ClassDef) for n in mod.top(name)[1])


# -- the checks -----------------------------------------------------------------------------------

def invented_parameters(standin, overloads):
    """The stand-in's parameters no stub overload has (see the module docstring)."""
    return [p.name for i, p in enumerate(standin.parameters.values())
            if p.kind not in (P.VAR_POSITIONAL, P.VAR_KEYWORD)
            and not any(_corresponds(p, i, s) for s in overloads)]


def _corresponds(p, i, stub):
    params = list(stub.parameters.values())
    kinds = {q.kind for q in params}
    if p.kind in POSITIONAL:
        positional = [q for q in params if q.kind in POSITIONAL]
        if i < len(positional):
            return positional[i].kind is P.POSITIONAL_ONLY or positional[i].name == p.name
        return P.VAR_POSITIONAL in kinds
    return any(q.name == p.name and q.kind in KEYWORD for q in params) or P.VAR_KEYWORD in kinds


def accepts(sig, call):
    """Would a call of this shape bind to ``sig``? (With ``*``/``**`` in the call only its
    keyword names can be checked.)"""
    if call["open"]:
        names = {q.name for q in sig.parameters.values() if q.kind in KEYWORD}
        return P.VAR_KEYWORD in {q.kind for q in sig.parameters.values()} or \
            set(call["keywords"]) <= names
    try:
        sig.bind(*[None] * call["npos"], **dict.fromkeys(call["keywords"]))
    except TypeError:
        return False
    return True


def _show(sigs):
    return " | ".join(str(s) for s in sigs)


def standin_problems(name, standin_sigs, stub_sigs):
    out = []
    for sig in standin_sigs:
        bad = invented_parameters(sig, stub_sigs)
        if bad:
            out.append("%s%s: %s: no such parameter (by that name, or in that place) in the "
                       "stub %s" % (name, sig, ", ".join(bad), _show(stub_sigs)))
    return out


def call_problems(use, stub_sigs, standins):
    """Why a firmware call would fail: on the board (the stub) or in a stand-in
    (``standins``: runtime name -> its signatures, None when that runtime has none to check)."""
    out = []
    if not any(accepts(s, use.call) for s in stub_sigs):
        out.append("%s at %s: the stub %s does not take %s"
                   % (use.name, use.where, _show(stub_sigs), _call_text(use.call)))
    for runtime, sigs in standins.items():
        if sigs is not None and not any(accepts(s, use.call) for s in sigs):
            out.append("%s at %s: the %s stand-in %s does not take %s"
                       % (use.name, use.where, runtime, _show(sigs), _call_text(use.call)))
    return out


def standin_signatures(module, dotted):
    """runtime -> the stand-in's signatures for a callable (None: nothing there to check)."""
    vm = VMStandins()
    return {"CPython": CPythonStandins().signatures(module, dotted),
            "VM": vm.signatures(module, dotted) if vm.module(module) is not None else None}


def loose_call_problems(loose, own_methods):
    """Keyword arguments of method calls on a receiver of unknown class (a peripheral a driver
    was handed as a constructor argument). A method name that a class the firmware uses has and
    no firmware class defines is taken to be that class's method: the keywords must suit it, in
    the stub and both stand-ins, for at least one such class."""
    classes = sorted({(m, d.split(".")[0]) for (m, d) in used_names()
                      if _is_class(stubs().get(m), d.split(".")[0])})
    problems = []
    for meth, where, shape in loose:
        candidates = [(m, c) for (m, c) in classes
                      if meth not in own_methods and meth in stubs().get(m).class_methods(c)]
        found = []
        for m, c in candidates:
            u = Use(m, c + "." + meth, where, dict(shape, open=True))  # keywords only
            found.append(call_problems(u, stub_signatures(m, u.dotted),
                                       standin_signatures(m, u.dotted)))
        if found and all(found):
            problems += [p for f in found for p in f]
    return problems


def _call_text(call):
    return "%d positional, keywords %s" % (call["npos"], call["keywords"])


def checked_callables():
    """(module, dotted) of every function, constructor and method held to the stub: what the
    firmware calls, and every public one a stand-in shares with the stub (the firmware may call
    it tomorrow)."""
    cpython, vm = CPythonStandins(), VMStandins()
    names = {(m, d) for (m, d) in used_names() if stub_signatures(m, d)}
    for m in MODULES:
        stub = stubs().get(m)
        top = {n for n in dir(sys.modules.get(m)) if not n.startswith("_") and cpython.exists(m, n)}
        if vm.module(m) is not None:
            top |= {n for n in vm.module(m).scope if not n.startswith("_")}
        for n in top:
            if stub_signatures(m, n) is None:
                continue
            names.add((m, n))
            methods = cpython.class_methods(m, n) | (
                vm.class_methods(m, n) if vm.module(m) is not None else set())
            names |= {(m, n + "." + meth) for meth in methods & stub.class_methods(n)}
    return sorted(names)


# -- tests ----------------------------------------------------------------------------------------

def test_the_firmware_uses_only_names_its_stubs_define():
    names = used_names()
    # the scan finds what the firmware is known to use, so an empty scan cannot pass
    for known in (("machine", "Pin"), ("machine", "Pin.OUT"), ("machine", "RTC.datetime"),
                  ("time", "ticks_ms"), ("micropython", "const"), ("cryptolib", "aes")):
        assert known in names, "the firmware scan lost %s.%s" % known
    missing = ["%s.%s (%s)" % (m, d, w) for (m, d), w in sorted(names.items())
               if not stubs().get(m).exists(d)]
    assert not missing, "the firmware uses names MicroPython does not have:\n" + "\n".join(missing)


def test_the_cpython_standins_define_every_name_the_firmware_uses():
    cpython = CPythonStandins()
    missing = ["%s.%s (%s)" % (m, d, w) for (m, d), w in sorted(used_names().items())
               if not cpython.exists(m, d)]
    assert not missing, "no CPython stand-in for:\n" + "\n".join(missing)


def test_the_vm_proxies_define_every_name_the_firmware_uses_from_their_module():
    vm = VMStandins()
    proxied = {(m, d): w for (m, d), w in used_names().items() if vm.module(m) is not None}
    assert {m for (m, _) in proxied} >= {"machine", "time"}
    missing = ["%s.%s (%s)" % (m, d, w) for (m, d), w in sorted(proxied.items())
               if not vm.module(m).exists(d)]
    assert not missing, "hw_sim/vm/ shadows these modules but lacks:\n" + "\n".join(missing)


def test_the_unix_port_has_every_name_the_firmware_uses_from_modules_without_a_proxy():
    vm = VMStandins()
    native = sorted((m, d) for (m, d) in used_names() if vm.module(m) is None)
    assert ("micropython", "const") in native and ("cryptolib", "aes") in native
    script = "\n".join([
        "import json",
        "out = []",
        "for m, d in json.loads(%r):" % json.dumps(native),
        "    try:",
        "        o = __import__(m)",
        "        for p in d.split('.'):",
        "            o = getattr(o, p)",
        "    except (ImportError, AttributeError):",
        "        out.append(m + '.' + d)",
        "print(json.dumps(out))",
    ])
    run = subprocess.run([vm_bridge.micropython_binary(), "-c", script], capture_output=True,
                         text=True, timeout=60, env=dict(os.environ, MICROPYPATH=VM_DIR))
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == [], "the MicroPython VM does not have these natively"


def test_constants_the_firmware_uses_have_the_stub_values_in_both_standins():
    cpython, vm = CPythonStandins(), VMStandins()
    checked, wrong = [], []
    for (m, d), w in sorted(used_names().items()):
        want = stubs().get(m).value(d)
        if want is MISSING:
            continue
        checked.append(d)
        got = {"CPython": cpython.value(m, d)}
        if vm.module(m) is not None:
            got["VM"] = vm.module(m).value(d)
        wrong += ["%s.%s (%s): stub %r, %s stand-in %r" % (m, d, w, want, rt, v)
                  for rt, v in got.items() if v != want]
    assert {"Pin.OUT", "Pin.IN", "SPI.LSB"} <= set(checked)
    assert not wrong, "\n".join(wrong)


def test_standin_parameters_are_a_subset_of_the_stubs():
    cpython, vm = CPythonStandins(), VMStandins()
    checked = checked_callables()
    assert {("machine", "Pin"), ("machine", "SPI.write_readinto"), ("machine", "I2C.writeto"),
            ("machine", "UART.read"), ("machine", "Pin.value"), ("time", "ticks_diff"),
            ("cryptolib", "aes.encrypt")} <= set(checked)
    problems = []
    for m, d in checked:
        stub_sigs = stub_signatures(m, d)
        cp = cpython.signatures(m, d)
        if cp is not None:
            problems += standin_problems("CPython %s.%s" % (m, d), cp, stub_sigs)
        if vm.module(m) is not None and vm.signatures(m, d) is not None:
            problems += standin_problems("VM %s.%s" % (m, d), vm.signatures(m, d), stub_sigs)
    assert not problems, \
        "stand-ins with parameters MicroPython does not have:\n" + "\n".join(problems)


def test_every_firmware_call_is_accepted_by_the_stub_and_both_standins():
    calls = [u for u in firmware_uses() if u.call is not None]
    keywords = {(u.dotted, k) for u in calls for k in u.call["keywords"]}
    assert {("Pin", "value"), ("SPI", "firstbit"), ("I2C", "scl"), ("UART", "tx")} <= keywords
    assert any(u.dotted == "RTC.datetime" for u in calls)
    problems = []
    for u in calls:
        stub_sigs = stub_signatures(u.module, u.dotted)
        if stub_sigs is None:
            problems.append("%s at %s: not callable in the stub" % (u.name, u.where))
            continue
        problems += call_problems(u, stub_sigs, standin_signatures(u.module, u.dotted))
    scans = firmware_scans()
    problems += loose_call_problems([c for scan in scans for c in scan.loose],
                                    set().union(*(scan.own_methods for scan in scans)))
    assert not problems, "\n".join(problems)


def test_the_checker_reports_a_standin_parameter_the_stub_lacks():
    tree = ast.parse("def ticks_diff(ticks1, ticks2, wrap=None): ...\n"
                     "def sleep_ms(ms, *, precise=False): ...\n")
    ticks_diff, sleep_ms = (ast_signature(f, method=False) for f in tree.body)
    time_stub = stubs().get("time")
    assert invented_parameters(ticks_diff, time_stub.signatures("ticks_diff")) == ["wrap"]
    assert invented_parameters(sleep_ms, time_stub.signatures("sleep_ms")) == ["precise"]


def test_the_checker_reports_a_firmware_keyword_the_stub_lacks():
    scan = scan_source("import time\nfrom machine import Pin\n\n"
                       "time.sleep_ms(ms=5)\nPin(4, Pin.IN, pul=1)\n"
                       "self._i2c.writeto(0x24, b'', stop=False)\n", "synthetic.py")
    uses = [u for u in scan.uses if u.call is not None]
    assert [(u.name, u.call["keywords"]) for u in uses] == [("time.sleep_ms", ["ms"]),
                                                            ("machine.Pin", ["pul"])]
    for u in uses:
        problems = call_problems(u, stub_signatures(u.module, u.dotted), {})
        assert len(problems) == 1 and "does not take" in problems[0], problems
    # a driver's I2C: stop is positional-only on the board (the stand-ins would take it)
    problems = loose_call_problems(scan.loose, scan.own_methods)
    assert len(problems) == 1 and "machine.I2C.writeto" in problems[0], problems


def test_a_missing_stubs_package_fails_the_check(monkeypatch):
    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", not_installed)
    with pytest.raises(pytest.fail.Exception, match="is not installed"):
        stub_files()


def test_every_stub_erratum_corrects_a_stub_that_still_differs():
    for (m, d), (_, why) in STUB_ERRATA.items():
        original = stubs().get(m).signatures(d)
        assert original, "%s.%s: the erratum names nothing in the stub" % (m, d)
        assert _show(original) != _show(stub_signatures(m, d)), \
            "%s.%s: the stub is fixed (%s), drop the erratum" % (m, d, why)
