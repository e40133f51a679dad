"""ykt.crypto, ykt.sam and hw_sim.cryptolib (docs/purse.md section 5)."""

import random

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from hw_sim import cryptolib as simcrypto

NIST_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
NIST_MSG = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172a"
    "ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef"
    "f69f2445df4f9b17ad2b417be66c3710"
)
# NIST SP 800-38B, appendix D.1 (AES-128): message length -> CMAC
NIST_CMAC = {
    0: "bb1d6929e95937287fa37d129b756746",
    16: "070a16b46b4d4144f79bdd9dd04a287c",
    40: "dfa66747de9ae63030ca32611497c827",
    64: "51f0bebf7e3b9d92fc49741779363cfe",
}


def ref_ecb(key, block):
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def ref_cmac(key, msg):
    c = CMAC(algorithms.AES(key))
    c.update(msg)
    return c.finalize()


# -- CMAC ----------------------------------------------------------------------------------


def test_cmac_subkeys_match_sp800_38b(fw):
    k1, k2 = fw.crypto.subkeys(NIST_KEY)
    assert k1.hex() == "fbeed618357133667c85e08f7236a8de"
    assert k2.hex() == "f7ddac306ae266ccf90bc11ee46d513b"


@pytest.mark.parametrize("length", sorted(NIST_CMAC))
def test_cmac_matches_sp800_38b_example(fw, length):
    assert fw.crypto.cmac(NIST_KEY, NIST_MSG[:length]).hex() == NIST_CMAC[length]


def test_cmac_equals_cryptography_on_random_data(fw):
    rng = random.Random(38)
    for length in list(range(0, 50)) + [63, 64, 65, 255]:
        key = rng.randbytes(16)
        msg = rng.randbytes(length)
        assert fw.crypto.cmac(key, msg) == ref_cmac(key, msg), length


def test_cmac_accepts_bytearray_and_memoryview(fw):
    msg = bytearray(NIST_MSG[:40])
    assert fw.crypto.cmac(NIST_KEY, memoryview(msg)).hex() == NIST_CMAC[40]


def test_cmac_rejects_a_key_that_is_not_16_bytes(fw):
    with pytest.raises(ValueError):
        fw.crypto.cmac(NIST_KEY[:15], b"abc")


def test_mac4_is_the_first_four_bytes_of_the_cmac(fw):
    assert fw.crypto.mac4(NIST_KEY, NIST_MSG[:16]).hex() == "070a16b4"


# -- key schedule --------------------------------------------------------------------------


def test_diversify_encrypts_serial_and_its_complement(fw):
    master = bytes(range(16))
    serial8 = bytes.fromhex("9900000012345678")
    expected = ref_ecb(master, serial8 + bytes.fromhex("66ffffffedcba987"))
    assert fw.crypto.diversify(master, serial8) == expected


def test_diversify_gives_each_card_its_own_key(fw):
    master = bytes(range(16))
    a = fw.crypto.diversify(master, bytes.fromhex("9900000012345678"))
    b = fw.crypto.diversify(master, bytes.fromhex("9900000012345679"))
    assert a != b


def test_diversify_rejects_a_serial_that_is_not_8_bytes(fw):
    with pytest.raises(ValueError):
        fw.crypto.diversify(bytes(16), bytes(10))


def test_purchase_session_key_is_aes_of_the_padded_block(fw):
    card_key = bytes(range(16, 32))
    block = bytes.fromhex("a1b2c3d4" "0007" "0000012c" "800000000000")
    assert fw.crypto.purchase_session(card_key, bytes.fromhex("a1b2c3d4"), 7, 300) == ref_ecb(
        card_key, block
    )


def test_load_session_key_is_aes_of_the_padded_block(fw):
    card_key = bytes(range(16, 32))
    block = bytes.fromhex("a1b2c3d4" "0102" "80000000000000000000")
    assert fw.crypto.load_session(card_key, bytes.fromhex("a1b2c3d4"), 0x0102) == ref_ecb(
        card_key, block
    )


# -- SoftSam -------------------------------------------------------------------------------

DPK = bytes.fromhex("00112233445566778899aabbccddeeff")
DLK = bytes.fromhex("ffeeddccbbaa99887766554433221100")
SERIAL8 = bytes.fromhex("9900000012345678")
RANDOM4 = bytes.fromhex("0badf00d")
TERMINAL = bytes.fromhex("010203040506")
DT = bytes.fromhex("20240305083000")


def ref_sesp(atc, seq):
    card_key = ref_ecb(DPK, SERIAL8 + bytes(b ^ 0xFF for b in SERIAL8))
    block = RANDOM4 + atc.to_bytes(2, "big") + seq.to_bytes(4, "big") + b"\x80" + bytes(5)
    return ref_ecb(card_key, block)


def ref_sesl(atc):
    card_key = ref_ecb(DLK, SERIAL8 + bytes(b ^ 0xFF for b in SERIAL8))
    return ref_ecb(card_key, RANDOM4 + atc.to_bytes(2, "big") + b"\x80" + bytes(9))


