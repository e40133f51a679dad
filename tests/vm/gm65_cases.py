"""The GM65 QR scanner driver (``ykt.drivers.gm65``) against the simulator's module model
(``hw_sim/gm65.py``), the same on both runtimes (tests/test_gm65_driver.py).

On the VM this runs through the bridge as a terminal's firmware would (``rpc("boot")`` gives
the board; ``machine.UART`` and the clock are the bridge's); under CPython the test imports
it and calls ``story``. The codes shown to the scanner are scheduled on the simulator's clock
by the test, from ``EVENTS`` and ``fuzz_events()`` (computed alike on both sides): the script
only drives the scanner and prints what it got, with the virtual time in ms. ``local_fuzz``
needs no bridge: random bytes straight into the driver through a UART stand-in.
"""

from ykt import clock
from ykt.drivers import gm65

# (at ms, "code" TEXT | "garbage" N, hold ms, scan ms or None)
EVENTS = [
    (1000, "code", "VENUE-0001", 1500, None),  # in view before the trigger at 1200
    (3000, "code", "NOBODY-ASKED", 1000, None),  # trigger mode, no reading: never sent
    (5400, "code", "DURING", 1000, 300),  # in view during the reading started at 5000
    (8500, "code", "TOO-LATE", 1000, None),  # after a 1 s reading started at 7000 ended
    (10000, "garbage", 40, 500, None),  # continuous mode from here
    (11000, "code", "AFTER-GARBAGE", 500, None),
    (12000, "code", "A" * 1600, 500, None),  # longer than the driver's 1,536-byte buffer
    (13500, "code", "OK-AGAIN", 500, None),
    (14500, "code", "GONE", 100, None),  # taken away before its 150 ms decode
]
FUZZ_FROM = 16000
FUZZ_GAP = 1500
FUZZ_N = 24


class Lcg:
    """A tiny deterministic generator (the same numbers on both runtimes)."""

    def __init__(self, seed):
        self.x = seed

    def next(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n


def fuzz_events(seed=14):
    """Random codes (printable, 1..1700 characters: RSA codes are 1,234) and misreads, one
    every FUZZ_GAP ms."""
    g = Lcg(seed)
    out = []
    for i in range(FUZZ_N):
        at = FUZZ_FROM + i * FUZZ_GAP
        if g.next(3) == 0:
            out.append((at, "garbage", 1 + g.next(300), 400, None))
        else:
            n = 1 + g.next(1700)
            out.append((at, "code", "".join(chr(0x21 + g.next(94)) for _ in range(n)), 900,
                        None))
    return out


def _heap():
    try:
        import gc

        gc.collect()
        return gc.mem_alloc()
    except (ImportError, AttributeError):  # CPython
        return 0


def wait_until(ms):
    while clock.ticks_ms() < ms:
        left = ms - clock.ticks_ms()
        clock.sleep_ms(left if left < 10 else 10)


def poll_until(qr, ms, say, step=5, quiet=False):
    """Poll every ``step`` ms until ``ms``; each outcome but NONE said (or only counted) ->
    {outcome: count} and the codes (their lengths when ``quiet``)."""
    counts = {}
    texts = []
    while clock.ticks_ms() < ms:
        r = qr.poll()
        if r == gm65.NONE:
            clock.sleep_ms(step)
            continue
        counts[r] = counts.get(r, 0) + 1
        if r == gm65.CODE:
            texts.append(len(qr.payload()) if quiet else qr.text())
        if not quiet:
            what = qr.text() if r == gm65.CODE else qr.reason(r)
            say("%d %s" % (clock.ticks_ms(), what if len(what) <= 24 else what[:12] + "..."))
    return counts, texts


def story(qr, say):
    """Configure, trigger, continuous, misreads and overlong codes, then the fuzz."""
    say("configure %s" % qr.reason(qr.configure()))
    say("zones %02X %02X" % (qr.read_zone(0x0000), qr.read_zone(0x0006)))
    wait_until(1200)
    say("%d trigger %s" % (clock.ticks_ms(), qr.reason(qr.trigger())))
    poll_until(qr, 2800, say)
    poll_until(qr, 4800, say)  # NOBODY-ASKED: shown while nothing reads
    wait_until(5000)
    say("%d trigger %s" % (clock.ticks_ms(), qr.reason(qr.trigger())))
    poll_until(qr, 6500, say)
    qr.read_ms = 1000
    say("configure %s" % qr.reason(qr.configure()))
    say("zones %02X %02X" % (qr.read_zone(0x0000), qr.read_zone(0x0006)))
    wait_until(7000)
    say("%d trigger %s" % (clock.ticks_ms(), qr.reason(qr.trigger())))
    poll_until(qr, 9700, say)  # TOO-LATE: the reading ended at 8000
    qr.mode = gm65.CONTINUOUS
    say("configure %s" % qr.reason(qr.configure()))
    say("zones %02X" % qr.read_zone(0x0000))
    poll_until(qr, FUZZ_FROM - 100, say)
    before = _heap()
    counts, texts = poll_until(qr, FUZZ_FROM + FUZZ_N * FUZZ_GAP, say, 10, True)
    grew = _heap() - before
    say("fuzz %s" % " ".join("%s=%d" % (qr.reason(k), counts[k]) for k in sorted(counts)))
    say("fuzz codes %s" % ",".join(str(n) for n in texts))
    say("fuzz heap %s" % ("ok" if grew < 2048 else "grew %d" % grew))
    say("dropped %d" % qr.dropped)


class NoisyUart:
    """A UART stand-in that has random bytes (CR and 02 00 among them) for the driver."""

    def __init__(self, seed):
        self.g = Lcg(seed)
        self.left = 0
        self.clean = 0

    def any(self):
        if not self.left and self.g.next(4):
            self.left = 1 + self.g.next(40)
            self.clean = self.g.next(2)  # a burst of text ending in CR, or of anything
        return self.left

    def readinto(self, buf, n):
        n = min(n, self.left, len(buf))
        g = self.g
        for i in range(n):
            if self.clean:
                buf[i] = 0x0D if self.left - i == 1 else 0x20 + g.next(95)
                continue
            r = g.next(16)
            buf[i] = 0x0D if r == 0 else 0x02 if r == 1 else 0x00 if r == 2 else (
                0x20 + g.next(95) if r < 12 else g.next(256))
        self.left -= n
        return n

    def write(self, data):
        return len(data)


def local_fuzz(rounds, say, seed=65):
    """``rounds`` polls of random bytes, and commands answered by noise: nothing raises, the
    buffers keep their size, the heap does not grow."""
    qr = gm65.GM65(NoisyUart(seed), max_len=16, gap_ms=0)
    counts = {}
    qr.poll()
    before = _heap()
    for i in range(rounds):
        r = qr.poll() if i % 50 else qr.read_zone(0x0000)
        if i % 50 or r < 0:
            counts[r] = counts.get(r, 0) + 1
    grew = _heap() - before
    sizes = "%d %d %d %d" % (len(qr._buf), len(qr._chunk), len(qr._frame), len(qr._reply))
    say("local %s" % " ".join("%s=%d" % (qr.reason(k), counts[k]) for k in sorted(counts)))
    say("local sizes %s heap %s" % (sizes, "ok" if grew < 2048 else "grew %d" % grew))


def main():
    from _rpc import rpc

    from ykt import board as yboard

    cfg = rpc("boot")
    story(yboard.qr(cfg["board"]), print)
    local_fuzz(cfg["config"]["rounds"], print)


if __name__ == "__main__":
    main()
