"""The culture-venue gate (docs/venue.md): the demo morning at the museum and the cases
around it, on both runtimes (the same output, byte for byte).

Bookings by card and by e-card QR code, anti-passback, the slot window, walk-in tickets by
the venue's rules (a Yangtze River Delta resident pays 80 %, seniors by age), a full slot,
codes replayed, expired and forged, cards expired, denylisted or without the social security
application; every admission and refusal journaled with its code, the ID number and the
name never on the console or in the journal.
"""

import json

import pytest
import venuekit
from simrun import events, journal

from host_tools.lib import qr
from hw_sim.scenario import Run

RUNTIMES = ["cpython", "micropython"]
GATE = venuekit.GATE


def _run(data, runtime):
    return Run(data, "venue").run(runtime)


@pytest.fixture(scope="module", params=RUNTIMES)
def morning(request):
    return _run(venuekit.demo(), request.param)


def _outcomes(r):
    return [(e["event"], e.get("card") or e.get("qr"), e.get("code"), e.get("booking"))
            for e in events(r) if e["event"] in ("admit", "ticket", "refused")]


def test_the_demo_morning_is_the_same_on_both_runtimes():
    data = venuekit.demo()
    assert _run(data, "cpython").lines == _run(data, "micropython").lines


def test_a_booked_visitor_enters_by_card_with_the_people_booked(morning):
    admit = [e for e in events(morning, "admit") if e.get("booking") == 2001]
    assert [(a["card"], a["slot"], a["people"]) for a in admit] == [
        ("****************0101", "09:00", 2)]
    assert morning.apps["alice"].balance == 3000  # paid in advance: nothing debited


def test_a_booked_visitor_enters_by_qr_code(morning):
    admit = [e for e in events(morning, "admit") if "qr" in e]
    assert [(a["qr"], a["booking"], a["people"]) for a in admit] == [
        ("*****0601", 2002, 1), ("*****0201", 2004, 3)]


def test_the_demo_codes_are_rsa_codes_read_whole_off_the_scanner(morning):
    scans = [e["scan"] for e in venuekit.demo()["events"] if "scan" in e]
    assert {(len(t), qr.decode(t)[1]) for t in scans} == {(1234, qr.ALG_RSA)}
    assert [e["reason"] for e in events(morning, "scan-error")] == ["garbled payload"]
    assert len([e for e in events(morning) if e.get("qr")]) == 4  # each code decided


def test_a_replayed_screenshot_and_an_expired_code_are_refused(morning):
    refused = [(e["qr"], e["code"], e["reason"]) for e in events(morning, "refused") if "qr" in e]
    assert refused == [("*****0601", 9, "code replayed"), ("*****0201", 7, "code expired")]


def test_the_same_booking_enters_once_a_day(morning):
    assert ("refused", "****************0101", 4, 2001) in _outcomes(morning)


def test_a_booking_outside_its_slot_window_is_the_wrong_slot_until_the_window_opens(morning):
    frank = [o for o in _outcomes(morning) if o[1] == "****************0102"]
    assert frank == [("refused", "****************0102", 2, 2003),
                     ("admit", "****************0102", None, 2003)]


def test_a_price_due_on_a_booking_is_debited_at_entry(morning):
    [admit] = [e for e in events(morning, "admit") if e.get("booking") == 2003]
    assert (admit["fen"], admit["balance"]) == (5000, 3000)
    assert morning.apps["frank"].balance == 3000


def test_a_walk_in_yangtze_river_delta_resident_pays_80_percent(morning):
    [t] = [e for e in events(morning, "ticket") if e["card"].endswith("0103")]
    assert (t["fen"], t["steps"]) == (4000, [["full", 5000], ["resident", 4000]])
    assert morning.apps["bob"].balance == 6000


def test_seniors_pay_by_age_from_the_birth_date(morning):
    tickets = {e["card"][-4:]: (e["fen"], e["steps"][-1]) for e in events(morning, "ticket")}
    assert tickets["0104"] == (0, ["age 70+", 0])  # born 1956-04-12: 70
    assert tickets["0105"] == (2500, ["age 60+", 2500])  # born 1961-02-20: 65
    assert morning.apps["carol"].balance == 2000


def test_a_walk_in_is_refused_when_the_slot_is_full(morning):
    # 09:00 holds 6: 3 booked, 3 walk-ins sold
    assert ("refused", "****************0106", 3, None) in _outcomes(morning)
    assert morning.apps["dave"].balance == 9000


def test_every_admission_and_refusal_is_journaled_with_its_code(morning):
    recs = [(x["kind"], x["tx_type"], x["tseq"], x["amount"]) for x in journal(morning)
            if x["kind"] in ("admitted", "refused")]
    assert recs == [
        ("admitted", 0, 2001, 2), ("admitted", 0, 2002, 1), ("refused", 9, 0, 0),
        ("admitted", 0, 0, 1), ("admitted", 0, 0, 1), ("refused", 2, 2003, 0),
        ("admitted", 0, 0, 1), ("refused", 3, 0, 0), ("refused", 7, 0, 0),
        ("refused", 4, 2001, 0), ("admitted", 1, 2003, 1), ("admitted", 1, 2004, 3)]


def test_the_display_says_why(morning):
    shown = [e["text"] for e in events(morning, "display")]
    for text in ("REFUSED | CODE USED", "REFUSED | CODE EXPIRED", "REFUSED | SLOT FULL",
                 "REFUSED | WRONG TIME SLOT", "REFUSED | ALREADY ENTERED",
                 "TICKET 40.00 | BAL 60.00", "WELCOME | BOOKING 2001 x2"):
        assert text in shown