def make_sam(fw, **kw):
    return fw.sam.SoftSam({"purchase": DPK, "load": DLK}, TERMINAL, **kw)


def test_sam_purchase_mac1_covers_amount_type_terminal_and_time(fw):
    mac1 = make_sam(fw).purchase_mac1(SERIAL8, RANDOM4, 5, 250, 0x09, TERMINAL, DT, 42)
    msg = (250).to_bytes(4, "big") + b"\x09" + TERMINAL + DT
    assert mac1 == ref_cmac(ref_sesp(5, 42), msg)[:4]


def test_sam_accepts_the_purchase_mac2_of_the_same_session(fw):
    mac2 = ref_cmac(ref_sesp(5, 42), (250).to_bytes(4, "big"))[:4]
    assert make_sam(fw).verify_purchase_mac2(SERIAL8, RANDOM4, 5, 42, 250, mac2) is True


def test_sam_rejects_a_purchase_mac2_for_another_amount(fw):
    mac2 = ref_cmac(ref_sesp(5, 42), (251).to_bytes(4, "big"))[:4]
    assert make_sam(fw).verify_purchase_mac2(SERIAL8, RANDOM4, 5, 42, 250, mac2) is False


def test_sam_checks_the_load_mac1_of_the_card(fw):
    msg = (900).to_bytes(4, "big") + (100).to_bytes(4, "big") + b"\x02" + TERMINAL
    mac1 = ref_cmac(ref_sesl(3), msg)[:4]
    sam = make_sam(fw)
    assert sam.verify_load_mac1(SERIAL8, RANDOM4, 3, 900, 100, TERMINAL, mac1) is True
    assert sam.verify_load_mac1(SERIAL8, RANDOM4, 3, 901, 100, TERMINAL, mac1) is False


def test_sam_load_mac2_covers_amount_type_terminal_and_time(fw):
    mac2 = make_sam(fw).load_mac2(SERIAL8, RANDOM4, 3, 100, TERMINAL, DT)
    msg = (100).to_bytes(4, "big") + b"\x02" + TERMINAL + DT
    assert mac2 == ref_cmac(ref_sesl(3), msg)[:4]


def test_sam_hands_out_consecutive_sequence_numbers(fw):
    sam = make_sam(fw, sequence=41)
    assert [sam.next_sequence(), sam.next_sequence()] == [41, 42]
    assert sam.sequence == 43


def test_sam_without_load_key_cannot_load(fw):
    sam = fw.sam.SoftSam({"purchase": DPK}, TERMINAL)
    assert sam.can_load() is False
    with pytest.raises(fw.errors.YktError):
        sam.load_mac2(SERIAL8, RANDOM4, 3, 100, TERMINAL, DT)


def test_sam_supports_only_its_key_version_and_aes(fw):
    sam = make_sam(fw, key_version=2)
    assert sam.supports(2, 0x10) is True
    assert sam.supports(1, 0x10) is False
    assert sam.supports(2, 0x00) is False


# -- hw_sim.cryptolib (the CPython stand-in for MicroPython's cryptolib) ---------------------


def test_sim_cryptolib_ecb_matches_fips197_example():
    key = bytes(range(16))
    pt = bytes.fromhex("00112233445566778899aabbccddeeff")
    ct = simcrypto.aes(key, 1).encrypt(pt)
    assert ct.hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"


def test_sim_cryptolib_cbc_chains_across_calls():
    key, iv = bytes(range(16)), bytes(range(16, 32))
    whole = simcrypto.aes(key, 2, iv).encrypt(bytes(32))
    split = simcrypto.aes(key, 2, iv)
    assert split.encrypt(bytes(16)) + split.encrypt(bytes(16)) == whole


def test_sim_cryptolib_cbc_decrypt_inverts_encrypt():
    key, iv = bytes(range(16)), bytes(range(16, 32))
    ct = simcrypto.aes(key, 2, iv).encrypt(b"A" * 32)
    assert simcrypto.aes(key, 2, iv).decrypt(ct) == b"A" * 32


def test_sim_cryptolib_writes_into_an_output_buffer():
    out = bytearray(16)
    result = simcrypto.aes(bytes(range(16)), 1).encrypt(
        bytes.fromhex("00112233445566778899aabbccddeeff"), out
    )
    assert result is out
    assert out.hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"


def test_sim_cryptolib_rejects_a_partial_block():
    with pytest.raises(ValueError):
        simcrypto.aes(bytes(16), 1).encrypt(bytes(15))


def test_sim_cryptolib_refuses_to_mix_encrypt_and_decrypt():
    cipher = simcrypto.aes(bytes(16), 1)
    cipher.encrypt(bytes(16))
    with pytest.raises(ValueError):
        cipher.decrypt(bytes(16))


@pytest.mark.parametrize(
    "args",
    [(bytes(15), 1), (bytes(24), 1), (bytes(16), 3), (bytes(16), 2), (bytes(16), 2, bytes(8))],
)
def test_sim_cryptolib_rejects_what_micropython_rejects(args):
    with pytest.raises(ValueError):
        simcrypto.aes(*args)
