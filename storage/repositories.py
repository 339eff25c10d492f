"""SQL implementations of the ports in :mod:`workflows.ports`, on one connection each."""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from itertools import islice
from operator import itemgetter
from typing import Any, TypeVar, cast

from sqlalchemy import String, and_, bindparam, case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema as t
from storage import statements as q
from storage.bulk import compiled, execute_many
from storage.order_listing import listed
from storage.order_listing import obligation_of as _obligation
from storage.sqlite_driver import OneHopConnection, then_if_one_changed
from storage.sqlite_times import utc_moments
from workflows.clients import phone_key
from workflows.errors import DuplicateOrder
from workflows.model import (
    Customer,
    LineStatus,
    Obligation,
    ObligationState,
    Order,
    OrderEvent,
    OrderLine,
    Reservation,
    ReservationState,
    StockFigure,
    StockLevel,
)
from workflows.ports import OrderFilter, SeenOrderEvent, StockKey
from workflows.typed_names import name_key

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[tuple[T, ...]]:
    """``itertools.batched`` of Python 3.12, for 3.11."""
    iterator = iter(items)
    while chunk := tuple(islice(iterator, size)):
        yield chunk


# Keeps every IN list and multi-row VALUES under SQLite's and asyncpg's parameter limits.
_CHUNK = 500


def _key_chunks(connection: AsyncConnection, keys: Collection[StockKey]) -> Iterator[tuple[list[str], list[str]]]:
    """(SKU, warehouse) keys as lists of SKUs and of warehouses, to look up with ``sku IN (…) AND warehouse IN (…)``
    and keep the rows whose key was asked for. Not ``(sku, warehouse) IN (…)``: SQLite walks the whole table for a
    list of row values, where two plain lists go by the primary key (or an index led by the pair). The warehouses
    are few: each chunk of SKUs takes them all. On SQLite, whose key lists go as one JSON array (:func:`_among`),
    one chunk: a 1C message's keys in one statement, not ten."""
    warehouses = sorted(set(map(itemgetter(1), keys)))
    skus = sorted(set(map(itemgetter(0), keys)))
    for chunk in batched(skus, _CHUNK if connection.dialect.name == "postgresql" else max(1, len(skus))):
        yield list(chunk), warehouses


def _among(connection: AsyncConnection, column: Any, values: Collection[str]) -> Any:
    """``column IN (values)`` for a list of hundreds of keys. On PostgreSQL as ``IN (SELECT unnest(array))``: its
    planner sizes that by the array, where it takes a literal list of hundreds to match a table it has no statistics
    of yet (a fresh database, autovacuum behind or off) whole, and scans it for every list — a 1C snapshot's every
    message then read every row stored so far. SQLite goes by the index either way; there the keys go as one JSON
    array (``IN (SELECT value FROM json_each(?))``): rendering hundreds of parameters into the statement at each
    execution cost more than the look-up."""
    if connection.dialect.name != "postgresql":
        each = func.json_each(bindparam(None, json.dumps(list(values)), type_=String())).table_valued("value")
        return column.in_(select(each.c.value))
    return column.in_(select(func.unnest(bindparam(None, list(values), type_=postgresql.ARRAY(String())))))


def _upsert(connection: AsyncConnection, table: Any) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


