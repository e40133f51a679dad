"""The virtual board's UART also as a pseudo-terminal, for tools that need a serial
device with a file descriptor: `mpremote repl` (its POSIX console selects on the port's
``fd``, which pyserial's ``socket://`` port does not have), screen, picocom.

:class:`PtyBoardServer` is a :class:`~hw_sim.board.server.BoardServer` whose board
output also goes to the pty (``pty_path``, e.g. ``/dev/pts/7``) and whose pty input goes
to the board as UART input, beside the TCP port. The server holds the pty's other end
open, so the device stays usable between tools; output nobody reads waits in the pty
(a few KiB, then it is dropped, as on a UART) and pyserial discards it when it opens
the device.
"""

import os
import tty

from hw_sim.board.server import BoardServer


class PtyBoardServer(BoardServer):
    def __init__(self, board, *args, **kw):
        super().__init__(board, *args, **kw)
        self.pty_master, self._pty_slave = os.openpty()
        tty.setraw(self._pty_slave)
        os.set_blocking(self.pty_master, False)
        self.pty_path = os.ttyname(self._pty_slave)
        self.board.tx = self._send

    def _send(self, data):
        super()._send(data)
        try:
            os.write(self.pty_master, data)
        except OSError:  # full (nobody reads it) or closed: lost, as on a UART
            pass

    def _drop(self):
        super()._drop()
        self.board.tx = self._send  # the pty stays attached

    def _step(self):
        super()._step()
        try:
            data = os.read(self.pty_master, 65536)
        except OSError:
            data = b""
        if data:
            self.board.uart_rx(data)

    def serve(self, *args, **kw):
        try:
            return super().serve(*args, **kw)
        finally:
            for fd in (self.pty_master, self._pty_slave):
                try:
                    os.close(fd)
                except OSError:
                    pass
