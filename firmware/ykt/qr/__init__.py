"""The e-card QR credential (docs/qr.md): our own signature verifies in MicroPython
(``ec``: ECDSA P-256 and SM2 on short Weierstrass curves; ``sm3``), the credential's
format and its checks (``credential``)."""
