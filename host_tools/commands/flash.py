"""`ykt flash --board B --port P [--port P2 ...] [--firmware MICROPYTHON.bin] --image vfs.img`.

esptool (ROM loader, no stub) writes and verifies each port in parallel; exit 1
if any device failed (the others are still flashed). See host_tools/flash.py.
"""

import json


def _flash(args):
    from host_tools import flash
    from host_tools.files import write_atomic

    if len(set(args.port)) != len(args.port):
        raise ValueError("a port is given twice")
    board, images = flash.plan(args.board, args.image, args.firmware)
    for img in images:
        print("%s: %s at 0x%x, %d bytes, sha256 %s"
              % (board.name, img.what, img.offset, img.size, img.sha256))
    progress = flash.Progress(args.port)
    devices = flash.flash_all(args.port, images, progress, attempts=args.connect_attempts,
                              after=args.after)
    for line in flash.report(devices, images):
        print(line)
    if args.report:
        write_atomic(args.report, (json.dumps(flash.as_json(devices, images), indent=2)
                                   + "\n").encode())
    return 0 if all(d.ok for d in devices) else 1


def register(sub):
    p = sub.add_parser("flash", help="write firmware and the vfs image with esptool, "
                                     "several devices in parallel")
    p.add_argument("--board", required=True, help="board name (boards/NAME.json) or path")
    p.add_argument("--port", action="append", required=True,
                   help="serial port or pyserial URL (repeat for several devices)")
    p.add_argument("--firmware", help="MicroPython firmware .bin for the firmware partition")
    p.add_argument("--image", required=True, help="vfs image from `ykt image`")
    p.add_argument("--connect-attempts", type=int, default=3,
                   help="esptool connection attempts per step (default 3)")
    p.add_argument("--after", choices=("hard-reset", "soft-reset", "no-reset"),
                   help="what esptool does after verifying (default: soft-reset on "
                        "socket:// ports, hard-reset otherwise)")
    p.add_argument("--report", metavar="FILE.json", help="also write the report as JSON")
    p.set_defaults(fn=_flash)
