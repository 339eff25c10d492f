"""SQL implementation of :class:`workflows.ports.OrderActions`: what a marketplace must do about one of its orders,
one row per (order, action), claimed by pushing its next attempt past a lease (``SKIP LOCKED`` on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema as t
from storage.repositories import _upsert
from workflows.ports import ActionCount, OrderAction

PENDING = "pending"


class SqlOrderActions:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, action: OrderAction) -> bool:
        statement = _upsert(self._c, t.order_actions).values(**_values(action))
        statement = statement.on_conflict_do_nothing(index_elements=["order_id", "action"])
        return bool((await self._c.execute(statement)).rowcount)

    async def get(self, order_id: int, action: str) -> OrderAction | None:
        a = t.order_actions.c
        query = select(t.order_actions).where(a.order_id == order_id, a.action == action)
        row = (await self._c.execute(query)).one_or_none()
        return None if row is None else _action(row)

    async def for_order(self, order_id: int) -> list[OrderAction]:
        a = t.order_actions.c
        query = select(t.order_actions).where(a.order_id == order_id).order_by(a.created_at, a.action)
        return [_action(row) for row in await self._c.execute(query)]

    async def save(self, action: OrderAction) -> None:
        a = t.order_actions.c
        values = _values(action)
        for key in ("order_id", "action", "created_at"):
            values.pop(key)
        where = (a.order_id == action.order_id, a.action == action.action)
        await self._c.execute(update(t.order_actions).where(*where).values(**values, lease_owner=None))  # claim over

    async def claim(
        self,
        channel: str,
        actions: Collection[str],
        now: datetime,
        lease_until: datetime,
        limit: int,
        *,
        owner: str | None = None,
    ) -> list[OrderAction]:
        a, o = t.order_actions.c, t.orders.c
        of_channel = select(o.id).where(o.channel == channel)
        due = (
            select(a.order_id, a.action)
            .where(a.state == PENDING, a.next_attempt_at <= now, a.action.in_(list(actions)))
            .where(a.order_id.in_(of_channel))
            .order_by(a.next_attempt_at, a.order_id, a.action)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        keys = [(row.order_id, row.action) for row in await self._c.execute(due)]
        claimed: list[OrderAction] = []
        for order_id, name in keys:
            where = (a.order_id == order_id, a.action == name)
            leased = {"next_attempt_at": lease_until, "lease_owner": owner}
            await self._c.execute(update(t.order_actions).where(*where).values(leased))
            found = await self.get(order_id, name)
            assert found is not None
            claimed.append(found)
        return claimed

    async def candidates(self, channel: str, limit: int) -> list[int]:
        a, o = t.order_actions.c, t.orders.c
        has_action = exists().where(a.order_id == o.id)
        query = (
            select(o.id).where(o.channel == channel, o.cancelled_at.is_(None), ~has_action).order_by(o.id).limit(limit)
        )
        return [int(order_id) for order_id in (await self._c.execute(query)).scalars()]

    async def withdraw(self, order_id: int, action: str) -> None:
        a = t.order_actions.c
        await self._c.execute(delete(t.order_actions).where(a.order_id == order_id, a.action == action))

    async def counts(self) -> list[ActionCount]:
        a = t.order_actions.c
        retrying = func.sum(case((a.attempts > 0, 1), else_=0))
        query = select(a.action, a.state, func.count(), retrying).group_by(a.action, a.state)
        rows = await self._c.execute(query.order_by(a.action, a.state))
        return [ActionCount(action, state, int(count), int(tried or 0)) for action, state, count, tried in rows]


def _values(action: OrderAction) -> dict[str, Any]:
    return {
        "order_id": action.order_id, "action": action.action, "state": action.state, "attempts": action.attempts,
        "next_attempt_at": action.next_attempt_at, "last_error": action.last_error, "created_at": action.created_at,
        "done_at": action.done_at,
    }  # fmt: skip


def _action(row: Any) -> OrderAction:
    return OrderAction(
        row.order_id, row.action, row.state, row.next_attempt_at, row.created_at, row.attempts, row.last_error,
        row.done_at,
    )  # fmt: skip
