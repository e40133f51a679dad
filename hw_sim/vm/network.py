# MicroPython-side `network` for the simulator: WLAN's link state lives on the host
# (hw_sim/network.py, on the terminal's wiring); each method is one bridge call. The
# firmware's sockets are the unix port's own, real ones.
from _rpc import rpc

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_NO_AP_FOUND = 201


class WLAN:
    def __init__(self, interface_id=STA_IF):
        if interface_id != STA_IF:
            raise ValueError("only the station interface (STA_IF) is simulated")

    def active(self, is_active=None):
        return rpc("fn", "wlan_active", [is_active])

    def connect(self, ssid=None, password=None, *, bssid=None):
        rpc("fn", "wlan_connect", [ssid, password])

    def disconnect(self):
        rpc("fn", "wlan_disconnect", [])

    def isconnected(self):
        return rpc("fn", "wlan_isconnected", [])

    def status(self):
        return rpc("fn", "wlan_status", [])
