"""Bus and ferry validators: one tap pays the route's flat fare.

Config: ``mode`` ("bus" or "ferry"), ``route`` (the route's name in the tariff, e.g. "926").
The fare engine applies rider category, bus<->metro transfer and issuer
rules from the card's transit record; the new record and the debit are one
card transaction.
"""

from ykt import clock, report
from ykt.card.purse import TX_CAPP
from ykt.fare import engine
from ykt.fare import transit_record as tr
from ykt.fare.tariff import BUS, FERRY
from ykt.money import yuan
from ykt.roles.tap import TapRole

_MODES = {"bus": BUS, "ferry": FERRY}


class Validator(TapRole):
    def __init__(self, ctx, config):
        super().__init__(ctx, config)
        if config.get("mode", "bus") not in _MODES:
            raise ValueError("config: 'mode' must be bus or ferry")
        self.mode = _MODES[config.get("mode", "bus")]
        self.route = config.get("route")
        if not isinstance(self.route, str) or not self.route:
            raise ValueError("config: 'route' must be a route name of the tariff, e.g. \"926\"")

    def idle_screen(self):
        return ("ROUTE " + self.route, "TAP CARD")

    def ready_fields(self):
        return (("mode", self.config.get("mode", "bus")), ("route", self.route))

    def recovered(self, held, result, seq):
        report.emit("ride", ("card", self.shown), ("fen", result.amount),
                    ("balance", result.balance), ("route", self.route), ("recovered", True))
        self.ui.ok("PAID " + yuan(result.amount), "BAL " + yuan(result.balance))

    def serve(self, card, info):
        try:
            state = tr.decode(card.read_record(tr.RECORD_NO))
        except ValueError:
            report.emit("warning", ("card", self.shown), ("reason", "transit record unreadable"))
            state = tr.TransitState()
        quote = engine.flat_ride(self.ctx.tariff(), state, self.mode, self.route,
                                 clock.seconds(), info.category, info.city_code)
        record = (tr.RECORD_NO, tr.encode(quote.state))
        result = self.charge(card, info, quote.fen, TX_CAPP, record)
        if result is None:
            return
        report.emit("ride", ("card", self.shown), ("fen", result.amount),
                    ("balance", result.balance), ("route", self.route),
                    ("recovered", False), ("steps", [list(s) for s in quote.steps]))
        self.ui.ok("PAID " + yuan(result.amount), "BAL " + yuan(result.balance))
