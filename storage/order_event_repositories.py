"""SQL implementation of :class:`workflows.ports.HeardOrderEvents`: what the channels said became of their orders,
one row per (channel, order, kind), the insert being the claim that the event is applied once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema as t
from storage.repositories import _upsert
from workflows.ports import HeardOrderEvent

_events = t.channel_order_events.c
# Built once: every order reads it (whether the channel cancelled it before it came in).
_ONE_EVENT = select(t.channel_order_events).where(
    _events.channel == bindparam("channel"),
    _events.external_id == bindparam("external_id"),
    _events.kind == bindparam("kind"),
)


class SqlHeardOrderEvents:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, event: HeardOrderEvent) -> bool:
        # ON CONFLICT DO NOTHING: on PostgreSQL the second of two concurrent inserts waits for the first to end
        # and then inserts nothing, without spoiling its transaction as a caught unique violation would.
        values = {
            "channel": event.channel, "external_id": event.external_id, "kind": event.kind, "at": event.at,
            "reason": event.reason, "heard_at": event.heard_at, "order_id": event.order_id,
            "applied_at": event.applied_at,
        }  # fmt: skip
        statement = _upsert(self._c, t.channel_order_events).values(**values)
        statement = statement.on_conflict_do_nothing(index_elements=["channel", "external_id", "kind"])
        return bool((await self._c.execute(statement)).rowcount)

    async def get(self, channel: str, external_id: str, kind: str) -> HeardOrderEvent | None:
        values = {"channel": channel, "external_id": external_id, "kind": kind}
        row = (await self._c.execute(_ONE_EVENT, values)).one_or_none()
        return None if row is None else _heard(row)

    async def heard_of(self, channel: str, external_ids: Sequence[str]) -> set[tuple[str, str]]:
        c = t.channel_order_events.c
        found: set[tuple[str, str]] = set()
        wanted = sorted(set(external_ids))
        for start in range(0, len(wanted), 500):  # a bounded IN list per query
            query = select(c.external_id, c.kind).where(
                c.channel == channel, c.external_id.in_(wanted[start : start + 500])
            )
            found.update((row.external_id, row.kind) for row in await self._c.execute(query))
        return found

    async def waiting_cancellation(self, channel: str, external_id: str) -> HeardOrderEvent | None:
        found = await self.get(channel, external_id, "cancelled")
        return found if found is not None and found.waiting else None

    async def settle(self, channel: str, external_id: str, kind: str, order_id: int, at: datetime) -> bool:
        c = t.channel_order_events.c
        statement = (
            update(t.channel_order_events)
            .where(c.channel == channel, c.external_id == external_id, c.kind == kind, c.applied_at.is_(None))
            .values(order_id=order_id, applied_at=at)
        )
        return bool((await self._c.execute(statement)).rowcount)

    async def waiting_with_order(self, channel: str, limit: int) -> list[tuple[HeardOrderEvent, int]]:
        e, o = t.channel_order_events.c, t.orders.c
        joined = t.channel_order_events.join(t.orders, and_(o.channel == e.channel, o.external_id == e.external_id))
        query = (
            select(t.channel_order_events, o.id.label("taken_id"))
            .select_from(joined)
            .where(e.channel == channel, e.applied_at.is_(None))
            .order_by(e.heard_at, e.external_id)
            .limit(limit)
        )
        return [(_heard(row), int(row.taken_id)) for row in await self._c.execute(query)]


def _heard(row: Any) -> HeardOrderEvent:
    return HeardOrderEvent(
        row.channel, row.external_id, row.kind, row.at, row.reason, row.heard_at, row.order_id, row.applied_at
    )
