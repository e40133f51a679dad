"""Hardware simulator: runs the unmodified firmware under CPython.

It models hardware at the chip boundary (buses, pins, the PN532, contactless
cards, the clock); it never stands in for firmware code.
"""


def install():
    """Register the MicroPython stand-ins (machine, micropython, cryptolib, time ticks)."""
    from hw_sim.runtime import install as _install

    _install()