class SqlStockLevels:
    def __init__(
        self, connection: AsyncConnection, touched: set[str] | None = None, urgent: set[str] | None = None
    ) -> None:
        self._c = connection
        self._touched = touched if touched is not None else set()  # for the sync outbox
        self._urgent = urgent if urgent is not None else set()  # changed by an order: its lines go first

    async def for_skus(self, skus: Collection[str]) -> dict[str, list[StockLevel]]:
        found: dict[str, list[StockLevel]] = {}
        sqlite = self._c.dialect.name == "sqlite"
        for chunk in batched(sorted(set(skus)), _CHUNK):
            if sqlite:  # a 1C message reads its 5 000 rows back here (the sync outbox): at the driver's speed
                levels = _sqlite_levels(await self._c.exec_driver_sql(_SQLITE_LEVELS_OF_SKUS, (json.dumps(chunk),)))
            else:
                levels = _levels(
                    await self._c.execute(q.STOCK_LEVELS.where(_among(self._c, t.stock_levels.c.sku, chunk)))
                )
            for level in levels:
                found.setdefault(level.sku, []).append(level)
        return found

    async def skus_after(self, after: str, limit: int) -> list[str]:
        c = t.stock_levels.c
        query = select(c.sku).where(c.sku > after).group_by(c.sku).order_by(c.sku).limit(limit)
        return list((await self._c.execute(query)).scalars())

    async def for_sku(self, sku: str) -> list[StockLevel]:
        return _levels(await self._c.execute(q.STOCK_OF_SKU, {"b_sku": sku}))

    async def for_keys(self, keys: Collection[StockKey]) -> dict[StockKey, StockLevel]:
        wanted = set(keys)
        found: dict[StockKey, StockLevel] = {}
        c = t.stock_levels.c
        for skus, warehouses in _key_chunks(self._c, wanted):
            rows = await self._c.execute(
                q.STOCK_LEVELS.where(_among(self._c, c.sku, skus), c.warehouse.in_(warehouses))
            )
            found.update({key: level for level in _levels(rows) if (key := (level.sku, level.warehouse)) in wanted})
        return found

    async def overdrawn(self, keys: Collection[StockKey]) -> list[StockLevel]:
        found: list[StockLevel] = []
        c = t.stock_levels.c
        for skus, warehouses in _key_chunks(self._c, keys):
            if self._c.dialect.name == "sqlite":  # every 1C message asks: the driver's SQL, no statement to build
                rows = await self._c.exec_driver_sql(_SQLITE_OVERDRAWN, (json.dumps(skus), json.dumps(warehouses)))
                found.extend(_sqlite_levels(rows))
                continue
            query = q.STOCK_LEVELS.where(
                _among(self._c, c.sku, skus), c.warehouse.in_(warehouses), c.reserved > c.on_hand
            )
            found.extend(_levels(await self._c.execute(query)))
        if found:  # rarely any: the keys asked for are made a set only then
            wanted = set(keys)
            found = [level for level in found if (level.sku, level.warehouse) in wanted]
        return sorted(found, key=lambda level: (level.sku, level.warehouse))

    async def save_figures(self, figures: Sequence[StockFigure], as_of: datetime) -> set[StockKey]:
        self._touched.update(map(itemgetter(0), figures))  # a figure's SKU
        same = {"reserved": 0, "as_of": as_of}
        columns = ("sku", "warehouse", "on_hand")  # a figure is the tuple (sku, warehouse, qty)
        written = await execute_many(self._c, _save_figure(self._c.dialect.name), columns, figures, same)
        if written == len(figures):  # SQLite counts the rows an executemany wrote (asyncpg does not): all of them
            return set()
        return await self._newer_than([(f.sku, f.warehouse) for f in figures], as_of)

    async def _newer_than(self, keys: Collection[StockKey], as_of: datetime) -> set[StockKey]:
        """The rows among ``keys`` that hold a figure computed after ``as_of``."""
        wanted = set(keys)
        found: set[StockKey] = set()
        c = t.stock_levels.c
        for skus, warehouses in _key_chunks(self._c, wanted):
            query = select(c.sku, c.warehouse).where(
                _among(self._c, c.sku, skus), c.warehouse.in_(warehouses), c.as_of > as_of
            )
            found.update(key for key in (await self._c.execute(query)).tuples() if key in wanted)
        return found

    async def mark_suspect(self, sku: str, warehouse: str, since: datetime) -> None:
        self._touched.add(sku)
        self._urgent.add(sku)  # a store said "not here" while confirming an order
        c = t.stock_levels.c
        await self._c.execute(
            update(t.stock_levels).where(c.sku == sku, c.warehouse == warehouse).values(suspect_since=since)
        )

    async def set_as_of(self, sku: str, warehouse: str | None, as_of: datetime) -> int:
        c = t.stock_levels.c
        statement = update(t.stock_levels).where(c.sku == sku).values(as_of=as_of)
        if warehouse is not None:
            statement = statement.where(c.warehouse == warehouse)
        return int((await self._c.execute(statement)).rowcount)

    async def lock(self, keys: Sequence[StockKey]) -> None:
        if self._c.dialect.name != "postgresql":
            return  # SQLite: the unit of work holds the one writer's lock already
        c = t.stock_levels.c
        for sku, warehouse in keys:  # one statement each: the order given is the order locked
            await self._c.execute(select(c.sku).where(c.sku == sku, c.warehouse == warehouse).with_for_update())

    async def receive(self, sku: str, warehouse: str, qty: int, as_of_if_new: datetime) -> None:
        self._touched.add(sku)
        row = {"sku": sku, "warehouse": warehouse, "on_hand": qty, "reserved": 0, "as_of": as_of_if_new}
        statement = (postgresql if self._c.dialect.name == "postgresql" else sqlite).insert(t.stock_levels).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["sku", "warehouse"], set_={"on_hand": t.stock_levels.c.on_hand + qty}
        )
        await self._c.execute(statement)

    async def write_off(self, sku: str, warehouse: str, qty: int) -> None:
        self._touched.add(sku)
        c = t.stock_levels.c
        left = case((c.on_hand >= qty, c.on_hand - qty), else_=0)
        await self._c.execute(update(t.stock_levels).where(c.sku == sku, c.warehouse == warehouse).values(on_hand=left))

    async def unreserve(self, sku: str, warehouse: str, qty: int) -> None:
        self._touched.add(sku)
        self._urgent.add(sku)
        c = t.stock_levels.c
        await self._c.execute(
            update(t.stock_levels).where(c.sku == sku, c.warehouse == warehouse).values(reserved=c.reserved - qty)
        )


