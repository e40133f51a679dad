"""CPython stand-in for MicroPython's ``cryptolib`` (AES, ECB and CBC modes).

Registered as ``sys.modules['cryptolib']`` when firmware runs under CPython.
It keeps MicroPython's rules so that firmware which works here works on the
board: 16- or 32-byte keys, mode 1 (ECB) or 2 (CBC, 16-byte IV required),
input a multiple of 16 bytes, an object either encrypts or decrypts (never
both), and a CBC object chains across calls.

The block cipher is ``cryptography``'s AES in ECB mode, one encryptor and one decryptor
per key kept for the run (making them is most of what an AES object costs, and the
firmware makes one per MAC); CBC chains the blocks here.
"""

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MODE_ECB = 1
MODE_CBC = 2
_BLOCK = 16
_KEYS_KEPT = 1024  # distinct keys whose ECB contexts are kept (then the cache starts again)

_ecb = {}  # key -> (encryptor, decryptor), both ECB: stateless between whole blocks


def _contexts(key):
    ctx = _ecb.get(key)
    if ctx is None:
        if len(_ecb) >= _KEYS_KEPT:
            _ecb.clear()
        cipher = Cipher(algorithms.AES(key), modes.ECB())
        ctx = _ecb[key] = (cipher.encryptor(), cipher.decryptor())
    return ctx


class aes:  # noqa: N801 - MicroPython's name
    """``aes(key, mode[, IV])`` with ``encrypt``/``decrypt``."""

    def __init__(self, key, mode, IV=None):  # noqa: N803 - MicroPython's name
        key = bytes(key)
        if len(key) not in (16, 32):
            raise ValueError("key")
        if mode == MODE_CBC:
            if IV is None or len(IV) != _BLOCK:
                raise ValueError("IV")
            self._iv = bytes(IV)
        elif mode != MODE_ECB:
            raise ValueError("mode")
        self._mode = mode
        self._ctx = _contexts(key)
        self._encrypting = None

    def _run(self, encrypting, in_buf, out_buf):
        if self._encrypting is None:
            self._encrypting = encrypting
        elif self._encrypting != encrypting:
            raise ValueError("can't encrypt & decrypt")
        data = bytes(in_buf)
        n = len(data)
        if n % _BLOCK:
            raise ValueError("blksize % 16")
        if self._mode == MODE_ECB:
            result = self._ctx[0 if encrypting else 1].update(data)
        elif encrypting:
            enc = self._ctx[0].update
            prev = int.from_bytes(self._iv, "big")
            out = []
            for i in range(0, n, _BLOCK):
                x = (int.from_bytes(data[i:i + _BLOCK], "big") ^ prev).to_bytes(_BLOCK, "big")
                c = enc(x)
                out.append(c)
                prev = int.from_bytes(c, "big")
            result = b"".join(out)
            if n:
                self._iv = result[-_BLOCK:]
        else:
            plain = self._ctx[1].update(data)
            chain = int.from_bytes(self._iv + data[:n - _BLOCK], "big")
            result = (int.from_bytes(plain, "big") ^ chain).to_bytes(n, "big") if n else b""
            if n:
                self._iv = data[-_BLOCK:]
        if out_buf is None:
            return result
        if len(out_buf) < len(result):
            raise ValueError("output too small")
        out_buf[: len(result)] = result
        return out_buf

    def encrypt(self, in_buf, out_buf=None):
        return self._run(True, in_buf, out_buf)

    def decrypt(self, in_buf, out_buf=None):
        return self._run(False, in_buf, out_buf)
