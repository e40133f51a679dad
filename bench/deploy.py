"""Flash and deploy figures (not tests; `make bench`): a virtual board (hw_sim.board) flashed
with the real esptool and deployed to with the real mpremote (``host_tools.device.deploy``)."""

import os
import tempfile
import time

from host_tools.device.deploy import deploy


def bench_deploy(board_name="devkitc-turnstile"):
    """(seconds to flash + deploy a virtual board, bytes sent by a deploy after a one-file
    change, bytes sent by a full deploy to an empty board), on virtual boards
    (hw_sim.board) with the real esptool and mpremote."""
    from host_tools.device import flash
    from host_tools.lib import provision
    from host_tools.lib.image import build_image
    from hw_sim.board.server import BoardServer, load_board_file, make_board

    quiet = lambda *a: None  # noqa: E731
    spec = load_board_file(board_name)
    servers = []

    def serve(mode):
        vb = make_board(spec)
        server = BoardServer(vb)
        vb.power_on(mode)
        servers.append(server.start(max_seconds=600))
        return server.url

    try:
        with tempfile.TemporaryDirectory(prefix="ykt-bench-") as work:
            master, cfg_path = os.path.join(work, "master.json"), os.path.join(work, "cfg.json")
            provision.write_new_master_file(master)
            masters = provision.read_master_file(master)
            cfg = provision.provision(board_name, "290000000001", "gate", masters, station=1)
            provision.write_config(cfg_path, cfg)
            img = os.path.join(work, "vfs.img")
            build_image(board_name, cfg_path, img)
            _, images = flash.plan(board_name, img)
            url = serve("rom")
            t0 = time.monotonic()
            dev = flash.flash_all([url], images)[0]
            if not dev.ok:
                raise RuntimeError("bench: flashing the virtual board failed: %s" % dev.reason)
            deploy(url, board_name, cfg_path, say=quiet)
            seconds = time.monotonic() - t0
            cfg["station"] = 2
            provision.write_config(cfg_path, cfg)
            one = deploy(url, board_name, cfg_path, say=quiet).bytes_sent
            full = deploy(serve("app"), board_name, cfg_path, say=quiet).bytes_sent
    finally:
        for server in servers:
            server.stop()
    return seconds, one, full