_ADD_OFFER_ID = t.offer_ids.insert()


@functools.cache
def _save_figure(dialect: str) -> Any:
    """Insert a stock row or set its figure, unless the row holds a newer one (built once per dialect)."""
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(t.stock_levels)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["sku", "warehouse"],
        set_={
            "on_hand": new.on_hand,
            "as_of": new.as_of,
            # a figure computed after staff flagged the row settles the doubt
            "suspect_since": case(
                (new.as_of > t.stock_levels.c.suspect_since, None), else_=t.stock_levels.c.suspect_since
            ),
        },
        where=new.as_of >= t.stock_levels.c.as_of,
    )


async def _cancellation_waits(connection: AsyncConnection, channel: str, external_id: str) -> bool:
    values = {"channel": channel, "external_id": external_id}
    return (await connection.execute(q.CANCELLATION_WAITS, values)).first() is not None


# The rows of a list of SKUs given as one JSON array: one statement whatever the list's length, by the primary key.
_SQLITE_LEVELS_OF_SKUS = (
    "SELECT sku, warehouse, on_hand, reserved, as_of, suspect_since FROM stock_levels "
    "WHERE sku IN (SELECT value FROM json_each(?))"
)


# The keys' rows with more reserved than on hand, by the partial index of those (migration 0030): the same look-up
# through the primary key fetched each of a 1C message's 5 000 rows to compare the two.
_SQLITE_OVERDRAWN = (
    "SELECT sku, warehouse, on_hand, reserved, as_of, suspect_since FROM stock_levels "
    "WHERE sku IN (SELECT value FROM json_each(?)) AND warehouse IN (SELECT value FROM json_each(?)) "
    "AND reserved > on_hand"
)


def _sqlite_levels(rows: Result[Any]) -> list[StockLevel]:
    """Rows of :data:`_SQLITE_LEVELS_OF_SKUS` as the driver gives them: times as SQLite holds them (UTC text, as
    :class:`storage.schema.UtcDateTime` writes them), each distinct one parsed once — a message's rows share theirs."""
    moment = utc_moments()

    return [
        StockLevel(sku, warehouse, on_hand, reserved, moment(as_of), None if suspect is None else moment(suspect))
        for sku, warehouse, on_hand, reserved, as_of, suspect in rows.all()  # all at once: by row costs 5x
    ]


def _levels(rows: Result[Any]) -> list[StockLevel]:
    """Rows of :data:`storage.statements.STOCK_LEVELS` as stock levels, by position: reading a row's columns by
    name costs several times SQLite's own work on a large read."""
    return [StockLevel(*row) for row in rows.tuples()]


async def _take_on_sqlite(connection: AsyncConnection, values: dict[str, Any]) -> int | None:
    """SQLite: the take and, only if it changed the stock row, the reservation's INSERT, in one call to the driver
    (``OneHopConnection.call``): one trip to its thread, or none in a batch whose transaction holds the write lock.
    Not through SQLAlchemy's execution, whose work for each statement cost several times SQLite's own; the
    statements are compiled once, and the engine's listeners hear them as from SQLAlchemy."""
    take = compiled(q.TAKE_STOCK, connection.dialect, ("b_sku", "b_warehouse", "b_qty"))
    add = compiled(q.INSERT_RESERVATION, connection.dialect, q.RESERVATION_COLUMNS)
    stock, row = take.parameters(values), add.parameters(values)
    sync = connection.sync_connection
    assert sync is not None
    driver = cast(OneHopConnection, sync.connection.dbapi_connection)
    made = await driver.call(then_if_one_changed, take.sql, stock, add.sql, row)
    sync.dispatch.after_cursor_execute(sync, None, take.sql, stock, None, False)
    if made is None:
        return None
    sync.dispatch.after_cursor_execute(sync, None, add.sql, row, None, False)
    return int(made[0])


