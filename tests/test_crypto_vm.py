"""The purse crypto and client on the real MicroPython VM (unix port), against CPython.

Each test runs a script of tests/vm/ (``crypto_checks.py``, ``purse_replay.py``) with
``.venv/bin/micropython -X heapsize=96K``, ``firmware/`` on its path, and compares what it
prints with the CPython result.
"""

import json

import vmscripts
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from hw_sim import cryptolib as simcrypto
from hw_sim.issuer import IssuerKeys, issue_card


def run_vm(name, *args):
    proc = vmscripts.run(name, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


NIST_KEY = "2b7e151628aed2a6abf7158809cf4f3c"
NIST_MSG = (
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)


def test_vm_cmac_matches_sp800_38b_examples():
    out = run_vm("crypto_checks", "cmac", NIST_KEY, NIST_MSG)
    assert out == [
        "bb1d6929e95937287fa37d129b756746",
        "070a16b46b4d4144f79bdd9dd04a287c",
        "dfa66747de9ae63030ca32611497c827",
        "51f0bebf7e3b9d92fc49741779363cfe",
    ]


def test_vm_diversification_equals_cpython(fw):
    master = bytes(range(16))
    serial8 = bytes.fromhex("9900000012345678")
    out = run_vm("crypto_checks", "diversify", master.hex(), serial8.hex())
    enc = Cipher(algorithms.AES(master), modes.ECB()).encryptor()
    expected = enc.update(serial8 + bytes(b ^ 0xFF for b in serial8)) + enc.finalize()
    assert out == expected.hex() == fw.crypto.diversify(master, serial8).hex()


def test_vm_sam_macs_equal_cpython(fw):
    keys = IssuerKeys.from_seed(b"vm")
    args = ("9900000012345678", "0badf00d", "010203040506", "20240305083000")
    out = run_vm("crypto_checks", "sam_macs", keys.purchase_master.hex(),
                 keys.load_master.hex(), *args)
    s8, rnd, term, dt = (bytes.fromhex(a) for a in args)
    sam = fw.sam.SoftSam(keys.sam_keys(), term)
    assert out == [
        sam.purchase_mac1(s8, rnd, 5, 250, 9, term, dt, 42).hex(),
        sam.load_mac2(s8, rnd, 3, 100, term, dt).hex(),
    ]


def test_vm_cryptolib_equals_the_simulator_stand_in():
    key, iv, data = bytes(range(16)), bytes(range(16, 32)), bytes(range(48))
    out = run_vm("crypto_checks", "aes", key.hex(), iv.hex(), data.hex())
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

    path = tmp_path / "transcript.json"
    path.write_text(json.dumps(transcript))
    out = run_vm("purse_replay", path, keys.purchase_master.hex(), keys.load_master.hex())
    assert out == expected + [0]
    assert (app.balance, app.offline_atc, app.online_atc) == (1250, 1, 1)
