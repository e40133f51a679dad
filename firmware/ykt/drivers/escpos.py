"""ESC/POS receipt printer on a UART (58 mm thermal printers of the Epson TM / Xprinter kind).

Commands (Epson "ESC/POS Application Programming Guide", command reference):
``ESC @`` initialise, ``ESC E n`` emphasised (bold) on/off, ``ESC a n``
justification, ``LF`` print and feed, ``ESC d n`` print and feed n lines,
``GS V 1`` partial cut, ``DLE EOT 4`` real-time roll-paper sensor status
(bits 5-6 set: paper end; bits 2-3: near end). Chinese models print GB18030
double-byte text in "Kanji" (Chinese) character mode, ``FS &``, which ``ESC @``
cancels on most of them, so ``begin()`` sends both.

MicroPython has no GB18030 codec, so the driver carries a table of just the
characters its receipts use (labels, meal periods and the example menu); every
one of them is in the GB2312 two-byte area (first byte 0xB0-0xF7, second
0xA1-0xFE). ``encodable(text)`` says whether a text can be printed as is; the
POS prints an item's ASCII name when its Chinese name is not. A character
missing from the table prints as ``?``. Amounts are printed without the yen
sign, which several GB18030 printers get wrong.

Widths are in columns: an ASCII character is one, a Chinese character two
(58 mm paper: 32 columns of font A).

    p = Printer(UART(1, 9600, tx=41, rx=42))
    p.begin(); p.pair("合计", "12.00", bold=True); p.cut()
"""

import time

from micropython import const

_ESC = const(0x1B)
_GS = const(0x1D)
_FS = const(0x1C)
_DLE = const(0x10)
_EOT = const(0x04)
_LF = const(0x0A)

_PAPER_END = const(0x60)
_PAPER_NEAR = const(0x0C)

# The built-in table: these characters, as UTF-16BE code points in _GB_UNI, each
# with its two GB18030 bytes at the same offset in _GB_CODES:
# 早餐午晚夜宵定额菜单随机终端号时间收银员食堂卡合计实付补助钱
# 包现金余谢惠顾撤销退款主管日结报表班次开始笔数套优贴模式类别
# 未分净红烧肉清蒸鱼番茄炒蛋青麻婆豆腐花汤紫米饭浆油条子
_GB_UNI = (
    b"\x65\xe9\x99\x10\x53\x48\x66\x5a\x59\x1c\x5b\xb5\x5b\x9a\x98\x9d\x83\xdc\x53\x55\x96\x8f\x67\x3a\x7e\xc8\x7a\xef\x53\xf7"
    b"\x65\xf6\x95\xf4\x65\x36\x94\xf6\x54\x58\x98\xdf\x58\x02\x53\x61\x54\x08\x8b\xa1\x5b\x9e\x4e\xd8\x88\x65\x52\xa9\x94\xb1"
    b"\x53\x05\x73\xb0\x91\xd1\x4f\x59\x8c\x22\x60\xe0\x98\x7e\x64\xa4\x95\x00\x90\x00\x6b\x3e\x4e\x3b\x7b\xa1\x65\xe5\x7e\xd3"
    b"\x62\xa5\x88\x68\x73\xed\x6b\x21\x5f\x00\x59\xcb\x7b\x14\x65\x70\x59\x57\x4f\x18\x8d\x34\x6a\x21\x5f\x0f\x7c\x7b\x52\x2b"
    b"\x67\x2a\x52\x06\x51\xc0\x7e\xa2\x70\xe7\x80\x89\x6e\x05\x84\xb8\x9c\x7c\x75\x6a\x83\x04\x70\x92\x86\xcb\x97\x52\x9e\xbb"
    b"\x5a\x46\x8c\x46\x81\x50\x82\xb1\x6c\x64\x7d\x2b\x7c\x73\x99\x6d\x6d\x46\x6c\xb9\x67\x61\x5b\x50"
)
_GB_CODES = (
    b"\xd4\xe7\xb2\xcd\xce\xe7\xcd\xed\xd2\xb9\xcf\xfc\xb6\xa8\xb6\xee\xb2\xcb\xb5\xa5\xcb\xe6\xbb\xfa\xd6\xd5\xb6\xcb\xba\xc5"
    b"\xca\xb1\xbc\xe4\xca\xd5\xd2\xf8\xd4\xb1\xca\xb3\xcc\xc3\xbf\xa8\xba\xcf\xbc\xc6\xca\xb5\xb8\xb6\xb2\xb9\xd6\xfa\xc7\xae"
    b"\xb0\xfc\xcf\xd6\xbd\xf0\xd3\xe0\xd0\xbb\xbb\xdd\xb9\xcb\xb3\xb7\xcf\xfa\xcd\xcb\xbf\xee\xd6\xf7\xb9\xdc\xc8\xd5\xbd\xe1"
    b"\xb1\xa8\xb1\xed\xb0\xe0\xb4\xce\xbf\xaa\xca\xbc\xb1\xca\xca\xfd\xcc\xd7\xd3\xc5\xcc\xf9\xc4\xa3\xca\xbd\xc0\xe0\xb1\xf0"
    b"\xce\xb4\xb7\xd6\xbe\xbb\xba\xec\xc9\xd5\xc8\xe2\xc7\xe5\xd5\xf4\xd3\xe3\xb7\xac\xc7\xd1\xb3\xb4\xb5\xb0\xc7\xe0\xc2\xe9"
    b"\xc6\xc5\xb6\xb9\xb8\xaf\xbb\xa8\xcc\xc0\xd7\xcf\xc3\xd7\xb7\xb9\xbd\xac\xd3\xcd\xcc\xf5\xd7\xd3"
)


