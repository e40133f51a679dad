"""CPython stand-in for MicroPython's ``cryptolib`` (AES, ECB and CBC modes).

Registered as ``sys.modules['cryptolib']`` when firmware runs under CPython.
It keeps MicroPython's rules so that firmware which works here works on the
board: 16- or 32-byte keys, mode 1 (ECB) or 2 (CBC, 16-byte IV required),
input a multiple of 16 bytes, an object either encrypts or decrypts (never
both), and a CBC object chains across calls.
"""

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MODE_ECB = 1
MODE_CBC = 2
_BLOCK = 16


class aes:  # noqa: N801 - MicroPython's name
    """``aes(key, mode[, IV])`` with ``encrypt``/``decrypt``."""

    def __init__(self, key, mode, IV=None):  # noqa: N803 - MicroPython's name
        key = bytes(key)
        if len(key) not in (16, 32):
            raise ValueError("key")
        if mode == MODE_ECB:
            cipher_mode = modes.ECB()
        elif mode == MODE_CBC:
            if IV is None or len(IV) != _BLOCK:
                raise ValueError("IV")
            cipher_mode = modes.CBC(bytes(IV))
        else:
            raise ValueError("mode")
        self._cipher = Cipher(algorithms.AES(key), cipher_mode)
        self._ctx = None
        self._encrypting = None

    def _run(self, encrypting, in_buf, out_buf):
        if self._encrypting is None:
            self._encrypting = encrypting
            self._ctx = self._cipher.encryptor() if encrypting else self._cipher.decryptor()
        elif self._encrypting != encrypting:
            raise ValueError("can't encrypt & decrypt")
        data = bytes(in_buf)
        if len(data) % _BLOCK:
            raise ValueError("blksize % 16")
        result = self._ctx.update(data)
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
