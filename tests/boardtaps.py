"""A virtual ESP32 with the tap hardware attached (hw_sim/board/taps.py), flashed with
the real `ykt provision` / `ykt image` / `ykt flash`: the rig for tests of the deployed
firmware on the board. The board's console (its UART output) is kept in ``console``."""

import json
import os
import sqlite3
import time

from hostkit import FLASH_SIZE, ROOT, ykt

from hw_sim.board.board import Board
from hw_sim.board.server import BoardServer
from hw_sim.board.taps import TapHooks, issuer_keys
from hw_sim.flash import NorFlash
from hw_sim.issuer import issue_card

BOARD = "devkitc-turnstile"
TID = "290031000102"
CARD = "31012300000000000042"


class TapRig:
    def __init__(self, workdir, taps, opening=5000, armed=True):
        self.w = workdir
        self.master = workdir / "master.json"
        self.firmware = workdir / "micropython.bin"
        self.firmware.write_bytes(b"\xe9" + bytes(4095))
        run = ykt("provision", "--new-master-key-file", self.master)
        assert run.returncode == 0, run.stderr
        with open(os.path.join(ROOT, "boards", BOARD + ".json")) as f:
            board_dict = json.load(f)
        app = issue_card(CARD, balance_fen=opening, issuer_keys=issuer_keys(self.master))
        self.opening = opening
        self.hooks = TapHooks(board_dict, {"commuter": app}, taps, armed=armed)
        self.board = Board(NorFlash(FLASH_SIZE), name="tap-board", hooks=self.hooks,
                           heap=self.hooks.heap)
        self._uart = bytearray()
        send = self.board._send
        self.board._send = lambda data: (self._uart.extend(data or b""), send(data))
        self.server = BoardServer(self.board)
        self.board.power_on("rom")
        self.server.start(max_seconds=240)
        self.url = self.server.url

    def provision(self, name, *args):
        """`ykt provision` for this terminal (role arguments in ``args``); the config path."""
        out = self.w / name
        run = ykt("provision", "--board", BOARD, "--terminal-id", TID, *args,
                  "--master-key-file", self.master, "--out", out)
        assert run.returncode == 0, run.stderr
        return out

    def flash(self, config):
        """`ykt image` of ``config``, then `ykt flash` (the board boots it); the flash run."""
        image = self.w / "vfs.img"
        run = ykt("image", "--board", BOARD, "--config", config, "--out", image)
        assert run.returncode == 0, run.stderr
        return ykt("flash", "--board", BOARD, "--port", self.url, "--firmware", self.firmware,
                   "--image", image)

    def balance(self):
        return self.hooks.balance("commuter")

    def wait(self, done, seconds=30):
        """Poll ``done()`` until it is true or ``seconds`` pass (wall clock); its last value."""
        end = time.monotonic() + seconds
        while not done() and time.monotonic() < end:
            time.sleep(0.1)
        return done()

    def console(self):
        return bytes(self._uart).decode("utf-8", "replace").replace("\r\n", "\n")

    def events(self):
        """The firmware's JSON console lines seen so far, as dicts."""
        out = []
        for line in self.console().splitlines():
            at = line.find('{"event"')  # the first may follow the ROM's binary replies
            if at >= 0:
                out.append(json.loads(line[at:]))
        return out

    def collect(self, out, *args):
        return ykt("collect", "--port", self.url, "--key-file", self.master, "--out", out, *args)

    def stop(self):
        self.server.stop()


def collected_rows(out):
    """The records `ykt collect` stored in OUT/journal.sqlite, as dicts in seq order."""
    path = out / "journal.sqlite"
    if not path.exists():
        return []
    db = sqlite3.connect(str(path))
    cur = db.execute("SELECT * FROM records ORDER BY seq")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]
