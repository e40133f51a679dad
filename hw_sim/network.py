"""CPython stand-in for MicroPython's ``network`` module: the WiFi station's link, no more.

The firmware's sockets are real (CPython's ``socket``/``select``, to a real broker on
loopback); only whether the WiFi link is up is simulated, on the active board's
:class:`~hw_sim.wiring.Wiring`: ``link`` (the access point in reach: a scenario's ``"link"``
event drops and restores it), ``wlan_active`` and ``wlan_ssid`` (the station interface's
state, which outlives a ``WLAN`` object as on the chip). ``isconnected()`` is true while the
interface is active, has been asked to join a network, and the link is up; like the ESP32's
WiFi driver it joins again by itself when the link comes back. Only what the firmware uses
is provided (ports/esp32 network_wlan.c; signatures as in micropython-esp32-stubs).

**Pacing.** A real broker answers on the wall clock while the terminal runs on virtual time,
which an idle terminal moves hundreds of times faster (a light sleep of a second costs
microseconds): its MQTT client would give up on a CONNACK or a PINGRESP the broker had no
wall time to send. So while the link is up, each ``isconnected()`` (the sync asks it every
slice) lets the wall clock catch up until the terminal's virtual time since the previous
call is at most ``Wiring.link_pace`` (100) times the wall time (at most 50 ms a call): a
second of an idle terminal's time costs 10 ms. Only a terminal with sync and WiFi configured
asks, so no other run is slowed; the virtual times of everything it does are unchanged.
"""

import time

from hw_sim import wiring as _wiring

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_NO_AP_FOUND = 201
_CATCH_UP_S = 0.05  # the longest one isconnected() waits for the wall clock


def _pace(w):
    """Let the wall clock catch up with ``w``'s virtual clock (``Wiring.link_pace``)."""
    now_v, now_w = w.clock.now_us(), time.monotonic()
    mark = getattr(w, "_pace_mark", None)
    w._pace_mark = (now_v, now_w)
    if mark is None or not w.link_pace:
        return
    behind = (now_v - mark[0]) / 1e6 / w.link_pace - (now_w - mark[1])
    if behind > 0:
        time.sleep(min(behind, _CATCH_UP_S))
        w._pace_mark = (now_v, time.monotonic())


class WLAN:
    """The station interface of the board the calling firmware runs on."""

    def __init__(self, interface_id=STA_IF, /):
        if interface_id != STA_IF:
            raise ValueError("only the station interface (STA_IF) is simulated")
        self._w = _wiring.active()

    def active(self, is_active=None, /):
        """Query, or switch the interface on or off (off leaves the network)."""
        if is_active is None:
            return self._w.wlan_active
        self._w.wlan_active = bool(is_active)
        if not is_active:
            self._w.wlan_ssid = None
        return None

    def connect(self, ssid=None, password=None, /, *, bssid=None):
        """Join ``ssid`` (any network and password are accepted); the link decides the rest."""
        if not self._w.wlan_active:
            raise OSError("WLAN not active")
        self._w.wlan_ssid = ssid or ""

    def disconnect(self):
        self._w.wlan_ssid = None

    def isconnected(self):
        w = self._w
        up = bool(w.wlan_active and w.wlan_ssid is not None and w.link)
        if up:
            _pace(w)
        return up

    def status(self):
        w = self._w
        if not w.wlan_active or w.wlan_ssid is None:
            return STAT_IDLE
        return STAT_GOT_IP if w.link else STAT_NO_AP_FOUND
