"""The one error the host library raises.

Every failure the library reports is a :class:`YktError` whose message is one line a person
can act on. Its two kinds say how the CLI exits (the same in every command):

- :class:`BadInput` (exit 2): the caller's input is wrong — a file that does not parse, a
  value out of range, an option that needs another;
- :class:`Failed` (exit 1): the input was fine and the operation did not succeed — a device
  did not answer, a file did not verify, a compiler failed.

``BadInput`` is also a ``ValueError`` and ``Failed`` a ``RuntimeError``, so code that already
caught those keeps working.
"""


class YktError(Exception):
    """A host-library failure with a one-line message."""

    exit_code = 1


class BadInput(YktError, ValueError):
    """The input is wrong (exit 2)."""

    exit_code = 2


class Failed(YktError, RuntimeError):
    """The operation did not succeed (exit 1)."""

    exit_code = 1
