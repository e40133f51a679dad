"""The host library: pure, typed functions the CLI, the simulator, the tests, the benches and
the back office all call — files, keys and provisioning, update signing and reading, denylists,
tariffs, journals, images, board files and the firmware build.

No argparse, no printing; every failure is a :class:`host_tools.lib.errors.YktError` with a
one-line message (see ``docs/architecture.md``, "Host side").
"""
