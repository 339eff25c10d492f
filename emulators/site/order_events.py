"""The site's journal of what became of its orders, read by ``GET /orders/events`` (``docs/site_stock_api.md``).

The cursor is ``e-<n>``: the sequence number of the last event read, so an event written later always comes after
it, whatever its ``at``. ``e-0`` is the start. The emulator keeps every event (nothing is too old).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

STATUSES = ("cancelled", "delivered", "returned")
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
_CURSOR = re.compile(r"e-(0|[1-9][0-9]{0,17})")


@dataclass(frozen=True)
class SiteOrderEvent:
    order_id: str
    status: str  # one of STATUSES, or anything a test wants to see skipped
    at: datetime
    reason: str = ""

    def wire(self) -> dict[str, Any]:
        event = {"order_id": self.order_id, "status": self.status, "at": self.at.isoformat()}
        return event | ({"reason": self.reason} if self.reason else {})


class BadQuery(ValueError):
    """A query the method answers 400 to."""


class OrderJournal:
    """Events in the order they were written; :meth:`page` reads after a cursor."""

    def __init__(self) -> None:
        self.events: list[SiteOrderEvent] = []

    def write(self, event: SiteOrderEvent) -> str:
        """Append ``event``; returns the cursor that points just past it."""
        self.events.append(event)
        return f"e-{len(self.events)}"

    def page(self, after: str | None, limit: str | None) -> dict[str, Any]:
        """The answer to ``?after=&limit=``; :class:`BadQuery` for a cursor or limit the document does not allow."""
        size = DEFAULT_LIMIT
        if limit is not None:
            if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= MAX_LIMIT:
                raise BadQuery(f"limit must be an integer 1..{MAX_LIMIT}")
            size = int(limit)
        start = 0
        if after is not None:
            match = _CURSOR.fullmatch(after)
            if match is None or int(match.group(1)) > len(self.events):
                raise BadQuery("after is not a cursor this site gave")
            start = int(match.group(1))
        chosen = self.events[start : start + size]
        return {"events": [event.wire() for event in chosen], "next": f"e-{start + len(chosen)}"}
