"""Leadership: of several storeops instances sharing one database, only one does what only one may do at a
time — today, taking Telegram's updates by long polling (Telegram answers a second ``getUpdates`` on the same
bot with 409 Conflict). The SQL implementation is in ``storage/leadership.py``."""

from __future__ import annotations

from typing import Protocol


class Leadership(Protocol):
    """One holder's side of a named leadership. Several holders of the same name (in one process or several)
    lead one at a time. None of the methods waits for another holder, and none raises because the database is
    unreachable: the holder then simply does not lead."""

    async def acquire(self) -> bool:
        """Lead if no other holder does; ``True`` when this holder leads (it already did, or does now)."""
        ...

    async def confirm(self) -> bool:
        """Whether this holder still leads. ``False`` once its hold was lost (its database connection broke,
        say): another holder may lead from then on, and this one leads again only after ``acquire``."""
        ...

    async def release(self) -> None:
        """Stop leading at once, so that another holder's next ``acquire`` succeeds; harmless when not leading."""
        ...
