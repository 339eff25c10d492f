"""Statements of the hot paths, built once.

Building a SQLAlchemy statement and its cache key costs more CPU than running it on this
service's databases (0.5–0.7 ms for a reservation, measured by ``make bench``), so the
statements every order and stock look-up runs are built here once, with bound parameters,
and executed with a dict of values.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sqlalchemy import BigInteger, Integer, String, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage import schema as t
from storage.sqlite_driver import WITH_NEXT
from workflows.model import StockLevel

_stock = t.stock_levels.c
# Names other than the columns': SQLAlchemy keeps column names for an UPDATE's own SET values.
_sku = bindparam("b_sku", type_=String)
_warehouse = bindparam("b_warehouse", type_=String)
_qty = bindparam("b_qty", type_=Integer)

# Take qty from the free stock of one row; matches no row when the free stock is short.
TAKE_STOCK = (
    update(t.stock_levels)
    .where(
        _stock.sku == _sku,
        _stock.warehouse == _warehouse,
        _stock.on_hand - _stock.reserved >= _qty,
        _stock.suspect_since.is_(None),
    )
    .values(reserved=_stock.reserved + _qty)
)

INSERT_RESERVATION = t.reservations.insert().returning(t.reservations.c.id)

_RESERVATION_COLUMNS = ["order_id", "line_no", "sku", "warehouse", "qty", "state", "created_at"]

# PostgreSQL: the same two steps in one statement; the reservation row exists only if the
# conditional UPDATE matched.
TAKE_AND_RESERVE = (
    t.reservations.insert()
    .from_select(
        _RESERVATION_COLUMNS,
        select(
            bindparam("order_id", type_=BigInteger),
            bindparam("line_no", type_=Integer),
            _sku,
            _warehouse,
            _qty,
            bindparam("state", type_=String),
            bindparam("created_at", type_=t.UtcDateTime()),
        ).select_from(TAKE_STOCK.returning(_stock.sku).cte("taken")),
    )
    .returning(t.reservations.c.id)
)

# SQLite: the UPDATE goes in the same trip to the driver's thread as the INSERT after it (WITH_NEXT), and the
# INSERT makes the reservation row only if the UPDATE changed the stock row (changes(): the rows changed by the
# statement just before, on this connection). Run one after the other without the driver's help, the same holds.
TAKE_STOCK_WITH_NEXT = TAKE_STOCK.prefix_with(WITH_NEXT, dialect="sqlite")
RESERVE_IF_TAKEN = (
    t.reservations.insert()
    .from_select(
        _RESERVATION_COLUMNS,
        select(
            bindparam("order_id", type_=BigInteger),
            bindparam("line_no", type_=Integer),
            bindparam("sku", type_=String),
            bindparam("warehouse", type_=String),
            bindparam("qty", type_=Integer),
            bindparam("state", type_=String),
            bindparam("created_at", type_=t.UtcDateTime()),
        ).where(func.changes() == 1),
    )
    .returning(t.reservations.c.id)
)

# A stock row's columns in the order of StockLevel's fields, so a row is read by position (repositories._levels).
STOCK_LEVELS = select(*(t.stock_levels.c[field.name] for field in fields(StockLevel)))
STOCK_OF_SKU = STOCK_LEVELS.where(_stock.sku == _sku)  # takes {"b_sku": …}


def _insert_order(dialect: Any) -> Any:
    """Insert an order unless (channel, external_id) exists; returns its id, or no row."""
    statement = dialect.insert(t.orders).on_conflict_do_nothing(index_elements=["channel", "external_id"])
    return statement.returning(t.orders.c.id)


INSERT_ORDER = {"postgresql": _insert_order(postgresql), "sqlite": _insert_order(sqlite)}

_orders = t.orders.c
FIND_ORDER = select(_orders.id).where(
    _orders.channel == bindparam("channel"), _orders.external_id == bindparam("external_id")
)

_order_id = bindparam("order_id", type_=BigInteger)
ORDER = select(t.orders).where(_orders.id == _order_id)
ORDER_LINES = select(t.order_lines).where(t.order_lines.c.order_id == _order_id).order_by(t.order_lines.c.line_no)
ORDER_EVENTS = select(t.order_events).where(t.order_events.c.order_id == _order_id).order_by(t.order_events.c.id)
ORDER_OBLIGATIONS = select(t.obligations).where(t.obligations.c.order_id == _order_id).order_by(t.obligations.c.id)

# An order's lines and events: nobody reads what inserting them returns, so on SQLite they wait for the next trip.
INSERT_LINES = t.order_lines.insert().prefix_with(WITH_NEXT, dialect="sqlite")
INSERT_EVENTS = t.order_events.insert().prefix_with(WITH_NEXT, dialect="sqlite")
INSERT_OBLIGATIONS = t.obligations.insert()
