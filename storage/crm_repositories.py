"""SQL implementation of the CRM export port: which version of each order the CRM took, how far its order history
was read, and the CRM's customer of each client (claimed first, so that one instance makes it)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema as t
from storage.repositories import _upsert
from workflows.ports import CrmExport

CURSOR = "retailcrm"
_OWN_PREFIX = "crm_"  # events the CRM caused: not a change to send it


def _versions(skip_channels: list[str]) -> Any:
    """Each order's version (the number of its own history events), but for the orders of ``skip_channels``."""
    e, o = t.order_events.c, t.orders.c
    own = ~e.kind.startswith(_OWN_PREFIX, autoescape=True)
    query = (
        select(o.id.label("order_id"), func.count(e.id).label("version"))
        .select_from(t.orders.outerjoin(t.order_events, and_(e.order_id == o.id, own)))
        .group_by(o.id)
    )
    if skip_channels:
        query = query.where(o.channel.not_in(skip_channels))
    return query.subquery()


class SqlCrmExports:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def due(self, now: datetime, limit: int, skip_channels: Collection[str] = ()) -> list[CrmExport]:
        v, x = _versions(sorted(skip_channels)), t.crm_exports.c
        query = (
            select(v.c.order_id, v.c.version, x.sent_version, x.attempts, x.next_attempt_at, x.last_error)
            .select_from(v.outerjoin(t.crm_exports, x.order_id == v.c.order_id))
            .where(
                or_(x.sent_version.is_(None), x.sent_version != v.c.version),
                or_(x.next_attempt_at.is_(None), x.next_attempt_at <= now),
            )
            .order_by(v.c.order_id)
            .limit(limit)
        )
        return [_export(row) for row in await self._c.execute(query)]

    async def version(self, order_id: int) -> int:
        e = t.order_events.c
        query = select(func.count(e.id)).where(e.order_id == order_id, ~e.kind.startswith(_OWN_PREFIX, autoescape=True))
        return int((await self._c.execute(query)).scalar_one())

    async def get(self, order_id: int) -> CrmExport | None:
        row = (await self._c.execute(select(t.crm_exports).where(t.crm_exports.c.order_id == order_id))).one_or_none()
        if row is None:
            return None
        return CrmExport(order_id, await self.version(order_id), row.sent_version, row.attempts,
                         row.next_attempt_at, row.last_error)  # fmt: skip

    async def sent(self, order_id: int, version: int, at: datetime) -> None:
        await self._put(order_id, sent_version=version, attempts=0, next_attempt_at=None, last_error=None, at=at)

    async def failed(self, order_id: int, attempts: int, retry_at: datetime, error: str) -> None:
        await self._put(order_id, attempts=attempts, next_attempt_at=retry_at, last_error=error, at=retry_at)

    async def _put(self, order_id: int, *, at: datetime, **values: Any) -> None:
        statement = _upsert(self._c, t.crm_exports).values(
            order_id=order_id, updated_at=at, **{"attempts": 0, **values}
        )
        await self._c.execute(
            statement.on_conflict_do_update(index_elements=["order_id"], set_={**values, "updated_at": at})
        )

    async def cursor(self) -> int:
        query = select(t.crm_cursors.c.since_id).where(t.crm_cursors.c.name == CURSOR)
        found = (await self._c.execute(query)).scalar_one_or_none()
        return 0 if found is None else int(found)

    async def move_cursor(self, since_id: int, at: datetime) -> None:
        statement = _upsert(self._c, t.crm_cursors).values(name=CURSOR, since_id=since_id, updated_at=at)
        await self._c.execute(
            statement.on_conflict_do_update(index_elements=["name"], set_={"since_id": since_id, "updated_at": at})
        )

    async def customer_id(self, client: str) -> int | None:
        query = select(t.crm_customers.c.customer_id).where(t.crm_customers.c.client == client)
        found = (await self._c.execute(query)).scalar_one_or_none()
        return None if found is None else int(found)

    async def claim_customer(self, client: str, owner: str, now: datetime, until: datetime) -> bool:
        values = {"client": client, "claimed_by": owner, "claimed_until": until, "updated_at": now}
        insert = _upsert(self._c, t.crm_customers).values(values).on_conflict_do_nothing(index_elements=["client"])
        if (await self._c.execute(insert)).rowcount == 1:
            return True
        c = t.crm_customers.c
        taken = (
            update(t.crm_customers)
            .where(c.client == client, c.customer_id.is_(None), or_(c.claimed_by == owner, c.claimed_until <= now))
            .values(claimed_by=owner, claimed_until=until, updated_at=now)
        )
        return bool((await self._c.execute(taken)).rowcount == 1)

    async def customer_made(self, client: str, customer_id: int, at: datetime) -> None:
        values = {"customer_id": customer_id, "claimed_by": None, "claimed_until": None, "updated_at": at}
        statement = _upsert(self._c, t.crm_customers).values(client=client, **values)
        await self._c.execute(statement.on_conflict_do_update(index_elements=["client"], set_=values))


def _export(row: Any) -> CrmExport:
    return CrmExport(
        row.order_id, int(row.version), row.sent_version, row.attempts or 0, row.next_attempt_at, row.last_error
    )
