"""Helpers for the venue gate's tests (tests/test_venue_*.py): e-card codes issued at a given
virtual time, the demo morning (scenarios/demo-venue.json) as a dict to add events to."""

import copy
import datetime
import hashlib
import json
import os

from host_tools.lib import qr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "scenarios", "demo-venue.json")
ISSUER = "demo"  # the demo's e-card issuer seed (its qr_issuers)
GATE = "MUSEUM-GATE-1"


def secret(issuer=ISSUER):
    """The match secret ``ykt qr issue --issuer-seed`` and the scenario use."""
    return hashlib.sha256(b"ykt-qr-match:" + issuer.encode()).digest()


def code(holder_seed, id_number, card, at, validity=60, issuer=ISSUER, cert_days=365,
         alg="rsa"):
    """A code's text, generated at ``at`` (``2026-12-05T09:03:20``): RSA-2048 as ``ykt qr
    issue`` makes by default, or ``alg`` "p256"."""
    now = qr.secs(datetime.datetime.fromisoformat(at))
    region, birth = qr.id_fields(id_number)
    raw = qr.issue(qr.key_from_seed(issuer, alg), qr.key_from_seed(holder_seed, alg),
                   cert_not_after=now + cert_days * 86400,
                   match=qr.match_key(secret(issuer), id_number), card=card, region=region,
                   birth=birth, generated=now, validity=validity)
    return qr.encode(raw)


_DEMO = None


def demo():
    """A fresh copy of the demo scenario (a dict)."""
    global _DEMO
    if _DEMO is None:
        with open(DEMO, encoding="utf-8") as f:
            _DEMO = json.load(f)
    return copy.deepcopy(_DEMO)


def with_events(events, data=None):
    """The demo's terminal, cards and bookings with ``events`` instead of the demo's."""
    data = data or demo()
    data["events"] = events
    return data
