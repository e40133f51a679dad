"""Fares: the compiled tariff (``tariff``), the fare engine (``engine``), the card's transit
state record (``transit_record``) and calendar arithmetic (``caltime``). docs/fares.md."""
