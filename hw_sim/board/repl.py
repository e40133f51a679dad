"""MicroPython's REPL on the UART, byte by byte, as ``shared/runtime/pyexec.c`` runs it.

:class:`Repl` holds no interpreter: it turns the bytes a host sends into
*actions* for the board (``("exec", source, kind)``, ``("soft_reset",)``) and
produces the bytes MicroPython prints around them. The board runs the code on
the MicroPython VM, forwards its output, and calls :meth:`Repl.exec_done`.

Friendly REPL (``>>> ``): characters echo, Enter runs the line as "single"
input (a line ending in ``:`` or with open brackets continues with ``... ``
until an empty line), Backspace edits, Ctrl-A enters the raw REPL, Ctrl-B
reprints the banner, Ctrl-C drops the line, Ctrl-D soft-resets. Paste mode
(Ctrl-E in the friendly REPL) is not offered.

Raw REPL (what mpremote uses): banner ``raw REPL; CTRL-B to exit\\r\\n`` and
prompt ``>``; bytes collect until Ctrl-D, then ``OK``, the code's output,
``\\x04``, the traceback, ``\\x04``, ``>``. Ctrl-D on an empty buffer answers
``OK\\r\\n`` and soft-resets; Ctrl-A re-enters (banner again); Ctrl-B returns to
the friendly REPL; Ctrl-C clears the buffer. ``\\x05A\\x01`` starts raw-paste
mode: answer ``R\\x01``, a window of 128 bytes (u16 LE) and ``\\x01``; one
``\\x01`` each time 128 more bytes were consumed; Ctrl-D ends the data
(answered ``\\x04``), Ctrl-C aborts it (``\\x04`` then a KeyboardInterrupt).
Another ``\\x05?\\x01`` is answered ``R\\x00`` (unsupported). A SystemExit out of
executed code soft-resets the board, as on bare-metal ports.
"""

import struct

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
PASTE_WINDOW = 128  # MICROPY_REPL_STDIN_BUFFER_MAX / 2
KBD_INTERRUPT = b"KeyboardInterrupt: \r\n"

CTRL_A, CTRL_B, CTRL_C, CTRL_D, CTRL_E = 1, 2, 3, 4, 5


def cook(data):
    """Newlines as MicroPython's console sends them (``mp_hal_stdout_tx_strn_cooked``)."""
    return bytes(data).replace(b"\n", b"\r\n")


class Repl:
    def __init__(self, banner):
        self.banner = banner  # friendly banner lines, each ending in \r\n
        self.mode = "friendly"
        self.out = bytearray()
        self._line = bytearray()
        self._block = []  # friendly REPL: lines of a compound statement
        self._paste = False
        self._remain = 0
        self._running = None  # "raw" / "friendly" while executed code runs

    def take(self):
        """The bytes produced since the last call."""
        data = bytes(self.out)
        self.out.clear()
        return data

    def start(self, mode):
        """The board finished booting into ``mode`` ("raw" or "friendly")."""
        self.mode = mode
        self._line.clear()
        self._block = []
        self._paste = False
        if mode == "raw":
            self.out += RAW_BANNER + b">"
        else:
            self.out += self.banner + b">>> "

    def exec_done(self, error_text, system_exit):
        """Executed code finished; returns ``("soft_reset",)`` or None."""
        kind, self._running = self._running, None
        if kind == "raw":
            self.out += b"\x04" + cook(error_text) + b"\x04"
            if system_exit:
                return ("soft_reset",)
            self.out += b">"
        else:
            self.out += cook(error_text)
            if system_exit:
                return ("soft_reset",)
            self.out += b">>> "
        return None

    def feed(self, c):
        """One byte from the host; returns an action or None."""
        if self.mode == "raw":
            return self._feed_paste(c) if self._paste else self._feed_raw(c)
        return self._feed_friendly(c)

    # -- raw REPL -------------------------------------------------------------------
    def _feed_raw(self, c):
        line = self._line
        if c == CTRL_A:
            if len(line) == 2 and line[0] == CTRL_E:
                ok = line[1] == ord("A")
                line.clear()
                if not ok:
                    self.out += b"R\x00"
                    return None
                self.out += b"R\x01" + struct.pack("<H", PASTE_WINDOW) + b"\x01"
                self._paste, self._remain = True, PASTE_WINDOW
                return None
            line.clear()
            self.out += RAW_BANNER + b">"
        elif c == CTRL_B:
            line.clear()
            self.mode = "friendly"
            self.out += b"\r\n" + self.banner + b">>> "
        elif c == CTRL_C:
            line.clear()
        elif c == CTRL_D:
            self.out += b"OK"
            if not line:
                self.out += b"\r\n"
                return ("soft_reset",)
            return self._exec(bytes(line), "exec", "raw")
        else:
            line.append(c)
        return None

    def _feed_paste(self, c):
        if c in (CTRL_C, CTRL_D):
            self._paste = False
            self.out += b"\x04"  # end of data acknowledged
            if c == CTRL_C:
                self._line.clear()
                self._running = "raw"
                return self.exec_done(KBD_INTERRUPT, False)
            return self._exec(bytes(self._line), "exec", "raw")
        self._line.append(c)
        self._remain -= 1
        if self._remain == 0:
            self.out += b"\x01"
            self._remain = PASTE_WINDOW
        return None

    def _exec(self, source, kind, running):
        self._line.clear()
        self._running = running
        return ("exec", source.decode("utf-8", "replace"), kind)

    # -- friendly REPL -----------------------------------------------------------------
    def _feed_friendly(self, c):
        line = self._line
        empty = not line and not self._block
        if c == CTRL_A and empty:
            self.mode = "raw"
            self.out += b"\r\n" + RAW_BANNER + b">"
        elif c == CTRL_B and empty:
            self.out += b"\r\n" + self.banner + b">>> "
        elif c == CTRL_C:
            line.clear()
            self._block = []
            self.out += b"\r\n>>> "
        elif c == CTRL_D and empty:
            self.out += b"\r\n"
            return ("soft_reset",)
        elif c == ord("\r"):
            self.out += b"\r\n"
            return self._enter()
        elif c in (0x08, 0x7F):
            if line:
                line.pop()
                self.out += b"\x08 \x08"
        elif c >= 0x20 or c == 0x09:
            line.append(c)
            self.out.append(c)
        return None

    def _enter(self):
        text = bytes(self._line).decode("utf-8", "replace")
        self._line.clear()
        if not self._block and not text.strip():
            self.out += b">>> "
            return None
        self._block.append(text)
        source = "\n".join(self._block)
        if _continues(source, blank=not text.strip()):
            self.out += b"... "
            return None
        self._block = []
        return self._exec((source + "\n").encode(), "single", "friendly")


_COMPOUND = ("if", "while", "for", "def", "class", "try", "with", "async", "@")


def _continues(source, blank):
    """Whether MicroPython's REPL asks for more input (py/repl.c, simplified).

    Open brackets, an open triple quote or a trailing backslash continue; so
    does a compound statement, until an empty line.
    """
    depth = sum(source.count(ch) for ch in "([{") - sum(source.count(ch) for ch in ")]}")
    if depth > 0 or source.count('"""') % 2 or source.count("'''") % 2:
        return True
    if source.rstrip().endswith("\\"):
        return True
    first = source.split("\n", 1)[0].strip()
    compound = first.endswith(":") or first.split(" ", 1)[0].split("(", 1)[0] in _COMPOUND
    return compound and not blank
