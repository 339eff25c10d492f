"""The daily report's reads (:class:`workflows.daily_report.DayRecords`) on the read engine: a
report never writes and never holds SQLite's write lock."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select

from storage import schema as t
from storage.database import Database
from storage.office_repositories import _alert
from storage.repositories import _CHUNK, batched
from storage.task_repositories import _task
from workflows.model import Customer, LineStatus, Order, OrderEvent, OrderLine
from workflows.office_model import Alert
from workflows.tasks import Task, TaskState


class SqlDayRecords:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def orders_created(self, start: datetime, end: datetime) -> list[Order]:
        o = t.orders.c
        async with self._database.read_engine.connect() as c:
            rows = list(await c.execute(select(t.orders).where(o.created_at >= start, o.created_at < end)))
            orders = {row.id: _order(row) for row in rows}
            lines, events = t.order_lines.c, t.order_events.c
            for chunk in batched(sorted(orders), _CHUNK):
                query = select(t.order_lines).where(lines.order_id.in_(chunk)).order_by(lines.order_id, lines.line_no)
                for r in await c.execute(query):
                    orders[r.order_id].lines.append(OrderLine(r.line_no, r.sku, r.qty, LineStatus(r.status),
                                                              r.warehouse))  # fmt: skip
                query = select(t.order_events).where(events.order_id.in_(chunk)).order_by(events.id)
                for r in await c.execute(query):
                    orders[r.order_id].history.append(OrderEvent(r.at, r.kind, dict(r.detail)))
        return [orders[key] for key in sorted(orders)]

    async def order_events(self, kinds: Collection[str], start: datetime, end: datetime) -> list[OrderEvent]:
        e = t.order_events.c
        query = select(t.order_events).where(e.kind.in_(list(kinds)), e.at >= start, e.at < end).order_by(e.id)
        async with self._database.read_engine.connect() as c:
            return [OrderEvent(r.at, r.kind, dict(r.detail)) for r in await c.execute(query)]

    async def tasks_closed(self, kind: str, start: datetime, end: datetime) -> list[Task]:
        k = t.tasks.c
        closed = [TaskState.ANSWERED.value, TaskState.EXPIRED.value]
        query = (
            select(t.tasks)
            .where(k.kind == kind, k.state.in_(closed), k.closed_at >= start, k.closed_at < end)
            .order_by(k.id)
        )
        async with self._database.read_engine.connect() as c:
            return [_task(row) for row in await c.execute(query)]

    async def alert_episodes(self, kind: str, start: datetime, end: datetime) -> list[Alert]:
        a = t.alerts.c
        query = (
            select(t.alerts)
            .where(a.kind == kind, a.first_at < end, or_(a.resolved_at.is_(None), a.resolved_at > start))
            .order_by(a.id)
        )
        async with self._database.read_engine.connect() as c:
            return [_alert(row) for row in await c.execute(query)]


def _order(row: Any) -> Order:
    """The order without lines and history (those are read for many orders at once)."""
    return Order(
        row.id, row.channel, row.external_id, Customer(row.customer_name, row.customer_phone, row.customer_email),
        None if row.total is None else Decimal(row.total), row.currency, row.created_at, [],
        cancelled_at=row.cancelled_at, shipping_hold=row.shipping_hold, exported_at=row.exported_at,
        ship_by=row.ship_by,
    )  # fmt: skip
