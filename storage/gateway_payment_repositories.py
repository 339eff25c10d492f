"""The SQL top-ups to create at the gateway (``workflows.ports.GatewayPayments``): claimed under a lease, as the
shipments are (``SKIP LOCKED`` on PostgreSQL; SQLite has one writer)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema as t
from storage.repositories import _upsert
from workflows.payment_gateway import GatewayPayment

_FIELDS = (
    "payment_id", "order_id", "description", "next_attempt_at", "state", "gateway_id", "confirmation_url",
    "return_url", "first_tried_at", "attempts", "last_error", "leased_until", "lease_owner",
)  # fmt: skip


class SqlGatewayPayments:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, row: GatewayPayment) -> None:
        values = {name: getattr(row, name) for name in _FIELDS}
        await self._c.execute(_upsert(self._c, t.gateway_payments).values(values).on_conflict_do_nothing())

    async def claim(self, now: datetime, lease_until: datetime, owner: str, limit: int) -> list[GatewayPayment]:
        g = t.gateway_payments.c
        due = (
            select(g.payment_id)
            .where(g.state == "pending", g.next_attempt_at <= now, or_(g.leased_until.is_(None), g.leased_until < now))
            .order_by(g.next_attempt_at, g.payment_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list((await self._c.execute(due)).scalars())
        if not ids:
            return []
        mine = g.payment_id.in_(ids)
        await self._c.execute(
            update(t.gateway_payments).where(mine).values(leased_until=lease_until, lease_owner=owner)
        )
        rows = await self._c.execute(select(t.gateway_payments).where(mine).order_by(g.next_attempt_at, g.payment_id))
        return [_row(row) for row in rows]

    async def get(self, payment_id: str) -> GatewayPayment | None:
        g = t.gateway_payments.c
        row = (await self._c.execute(select(t.gateway_payments).where(g.payment_id == payment_id))).one_or_none()
        return None if row is None else _row(row)

    async def by_gateway_id(self, gateway_id: str) -> GatewayPayment | None:
        g = t.gateway_payments.c
        row = (await self._c.execute(select(t.gateway_payments).where(g.gateway_id == gateway_id))).one_or_none()
        return None if row is None else _row(row)

    async def save(self, row: GatewayPayment, owner: str) -> bool:
        g = t.gateway_payments.c
        held = and_(
            g.payment_id == row.payment_id, g.state == "pending", or_(g.lease_owner == owner, g.lease_owner.is_(None))
        )
        values = {name: getattr(row, name) for name in _FIELDS if name not in ("payment_id", "order_id")}
        changed = await self._c.execute(update(t.gateway_payments).where(held).values(**values))
        return bool(changed.rowcount == 1)


def _row(row: Any) -> GatewayPayment:
    m = row._mapping
    return GatewayPayment(**{name: m[name] for name in _FIELDS})
