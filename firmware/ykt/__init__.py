"""yikatong terminal firmware (MicroPython).

Layers, bottom up; nothing imports upward:
board -> drivers (chip protocols) -> isodep / iso7816 -> card (purse application)
-> roles (terminal loops) -> store (records).
"""
