"""Flash and deploy figures (not tests; `make bench`, or `python -m bench.deploy` alone):
virtual boards (hw_sim.board) flashed with the real esptool and deployed to with the real
mpremote (``host_tools.device.deploy``); a fleet of 8 flashed and verified by one `ykt flash`."""

import os
import subprocess
import sys
import tempfile
import time

from host_tools.device.deploy import deploy


def bench_deploy(board_name="devkitc-turnstile"):
    """(seconds to flash + deploy a virtual board, bytes sent by a deploy after a one-file
    change, bytes sent by a full deploy to an empty board, seconds of that one-file deploy),
    on virtual boards (hw_sim.board) with the real esptool and mpremote."""
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
            t1 = time.monotonic()
            one = deploy(url, board_name, cfg_path, say=quiet).bytes_sent
            one_seconds = time.monotonic() - t1
            full = deploy(serve("app"), board_name, cfg_path, say=quiet).bytes_sent
    finally:
        for server in servers:
            server.stop()
    return seconds, one, full, one_seconds


def bench_fleet(n=8, board_name="devkitc-turnstile"):
    """(wall seconds of one `ykt flash --port P=IMAGE ...` that writes and verifies ``n``
    virtual boards, each its own terminal's vfs image, bytes per image). The boards are
    served by threads of this process (the simulator's cost is in the figure)."""
    from host_tools.lib import provision
    from host_tools.lib.image import build_image
    from hw_sim.board.server import BoardServer, load_board_file, make_board

    spec = load_board_file(board_name)
    servers = []
    try:
        with tempfile.TemporaryDirectory(prefix="ykt-bench-fleet-") as work:
            master = os.path.join(work, "master.json")
            provision.write_new_master_file(master)
            masters = provision.read_master_file(master)
            args = []
            size = 0
            for i in range(n):
                cfg = os.path.join(work, "gate-%d.json" % i)
                provision.write_config(cfg, provision.provision(
                    board_name, "2900310004%02d" % i, "gate", masters, station=i + 1))
                img = os.path.join(work, "gate-%d.img" % i)
                size = len(build_image(board_name, cfg, img)[2])
                vb = make_board(dict(spec, name="%s-%d" % (spec.get("name", board_name), i)))
                server = BoardServer(vb)
                vb.power_on("rom")
                servers.append(server.start(max_seconds=900))
                args += ["--port", "%s=%s" % (server.url, img)]
            t0 = time.monotonic()
            run = subprocess.run([sys.executable, "-m", "host_tools.cli", "flash", "--board",
                                  board_name, *args], capture_output=True, text=True,
                                 stdin=subprocess.DEVNULL, timeout=1800)
            seconds = time.monotonic() - t0
            if run.returncode != 0:
                raise RuntimeError("bench: ykt flash of %d boards failed:\n%s"
                                   % (n, run.stdout[-2000:] + run.stderr[-2000:]))
    finally:
        for server in servers:
            server.stop()
    return seconds, size


def main():
    seconds, one_file, full, one_seconds = bench_deploy()
    print("\n[flash and deploy the virtual board]")
    print("  flash + deploy:                    %.1f s wall" % seconds)
    print("  deploy after a one-file change:    %.1f s wall, %d bytes (full deploy %d bytes)"
          % (one_seconds, one_file, full))
    n = 8
    fleet_seconds, size = bench_fleet(n)
    print("  %d boards flashed + verified:       %.1f s wall, one `ykt flash` (%d-byte vfs "
          "image each, own terminal id; no firmware .bin)" % (n, fleet_seconds, size))


if __name__ == "__main__":
    main()
