"""1C's prices, what each channel accepted as a price, and the batches the price guard holds
(``workflows.ports.PriceBook``). The price outbox itself is :class:`storage.outbox.SqlOutbox` on :data:`PRICES`."""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema as t
from storage.outbox import DEAD, HELD, PENDING
from storage.repositories import _CHUNK, batched
from workflows.ports import HeldPrice, PriceBatch


class SqlPriceBook:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def onec(self, price_type: str, skus: Collection[str]) -> dict[str, int]:
        o = t.onec_prices.c
        found: dict[str, int] = {}
        for chunk in batched(sorted(set(skus)), _CHUNK):
            query = select(o.sku, o.price_minor).where(o.price_type == price_type, o.sku.in_(chunk))
            found.update({row.sku: row.price_minor for row in await self._c.execute(query)})
        return found

    async def put_onec(self, price_type: str, prices: Mapping[str, int], at: datetime) -> None:
        rows = [
            {"price_type": price_type, "sku": sku, "price_minor": v, "updated_at": at}
            for sku, v in sorted(prices.items())
        ]
        if rows:
            await self._c.execute(_put_onec(self._c.dialect.name), rows)

    async def shown(self, channel: str, skus: Collection[str]) -> dict[str, int]:
        s = t.channel_prices.c
        found: dict[str, int] = {}
        for chunk in batched(sorted(set(skus)), _CHUNK):
            query = select(s.sku, s.price_minor).where(s.channel == channel, s.sku.in_(chunk))
            found.update({row.sku: row.price_minor for row in await self._c.execute(query)})
        return found

    async def priced_after(self, channel: str, after: str, limit: int) -> list[str]:
        s, p = t.channel_prices.c, t.price_pushes.c
        accepted = select(s.sku).where(s.channel == channel, s.sku > after)
        queued = select(p.sku).where(p.channel == channel, p.sku > after)
        both = union(accepted, queued).subquery()
        query = select(both.c.sku).order_by(both.c.sku).limit(limit)
        return [row.sku for row in await self._c.execute(query)]

    async def waiting(self, channel: str, skus: Collection[str]) -> dict[str, str]:
        p = t.price_pushes.c
        found: dict[str, str] = {}
        for chunk in batched(sorted(set(skus)), _CHUNK):
            query = select(p.sku, p.state).where(p.channel == channel, p.sku.in_(chunk))
            found.update({row.sku: row.state for row in await self._c.execute(query)})
        return found

    async def resend(self, channel: str, prices: Mapping[str, int], at: datetime) -> None:
        rows = [
            {"channel": channel, "sku": sku, "price_minor": v, "version": 1, "first_pending_at": at, "attempts": 0,
             "next_attempt_at": at, "state": PENDING}
            for sku, v in sorted(prices.items())
        ]  # fmt: skip
        if rows:
            await self._c.execute(_resend(self._c.dialect.name), rows)

    async def open_batch(self, price_type: str, source: str, at: datetime, lines: int) -> int:
        values = {"price_type": price_type, "source": source, "created_at": at, "lines": lines, "state": HELD}
        result = await self._c.execute(insert(t.price_batches).values(**values).returning(t.price_batches.c.id))
        return int(result.scalar_one())

    async def hold(self, channel: str, prices: Mapping[str, int], at: datetime, batch_id: int) -> None:
        rows = [
            {"channel": channel, "sku": sku, "price_minor": v, "version": 1, "first_pending_at": at, "attempts": 0,
             "next_attempt_at": at, "state": HELD, "batch_id": batch_id}
            for sku, v in sorted(prices.items())
        ]  # fmt: skip
        if rows:
            await self._c.execute(_hold(self._c.dialect.name), rows)

    async def batch(self, batch_id: int) -> PriceBatch | None:
        row = (await self._c.execute(select(t.price_batches).where(t.price_batches.c.id == batch_id))).first()
        if row is None:
            return None
        return PriceBatch(
            row.id, row.price_type, row.source, row.created_at, row.lines, row.state, row.decided_by, row.decided_at
        )

    async def held(self, batch_id: int) -> list[HeldPrice]:
        p = t.price_pushes.c
        query = (
            select(p.channel, p.sku, p.price_minor)
            .where(p.batch_id == batch_id, p.state == HELD)
            .order_by(p.channel, p.sku)
        )
        return [HeldPrice(row.channel, row.sku, row.price_minor) for row in await self._c.execute(query)]

    async def release(self, batch_id: int, at: datetime) -> int:
        p = t.price_pushes.c
        result = await self._c.execute(
            update(t.price_pushes)
            .where(p.batch_id == batch_id, p.state == HELD)
            .values(state=PENDING, batch_id=None, first_pending_at=at, next_attempt_at=at, attempts=0)
        )
        return int(result.rowcount)

    async def drop(self, batch_id: int) -> int:
        p = t.price_pushes.c
        result = await self._c.execute(delete(t.price_pushes).where(p.batch_id == batch_id, p.state == HELD))
        return int(result.rowcount)

    async def decide(self, batch_id: int, state: str, by: str, at: datetime) -> None:
        b = t.price_batches.c
        await self._c.execute(
            update(t.price_batches).where(b.id == batch_id).values(state=state, decided_by=by, decided_at=at)
        )


@functools.cache
def _put_onec(dialect: str) -> Any:
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(t.onec_prices)
    new = statement.excluded
    set_ = {"price_minor": new.price_minor, "updated_at": new.updated_at}
    return statement.on_conflict_do_update(index_elements=["price_type", "sku"], set_=set_)


@functools.cache
def _hold(dialect: str) -> Any:
    """Hold a price for a batch: a line waiting for this channel and SKU (pending, held or dead) is replaced, with a
    new version, so a push of the older value in flight does not retire it."""
    p = t.price_pushes.c
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(t.price_pushes)
    new = statement.excluded
    set_ = {
        "price_minor": new.price_minor, "version": p.version + 1, "first_pending_at": new.first_pending_at,
        "attempts": 0, "next_attempt_at": new.next_attempt_at, "state": HELD, "last_error": None,
        "batch_id": new.batch_id,
    }  # fmt: skip
    return statement.on_conflict_do_update(index_elements=["channel", "sku"], set_=set_)


@functools.cache
def _resend(dialect: str) -> Any:
    """Queue a price again: a new line, or a dead one brought back to life with a new version; a pending or held
    line is left as it is, in the very statement (a price held meanwhile is never sent by a reconciliation)."""
    p = t.price_pushes.c
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(t.price_pushes)
    new = statement.excluded
    set_ = {
        "price_minor": new.price_minor, "version": p.version + 1, "first_pending_at": new.first_pending_at,
        "attempts": 0, "next_attempt_at": new.next_attempt_at, "state": PENDING, "last_error": None,
        "batch_id": None, "leased_until": None, "lease_owner": None,
    }  # fmt: skip
    return statement.on_conflict_do_update(index_elements=["channel", "sku"], set_=set_, where=p.state == DEAD)
