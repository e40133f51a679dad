"""Every tap pays one configured fare (canteen fixed price, or a simple flat fare)."""

from ykt import report
from ykt.card.purse import TX_PURCHASE
from ykt.money import yuan
from ykt.roles.tap import TapRole


class FixedFareTerminal(TapRole):
    def __init__(self, ctx, config):
        super().__init__(ctx, config)
        fare = config.get("fare_fen")
        if not isinstance(fare, int) or isinstance(fare, bool) or fare < 0:
            raise ValueError("config: 'fare_fen' must be a whole number of fen >= 0")
        self.fare = fare
        self.label = config.get("label", "TAP CARD")

    def idle_screen(self):
        return (self.label, yuan(self.fare))

    def ready_fields(self):
        return (("fare", self.fare),)

    def serve(self, card, info):
        result = self.charge(card, info, self.fare, TX_PURCHASE)
        if result is None:
            return
        report.emit("debit", ("card", self.shown), ("fen", result.amount),
                    ("balance", result.balance), ("atc", result.atc),
                    ("recovered", False), ("tac", result.tac.hex()))
        self.ui.ok("PAID " + yuan(result.amount), "BAL " + yuan(result.balance))
