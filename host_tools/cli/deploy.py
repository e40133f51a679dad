"""`ykt deploy --port P [--board B] [--config CONFIG.json]`: copy only changed files with
mpremote (sha256 on the board vs the local build), then reset. See host_tools/device/deploy.py."""


from host_tools.cli import examples


def _deploy(args):
    from host_tools.device.deploy import deploy

    deploy(args.port, args.board, args.config, say=print, reset=not args.no_reset,
           verbose=args.verbose)
    return 0


def register(sub):
    p = sub.add_parser("deploy", help="copy changed firmware/config files to a running board",
                       **examples("ykt deploy --port /dev/ttyUSB0 --board devkitc-turnstile "
                                  "--config gate.json",
                                  "ykt deploy --port socket://127.0.0.1:4000 -v"))
    p.add_argument("--port", required=True, help="serial port or pyserial URL")
    p.add_argument("--board", help="board name or path (also deploys /board.json; "
                                   "picks the mpy-cross architecture)")
    p.add_argument("--config", help="terminal config to deploy as /config.json")
    p.add_argument("--no-reset", action="store_true", help="leave the board running as it is")
    p.add_argument("-v", "--verbose", action="store_true", help="also list the unchanged files")
    p.set_defaults(fn=_deploy)
