"""The SQL payment watches (``workflows.ports.PaymentWatches``): stuck payments claimed under a lease, as the
shipments are (``SKIP LOCKED`` on PostgreSQL; SQLite has one writer)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema as t
from storage.office_repositories import _payment
from storage.repositories import _upsert
from workflows.office_model import Payment, PaymentWatch, Phase

LIVE = (Phase.INITIATED.value, Phase.THREE_DS.value, Phase.AUTHORIZED.value)


class SqlPaymentWatches:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def claim(
        self, stuck_before: datetime, now: datetime, lease_until: datetime, owner: str, limit: int
    ) -> list[tuple[Payment, PaymentWatch]]:
        p, w = t.payments.c, t.payment_watches.c
        stuck = and_(p.phase.in_(LIVE), p.updated_at <= stuck_before)
        unwatched = (
            select(p.payment_id)
            .select_from(t.payments.outerjoin(t.payment_watches, w.payment_id == p.payment_id))
            .where(stuck, w.payment_id.is_(None))
            .order_by(p.updated_at, p.payment_id)
            .limit(limit)
        )
        for payment_id in list((await self._c.execute(unwatched)).scalars()):
            new = {"payment_id": payment_id, "next_poll_at": now, "polls": 0, "failures": 0}
            await self._c.execute(_upsert(self._c, t.payment_watches).values(new).on_conflict_do_nothing())
        due = (
            select(w.payment_id)
            .select_from(t.payment_watches.join(t.payments, p.payment_id == w.payment_id))
            .where(stuck, w.next_poll_at <= now, or_(w.leased_until.is_(None), w.leased_until < now))
            .order_by(w.next_poll_at, w.payment_id)
            .limit(limit)
            .with_for_update(of=t.payment_watches, skip_locked=True)
        )
        ids = list((await self._c.execute(due)).scalars())
        if not ids:
            return []
        mine = w.payment_id.in_(ids)
        await self._c.execute(update(t.payment_watches).where(mine).values(leased_until=lease_until, lease_owner=owner))
        rows = await self._c.execute(
            select(t.payments, *[column.label(f"w_{column.name}") for column in t.payment_watches.c])
            .select_from(t.payment_watches.join(t.payments, p.payment_id == w.payment_id))
            .where(mine)
            .order_by(w.next_poll_at, w.payment_id)
        )
        return [(_payment(row), _watch(row, "w_")) for row in rows]

    async def get(self, payment_id: str) -> PaymentWatch | None:
        w = t.payment_watches.c
        row = (await self._c.execute(select(t.payment_watches).where(w.payment_id == payment_id))).one_or_none()
        return None if row is None else _watch(row)

    async def save(self, watch: PaymentWatch, owner: str) -> bool:
        w = t.payment_watches.c
        held = and_(w.payment_id == watch.payment_id, or_(w.lease_owner == owner, w.lease_owner.is_(None)))
        values = {
            "next_poll_at": watch.next_poll_at, "polls": watch.polls, "failures": watch.failures,
            "last_error": watch.last_error, "task_id": watch.task_id, "task_for": watch.task_for,
            "leased_until": watch.leased_until, "lease_owner": watch.lease_owner,
        }  # fmt: skip
        changed = await self._c.execute(update(t.payment_watches).where(held).values(**values))
        return bool(changed.rowcount == 1)


def _watch(row: Any, prefix: str = "") -> PaymentWatch:
    m = row._mapping
    return PaymentWatch(
        m[f"{prefix}payment_id"], m[f"{prefix}next_poll_at"], m[f"{prefix}polls"], m[f"{prefix}failures"],
        m[f"{prefix}last_error"], m[f"{prefix}task_id"], m[f"{prefix}task_for"], m[f"{prefix}leased_until"],
        m[f"{prefix}lease_owner"],
    )  # fmt: skip
