"""The purse crypto and client on the real MicroPython VM (unix port), against CPython.

Each test writes a small script, runs ``.venv/bin/micropython -X heapsize=96K`` with
``firmware/`` on ``sys.path`` and compares what it prints with the CPython result.
"""

import json
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_ROOT = Path(__file__).resolve().parents[1]
MICROPYTHON = _ROOT / ".venv" / "bin" / "micropython"
FIRMWARE = _ROOT / "firmware"

pytestmark = pytest.mark.skipif(not MICROPYTHON.exists(), reason="no MicroPython unix port")


from hw_sim import cryptolib as simcrypto
from hw_sim.issuer import IssuerKeys, issue_card

_PRELUDE = """\
import sys, json, binascii
sys.path.insert(0, %r)
def h(b):
    return binascii.hexlify(bytes(b)).decode()
def u(s):
    return binascii.unhexlify(s)
""" % str(FIRMWARE)


def run_vm(tmp_path, body):
    script = tmp_path / "vm_script.py"
    script.write_text(_PRELUDE + body)
    proc = subprocess.run(
        [str(MICROPYTHON), "-X", "heapsize=96K", str(script)],
        capture_output=True, text=True, timeout=60, cwd=str(tmp_path),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


NIST_KEY = "2b7e151628aed2a6abf7158809cf4f3c"
NIST_MSG = (
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)


def test_vm_cmac_matches_sp800_38b_examples(tmp_path):
    out = run_vm(tmp_path, """
from ykt import crypto
k, m = u(%r), u(%r)
print(json.dumps([h(crypto.cmac(k, m[:n])) for n in (0, 16, 40, 64)]))
""" % (NIST_KEY, NIST_MSG))
    assert out == [
        "bb1d6929e95937287fa37d129b756746",
        "070a16b46b4d4144f79bdd9dd04a287c",
        "dfa66747de9ae63030ca32611497c827",
        "51f0bebf7e3b9d92fc49741779363cfe",
    ]


def test_vm_diversification_equals_cpython(tmp_path, fw):
    master = bytes(range(16))
    serial8 = bytes.fromhex("9900000012345678")
    out = run_vm(tmp_path, """
from ykt import crypto
print(json.dumps(h(crypto.diversify(u(%r), u(%r)))))
""" % (master.hex(), serial8.hex()))
    enc = Cipher(algorithms.AES(master), modes.ECB()).encryptor()
    expected = enc.update(serial8 + bytes(b ^ 0xFF for b in serial8)) + enc.finalize()
    assert out == expected.hex() == fw.crypto.diversify(master, serial8).hex()


def test_vm_sam_macs_equal_cpython(tmp_path, fw):
    keys = IssuerKeys.from_seed(b"vm")
    args = ("9900000012345678", "0badf00d", "010203040506", "20240305083000")
    out = run_vm(tmp_path, """
from ykt.sam import SoftSam
s8, rnd, term, dt = [u(a) for a in %r]
sam = SoftSam({"purchase": u(%r), "load": u(%r)}, term)
print(json.dumps([
    h(sam.purchase_mac1(s8, rnd, 5, 250, 9, term, dt, 42)),
    h(sam.load_mac2(s8, rnd, 3, 100, term, dt)),
]))
""" % (args, keys.purchase_master.hex(), keys.load_master.hex()))
    s8, rnd, term, dt = (bytes.fromhex(a) for a in args)
    sam = fw.sam.SoftSam(keys.sam_keys(), term)
    assert out == [
        sam.purchase_mac1(s8, rnd, 5, 250, 9, term, dt, 42).hex(),
        sam.load_mac2(s8, rnd, 3, 100, term, dt).hex(),
    ]


def test_vm_cryptolib_equals_the_simulator_stand_in(tmp_path):
    key, iv, data = bytes(range(16)), bytes(range(16, 32)), bytes(range(48))
    out = run_vm(tmp_path, """
import cryptolib
key, iv, data = u(%r), u(%r), u(%r)
cbc = cryptolib.aes(key, 2, iv)
print(json.dumps([
    h(cryptolib.aes(key, 1).encrypt(data)),
    h(cbc.encrypt(data[:16]) + cbc.encrypt(data[16:])),
]))
""" % (key.hex(), iv.hex(), data.hex()))
    cbc = simcrypto.aes(key, 2, iv)
    assert out == [
        simcrypto.aes(key, 1).encrypt(data).hex(),
        (cbc.encrypt(data[:16]) + cbc.encrypt(data[16:])).hex(),
    ]


def test_vm_purse_client_replays_the_cpython_transcript(tmp_path, fw):
    """Record a composite purchase and a load under CPython against the simulated card,
    then replay the card's answers on the VM: the VM must send the very same APDUs
    (same MAC1, same load MAC2) and reach the same results."""
    keys = IssuerKeys.from_seed(b"vm")
    app = issue_card("31049900000012345678", balance_fen=1000, issuer_keys=keys)
    terminal, dt = bytes.fromhex("000000000101"), bytes.fromhex("20240305083000")
    transcript = []

    class Recorder:
        def transceive(self, capdu):
            rapdu = app.process(bytes(capdu))
            transcript.append([bytes(capdu).hex(), rapdu.hex()])
            return rapdu

    card = fw.purse.PurseCard(fw.iso7816.Iso7816(Recorder()))
    card.select()
    sam = fw.sam.SoftSam(keys.sam_keys(), terminal, sequence=7)
    bought = card.purchase(sam, 250, 0x09, dt, record=(1, bytes(range(48))))
    loaded = card.load(sam, 500, dt)
    expected = [list(bought[:5]) + [bought.tac.hex()], list(loaded[:3]) + [loaded.tac.hex()]]

    out = run_vm(tmp_path, """
from ykt.iso7816 import Iso7816
from ykt.card.purse import PurseCard
from ykt.sam import SoftSam
steps = %s
class Replay:
    def transceive(self, capdu):
        want, answer = steps.pop(0)
        if h(capdu) != want:
            raise Exception("sent %%s, expected %%s" %% (h(capdu), want))
        return u(answer)
card = PurseCard(Iso7816(Replay()))
card.select()
sam = SoftSam({"purchase": u(%r), "load": u(%r)}, u("000000000101"), 7)
dt = u("20240305083000")
b = card.purchase(sam, 250, 9, dt, (1, bytes(range(48))))
l = card.load(sam, 500, dt)
print(json.dumps([list(b[:5]) + [h(b.tac)], list(l[:3]) + [h(l.tac)], len(steps)]))
""" % (json.dumps(transcript), keys.purchase_master.hex(), keys.load_master.hex()))
    assert out == expected + [0]
    assert (app.balance, app.offline_atc, app.online_atc) == (1250, 1, 1)
