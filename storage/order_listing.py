"""Orders for a listing (``Orders.listed``): the page's ids from one query on the primary key, then their lines,
events and obligations in one query each.

The orders table has no index on its creation time, its phone or a status (the status is never stored; it follows
from the lines), so the page is found by walking the primary key down from the cursor, newest first, each row
tested as it comes: the walk stops as soon as the page is full. A filter that few orders pass (a rare channel, a
``since`` near now on a page that is not full) walks on to the table's first row: a scan of the primary key, fine
for a shop's orders; an index on ``(channel, id)`` or ``created_at`` would bound it, at the cost of a migration.
The status is tested by ``EXISTS`` on the order's lines, each a lookup of the lines' primary key. An order number
or a phone is resolved to ids first (``ids``), which bounds the walk to those rows."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, not_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from storage import schema as t
from workflows.model import Customer, LineStatus, Obligation, ObligationState, Order, OrderEvent, OrderLine
from workflows.model import OrderStatus as S
from workflows.ports import OrderFilter

_EMPTY = (LineStatus.OUT_OF_STOCK.value, LineStatus.UNFULFILLABLE.value, LineStatus.CANCELLED.value)


async def listed(connection: AsyncConnection, wanted: OrderFilter, limit: int) -> list[Order]:
    o = t.orders.c
    query = select(t.orders).where(*_conditions(wanted)).order_by(o.id.desc()).limit(limit)
    rows = list(await connection.execute(query))
    if not rows:
        return []
    ids = [row.id for row in rows]
    lines: dict[int, list[OrderLine]] = defaultdict(list)
    events: dict[int, list[OrderEvent]] = defaultdict(list)
    obligations: dict[int, list[Obligation]] = defaultdict(list)
    ln, ev, ob = t.order_lines.c, t.order_events.c, t.obligations.c
    for r in await connection.execute(select(t.order_lines).where(ln.order_id.in_(ids)).order_by(ln.line_no)):
        lines[r.order_id].append(OrderLine(r.line_no, r.sku, r.qty, LineStatus(r.status), r.warehouse))
    for r in await connection.execute(select(t.order_events).where(ev.order_id.in_(ids)).order_by(ev.id)):
        events[r.order_id].append(OrderEvent(r.at, r.kind, dict(r.detail)))
    for r in await connection.execute(select(t.obligations).where(ob.order_id.in_(ids)).order_by(ob.id)):
        obligations[r.order_id].append(obligation_of(r))
    return [_order(row, lines[row.id], events[row.id], obligations[row.id]) for row in rows]


def _conditions(wanted: OrderFilter) -> list[ColumnElement[bool]]:
    o = t.orders.c
    found: list[ColumnElement[bool]] = []
    if wanted.ids is not None:
        found.append(o.id.in_(sorted(set(wanted.ids))))
    if wanted.channel is not None:
        found.append(o.channel == wanted.channel)
    if wanted.since is not None:
        found.append(o.created_at >= wanted.since)
    if wanted.until is not None:
        found.append(o.created_at < wanted.until)
    if wanted.before_id is not None:
        found.append(o.id < wanted.before_id)
    if wanted.status is not None:
        found.append(status_is(wanted.status))
    return found


def status_is(status: S) -> ColumnElement[bool]:
    """``order_status`` in SQL, as conditions joined by AND only (each an index lookup per order): a store awaited;
    every line reserved; no line holding anything (out of stock); else partly reserved."""
    o, ln = t.orders.c, t.order_lines.c

    def any_line(*condition: ColumnElement[bool]) -> ColumnElement[bool]:
        return exists().where(ln.order_id == o.id, *condition)

    awaiting = any_line(ln.status == LineStatus.AWAITING_STORE_CONFIRMATION.value)
    not_reserved = any_line(ln.status != LineStatus.RESERVED.value)
    holding = any_line(ln.status.not_in(_EMPTY))
    live = o.cancelled_at.is_(None)
    return {
        S.CANCELLED: o.cancelled_at.is_not(None),
        S.AWAITING_STORE_CONFIRMATION: and_(live, awaiting),
        S.RESERVED: and_(live, any_line(), not_(not_reserved)),
        S.OUT_OF_STOCK: and_(live, not_(holding)),  # no line holds anything (an order without lines too)
        S.PARTIALLY_RESERVED: and_(live, not_(awaiting), holding, not_reserved),
    }[status]


def _order(row: Any, lines: list[OrderLine], history: list[OrderEvent], obligations: list[Obligation]) -> Order:
    return Order(
        id=row.id, channel=row.channel, external_id=row.external_id,
        customer=Customer(row.customer_name, row.customer_phone, row.customer_email),
        total=None if row.total is None else Decimal(row.total), currency=row.currency, created_at=row.created_at,
        lines=lines, obligations=obligations, cancelled_at=row.cancelled_at, history=history,
        shipping_hold=row.shipping_hold, exported_at=row.exported_at, ship_by=row.ship_by,
    )  # fmt: skip


def obligation_of(row: Any) -> Obligation:
    """An obligation as stored."""

    def money(value: Any) -> Decimal | None:
        return None if value is None else Decimal(value)

    return Obligation(
        row.payee, row.currency, Decimal(row.amount), row.due_at, row.id, ObligationState(row.state),
        money(row.rate_at_payment), money(row.rate_at_due), money(row.topup_rub),
    )  # fmt: skip
