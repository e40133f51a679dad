"""Exceptions shared by every firmware layer.

Each carries a short, human-readable message; the terminal loop shows it on the
display and never lets it escape.
"""


class YktError(Exception):
    """Base class for every error the firmware raises on purpose."""


class ReaderError(YktError):
    """The NFC reader chip misbehaved (no answer, garbage, error frame)."""


class ReaderTimeout(ReaderError):
    """The reader chip did not answer (no ACK or no response) in time."""


class BadFrame(ReaderError):
    """A frame from the reader failed its checksums or framing rules."""


class CardGone(YktError):
    """The card left the field (or stopped answering) during an exchange."""


class ApduError(YktError):
    """The card answered with a status word other than 9000."""

    def __init__(self, sw, msg=None):
        self.sw = sw
        super().__init__(msg or "card status %04X" % sw)


class CardRefused(YktError):
    """The card is valid hardware but may not be used here (reason in args[0])."""


class SequenceError(YktError):
    """The SAM cannot hand out a terminal sequence number that is sure to be new (its
    counter is damaged or could not be saved): the purchase is refused before DEBIT."""
