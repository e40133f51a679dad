"""The canteen POS role: staff sign-in, sales in three modes, voids, refunds and the shift
Z report (docs/canteen.md). ``ykt.main`` runs ``terminal.PosTerminal``.

Modules, each importing only those above it (no import circle):

- ``codes``: refusal, outcome and ``denied`` codes and the text each one shows;
- ``screen``: ``Screen`` (operator LCD, customer display) and ``Receipts``;
- ``order``: ``OrderEntry``, what the cashier keys for the next sale;
- ``session``: ``StaffSession``, two-factor sign-in, the shift and its Z report;
  ``PinPad``, the PIN being keyed;
- ``sale``: ``Sales``, a customer's tap: price, card PIN, composite purchase;
- ``giveback``: ``GiveBacks``, voids and refunds, once per sale;
- ``terminal``: ``PosTerminal``, the tap loop's role: screens and keys.
"""