def _seq(lead):
    """Bytes in the UTF-8 sequence that starts with byte ``lead``."""
    return 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


def _point(data, i):
    """The code point of the UTF-8 sequence at ``data[i]`` (0xFFFD beyond the BMP)."""
    c = data[i]
    if c < 0x80:
        return c
    if c < 0xE0:
        return ((c & 0x1F) << 6) | (data[i + 1] & 0x3F)
    if c < 0xF0:
        return ((c & 0x0F) << 12) | ((data[i + 1] & 0x3F) << 6) | (data[i + 2] & 0x3F)
    return 0xFFFD


def _find(cp):
    u = _GB_UNI
    hi = cp >> 8
    lo = cp & 0xFF
    for i in range(0, len(u), 2):
        if u[i] == hi and u[i + 1] == lo:
            return i
    return -1


def gb18030(cp):
    """The two GB18030 bytes of code point ``cp`` from the built-in table, or None."""
    i = _find(cp)
    if i < 0:
        return None
    return _GB_CODES[i:i + 2]


# Text is walked as UTF-8 bytes: iterating a str makes MicroPython intern each
# character as a qstr, and a new qstr pool needs a contiguous block a long-running
# heap may no longer have.

def encodable(text):
    """True if every character of ``text`` is ASCII or in the table."""
    data = text.encode()
    i = 0
    while i < len(data):
        if data[i] >= 0x80 and _find(_point(data, i)) < 0:
            return False
        i += _seq(data[i])
    return True


def columns(text):
    """Printed width of ``text`` in columns (Chinese characters take two)."""
    n = 0
    for c in text.encode():
        if c < 0x80:
            n += 1
        elif c >= 0xC0:
            n += 2
    return n


class Printer:
    def __init__(self, uart, width=32):
        self._uart = uart
        self.width = width
        self._buf = bytearray(2 * width + 4)
        self._mv = memoryview(self._buf)
        self._cmd = bytearray(3)

    def _send3(self, a, b, c):
        cmd = self._cmd
        cmd[0] = a
        cmd[1] = b
        cmd[2] = c
        self._uart.write(cmd)

    def begin(self):
        """ESC @ (initialise) then FS & (Chinese character mode)."""
        self._uart.write(b"\x1b\x40\x1c\x26")

    def bold(self, on):
        self._send3(_ESC, 0x45, 1 if on else 0)

    def align(self, where):
        """0 left, 1 centre, 2 right (ESC a n)."""
        self._send3(_ESC, 0x61, where)

    def _encode(self, text):
        """``text`` as printer bytes in the line buffer, cut to the width; the byte count."""
        b = self._buf
        data = text.encode()
        n = 0
        i = 0
        while i < len(data):
            c = data[i]
            if c < 0x80:
                if n + 1 > self.width:
                    break
                b[n] = c if c >= 0x20 else 0x3F
                n += 1
                i += 1
                continue
            if n + 2 > self.width:
                break
            k = _find(_point(data, i))
            if k < 0:
                b[n] = 0x3F
                b[n + 1] = 0x3F
            else:
                b[n] = _GB_CODES[k]
                b[n + 1] = _GB_CODES[k + 1]
            n += 2
            i += _seq(c)
        return n

    def line(self, text="", bold=False, align=0):
        """Print one line (LF ends it)."""
        if align:
            self.align(align)
        if bold:
            self.bold(True)
        n = self._encode(text)
        self._buf[n] = _LF
        self._uart.write(self._mv[:n + 1])
        if bold:
            self.bold(False)
        if align:
            self.align(0)

    def pair(self, left, right, bold=False):
        """``left`` at the left margin and ``right`` flush right, on one line."""
        gap = self.width - columns(left) - columns(right)
        self.line(left + " " * (gap if gap > 0 else 1) + right, bold)

    def cut(self, feed=3):
        """Feed ``feed`` lines past the cutter and cut partially (ESC d n, GS V 1)."""
        self._send3(_ESC, 0x64, feed)
        self._uart.write(b"\x1d\x56\x01")

    def paper(self, wait_ms=100):
        """Roll-paper sensor (DLE EOT 4): "ok", "near-end", "out", or None when the
        printer does not answer (not fitted, off or offline)."""
        uart = self._uart
        while uart.any():
            uart.read()
        self._send3(_DLE, _EOT, 4)
        start = time.ticks_ms()
        while not uart.any():
            if time.ticks_diff(time.ticks_ms(), start) >= wait_ms:
                return None
            time.sleep_ms(5)
        st = uart.read(1)[0]
        if st & _PAPER_END:
            return "out"
        if st & _PAPER_NEAR:
            return "near-end"
        return "ok"