def test_no_id_number_or_name_on_the_console_or_in_the_journal(morning):
    data = venuekit.demo()
    secrets = []
    for c in data["cards"]:
        secrets += [c["holder"]["id_number"], c["holder"]["id_number"][:14]]
        if c["holder"].get("name"):
            secrets.append(c["holder"]["name"])
    text = "\n".join(morning.lines) + json.dumps(journal(morning), default=str)
    assert not [s for s in secrets if s in text]


def test_a_misread_is_reported_and_the_gate_goes_on(morning):
    assert [e["reason"] for e in events(morning, "scan-error")] == ["garbled payload"]


# -- the cases around the demo ---------------------------------------------------------

def _holder(idn, card_id, **kw):
    return dict({"id_number": idn, "card_id": card_id}, **kw)


def _forged(text):
    raw = bytearray(qr.decode(text))
    p = qr.parts(bytes(raw))
    raw[len(p.tbs) + len(p.cert_sig) + 3] ^= 1  # the generation time: the holder's
    return qr.encode(bytes(raw))  # signature no longer covers it


_EDGES = []


def _edges_data():
    """The demo's gate, cards and bookings with the cases around it (made once)."""
    if _EDGES:
        return _EDGES[0]
    data = venuekit.demo()
    data["cards"] += [
        {"name": "zoe", "number": "31012300000000000107", "balance_fen": 9000,
         "holder": _holder("330106198807072029", "Z33010601")},
        {"name": "old", "number": "31012300000000000108", "balance_fen": 9000,
         "holder": _holder("320505199211112227", "O32050501", expires=20251231)},
        {"name": "plain", "number": "31012300000000000109", "balance_fen": 9000}]
    data["denylist"] = ["zoe", qr.denylist_number("Y32050201")]  # a card, an e-card's card
    erin = venuekit.code("erin", "330106198807072029", "E33010601", "2026-12-05T09:03:55")
    yan = venuekit.code("yan", "320502199001011234", "Y32050201", "2026-12-05T09:06:25")
    old_p256 = venuekit.code("gina", "320502199001011234", "G32050201",
                             "2026-12-05T09:15:55", alg="p256")
    henry = venuekit.code("henry", "440305196102201119", "H44030501", "2026-12-05T09:04:55")
    stranger = venuekit.code("x", "440305196102201119", "X00000001", "2026-12-05T09:05:55",
                             issuer="not-trusted")
    data["events"] = [
        {"at": "09:01:00", "tap": "zoe"},
        {"at": "09:02:00", "tap": "old"},
        {"at": "09:03:00", "tap": "plain"},
        {"at": "09:04:00", "scan": _forged(erin)},
        {"at": "09:05:00", "scan": henry},
        {"at": "09:06:00", "scan": stranger},
        {"at": "09:06:30", "scan": yan},
        {"at": "09:07:00", "tap": "alice"},
        {"at": "09:07:30", "power_cut": {"after_ops": 1}},
        {"at": "09:08:00", "tap": "bob"},
        {"at": "09:09:00", "tap": "alice"},
        {"at": "09:10:00", "emergency": True},
        {"at": "09:10:20", "scan": henry},
        {"at": "09:11:00", "emergency": False},
        {"at": "09:16:00", "scan": old_p256},
    ]
    _EDGES.append(data)
    return data


@pytest.fixture(scope="module", params=RUNTIMES)
def edges(request):
    return _run(_edges_data(), request.param)


def _codes(r):
    return [(e.get("card", e.get("qr")), e["code"], e.get("detail"))
            for e in events(r, "refused")]


def test_a_denylisted_card_is_refused_as_blocked(edges):
    [(code, detail)] = [(c[1], c[2]) for c in _codes(edges) if c[0].endswith("0107")]
    assert code == 6 and detail.startswith("card blocked")


def test_a_code_whose_card_is_on_the_denylist_is_refused_as_blocked(edges):
    [(code, detail)] = [(c[1], c[2]) for c in _codes(edges) if c[0] == "*****0201"]
    assert code == 6 and detail.startswith("card blocked")


def test_a_p256_code_issued_before_is_still_admitted(edges):
    assert ("admit", "*****0201", None, 2004) in _outcomes(edges)


def test_the_edge_codes_are_rsa_and_the_old_one_p256(edges):
    scans = [e["scan"] for e in _edges_data()["events"] if "scan" in e]
    assert [qr.decode(t)[1] for t in scans] == [3, 3, 3, 3, 3, 1]


def test_an_expired_social_security_card_is_refused(edges):
    assert ("****************0108", 5, "social security card") in _codes(edges)


def test_a_card_without_the_social_security_application_is_refused_by_name(edges):
    assert ("****************0109", 11, "no social security application") in _codes(edges)


def test_a_code_whose_signature_does_not_cover_it_is_forged(edges):
    assert ("*****0601", 8, None) in _codes(edges)


def test_a_genuine_code_without_a_booking_is_no_booking(edges):
    assert ("*****0501", 1, None) in _codes(edges)


def test_a_code_of_an_issuer_not_trusted_is_not_valid(edges):
    assert ("*****0001", 10, "unknown key id") in _codes(edges)


def test_anti_passback_outlives_a_reboot(edges):
    assert len(events(edges, "boot")) == 2
    alice = [o for o in _outcomes(edges) if o[1] == "****************0101"]
    assert alice == [("admit", "****************0101", None, 2001),
                     ("refused", "****************0101", 4, 2001)]


def test_the_emergency_input_opens_the_barrier_and_the_scanner_waits(edges):
    assert [e["on"] for e in events(edges, "emergency")] == [True, False]
    assert "EMERGENCY | GATES OPEN" in [e["text"] for e in events(edges, "display")]
    late = [e for e in events(edges) if "2026-12-05T09:10" <= e.get("t", "") < "2026-12-05T09:12"
            and e["event"] in ("admit", "refused", "ticket")]
    assert late == []