class SqlReservations:
    def __init__(
        self, connection: AsyncConnection, touched: set[str] | None = None, urgent: set[str] | None = None
    ) -> None:
        self._c = connection
        self._touched = touched if touched is not None else set()
        self._urgent = urgent if urgent is not None else set()

    async def take(self, reservation: Reservation) -> bool:
        values = {
            "order_id": reservation.order_id,
            "line_no": reservation.line_no,
            "sku": reservation.sku,
            "warehouse": reservation.warehouse,
            "qty": reservation.qty,
            "state": reservation.state.value,
            "created_at": reservation.created_at,
        }
        stock = {"b_sku": reservation.sku, "b_warehouse": reservation.warehouse, "b_qty": reservation.qty}
        if self._c.dialect.name == "postgresql":
            together = {**stock, **{k: values[k] for k in ("order_id", "line_no", "state", "created_at")}}
            reservation.id = (await self._c.execute(q.TAKE_AND_RESERVE, together)).scalar_one_or_none()
        else:
            reservation.id = await _take_on_sqlite(self._c, {**stock, **values})
        if reservation.id is None:
            return False  # nothing changed: nothing for the channels to hear
        self._touched.add(reservation.sku)
        self._urgent.add(reservation.sku)
        return True

    async def take_else_free(self, reservation: Reservation) -> dict[str, int] | None:
        if self._c.dialect.name != "postgresql":  # SQLite: the read is a local call, in the same batch
            if await self.take(reservation):
                return None
            return {level.warehouse: level.free for level in await SqlStockLevels(self._c).for_sku(reservation.sku)}
        values = {
            "b_sku": reservation.sku, "b_warehouse": reservation.warehouse, "b_qty": reservation.qty,
            "order_id": reservation.order_id, "line_no": reservation.line_no, "state": reservation.state.value,
            "created_at": reservation.created_at,
        }  # fmt: skip
        rows = (await self._c.execute(q.TAKE_ELSE_FREE, values)).tuples().all()
        if rows and rows[0][0] is not None:
            reservation.id = int(rows[0][0])
            self._touched.add(reservation.sku)
            self._urgent.add(reservation.sku)
            return None
        return {str(warehouse): int(free) for _, warehouse, free in rows}

    async def untake(self, reservation: Reservation) -> None:
        self._touched.add(reservation.sku)
        self._urgent.add(reservation.sku)
        await self._c.execute(delete(t.reservations).where(t.reservations.c.id == reservation.id))
        s = t.stock_levels.c
        await self._c.execute(
            update(t.stock_levels)
            .where(s.sku == reservation.sku, s.warehouse == reservation.warehouse)
            .values(reserved=s.reserved - reservation.qty)
        )
        reservation.id = None

    async def active_for_order(self, order_id: int) -> list[Reservation]:
        c = t.reservations.c
        rows = await self._c.execute(
            select(t.reservations)
            .where(c.order_id == order_id, c.state == ReservationState.ACTIVE.value)
            .order_by(c.id)
        )
        return [_reservation(row) for row in rows]

    async def for_order(self, order_id: int) -> list[Reservation]:
        c = t.reservations.c
        rows = await self._c.execute(select(t.reservations).where(c.order_id == order_id).order_by(c.id))
        return [_reservation(row) for row in rows]

    async def deducted_active(self, keys: Collection[StockKey]) -> list[Reservation]:
        c = t.reservations.c
        found: list[Reservation] = []
        for skus, warehouses in _key_chunks(self._c, keys):
            among = [_among(self._c, c.sku, skus), c.warehouse.in_(warehouses)]
            if self._c.dialect.name == "sqlite":  # every 1C message asks, and there are seldom any: their ids first
                given = (json.dumps(skus), json.dumps(warehouses), ReservationState.ACTIVE.value)
                ids = (await self._c.exec_driver_sql(_SQLITE_DEDUCTED_ACTIVE, given)).scalars().all()
                if not ids:
                    continue
                among = [c.id.in_(ids)]
            rows = await self._c.execute(
                select(t.reservations).where(
                    *among, c.state == ReservationState.ACTIVE.value, c.deducted_at.is_not(None)
                )
            )
            found.extend(_reservation(row) for row in rows)
        if found:  # rarely any: the keys asked for are made a set only then
            wanted = set(keys)
            found = [r for r in found if (r.sku, r.warehouse) in wanted]
        return sorted(found, key=lambda reservation: reservation.id or 0)

    async def mark_deducted(self, ids: Collection[int], deducted_at: datetime) -> None:
        for chunk in batched(sorted(ids), _CHUNK):
            await self._c.execute(
                update(t.reservations).where(t.reservations.c.id.in_(chunk)).values(deducted_at=deducted_at)
            )

    async def end(self, ids: Collection[int], state: ReservationState, at: datetime) -> None:
        c = t.reservations.c
        for chunk in batched(sorted(ids), _CHUNK):
            await self._c.execute(
                update(t.reservations)
                .where(c.id.in_(chunk), c.state == ReservationState.ACTIVE.value)
                .values(state=state.value, ended_at=at)
            )

    async def totals(self, state: ReservationState) -> dict[StockKey, int]:
        c = t.reservations.c
        rows = await self._c.execute(
            select(c.sku, c.warehouse, func.sum(c.qty)).where(c.state == state.value).group_by(c.sku, c.warehouse)
        )
        return {(sku, warehouse): int(total) for sku, warehouse, total in rows}


