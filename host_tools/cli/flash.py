"""`ykt flash --board B --port P [--port P2 ...] [--firmware MICROPYTHON.bin] --image vfs.img`;
`ykt flash --board B --port P1=gate-1.img --port P2=gate-2.img` (each device its own image);
`ykt flash --fleet fleet.json` (port -> board -> image, host_tools/device/flash.read_fleet).

esptool (ROM loader, no stub) writes and verifies each port in parallel; exit 1
if any device failed (the others are still flashed). Two ports whose images hold the same
terminal id (/config.json) are refused before anything is written (exit 2). The report names
each device by port, MAC and terminal id. See host_tools/device/flash.py.
"""

import json
import sys
import threading

from host_tools.cli import examples


class Progress:
    """One line per device: redrawn in place on a terminal, every 25 % step otherwise."""

    def __init__(self, devices_ports, stream=None):
        self.ports = list(devices_ports)
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.lock = threading.Lock()
        self.state = {p: "waiting" for p in self.ports}
        self.last = {}
        self.width = max(len(p) for p in self.ports)
        if self.tty:
            self.stream.write("\n" * len(self.ports))

    def _line(self, dev):
        if dev.ok is False:
            return "%-*s  FAILED  %s" % (self.width, dev.port, dev.reason)
        filled = int(dev.percent / 100 * 30)
        return "%-*s  [%s%s] %5.1f%%  %s" % (self.width, dev.port, "#" * filled,
                                             "." * (30 - filled), dev.percent, dev.step)

    def __call__(self, dev):
        with self.lock:
            line = self._line(dev)
            if self.tty:
                self.state[dev.port] = line
                up = len(self.ports)
                self.stream.write("\x1b[%dA" % up + "".join(
                    "\r\x1b[2K%s\n" % self.state[p] for p in self.ports))
            else:
                key = (dev.step, int(dev.percent // 25), dev.ok)
                if self.last.get(dev.port) == key:
                    return
                self.last[dev.port] = key
                self.stream.write(line + "\n")
            self.stream.flush()


def _flash(args):
    from host_tools.device import flash
    from host_tools.lib.files import write_atomic

    targets = flash.plan_fleet(args.board, args.port or [], args.image, args.firmware,
                               args.fleet)
    for t in targets:
        for img in t.images:
            print("%s: terminal %s on %s: %s at 0x%x, %d bytes, sha256 %s"
                  % (t.port, t.terminal or "-", t.board.name, img.what, img.offset, img.size,
                     img.sha256))
    progress = Progress([t.port for t in targets])
    devices = flash.flash_fleet([flash.Device(t.port, t.images, t.terminal) for t in targets],
                                progress, attempts=args.connect_attempts, after=args.after)
    for line in flash.report(devices):
        print(line)
    if args.report:
        write_atomic(args.report, (json.dumps(flash.as_json(devices), indent=2)
                                   + "\n").encode())
    return 0 if all(d.ok for d in devices) else 1


def register(sub):
    p = sub.add_parser("flash", help="write firmware and the vfs image with esptool, "
                                     "several devices in parallel, each its own image",
                       **examples("ykt flash --board devkitc-turnstile --port /dev/ttyUSB0 "
                                  "--firmware micropython.bin --image vfs.img",
                                  "ykt flash --board devkitc-turnstile --firmware micropython.bin"
                                  " --port /dev/ttyUSB0=gate-1.img --port /dev/ttyUSB1=gate-2.img"
                                  " --report flash.json",
                                  "ykt flash --fleet fleet.json  # {\"board\": ..., \"devices\":"
                                  " [{\"port\": ..., \"image\": ...}, ...]}"))
    p.add_argument("--board", help="board name (boards/NAME.json) or path (every port, unless "
                                   "the fleet file names one)")
    p.add_argument("--port", action="append", metavar="PORT[=IMAGE]",
                   help="serial port or pyserial URL, with =IMAGE its own vfs image (repeat for "
                        "several devices; two ports may not get the same terminal id)")
    p.add_argument("--fleet", metavar="FLEET.json",
                   help="the devices as JSON: {\"board\": B, \"firmware\": F, \"devices\": "
                        "[{\"port\": P, \"image\": I, \"board\": B2}, ...]}; paths "
                        "relative to the file")
    p.add_argument("--firmware", help="MicroPython firmware .bin for the firmware partition")
    p.add_argument("--image", help="vfs image from `ykt image` for every --port without "
                                   "its own =IMAGE")
    p.add_argument("--connect-attempts", type=int, default=3,
                   help="esptool connection attempts per step (default 3)")
    p.add_argument("--after", choices=("hard-reset", "soft-reset", "no-reset"),
                   help="what esptool does after verifying (default: soft-reset on "
                        "socket:// ports, hard-reset otherwise)")
    p.add_argument("--report", metavar="FILE.json", help="also write the report as JSON")
    p.set_defaults(fn=_flash)
