"""Operations on a terminal over its serial port: flash (esptool), deploy, collect and monitor
(mpremote). They call the library for everything they compute, print nothing, and raise
:class:`host_tools.lib.errors.Failed` (``DeviceError``) when a device does not answer.
"""