_SQLITE_DEDUCTED_ACTIVE = (
    "SELECT id FROM reservations WHERE sku IN (SELECT value FROM json_each(?)) "
    "AND warehouse IN (SELECT value FROM json_each(?)) AND state = ? AND deducted_at IS NOT NULL"
)


def _reservation(row: Any) -> Reservation:
    return Reservation(
        row.id,
        row.order_id,
        row.line_no,
        row.sku,
        row.warehouse,
        row.qty,
        ReservationState(row.state),
        row.created_at,
        row.deducted_at,
        row.ended_at,
    )


class SqlOrders:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, order: Order) -> bool:
        # ON CONFLICT DO NOTHING rather than catching the unique violation: on PostgreSQL a
        # failed statement would spoil the whole transaction; here a repeat just returns no id.
        values = {
            "channel": order.channel,
            "external_id": order.external_id,
            "customer_name": order.customer.name,
            "customer_phone": order.customer.phone,
            "customer_email": order.customer.email,
            "external_key": name_key(order.external_id),
            "phone_key": phone_key(order.customer.phone),
            "total": order.total,
            "currency": order.currency,
            "created_at": order.created_at,
            "ship_by": order.ship_by,
        }
        postgresql = self._c.dialect.name == "postgresql"
        row = (await self._c.execute(q.INSERT_ORDER_PG if postgresql else q.INSERT_ORDER, values)).one_or_none()
        if row is None:
            raise DuplicateOrder(f"{order.channel}:{order.external_id}")
        order.id = row[0]
        if order.obligations:
            await self._c.execute(
                q.INSERT_OBLIGATIONS,
                [
                    {
                        "order_id": order.id,
                        "payee": o.payee,
                        "currency": o.currency,
                        "amount": o.amount,
                        "due_at": o.due_at,
                    }
                    for o in order.obligations
                ],
            )
        if postgresql:  # read by the INSERT itself, a statement begun after the caller's lock on the order was held
            return bool(row[1])
        return await _cancellation_waits(self._c, order.channel, order.external_id)

    async def add_lines(self, order_id: int, lines: Sequence[OrderLine]) -> None:
        await self._c.execute(
            q.INSERT_LINES,
            [
                {"order_id": order_id, "line_no": line.line_no, "sku": line.sku, "qty": line.qty,
                 "status": line.status.value, "warehouse": line.warehouse}
                for line in lines
            ],
        )  # fmt: skip

    async def add_lines_and_events(
        self, order_id: int, lines: Sequence[OrderLine], events: Sequence[OrderEvent]
    ) -> None:
        if self._c.dialect.name != "postgresql" or not lines or not events:
            await self.add_lines(order_id, lines)  # SQLite: both wait for the writer's next trip (WITH_NEXT)
            await self.add_events(order_id, events)
            return
        dumps = getattr(self._c.dialect, "_json_serializer", None) or json.dumps  # as the JSON column writes it
        values = {
            "order_id": order_id,
            "line_nos": [line.line_no for line in lines],
            "skus": [line.sku for line in lines],
            "qtys": [line.qty for line in lines],
            "statuses": [line.status.value for line in lines],
            "warehouses": [line.warehouse for line in lines],
            "ats": [event.at for event in events],
            "kinds": [event.kind for event in events],
            "details": [dumps(event.detail) for event in events],
        }
        await self._c.execute(q.INSERT_LINES_AND_EVENTS, values)

    async def find(self, channel: str, external_id: str) -> Order | None:
        values = {"channel": channel, "external_id": external_id}
        order_id = (await self._c.execute(q.FIND_ORDER, values)).scalar_one_or_none()
        return None if order_id is None else await self.get(order_id)

    async def named(self, channel: str, external_id: str) -> list[Order]:
        c = t.orders.c
        query = select(c.id).where(c.channel == channel, c.external_key == name_key(external_id)).order_by(c.id)
        ids = list((await self._c.execute(query)).scalars())
        return [order for order_id in ids if (order := await self.get(order_id)) is not None]

    async def of_phone(self, phone: str, limit: int) -> list[Order]:
        ids = await self.ids_of_phone(phone, limit)
        return [order for order_id in ids if (order := await self.get(order_id)) is not None]

    async def ids_of_phone(self, phone: str, limit: int) -> list[int]:
        key = phone_key(phone)
        if key is None:
            return []
        c = t.orders.c
        query = select(c.id).where(c.phone_key == key).order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        return list((await self._c.execute(query)).scalars())

    async def get(self, order_id: int) -> Order | None:
        key = {"order_id": order_id}
        row = (await self._c.execute(q.ORDER, key)).one_or_none()
        if row is None:
            return None
        lines = await self._c.execute(q.ORDER_LINES, key)
        events = await self._c.execute(q.ORDER_EVENTS, key)
        obligations = await self._c.execute(q.ORDER_OBLIGATIONS, key)
        return Order(
            id=row.id,
            channel=row.channel,
            external_id=row.external_id,
            customer=Customer(row.customer_name, row.customer_phone, row.customer_email),
            total=None if row.total is None else Decimal(row.total),
            currency=row.currency,
            created_at=row.created_at,
            lines=[OrderLine(r.line_no, r.sku, r.qty, LineStatus(r.status), r.warehouse) for r in lines],
            obligations=[_obligation(r) for r in obligations],
            cancelled_at=row.cancelled_at,
            history=[OrderEvent(r.at, r.kind, dict(r.detail)) for r in events],
            shipping_hold=row.shipping_hold,
            exported_at=row.exported_at,
            ship_by=row.ship_by,
        )

    async def save_lines(self, order_id: int, lines: Sequence[OrderLine]) -> None:
        c = t.order_lines.c
        for line in lines:
            await self._c.execute(
                update(t.order_lines)
                .where(and_(c.order_id == order_id, c.line_no == line.line_no))
                .values(status=line.status.value, warehouse=line.warehouse)
            )

    async def mark_cancelled(self, order_id: int, at: datetime) -> None:
        await self._c.execute(update(t.orders).where(t.orders.c.id == order_id).values(cancelled_at=at))

    async def add_events(self, order_id: int, events: Sequence[OrderEvent]) -> None:
        await self._c.execute(
            q.INSERT_EVENTS,
            [{"order_id": order_id, "at": e.at, "kind": e.kind, "detail": e.detail} for e in events],
        )

    async def set_hold(self, order_id: int, hold: str | None) -> None:
        await self._c.execute(update(t.orders).where(t.orders.c.id == order_id).values(shipping_hold=hold))

    async def save_obligation(self, obligation: Obligation) -> None:
        c = t.obligations.c
        values = {
            "state": obligation.state.value, "due_at": obligation.due_at, "rate_at_payment": obligation.rate_at_payment,
            "rate_at_due": obligation.rate_at_due, "topup_rub": obligation.topup_rub,
        }  # fmt: skip
        await self._c.execute(update(t.obligations).where(c.id == obligation.id).values(**values))

    async def unexported(self, limit: int) -> list[Order]:
        c = t.orders.c
        query = select(c.id).where(c.exported_at.is_(None), c.cancelled_at.is_(None)).order_by(c.id).limit(limit)
        found = [await self.get(order_id) for order_id in (await self._c.execute(query)).scalars()]
        return [order for order in found if order is not None]

    async def mark_exported(self, order_ids: Collection[int], at: datetime) -> None:
        c = t.orders.c
        for chunk in batched(sorted(order_ids), _CHUNK):
            await self._c.execute(
                update(t.orders).where(c.id.in_(chunk), c.exported_at.is_(None)).values(exported_at=at)
            )

    async def watched_currencies(self) -> set[str]:
        c = t.obligations.c
        open_states = [ObligationState.PENDING.value, ObligationState.HELD.value]
        query = select(c.currency).where(c.state.in_(open_states), c.currency != "RUB").distinct()
        return set((await self._c.execute(query)).scalars())

    async def obligations_due(self, now: datetime, limit: int) -> list[tuple[int, Obligation]]:
        c = t.obligations.c
        query = (
            select(t.obligations)
            .where(c.state == ObligationState.PENDING.value, c.due_at <= now, c.rate_at_payment.is_not(None))
            .order_by(c.due_at, c.id)
            .limit(limit)
        )
        return [(row.order_id, _obligation(row)) for row in await self._c.execute(query)]

    async def awaiting_rate(self, limit: int) -> list[tuple[int, Obligation]]:
        c, p = t.obligations.c, t.payments.c
        cleared = select(p.payment_id).where(p.order_id == c.order_id, p.phase == "cleared").exists()
        query = (
            select(t.obligations)
            .where(c.state == ObligationState.PENDING.value, c.rate_at_payment.is_(None), cleared)
            .order_by(c.order_id, c.id)
            .limit(limit)
        )
        return [(row.order_id, _obligation(row)) for row in await self._c.execute(query)]

    async def open_external_ids(self, channel: str, limit: int) -> list[str]:
        c = t.orders.c
        query = select(c.external_id).where(c.channel == channel, c.cancelled_at.is_(None))
        return list((await self._c.execute(query.order_by(c.id.desc()).limit(limit))).scalars())

    async def recent_events(self, kinds: Collection[str], limit: int) -> list[SeenOrderEvent]:
        # newest written = the highest id: the primary key walks back and stops at ``limit``, no sort of the table
        e, o = t.order_events.c, t.orders.c
        query = (
            select(e.order_id, e.at, e.kind, e.detail, o.channel, o.external_id)
            .join_from(t.order_events, t.orders, e.order_id == o.id)
            .where(e.kind.in_(sorted(kinds)))
            .order_by(e.id.desc())
            .limit(limit)
        )
        return [
            SeenOrderEvent(r.order_id, r.channel, r.external_id, OrderEvent(r.at, r.kind, dict(r.detail)))
            for r in await self._c.execute(query)
        ]

    async def listed(self, wanted: OrderFilter, limit: int) -> list[Order]:
        return await listed(self._c, wanted, limit)


