"""Statements of the hot paths, built once.

Building a SQLAlchemy statement and its cache key costs more CPU than running it on this
service's databases (0.5–0.7 ms for a reservation, measured by ``make bench``), so the
statements every order and stock look-up runs are built here once, with bound parameters,
and executed with a dict of values.
"""

from __future__ import annotations

from dataclasses import fields

from sqlalchemy import BigInteger, Integer, Numeric, String, bindparam, select, text, update

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

RESERVATION_COLUMNS = ("order_id", "line_no", "sku", "warehouse", "qty", "state", "created_at")

# PostgreSQL: the same two steps in one statement; the reservation row exists only if the
# conditional UPDATE matched.
TAKE_AND_RESERVE = (
    t.reservations.insert()
    .from_select(
        list(RESERVATION_COLUMNS),
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

# A stock row's columns in the order of StockLevel's fields, so a row is read by position (repositories._levels).
STOCK_LEVELS = select(*(t.stock_levels.c[field.name] for field in fields(StockLevel)))
STOCK_OF_SKU = STOCK_LEVELS.where(_stock.sku == _sku)  # takes {"b_sku": …}


# 1C was heard from. A fixed text, compiled once (a dialect's insert construct is compiled at every call); on SQLite
# it goes with the next statement's trip to the driver's thread (WITH_NEXT): every 1C message notes it, nothing reads
# its answer.
_HEARD = (
    "INSERT {with_next} INTO onec_heartbeats (source, at) VALUES (:source, :at) "
    "ON CONFLICT (source) DO UPDATE SET at = excluded.at"
)
HEARD = text(_HEARD.format(with_next="")).bindparams(bindparam("at", type_=t.UtcDateTime()))
HEARD_WITH_NEXT = text(_HEARD.format(with_next=WITH_NEXT)).bindparams(bindparam("at", type_=t.UtcDateTime()))

# Insert an order unless (channel, external_id) exists; returns its id, or no row. Text, not the dialects' insert
# constructs: SQLAlchemy keeps no compiled form of those (no cache key), so each order compiled its INSERT anew.
_INSERT_ORDER = (
    "INSERT INTO orders (channel, external_id, customer_name, customer_phone, customer_email, total, currency, "
    "created_at, ship_by, external_key, phone_key) VALUES (:channel, :external_id, :customer_name, :customer_phone, "
    ":customer_email, :total, :currency, :created_at, :ship_by, :external_key, :phone_key) "
    "ON CONFLICT (channel, external_id) DO NOTHING RETURNING id"
)
_ORDER_TYPES = (
    bindparam("total", type_=Numeric(14, 2)),
    bindparam("created_at", type_=t.UtcDateTime()),
    bindparam("ship_by", type_=t.UtcDateTime()),
)
INSERT_ORDER = text(_INSERT_ORDER).bindparams(*_ORDER_TYPES)
# The channel's cancellation of an order that waits for it (workflows.channel_verdicts): heard before the order came.
_CANCELLATION_WAITS = (
    "SELECT 1 FROM channel_order_events WHERE channel = :channel AND external_id = :external_id "
    "AND kind = 'cancelled' AND applied_at IS NULL"
)
CANCELLATION_WAITS = text(_CANCELLATION_WAITS)
# PostgreSQL: the same INSERT answering, in the same trip, whether a cancellation waits for the order. Its snapshot is
# taken when it begins, after the order's lock was held (workflows.orders), so it sees a cancellation told before.
INSERT_ORDER_PG = text(
    "".join((_INSERT_ORDER, ", EXISTS (", _CANCELLATION_WAITS, ") AS cancellation_waits"))
).bindparams(*_ORDER_TYPES)

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

# PostgreSQL: an order's lines and its events in one statement (one trip to the server instead of two), whatever
# their number: each column goes as an array. The events' ids follow the arrays' order, as their history reads.
INSERT_LINES_AND_EVENTS = text(
    "WITH lines AS (INSERT INTO order_lines (order_id, line_no, sku, qty, status, warehouse) "
    "SELECT CAST(:order_id AS BIGINT), * FROM unnest(CAST(:line_nos AS INTEGER[]), CAST(:skus AS VARCHAR[]), "
    "CAST(:qtys AS INTEGER[]), CAST(:statuses AS VARCHAR[]), CAST(:warehouses AS VARCHAR[]))) "
    "INSERT INTO order_events (order_id, at, kind, detail) "
    "SELECT CAST(:order_id AS BIGINT), e.at, e.kind, e.detail FROM unnest(CAST(:ats AS TIMESTAMPTZ[]), "
    "CAST(:kinds AS VARCHAR[]), CAST(:details AS JSON[])) WITH ORDINALITY AS e(at, kind, detail, n) ORDER BY e.n"
)

# PostgreSQL: take the stock and make the reservation (as TAKE_AND_RESERVE) or, when the free stock is short, answer
# every warehouse's free units of the SKU — what routing reads next — in the same trip. The free units are as of the
# statement's start: a skipped warehouse is one that was short a moment ago, as workflows.ledger.free_stock says.
TAKE_ELSE_FREE = text(
    "WITH taken AS (UPDATE stock_levels SET reserved = reserved + CAST(:b_qty AS INTEGER) "
    "WHERE sku = CAST(:b_sku AS VARCHAR) AND warehouse = CAST(:b_warehouse AS VARCHAR) "
    "AND on_hand - reserved >= CAST(:b_qty AS INTEGER) AND suspect_since IS NULL RETURNING sku), "
    "made AS (INSERT INTO reservations (order_id, line_no, sku, warehouse, qty, state, created_at) "
    "SELECT CAST(:order_id AS BIGINT), CAST(:line_no AS INTEGER), CAST(:b_sku AS VARCHAR), "
    "CAST(:b_warehouse AS VARCHAR), CAST(:b_qty AS INTEGER), CAST(:state AS VARCHAR), :created_at FROM taken "
    "RETURNING id) "
    "SELECT id, NULL AS warehouse, 0 AS free FROM made "
    "UNION ALL SELECT NULL, warehouse, CASE WHEN suspect_since IS NOT NULL THEN 0 "
    "ELSE GREATEST(0, on_hand - reserved) END FROM stock_levels "
    "WHERE sku = CAST(:b_sku AS VARCHAR) AND NOT EXISTS (SELECT 1 FROM made)"
).bindparams(bindparam("created_at", type_=t.UtcDateTime()))
