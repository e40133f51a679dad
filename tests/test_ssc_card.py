"""The social security application beside the purse (docs/venue.md §1): the card model's
files and the firmware client (``ykt.card.ssc``) that reads them, with the SAM's match key.

The link is in memory (the card application's ``process``); the venue gate's scenarios
(tests/test_venue_*.py) read the same files over the simulated PN532 on both runtimes.
"""

import hashlib
import hmac

import pytest

from hw_sim.issuer import IssuerKeys, issue_card
from hw_sim.purse_app import SSC_AID, SSC_EF06

KEYS = IssuerKeys.from_seed(b"ssc-test")
ID_NUMBER = "320502199001011234"  # Suzhou (320502), born 1990-01-01, a man
SECRET = b"match secret for tests"
HOLDER = {"id_number": ID_NUMBER, "name": "张三", "card_id": "A12345678",
          "issued": 20230315, "expires": 20330315}


class Link:
    def __init__(self, app):
        self.app = app
        self.sent = []

    def transceive(self, capdu):
        self.sent.append(bytes(capdu))
        return self.app.process(bytes(capdu))


@pytest.fixture
def ssc():
    from ykt.card import ssc

    return ssc


def card(holder=HOLDER):
    app = issue_card("31012300000000000001", balance_fen=1000, issuer_keys=KEYS, holder=holder)
    app.power_on()
    return app


def read(fw, ssc, app):
    sam = fw.sam.SoftSam({"purchase": bytes(16), "match": SECRET}, bytes(6))
    link = Link(app)
    return ssc.SscCard(fw.iso7816.Iso7816(link)).read(sam.match_key), link


def test_the_holder_fields_come_from_the_card_and_the_id_number(fw, ssc):
    h, _ = read(fw, ssc, card())
    assert (h.card_id, h.issued, h.expires, h.sex) == ("A12345678", 20230315, 20330315, 1)
    assert (h.birth, h.region, h.last4) == (19900101, 320502, "1234")


def test_the_match_key_is_the_keyed_hash_the_bookings_carry(fw, ssc):
    from host_tools.lib.qr import match_key

    h, _ = read(fw, ssc, card())
    want = hmac.new(SECRET, ID_NUMBER.encode(), hashlib.sha256).digest()[:16]
    assert h.match == want == match_key(SECRET, ID_NUMBER)


def test_the_holder_keeps_no_id_number_and_the_name_is_never_read(fw, ssc):
    app = card()
    h, _ = read(fw, ssc, app)
    assert ID_NUMBER not in repr(h) and ID_NUMBER[:14] not in repr(h)
    assert (SSC_EF06, 0x09) not in app.ssc_reads


def test_the_client_selects_the_application_by_its_aid_then_each_file(fw, ssc):
    _, link = read(fw, ssc, card())
    assert link.sent[0][:5] == bytes((0x00, 0xA4, 0x04, 0x00, len(SSC_AID)))
    assert link.sent[0][5:5 + len(SSC_AID)] == SSC_AID == ssc.AID
    assert [c[5:7].hex() for c in link.sent if c[1] == 0xA4 and c[2] == 0x02] == ["ef05", "ef06"]


def test_a_card_without_the_application_is_refused_by_name(fw, ssc):
    with pytest.raises(fw.errors.CardRefused, match="no social security application"):
        read(fw, ssc, card(holder=None))


def test_a_bad_id_check_character_is_unreadable_holder_data(fw, ssc):
    app = card()
    app.ssc[SSC_EF06][0x08] = b"320502199001011235"
    with pytest.raises(fw.errors.CardRefused, match="holder data unreadable"):
        read(fw, ssc, app)


def test_the_purse_answers_again_once_it_is_selected_again(fw, ssc):
    app = card()
    read(fw, ssc, app)
    iso = fw.iso7816.Iso7816(Link(app))
    with pytest.raises(fw.errors.ApduError):  # the purse is not selected: 6985
        fw.purse.PurseCard(iso).balance()
    purse = fw.purse.PurseCard(iso)
    purse.select()
    assert purse.balance() == 1000


@pytest.mark.parametrize("birth,today,years", [
    (19600301, 20260228, 65), (19600301, 20260301, 66), (20000229, 20260228, 25),
    (19561129, 20261129, 70)])
def test_age_is_whole_years_on_the_terminal_date(ssc, birth, today, years):
    assert ssc.age(birth, today) == years


def test_the_hmac_is_rfc_4231_case_2(fw):
    got = fw.crypto.hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert got.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
