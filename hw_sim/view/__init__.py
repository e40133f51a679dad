"""``ykt sim view``: a live picture of a scenario's terminals in the browser (docs/view.md).

- :mod:`hw_sim.view.observe`: what a person sees on one simulated terminal, read from the
  models the scenario runner holds (display, LCD, pins, gate, reader, keypad, printer, flash);
- :mod:`hw_sim.view.lines`: what the JSON Lines say (console, outcomes, a card's journey),
  for a live run and a replay alike; :mod:`hw_sim.view.replay` reads a recording;
- :mod:`hw_sim.view.metro`: the network map from a tariff source;
- :mod:`hw_sim.view.pace`: real time, x10, x100, max, pause and step;
- :mod:`hw_sim.view.feed`: a live run or a replay publishing to a :class:`~hw_sim.view.feed.Hub`;
- :mod:`hw_sim.view.server`: the page (``static/``) and its Server-Sent Events, stdlib only.
"""
