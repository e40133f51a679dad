"""The terminal's network side: ``mqtt`` is the MQTT 3.1.1 client (docs/mqtt.md).

This package sits at the drivers' level of the firmware's layers: it imports only
``ykt.clock`` and MicroPython's ``socket``/``select``/``errno``, never a layer above.
"""
