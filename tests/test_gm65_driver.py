"""The GM65 QR scanner driver against the simulator's module model, on both runtimes.

``tests/vm/gm65_cases.py`` drives the scanner of the venue gate board (``ykt.board.qr``):
configure (trigger mode, read back), triggered readings (a code shown before and during the
reading, one shown while nothing reads, one after the reading timed out: NO_CODE),
continuous mode, a misread, an overlong code, a code taken away before it was decoded, then a
fuzz of random codes and misreads on virtual time; and random bytes straight into the driver.
Under CPython it runs on ``hw_sim.machine``; on the MicroPython VM through the bridge
(``VmProcess``, its entry point this script instead of the firmware's boot). Both print the
same lines, at the same virtual times; the heap does not grow.
"""

import os
import subprocess

import pytest
import vmscripts

from host_tools.lib.boards import load
from host_tools.lib.build import mpy_cross
from hw_sim.terminal import SimTerminal
from hw_sim.vm_bridge import VmProcess, micropython_binary, vm_heapsize, vm_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARD = "devkitc-venue-gate"
ROUNDS = 3000

cases = vmscripts.load("gm65_cases")

EXPECTED = [
    "configure ok",
    "zones D5 32",
    "1200 trigger ok",
    "1353 VENUE-0001",  # decoded 150 ms after the trigger's frame, + 1 ms of line at 115200
    "5000 trigger ok",
    "5703 DURING",  # shown at 5400, decoded in 300 ms
    "configure ok",
    "zones D5 0A",
    "7000 trigger ok",
    "8107 no code in time",  # the 1 s reading and 100 ms of slack passed (poll every 5 ms)
    "configure ok",
    "zones D6",
]


def _terminal():
    sim = SimTerminal(load(BOARD))
    sim.activate()
    for at, kind, arg, hold, scan in cases.EVENTS + cases.fuzz_events():
        show = sim.scanner.present if kind == "code" else sim.scanner.present_garbage
        sim.clock.schedule(at * 1000, lambda f=show, a=arg, h=hold, s=scan: f(a, h, s))
    return sim


class ScriptVm(VmProcess):
    """The bridge serving a test script instead of the firmware's boot.py."""

    def __init__(self, terminal, script, config, out):
        super().__init__(terminal, {"board": terminal.board, "config": config}, vm_path(),
                         out.append, heap="64K")
        self.script = script

    def start(self):
        self._proc = subprocess.Popen(
            [micropython_binary(), "-X", "heapsize=" + vm_heapsize(self.heap), self.script],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(os.environ, MICROPYPATH=self.mpy_dir))
        self.terminal.wiring.activate()
        self._serve()


def run_cpython():
    sim = _terminal()
    from ykt import board as yboard

    out = []
    cases.story(yboard.qr(sim.board), out.append)
    cases.local_fuzz(ROUNDS, out.append)
    return sim, out


def run_vm():
    sim = _terminal()
    out = []
    vm = ScriptVm(sim, vmscripts.script("gm65_cases"), {"rounds": ROUNDS}, out)
    vm.start()
    while vm.exited is None and vm.wake_us is not None:
        vm.resume()
    assert vm._proc.returncode == 0, (vm.error, out[-5:])
    return sim, [line for line in out if line.strip()]


@pytest.fixture(scope="module")
def cpython():
    return run_cpython()


def test_the_story_on_cpython(cpython):
    sim, out = cpython
    assert out[:len(EXPECTED)] == EXPECTED
    # what never came: the code nobody asked for, the one after the reading, the one taken away
    text = "\n".join(out)
    for never in ("NOBODY-ASKED", "TOO-LATE", "GONE"):
        assert never not in text
    cont = out[out.index("zones D6") + 1:]
    assert [line.split(" ", 1)[1] for line in cont[:4]] == [
        "garbled payload", "AFTER-GARBAGE", "payload too long", "OK-AGAIN"]
    # the model sent what the driver saw: every code the scanner decoded is there, in order
    fuzz = [t for at, t in sim.scanner.sent if at >= cases.FUZZ_FROM * 1000]
    expect = [len(t) - 1 for t in fuzz if t.endswith(b"\r") and len(t) - 1 <= 1536]
    line = next(x for x in out if x.startswith("fuzz codes "))
    assert line == "fuzz codes " + ",".join(str(n) for n in expect)
    assert "fuzz heap ok" in out


def test_timing_on_virtual_time(cpython):
    _, out = cpython
    at = {line.split(" ", 1)[1]: int(line.split(" ", 1)[0]) for line in out
          if line[:1].isdigit()}
    assert 1350 <= at["VENUE-0001"] < 1400  # 150 ms decode after the trigger at 1200
    assert 5700 <= at["DURING"] < 5750  # shown at 5400, 300 ms decode
    assert 8100 < at["no code in time"] < 8150  # triggered at 7000 with read_ms 1000
    assert 11150 <= at["AFTER-GARBAGE"] < 11200  # continuous: 150 ms after it is shown
    assert 10200 <= at["garbled payload"] < 10600  # 40 bytes at 10150, then 200 ms of quiet


def test_local_fuzz_never_raises_or_grows(cpython):
    _, out = cpython
    sizes = next(x for x in out if x.startswith("local sizes"))
    assert sizes == "local sizes 16 32 9 7 heap ok"
    local = next(x for x in out if x.startswith("local "))
    assert "code=" in local and "garbled payload=" in local and "payload too long=" in local


def test_the_same_on_the_micropython_vm(cpython):
    _, want = cpython
    _, got = run_vm()
    assert got == want


def test_compiles_for_esp32(tmp_path):
    out = tmp_path / "gm65.mpy"
    r = subprocess.run([mpy_cross(), "-march=xtensawin", "-o", str(out),
                        os.path.join(ROOT, "firmware", "ykt", "drivers", "gm65.py")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