# SQLite: a 1C message's look-ups of offer ids, the keys as JSON arrays (as _among), by the primary key or the
# unique (channel, offer_id); the driver's SQL, as for_skus: no statement built and compiled for each message.
_SQLITE_ON_EVERY_CHANNEL = (
    "SELECT sku FROM offer_ids WHERE channel IN (SELECT value FROM json_each(?1)) "
    "AND sku IN (SELECT value FROM json_each(?2)) GROUP BY sku HAVING count(*) = ?3"
)
_SQLITE_MAPPED_ON = (
    "SELECT channel, sku, offer_id FROM offer_ids WHERE channel IN (SELECT value FROM json_each(?)) "
    "AND sku IN (SELECT value FROM json_each(?))"
)
_SQLITE_OWNERS_ON = (
    "SELECT channel, offer_id, sku FROM offer_ids WHERE channel IN (SELECT value FROM json_each(?)) "
    "AND offer_id IN (SELECT value FROM json_each(?))"
)


class SqlOfferIds:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def for_skus(self, channel: str, skus: Collection[str]) -> dict[str, str]:
        c = t.offer_ids.c
        found: dict[str, str] = {}
        for chunk in batched(sorted(skus), _CHUNK):
            rows = await self._c.execute(
                select(c.sku, c.offer_id).where(c.channel == channel, _among(self._c, c.sku, chunk))
            )
            found.update({sku: offer_id for sku, offer_id in rows})
        return found

    async def owners(self, channel: str, offer_ids: Collection[str]) -> dict[str, str]:
        c = t.offer_ids.c
        found: dict[str, str] = {}
        for chunk in batched(sorted(offer_ids), _CHUNK):
            rows = await self._c.execute(
                select(c.offer_id, c.sku).where(c.channel == channel, _among(self._c, c.offer_id, chunk))
            )
            found.update({offer_id: sku for offer_id, sku in rows})
        return found

    async def on_every_channel(self, channels: Collection[str], skus: Collection[str]) -> set[str]:
        c = t.offer_ids.c
        named = sorted(set(channels))
        found: set[str] = set()
        if self._c.dialect.name == "sqlite" and skus:  # every 1C message asks: the driver's SQL, all keys at once
            given = (json.dumps(named), json.dumps(sorted(set(skus))), len(named))
            return set((await self._c.exec_driver_sql(_SQLITE_ON_EVERY_CHANNEL, given)).scalars().all())
        for chunk in batched(sorted(set(skus)), _CHUNK):
            query = select(c.sku).where(c.channel.in_(named), _among(self._c, c.sku, chunk)).group_by(c.sku)
            found.update((await self._c.execute(query.having(func.count() == len(named)))).scalars())
        return found

    async def mapped_on(self, channels: Collection[str], skus: Collection[str]) -> dict[str, dict[str, str]]:
        c = t.offer_ids.c
        found: dict[str, dict[str, str]] = {}
        for chunk in batched(sorted(set(skus)), _CHUNK if self._c.dialect.name == "postgresql" else len(skus)):
            if self._c.dialect.name == "sqlite":  # a 1C message with new SKUs asks: the driver's SQL
                given = (json.dumps(sorted(set(channels))), json.dumps(chunk))
                rows: Any = (await self._c.exec_driver_sql(_SQLITE_MAPPED_ON, given)).tuples().all()
            else:
                rows = (
                    await self._c.execute(
                        select(c.channel, c.sku, c.offer_id).where(
                            c.channel.in_(sorted(set(channels))), _among(self._c, c.sku, chunk)
                        )
                    )
                ).tuples()
            for channel, sku, offer_id in rows:
                found.setdefault(channel, {})[sku] = offer_id
        return found

    async def owners_on(self, offer_ids: Mapping[str, Collection[str]]) -> dict[str, dict[str, str]]:
        c = t.offer_ids.c
        wanted = {(channel, offer_id) for channel, ids in offer_ids.items() for offer_id in ids}
        found: dict[str, dict[str, str]] = {}
        channels = sorted({channel for channel, _ in wanted})
        ids = sorted({offer_id for _, offer_id in wanted})
        for chunk in batched(ids, _CHUNK if self._c.dialect.name == "postgresql" else max(1, len(ids))):
            if self._c.dialect.name == "sqlite":  # a 1C message with new SKUs asks: the driver's SQL
                given = (json.dumps(channels), json.dumps(chunk))
                rows: Any = (await self._c.exec_driver_sql(_SQLITE_OWNERS_ON, given)).tuples().all()
            else:
                query = select(c.channel, c.offer_id, c.sku).where(
                    c.channel.in_(channels), _among(self._c, c.offer_id, chunk)
                )
                rows = (await self._c.execute(query)).tuples()
            for channel, offer_id, sku in rows:
                if (channel, offer_id) in wanted:
                    found.setdefault(channel, {})[offer_id] = sku
        return found

    async def add(self, pairs: Mapping[str, Sequence[tuple[str, str]]]) -> None:
        rows = [(channel, sku, offer_id) for channel, new in sorted(pairs.items()) for sku, offer_id in new]
        await execute_many(self._c, _ADD_OFFER_ID, ("channel", "sku", "offer_id"), rows)

    async def add_conflicts(self, channel: str, conflicts: Sequence[tuple[str, str, str]], at: datetime) -> None:
        for offer_id, sku, existing_sku in conflicts:
            statement = _upsert(self._c, t.offer_id_conflicts).values(
                channel=channel, sku=sku, offer_id=offer_id, existing_sku=existing_sku, found_at=at, note=""
            )
            await self._c.execute(statement.on_conflict_do_nothing(index_elements=["channel", "sku"]))

    async def conflicts(self) -> list[tuple[str, str, str, str]]:
        c = t.offer_id_conflicts.c
        rows = await self._c.execute(
            select(c.channel, c.offer_id, c.sku, c.existing_sku).order_by(c.channel, c.offer_id, c.sku)
        )
        return [(row.channel, row.offer_id, row.sku, row.existing_sku) for row in rows]
