"""Times read back from SQLite as the driver gives them: UTC text, as :class:`storage.schema.UtcDateTime` writes it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime


def utc_moments() -> Callable[[str], datetime]:
    """A reader of SQLite's UTC text that parses each distinct time once: the rows of one batch (a 1C message, a
    drain's claim) share theirs, and a type's processing per row cost more than SQLite's own work."""
    times: dict[str, datetime] = {}

    def moment(text: str) -> datetime:
        parsed = times.get(text)
        if parsed is None:
            parsed = times[text] = datetime.fromisoformat(text).replace(tzinfo=UTC)
        return parsed

    return moment
