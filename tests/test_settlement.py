"""Settlement from the card's own history (docs/purse.md §6.2): whatever the card did elsewhere."""

import pytest
from simrun import NUMBERS, events, records

from hw_sim.issuer import public_info
from hw_sim.scenario import Run

# A fixed-fare purchase: SELECT (1), INITIALIZE (2), DEBIT (3).
DEBIT = 3
FARE = 275


def _two_terminals(evts, **extra):
    data = {
        "start": "2026-11-29T07:00:00",
        "terminals": [{"id": "A", "role": "fixed_fare", "board": "devkitc-turnstile",
                       "config": {"fare_fen": FARE}},
                      {"id": "B", "role": "fixed_fare", "board": "devkitc-turnstile",
                       "config": {"fare_fen": FARE}}],
        "cards": [{"name": "alice", "number": NUMBERS["alice"], "balance_fen": 2000},
                  {"name": "clone", "number": NUMBERS["alice"], "balance_fen": 2000,
                   "issuer_seed": "a forger"}],
        "events": evts,
    }
    data.update(extra)
    return data


def _run(tmp_path, data, prepare=None, runtime="cpython"):
    r = Run(data)
    if prepare is not None:
        prepare(r)
    return r.run(runtime)


def _tap(t, term, card="alice", **kw):
    return dict({"at": t, "terminal": term, "tap": card}, **kw)


def _kinds(r, term):
    return [x["kind"] for x in records(r, term)]


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_torn_debit_is_proven_at_its_terminal_after_the_card_paid_elsewhere(tmp_path, runtime):
    r = _run(tmp_path, _two_terminals([_tap(1, "A", tear_at_apdu=DEBIT), _tap(6, "B"),
                                       _tap(12, "A")]), runtime=runtime)
    assert r.apps["alice"].balance == 2000 - 2 * FARE  # A once, B once
    assert _kinds(r, "A") == ["purchase-intent", "purchase"]
    [recovered] = [e for e in events(r, "debit") if e["terminal"] == "A"]
    assert recovered["recovered"] is True


def test_debit_that_never_reached_the_card_is_unpaid_after_the_card_paid_elsewhere(tmp_path):
    r = _run(tmp_path, _two_terminals([_tap(1, "A", remove_after_apdu=DEBIT - 1),
                                       _tap(6, "B"), _tap(12, "A")]))
    assert [e["reason"] for e in events(r, "refused")] == []
    assert _kinds(r, "A") == ["purchase-intent", "unpaid", "purchase-intent", "purchase"]
    assert r.apps["alice"].balance == 2000 - 2 * FARE  # B, then A's fresh sale


def test_a_clone_cannot_close_a_pending_debit(tmp_path):
    r = _run(tmp_path, _two_terminals([_tap(1, "A", tear_at_apdu=DEBIT), _tap(6, "A", "clone"),
                                       _tap(12, "A")]))
    assert "card failed authentication" in [e["reason"] for e in events(r, "refused")]
    assert r.apps["clone"].offline_atc == 0
    assert _kinds(r, "A") == ["purchase-intent", "purchase"]
    assert r.apps["alice"].balance == 2000 - FARE


def test_pending_debit_of_a_card_expired_since_is_settled_then_the_card_refused(tmp_path):
    def expire_today(r):
        app = r.apps["alice"]
        app.public_info = public_info(NUMBERS["alice"], end=20261129)

    r = _run(tmp_path, _two_terminals([_tap(1, "A", tear_at_apdu=DEBIT),
                                       {"at": 5, "terminal": "A",
                                        "set_clock": "2026-11-30T07:00:00"},
                                       _tap(8, "A")]), expire_today)
    assert _kinds(r, "A") == ["purchase-intent", "purchase"]
    assert [e["reason"] for e in events(r, "refused")] == ["card expired"]
    [settled] = events(r, "settled")
    assert settled["fen"] == FARE
    assert r.apps["alice"].balance == 2000 - FARE


class _Tamper:
    """A card application whose answers to one instruction are rewritten by ``fn``."""

    def __init__(self, app, ins, fn, times=1):
        self._app, self._ins, self._fn, self.left = app, ins, fn, times

    def power_on(self):
        self._app.power_on()

    def process(self, apdu):
        r = self._app.process(apdu)
        if apdu[1] == self._ins and self.left:
            self.left -= 1
            return self._fn(r)
        return r


def test_debit_answer_with_a_bad_mac2_stays_pending_and_is_proven_at_the_next_tap(tmp_path):
    def bad_mac2(r):
        card = r.cards["alice"]
        card.app = _Tamper(card.app, 0x54, lambda a: a[:4] + b"\0\0\0\0" + a[8:])

    r = _run(tmp_path, _two_terminals([_tap(1, "A"), _tap(8, "A")]), bad_mac2)
    [pending] = events(r, "pending")
    assert "card MAC2 invalid" in pending["reason"]
    assert _kinds(r, "A") == ["purchase-intent", "purchase"]
    assert r.apps["alice"].balance == 2000 - FARE


def test_a_garbled_debit_answer_stays_pending_and_is_not_charged_again(tmp_path):
    def garbled(r):
        card = r.cards["alice"]
        card.app = _Tamper(card.app, 0x54, lambda a: a[:3] + a[-2:])

    r = _run(tmp_path, _two_terminals([_tap(1, "A"), _tap(8, "A")]), garbled)
    assert _kinds(r, "A") == ["purchase-intent", "purchase"]
    assert r.apps["alice"].balance == 2000 - FARE
    assert r.apps["alice"].offline_atc == 1


def test_a_balance_beyond_the_purse_range_is_refused_and_the_terminal_goes_on(tmp_path):
    def huge(r):
        card = r.cards["alice"]
        card.app = _Tamper(card.app, 0x50, lambda a: b"\x80\0\0\0" + a[4:])

    r = _run(tmp_path, _two_terminals([_tap(1, "A"), _tap(6, "A")]), huge)
    assert events(r, "refused")[0]["reason"] == "card balance out of range"
    assert _kinds(r, "A") == ["purchase-intent", "purchase"]  # the next tap paid
    assert r.apps["alice"].balance == 2000 - FARE


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_a_re_tap_right_after_a_sale_is_not_charged_again_across_a_power_cut(tmp_path, runtime):
    def cut_after_the_sale(r):  # paid at 1.11 s; the power fails before the card is lifted
        r.terms["A"].power_off_at_us = 1_200_000

    data = _two_terminals([_tap(1, "A", hold_ms=800), _tap(2.5, "A")])
    r = _run(tmp_path, data, cut_after_the_sale, runtime)
    assert [e["terminal"] for e in events(r, "boot")].count("A") == 2
    assert r.apps["alice"].balance == 2000 - FARE
    assert {e["reason"] for e in events(r, "refused")} == {"already paid"}
