"""The errors of the outside systems we call (the channels, the carrier, the Central Bank, 1C): one base, and two
kinds that tell the caller what to do next.

* :class:`Unavailable` — the system could not be asked or did not answer usefully *now* (no connection, a timeout,
  "too many requests", a 5xx, an answer not in its shape); the same request may succeed later. ``retry_after`` is
  the system's own hint in seconds, when it gave one.
* :class:`Refused` — the system answered and said no (a bad token, a banned account, a malformed request); sending
  the same request again will not help until someone changes something.

Each port names its own subclasses (``workflows.channels.ChannelUnavailable``, ``workflows.fx.FeedDown``…), so a
catch site reads as what it is about; code that only needs the kind catches these. ``reason`` is always short and
fit to show a person: never a stack trace nor a credential. The clients in ``integrations/`` raise them; this module
lives here so that workflows can catch them without importing any client.
"""

from __future__ import annotations


class OutsideSystemError(Exception):
    """An outside system did not do what we asked; ``reason`` says why, in a sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unavailable(OutsideSystemError):
    """The request failed and may succeed later; ``retry_after`` is the system's hint in seconds, when it gave one."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Refused(OutsideSystemError):
    """The system refused the request and retrying it unchanged will not help."""
