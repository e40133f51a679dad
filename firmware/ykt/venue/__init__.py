"""The culture-venue gate's data: a day's bookings (``bookings``) and the walk-in price rules
with the Yangtze River Delta's cities (``prices``). docs/venue.md."""
