"""MicroPython's REPL on the UART, byte by byte, as ``shared/runtime/pyexec.c`` runs it.

:class:`Repl` holds no interpreter: it turns the bytes a host sends into
*actions* for the board (``("exec", source, kind)``, ``("soft_reset",)``) and
produces the bytes MicroPython prints around them. The board runs the code on
the MicroPython VM, forwards its output, and calls :meth:`Repl.exec_done`.

Friendly REPL (``>>> ``), as ``shared/readline/readline.c``: characters echo,
Enter runs the input as "single" when ``mp_repl_continue_with_input()`` says it
is complete (else ``... ``); the line after one ending in ``:`` is auto-indented
(the previous indent plus four spaces; a space right after an auto-indent, as in
pasted text, turns it off); Backspace removes four spaces of an indent at once;
Tab completes the name chain before the cursor from the REPL's globals and the
builtins (one match or a longer common prefix: inserted; several: listed in
16-column slots, then the prompt and line again; the VM answers, see
:meth:`Repl.completed`), or inserts four spaces after whitespace; Up/Down recall
the last 8 lines entered since the boot. The cursor stays at the end of the line
(Left/Right/Home/End are ignored). Ctrl-A enters the raw REPL, Ctrl-B reprints
the banner, Ctrl-C drops the input, Ctrl-D soft-resets (or, in a continuation,
runs what was entered). Paste mode (Ctrl-E) is not offered.

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
        self._line = bytearray()  # raw REPL input
        self._buf = bytearray()   # friendly REPL: the input so far (lines joined by \n)
        self._orig = 0            # where its current line starts
        self._hist = []           # friendly REPL: entered lines, newest first
        self._hist_cur = -1
        self._esc = None          # an escape sequence so far ("", "[", "[1", "O")
        self._ai = AI_ENABLED     # auto-indent state
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
        self._reset_input()
        self._hist = []  # readline_init0() at every boot
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

    # -- friendly REPL (shared/readline/readline.c, shared/runtime/pyexec.c) ------------
    def _reset_input(self):
        self._buf.clear()
        self._orig = 0
        self._hist_cur = -1
        self._esc = None
        self._ai = AI_ENABLED  # readline_init() with an empty line

    def _feed_friendly(self, c):
        if self._esc is not None:
            self._feed_escape(c)
        else:
            action = self._feed_char(c)
            if action is not False:
                return action
        self._ai &= ~AI_JUST_ADDED
        return None

    def _feed_char(self, c):
        """One byte outside an escape sequence; False: no action (JUST_ADDED ends)."""
        buf = self._buf
        if c == CTRL_A and not buf:
            self.mode = "raw"
            self.out += b"\r\n" + RAW_BANNER + b">"
        elif c == CTRL_B and not buf:
            self.out += b"\r\n" + self.banner + b">>> "
        elif c == CTRL_C:
            self._reset_input()
            self.out += b"\r\n>>> "
        elif c == CTRL_D and len(buf) == self._orig:
            if not buf:
                self.out += b"\r\n"
                return ("soft_reset",)
            return self._run()  # stop entering the compound statement
        elif c == ord("\r"):
            self.out += b"\r\n"
            self._push_history(bytes(buf[self._orig:]))
            return self._enter()
        elif c == 27:
            self._esc = ""
        elif c in (0x08, 0x7F):
            if len(buf) > self._orig:
                cur = bytes(buf[self._orig:])
                n = 4 if len(cur) >= 4 and cur.count(b" ") == len(cur) else 1
                del buf[len(buf) - n:]
                self.out += _back(n) + b"\x1b[K"
        elif self._ai & AI_JUST_ADDED and c in (0x09, 0x20):
            self._ai = 0  # pasted text brings its own indent
            if c == 0x20:
                del buf[len(buf) - 3:]
                self.out += _back(3)
        elif c == 0x09:
            if buf and buf[-1:] in (b" ", b"\n", b"\t"):
                buf += b"    "
                self.out += b"    "
            else:
                return ("complete", bytes(buf[self._orig:]).decode("utf-8", "replace"))
        elif 32 <= c <= 126:
            buf.append(c)
            self.out.append(c)
        return False

    def completed(self, insert, matches):
        """The VM's answer to a ``("complete", text)`` action (py/repl.c
        mp_repl_autocomplete): the text to insert, or the matches to list."""
        if matches:
            self.out += (b"\r\n" + cook(_columns(matches)) + self._prompt()
                         + bytes(self._buf[self._orig:]))
        elif insert:
            data = insert.encode()
            self._buf += data
            self.out += data

    def _prompt(self):
        return b"... " if self._orig else b">>> "

    def _feed_escape(self, c):
        seq = self._esc + chr(c)
        self._esc = None
        if seq in ("[", "O") or (len(seq) == 2 and seq[0] == "[" and seq[1].isdigit()):
            self._esc = seq  # more to come
        elif seq == "[A":
            if self._hist_cur + 1 < len(self._hist):
                self._hist_cur += 1
                self._recall(self._hist[self._hist_cur])
        elif seq == "[B":
            if self._hist_cur >= 0:
                self._hist_cur -= 1
                self._recall(self._hist[self._hist_cur] if self._hist_cur >= 0 else b"")
        # other sequences (cursor keys, Home/End, Delete) move a cursor that this REPL
        # keeps at the end of the line: ignored

    def _recall(self, text):
        old = len(self._buf) - self._orig
        del self._buf[self._orig:]
        self._buf += text
        self.out += _back(old) + (b"\x1b[K" if len(text) < old else b"") + text

    def _push_history(self, line):
        if line and (not self._hist or self._hist[0] != line):
            self._hist.insert(0, line)
            del self._hist[HISTORY:]

    def _enter(self):
        buf = self._buf
        if not buf:
            self._reset_input()
            self.out += b">>> "
            return None
        if _continue_with_input(bytes(buf).decode("utf-8", "replace")):
            buf += b"\n"
            self._orig = len(buf)
            self._hist_cur = -1
            self.out += b"... "
            self._auto_indent()
            return None
        return self._run()

    def _run(self):
        source = bytes(self._buf).decode("utf-8", "replace")
        self._reset_input()
        if not source.strip():
            self.out += b">>> "
            return None
        return self._exec((source + "\n").encode(), "single", "friendly")

    def _auto_indent(self):
        """readline_auto_indent(): the previous line's indent, one more after a colon;
        none after two lines of only spaces."""
        if not self._ai & AI_ENABLED:
            return
        lines = bytes(self._buf[:-1]).split(b"\n")
        prev = lines[-1]
        if len(lines) > 1 and not prev.strip(b" "):
            if len(lines) > 2 and not lines[-2].strip(b" "):
                return  # the last two lines are all spaces
        n = (len(prev) - len(prev.lstrip(b" "))) // 4
        if prev.endswith(b":"):
            n += 1
        if n:
            self._buf += b"    " * n
            self.out += b"    " * n
            self._ai |= AI_JUST_ADDED


AI_ENABLED, AI_JUST_ADDED = 1, 2
HISTORY = 8  # MICROPY_READLINE_HISTORY_SIZE


def _back(n):
    """mp_hal_move_cursor_back()."""
    if n <= 0:
        return b""
    return b"\b" * n if n <= 4 else b"\x1b[%dD" % n


def _columns(names):
    """print_completions(): names in 16-character slots, lines up to 64 characters."""
    out, line_len = "", 64
    for name in names:
        gap = (line_len + 15) // 16 * 16 - line_len
        if gap < 2:
            gap += 16
        if line_len + gap + len(name) <= 64:
            out += " " * gap + name
            line_len += gap + len(name)
        else:
            out += "\n" + name
            line_len = len(name)
    return (out + "\n")[1:].encode()


_COMPOUND = ("if", "while", "for", "try", "with", "def", "class", "async")
_TRIPLES = ("'''", '"""')


def _starts_with_word(text, word):
    return text.startswith(word) and (len(text) == len(word)
                                      or not (text[len(word)].isalnum()
                                              or text[len(word)] == "_"))


def _continue_with_input(text):
    """py/repl.c mp_repl_continue_with_input() on the whole input so far."""
    if not text:
        return False
    compound = text[0] == "@" or any(_starts_with_word(text, k) for k in _COMPOUND)
    depth = 0
    quote = None
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "'\"":
            if quote in (None, ch * 3) and text[i:i + 3] == ch * 3:
                quote = None if quote else ch * 3
                i += 2
            elif quote in (None, ch):
                quote = None if quote else ch
        elif ch == "\\" and text[i + 1:i + 2] in ("'", '"', "\\"):
            if quote is not None:
                i += 1
        elif quote is None and ch in "([{":
            depth += 1
        elif quote is None and ch in ")]}":
            depth -= 1
        i += 1
    if quote in _TRIPLES:
        return True
    if depth > 0 and quote is None:
        return True
    if text[-1] == "\\":
        return True
    return compound and text[-1] != "\n"
