"""Reservations per second, ours beside the raw driver doing the same statements.

*Ours* is the real stack: ``storage.database.open_database`` + migrations +
``SqlUnitOfWorkFactory`` + ``Ledger`` + ``OrderDesk``. Two operations are timed:

- the bare reservation unit of work: ``reservations.take(Reservation(...))`` and commit, one
  transaction (``take`` is the port's conditional UPDATE of ``stock_levels`` plus the INSERT of
  the reservation; every reservation hangs on one anchor order made with ``OrderDesk.place``);
- full order intake, ``OrderDesk.place`` of a one-line order.

*Raw* runs the same SQL in one transaction with the driver alone: stdlib ``sqlite3``
(sequential, it is synchronous), ``aiosqlite`` (sequential awaits) and an ``asyncpg`` pool. The
raw SQLite baselines use their own file made by the same migration and the same pragmas. On
PostgreSQL there are two raw reservations: the UPDATE then the INSERT (two round trips), and the
single statement ours sends (the UPDATE in a CTE feeding the INSERT); the target is checked
against the latter, the same SQL as ours, and the ratio to the former is reported too.

After every run the books are audited: no ``reserved`` above ``on_hand`` (oversell), and the
successful reservations = the sum of ``reserved`` = the reservation rows. A scarce case (few
units, many concurrent attempts) checks that exactly the units on hand are sold.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import aiosqlite
import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import (
    BUSY_TIMEOUT_MS,
    Json,
    PgDatabase,
    PgProbe,
    UtcClock,
    load_average,
    machine_facts,
    median,
    migrated_pg,
    migrated_sqlite,
    raw_sqlite,
    sqlite_pragmas,
    sqlite_timestamp,
    temporary_pg_database,
    topology,
    variant_database,
)
from storage.database import Database
from storage.uow import SqlUnitOfWorkFactory
from workflows.ledger import Ledger
from workflows.model import LineStatus, Reservation, ReservationState, StockFigure
from workflows.orders import LineRequest, OrderDesk, PlaceOrder
from workflows.ports import UnitOfWorkFactory

TARGET_RATIO = 0.35
WAREHOUSE = "online"
CHANNEL = "site"
PLENTY = 1_000_000  # units per SKU in the throughput runs: stock never runs out there
ANCHOR_SKU = "BENCH-ANCHOR"  # not stocked: the anchor order reserves nothing
SCARCE_BARE = "SCARCE-UOW"
SCARCE_ORDERS = "SCARCE-ORDERS"


@dataclass(frozen=True)
class Sizes:
    attempts: int  # reservations per timed run
    orders: int  # orders per timed run
    warmup: int  # untimed attempts before each run (connections, statement caches)
    concurrency: tuple[int, ...]
    rounds: int  # each figure is the median of this many runs, raw and ours interleaved
    skus: int
    scarce_units: int
    scarce_attempts: int
    diagnostics: bool  # also time engine variants on PostgreSQL (not the product's settings)


FULL = Sizes(
    attempts=2000, orders=600, warmup=50, concurrency=(1, 16), rounds=3, skus=50,
    scarce_units=5, scarce_attempts=200, diagnostics=True,
)  # fmt: skip
QUICK = Sizes(
    attempts=200, orders=100, warmup=10, concurrency=(1, 16), rounds=1, skus=50,
    scarce_units=5, scarce_attempts=200, diagnostics=False,
)  # fmt: skip


def sku(n: int) -> str:
    return f"BENCH-{n:03d}"


# ------------------------------------------------------------------------------------------ SQL


SQLITE_RESERVE = (
    "UPDATE stock_levels SET reserved = reserved + ? WHERE sku = ? AND warehouse = ? AND on_hand - reserved >= ?"
)
SQLITE_ADD_RESERVATION = (
    "INSERT INTO reservations (order_id, line_no, sku, warehouse, qty, state, created_at) "
    "VALUES (?, ?, ?, ?, ?, 'active', ?) RETURNING id"
)
PG_RESERVE = (
    "UPDATE stock_levels SET reserved = reserved + $1 WHERE sku = $2 AND warehouse = $3 AND on_hand - reserved >= $4"
)
PG_ADD_RESERVATION = (
    "INSERT INTO reservations (order_id, line_no, sku, warehouse, qty, state, created_at) "
    "VALUES ($1, $2, $3, $4, $5, 'active', $6) RETURNING id"
)
PG_TAKE_CTE = (
    "WITH taken AS (UPDATE stock_levels SET reserved = reserved + $1"
    " WHERE sku = $2 AND warehouse = $3 AND on_hand - reserved >= $1 RETURNING sku)"
    " INSERT INTO reservations (order_id, line_no, sku, warehouse, qty, state, created_at)"
    " SELECT $4, $5, $2, $3, $1, 'active', $6 FROM taken RETURNING id"
)
# What OrderDesk.place runs for a new one-line order on SQLite: look for a cancellation heard before the order,
# insert the order (ON CONFLICT DO NOTHING, RETURNING id), take the stock and record the reservation, insert the line
# with its final status, then both events in one executemany.
# ``*_STATEMENTS`` count what ours shows as statements, transaction control (BEGIN) left out; the results put
# ours' count beside it, so a change in place() that this copy misses shows up there.
HEARD_CANCELLATION = (
    "SELECT channel, external_id, kind, at, reason, heard_at, order_id, applied_at FROM channel_order_events "
    "WHERE channel = {0} AND external_id = {1} AND kind = 'cancelled'"
)
SQLITE_ORDER = {
    "heard": HEARD_CANCELLATION.format("?", "?"),
    "order": (
        "INSERT INTO orders (channel, external_id, customer_name, customer_phone, customer_email, total, currency, "
        "created_at, ship_by, external_key, phone_key) VALUES (?, ?, '', '', '', NULL, 'RUB', ?, NULL, ?, NULL) "
        "ON CONFLICT (channel, external_id) DO NOTHING RETURNING id"
    ),
    "line": "INSERT INTO order_lines (order_id, line_no, sku, qty, status, warehouse) VALUES (?, 1, ?, 1, ?, ?)",
    "events": "INSERT INTO order_events (order_id, at, kind, detail) VALUES (?, ?, ?, ?)",
}
SQLITE_ORDER_STATEMENTS = 6
SQLITE_RESERVE_STATEMENTS = (2,)  # UPDATE, INSERT
# PostgreSQL's place() sends fewer statements (docs/reservations.md, "An order's trips"): the order's INSERT answers
# whether a cancellation waits for it, the take answers the free stock when it takes nothing, and the lines and
# events go in one statement, each column an array.
PG_ORDER = {
    "lock": "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
    "order": (
        "INSERT INTO orders (channel, external_id, customer_name, customer_phone, customer_email, total, currency, "
        "created_at, ship_by, external_key, phone_key) VALUES ($1, $2, '', '', '', NULL, 'RUB', $3, NULL, $2, NULL) "
        "ON CONFLICT (channel, external_id) DO NOTHING RETURNING id, EXISTS (SELECT 1 FROM channel_order_events "
        "WHERE channel = $1 AND external_id = $2 AND kind = 'cancelled' AND applied_at IS NULL)"
    ),
    "take_else_free": (
        "WITH taken AS (UPDATE stock_levels SET reserved = reserved + $1 WHERE sku = $2 AND warehouse = $3"
        " AND on_hand - reserved >= $1 AND suspect_since IS NULL RETURNING sku),"
        " made AS (INSERT INTO reservations (order_id, line_no, sku, warehouse, qty, state, created_at)"
        " SELECT $4, $5, $2, $3, $1, 'active', $6 FROM taken RETURNING id)"
        " SELECT id, NULL, 0 FROM made UNION ALL SELECT NULL, warehouse, CASE WHEN suspect_since IS NOT NULL THEN 0"
        " ELSE GREATEST(0, on_hand - reserved) END FROM stock_levels WHERE sku = $2 AND NOT EXISTS (SELECT 1 FROM made)"
    ),
    "lines_and_events": (
        "WITH lines AS (INSERT INTO order_lines (order_id, line_no, sku, qty, status, warehouse)"
        " SELECT $1::bigint, * FROM unnest($2::integer[], $3::varchar[], $4::integer[], $5::varchar[],"
        " $6::varchar[]))"
        " INSERT INTO order_events (order_id, at, kind, detail) SELECT $1::bigint, e.at, e.kind, e.detail"
        " FROM unnest($7::timestamptz[], $8::varchar[], $9::json[]) WITH ORDINALITY AS e(at, kind, detail, n)"
        " ORDER BY e.n"
    ),
}
PG_ORDER_STATEMENTS = 4
PG_RESERVE_STATEMENTS = (2, 1)  # UPDATE + INSERT, or the CTE (asyncpg's BEGIN/COMMIT are no cursor statements)


def _order_events(ok: bool, name: str) -> list[tuple[str, str]]:
    """(kind, JSON detail) of the two events place() writes for a one-line order."""
    if ok:
        outcome = ("reserved", json.dumps({"line": 1, "sku": name, "qty": 1, "warehouse": WAREHOUSE}))
    else:
        outcome = ("out_of_stock", json.dumps({"line": 1, "sku": name, "qty": 1}))
    return [("received", json.dumps({"channel": CHANNEL, "lines": 1})), outcome]


RESET = [
    "DELETE FROM reservations",
    "DELETE FROM order_events WHERE order_id <> {anchor}",
    "DELETE FROM order_lines WHERE order_id <> {anchor}",
    "DELETE FROM orders WHERE id <> {anchor}",
    "UPDATE stock_levels SET reserved = 0",
]
AUDIT_STOCK = (
    "SELECT COALESCE(SUM(reserved), 0),"
    " COALESCE(SUM(CASE WHEN reserved > on_hand THEN reserved - on_hand ELSE 0 END), 0),"
    " COALESCE(SUM(CASE WHEN reserved > on_hand THEN 1 ELSE 0 END), 0) FROM stock_levels"
)
AUDIT_RESERVATIONS = "SELECT COUNT(*), COALESCE(SUM(qty), 0) FROM reservations WHERE state = 'active'"


# ------------------------------------------------------------------------------------------ audit


@dataclass(frozen=True)
class Audit:
    """The books after a run. ``oversell`` is the units reserved beyond ``on_hand``, summed."""

    successes: int
    reserved_total: int
    reservation_rows: int
    reservation_units: int
    rows_over: int
    oversell: int

    @property
    def consistent(self) -> bool:
        return self.successes == self.reserved_total == self.reservation_rows == self.reservation_units

    @property
    def ok(self) -> bool:
        return self.oversell == 0 and self.consistent

    def as_json(self) -> Json:
        return {**asdict(self), "consistent": self.consistent, "ok": self.ok}


class Books(Protocol):
    """Direct access to one database for resetting and auditing between runs (not timed)."""

    async def reset(self, anchor: int) -> None: ...

    async def audit(self, successes: int) -> Audit: ...


class SqliteBooks:
    def __init__(self, path: Path) -> None:
        self._connection = raw_sqlite(path, "NORMAL")

    async def reset(self, anchor: int) -> None:
        self._connection.execute("BEGIN IMMEDIATE")
        for statement in RESET:
            self._connection.execute(statement.format(anchor=int(anchor)))
        self._connection.execute("COMMIT")
        self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def audit(self, successes: int) -> Audit:
        reserved, over_units, over_rows = self._connection.execute(AUDIT_STOCK).fetchone()
        rows, units = self._connection.execute(AUDIT_RESERVATIONS).fetchone()
        return Audit(successes, int(reserved), int(rows), int(units), int(over_rows), int(over_units))

    def close(self) -> None:
        self._connection.close()


class PgBooks:
    def __init__(self, connection: Any) -> None:
        self._connection = connection

    @classmethod
    async def open(cls, dsn: str) -> PgBooks:
        return cls(await asyncpg.connect(dsn))

    async def reset(self, anchor: int) -> None:
        async with self._connection.transaction():
            for statement in RESET:
                await self._connection.execute(statement.format(anchor=int(anchor)))
        await self._connection.execute("VACUUM ANALYZE stock_levels, reservations, orders, order_lines, order_events")

    async def audit(self, successes: int) -> Audit:
        reserved, over_units, over_rows = await self._connection.fetchrow(AUDIT_STOCK)
        rows, units = await self._connection.fetchrow(AUDIT_RESERVATIONS)
        return Audit(successes, int(reserved), int(rows), int(units), int(over_rows), int(over_units))

    async def close(self) -> None:
        await self._connection.close()


# ------------------------------------------------------------------------------------------ driving


Attempt = Callable[[int], Awaitable[bool]]


async def drive(attempts: int, concurrency: int, attempt: Attempt, offset: int = 0) -> tuple[int, float]:
    """``attempts`` calls of ``attempt(i)`` by ``concurrency`` workers; (successes, seconds)."""
    counter = itertools.count()
    succeeded = 0

    async def worker() -> None:
        nonlocal succeeded
        while (i := next(counter)) < attempts:
            if await attempt(offset + i):
                succeeded += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return succeeded, time.perf_counter() - started


@dataclass
class EngineCounters:
    """New DBAPI connections and statements seen by an engine (observed with events, not changed)."""

    connects: int = 0
    statements: int = 0

    def watch(self, engine: AsyncEngine) -> None:
        def on_connect(*_: object) -> None:
            self.connects += 1

        def on_execute(_connection: object, _cursor: object, statement: str, *_: object) -> None:
            if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK")):
                self.statements += 1  # the work, not its transaction's control (group commit shares that)

        event.listen(engine.sync_engine, "connect", on_connect)
        event.listen(engine.sync_engine, "after_cursor_execute", on_execute)

    def snapshot(self) -> tuple[int, int]:
        return self.connects, self.statements


@dataclass
class Series:
    """Repeated runs of one measurement; the figure is the median."""

    driver: str
    operation: str
    concurrency: int
    runs: list[Json] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return median([run["per_second"] for run in self.runs]) if self.runs else 0.0

    @property
    def cpu_ms_per_attempt(self) -> float | None:
        cpu = [run["bench_process_cpu_ms_per_attempt"] for run in self.runs]
        return round(median(cpu), 3) if cpu else None

    @property
    def oversell(self) -> int:
        return sum(int(run["audit"]["oversell"]) for run in self.runs)

    @property
    def audits_ok(self) -> bool:
        return all(run["audit"]["ok"] for run in self.runs)

    def as_json(self) -> Json:
        return {
            "driver": self.driver,
            "operation": self.operation,
            "concurrency": self.concurrency,
            "per_second_median": round(self.per_second, 1),
            "per_second_runs": [run["per_second"] for run in self.runs],
            "cpu_ms_per_attempt_median": self.cpu_ms_per_attempt,
            "oversell": self.oversell,
            "audits_ok": self.audits_ok,
            "runs": self.runs,
        }


async def measure(
    series: Series,
    books: Books,
    anchor: int,
    attempts: int,
    warmup: int,
    attempt: Attempt,
    counters: EngineCounters | None = None,
) -> None:
    """Reset, warm up, time ``attempts`` attempts, audit; append the run to ``series``."""
    await books.reset(anchor)
    warm_ok, _ = await drive(warmup, series.concurrency, attempt, offset=10_000_000)
    before = counters.snapshot() if counters else (0, 0)
    cpu = time.process_time()
    succeeded, seconds = await drive(attempts, series.concurrency, attempt)
    cpu = time.process_time() - cpu
    after = counters.snapshot() if counters else (0, 0)
    audit = await books.audit(warm_ok + succeeded)
    run: Json = {
        "attempts": attempts,
        "succeeded": succeeded,
        "seconds": round(seconds, 4),
        "per_second": round(attempts / seconds, 1),
        "bench_process_cpu_ms_per_attempt": round(cpu / attempts * 1000, 3),
        "audit": audit.as_json(),
        "load_average": load_average(),
    }
    if counters:
        run["new_connections"] = after[0] - before[0]
        run["statements_per_attempt"] = round((after[1] - before[1]) / attempts, 2)
    series.runs.append(run)


# ------------------------------------------------------------------------------------------ our stack


@dataclass
class Stack:
    database: Database
    uow: UnitOfWorkFactory
    ledger: Ledger
    desk: OrderDesk
    clock: UtcClock
    anchor: int
    counters: EngineCounters


async def build_stack(database: Database, sizes: Sizes) -> Stack:
    """The product's objects on ``database``, stock loaded through ``Ledger.apply_stock``."""
    counters = EngineCounters()
    counters.watch(database.engine)
    clock = UtcClock()
    shop = topology(stores=0, channels=1)
    uow = SqlUnitOfWorkFactory(database)
    ledger = Ledger(uow, shop, clock)
    desk = OrderDesk(uow, shop, clock, ledger)
    figures = [StockFigure(sku(n), WAREHOUSE, PLENTY) for n in range(sizes.skus)]
    figures += [StockFigure(name, WAREHOUSE, sizes.scarce_units) for name in (SCARCE_BARE, SCARCE_ORDERS)]
    await ledger.apply_stock(clock.now(), figures)
    intake = await desk.place(PlaceOrder(CHANNEL, "bench-anchor", [LineRequest(ANCHOR_SKU, 1)]))
    assert intake.order.id is not None
    return Stack(database, uow, ledger, desk, clock, intake.order.id, counters)


def ours_reserve(stack: Stack, skus: int, fixed_sku: str | None = None) -> Attempt:
    async def attempt(i: int) -> bool:
        name = fixed_sku or sku(i % skus)
        reservation = Reservation(None, stack.anchor, 1, name, WAREHOUSE, 1, ReservationState.ACTIVE, stack.clock.now())
        async with stack.uow() as u:
            ok = await u.reservations.take(reservation)
            await u.commit()
        return ok

    return attempt


def ours_place(stack: Stack, skus: int, prefix: str, fixed_sku: str | None = None) -> Attempt:
    async def attempt(i: int) -> bool:
        name = fixed_sku or sku(i % skus)
        intake = await stack.desk.place(PlaceOrder(CHANNEL, f"{prefix}-{i}", [LineRequest(name, 1)]))
        return intake.order.lines[0].status == LineStatus.RESERVED

    return attempt


# ------------------------------------------------------------------------------------------ raw SQLite


def load_raw_sqlite(connection: sqlite3.Connection, sizes: Sizes) -> int:
    """Stock rows as the ledger writes them and an anchor order; returns the anchor's id."""
    now = sqlite_timestamp(datetime.now(UTC))
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany(
        "INSERT INTO stock_levels (sku, warehouse, on_hand, reserved, as_of) VALUES (?, ?, ?, 0, ?)",
        [(sku(n), WAREHOUSE, PLENTY, now) for n in range(sizes.skus)],
    )
    (anchor,) = connection.execute(SQLITE_ORDER["order"], (CHANNEL, "bench-anchor", now, "bench-anchor")).fetchone()
    connection.execute("COMMIT")
    return int(anchor)


def sqlite3_reserve(connection: sqlite3.Connection, anchor: int, skus: int) -> Attempt:
    """Synchronous on purpose: awaiting it never yields, so it runs as a plain sequential loop."""

    async def attempt(i: int) -> bool:
        name = sku(i % skus)
        connection.execute("BEGIN IMMEDIATE")
        ok = connection.execute(SQLITE_RESERVE, (1, name, WAREHOUSE, 1)).rowcount == 1
        if ok:
            connection.execute(
                SQLITE_ADD_RESERVATION, (anchor, 1, name, WAREHOUSE, 1, sqlite_timestamp(datetime.now(UTC)))
            ).fetchone()
        connection.execute("COMMIT")
        return ok

    return attempt


def sqlite3_place(connection: sqlite3.Connection, skus: int, prefix: str) -> Attempt:
    async def attempt(i: int) -> bool:
        name, external_id = sku(i % skus), f"{prefix}-{i}"
        now = sqlite_timestamp(datetime.now(UTC))
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(SQLITE_ORDER["heard"], (CHANNEL, external_id)).fetchall()
        (order_id,) = connection.execute(SQLITE_ORDER["order"], (CHANNEL, external_id, now, external_id)).fetchone()
        ok = connection.execute(SQLITE_RESERVE, (1, name, WAREHOUSE, 1)).rowcount == 1
        if ok:
            connection.execute(SQLITE_ADD_RESERVATION, (order_id, 1, name, WAREHOUSE, 1, now)).fetchone()
        status, warehouse = ("reserved", WAREHOUSE) if ok else ("out_of_stock", None)
        connection.execute(SQLITE_ORDER["line"], (order_id, name, status, warehouse))
        events = [(order_id, now, kind, detail) for kind, detail in _order_events(ok, name)]
        connection.executemany(SQLITE_ORDER["events"], events)
        connection.execute("COMMIT")
        return ok

    return attempt


async def open_aiosqlite(path: Path, synchronous: str) -> aiosqlite.Connection:
    connection = await aiosqlite.connect(path, isolation_level=None)
    for pragma in sqlite_pragmas(synchronous):
        await connection.execute(pragma)
    return connection


def aiosqlite_reserve(connection: aiosqlite.Connection, anchor: int, skus: int) -> Attempt:
    async def attempt(i: int) -> bool:
        name = sku(i % skus)
        await connection.execute("BEGIN IMMEDIATE")
        cursor = await connection.execute(SQLITE_RESERVE, (1, name, WAREHOUSE, 1))
        ok = cursor.rowcount == 1
        if ok:
            await connection.execute_fetchall(  # one thread hop for execute + fetch
                SQLITE_ADD_RESERVATION, (anchor, 1, name, WAREHOUSE, 1, sqlite_timestamp(datetime.now(UTC)))
            )
        await connection.execute("COMMIT")
        return ok

    return attempt


# ------------------------------------------------------------------------------------------ raw asyncpg


async def _no_reset(_connection: Any) -> None:
    """Pool release without asyncpg's reset query: SQLAlchemy's pool sends none after a commit
    either, so the baseline pays no round trip that ours does not."""


async def asyncpg_pool(dsn: str, size: int) -> Any:
    return await asyncpg.create_pool(dsn, min_size=size, max_size=size, reset=_no_reset)


def asyncpg_reserve(pool: Any, anchor: int, skus: int) -> Attempt:
    async def attempt(i: int) -> bool:
        name = sku(i % skus)
        async with pool.acquire() as connection, connection.transaction():
            ok = bool(await connection.execute(PG_RESERVE, 1, name, WAREHOUSE, 1) == "UPDATE 1")
            if ok:
                await connection.fetchval(PG_ADD_RESERVATION, anchor, 1, name, WAREHOUSE, 1, datetime.now(UTC))
        return ok

    return attempt


def asyncpg_take(pool: Any, anchor: int, skus: int) -> Attempt:
    """The reservation as one statement, as ours sends it on PostgreSQL."""

    async def attempt(i: int) -> bool:
        name = sku(i % skus)
        async with pool.acquire() as connection, connection.transaction():
            taken = await connection.fetchval(PG_TAKE_CTE, 1, name, WAREHOUSE, anchor, 1, datetime.now(UTC))
        return taken is not None

    return attempt


def asyncpg_place(pool: Any, skus: int, prefix: str) -> Attempt:
    async def attempt(i: int) -> bool:
        name, external_id = sku(i % skus), f"{prefix}-{i}"
        now = datetime.now(UTC)
        async with pool.acquire() as connection, connection.transaction():
            await connection.fetchval(PG_ORDER["lock"], f"channel-order:{CHANNEL}:{external_id}")
            order_id, _waits = await connection.fetchrow(PG_ORDER["order"], CHANNEL, external_id, now)
            rows = await connection.fetch(PG_ORDER["take_else_free"], 1, name, WAREHOUSE, order_id, 1, now)
            ok = bool(rows) and rows[0][0] is not None
            status, warehouse = ("reserved", WAREHOUSE) if ok else ("out_of_stock", None)
            events = _order_events(ok, name)
            await connection.execute(
                PG_ORDER["lines_and_events"], order_id, [1], [name], [1], [status], [warehouse],
                [now] * len(events), [kind for kind, _ in events], [detail for _, detail in events],
            )  # fmt: skip
        return ok

    return attempt


# ------------------------------------------------------------------------------------------ scarce case


async def scarce(stack: Stack, books: Books, sizes: Sizes) -> Json:
    """``scarce_attempts`` concurrent attempts at ``scarce_units`` units: exactly that many win."""
    found: Json = {"units": sizes.scarce_units, "attempts": sizes.scarce_attempts}
    cases: list[tuple[str, Attempt]] = [
        ("unit_of_work", ours_reserve(stack, sizes.skus, fixed_sku=SCARCE_BARE)),
        ("order_desk_place", ours_place(stack, sizes.skus, "scarce", fixed_sku=SCARCE_ORDERS)),
    ]
    for name, attempt in cases:
        await books.reset(stack.anchor)
        results = await asyncio.gather(*(attempt(i) for i in range(sizes.scarce_attempts)))
        succeeded = sum(results)
        audit = await books.audit(succeeded)
        found[name] = {
            "succeeded": succeeded,
            "refused": len(results) - succeeded,
            "exact": succeeded == sizes.scarce_units,
            "oversell": audit.oversell,
            "audit": audit.as_json(),
        }
    return found


# ------------------------------------------------------------------------------------------ SQLite


async def sqlite_part(sizes: Sizes, synchronous: str, folder: Path) -> Json:
    ours_path, raw_path = folder / f"ours-{synchronous}.db", folder / f"raw-{synchronous}.db"
    stack = await build_stack(await migrated_sqlite(ours_path, synchronous), sizes)
    await (await migrated_sqlite(raw_path, synchronous)).dispose()  # the raw file: same migration
    raw = raw_sqlite(raw_path, synchronous)
    raw_anchor = load_raw_sqlite(raw, sizes)
    aio = await open_aiosqlite(raw_path, synchronous)
    ours_books, raw_books = SqliteBooks(ours_path), SqliteBooks(raw_path)
    ours_driver = "storeops (SQLAlchemy + aiosqlite)"
    reserve: dict[str, Series] = {
        "raw_sqlite3": Series("sqlite3 (stdlib), sequential", "reserve", 1),
        "raw_aiosqlite": Series("aiosqlite, sequential awaits (4 thread hops)", "reserve", 1),
    }
    reserve |= {f"ours_c{c}": Series(ours_driver, "reserve", c) for c in sizes.concurrency}
    orders: dict[str, Series] = {"raw_sqlite3": Series("sqlite3 (stdlib), sequential", "place", 1)}
    orders |= {f"ours_c{c}": Series(ours_driver, "place", c) for c in sizes.concurrency}
    try:
        for round_no in range(sizes.rounds):
            await measure(reserve["raw_sqlite3"], raw_books, raw_anchor, sizes.attempts, sizes.warmup,
                          sqlite3_reserve(raw, raw_anchor, sizes.skus))  # fmt: skip
            await measure(reserve["raw_aiosqlite"], raw_books, raw_anchor, sizes.attempts, sizes.warmup,
                          aiosqlite_reserve(aio, raw_anchor, sizes.skus))  # fmt: skip
            for c in sizes.concurrency:
                await measure(reserve[f"ours_c{c}"], ours_books, stack.anchor, sizes.attempts, sizes.warmup,
                              ours_reserve(stack, sizes.skus), stack.counters)  # fmt: skip
            await measure(orders["raw_sqlite3"], raw_books, raw_anchor, sizes.orders, sizes.warmup,
                          sqlite3_place(raw, sizes.skus, f"raw-{round_no}"))  # fmt: skip
            for c in sizes.concurrency:
                await measure(orders[f"ours_c{c}"], ours_books, stack.anchor, sizes.orders, sizes.warmup,
                              ours_place(stack, sizes.skus, f"ours-{round_no}-c{c}"), stack.counters)  # fmt: skip
        scarce_case = await scarce(stack, ours_books, sizes)
        writers = stack.database.writers
        group_commit: Json = {
            "batches": writers.batches if writers else None,
            "writers_kept": writers.kept if writers else None,
            "writers_per_batch": round(writers.kept / writers.batches, 2) if writers and writers.batches else None,
        }
    finally:
        await aio.close()
        raw.close()
        ours_books.close()
        raw_books.close()
        await stack.database.dispose()
    return {
        "synchronous": synchronous,
        "pragmas": sqlite_pragmas(synchronous),
        "transaction": "BEGIN IMMEDIATE ... COMMIT (ours: storage.database's begin hook; raw: explicit)",
        "reserve": {key: series.as_json() for key, series in reserve.items()},
        "place": {key: series.as_json() for key, series in orders.items()},
        "scarce": scarce_case,
        "ratios": ratios(reserve, orders, {f"ours_c{c}": "raw_sqlite3" for c in sizes.concurrency}, "raw_sqlite3"),
        "statements": statement_check(reserve, orders, SQLITE_RESERVE_STATEMENTS, SQLITE_ORDER_STATEMENTS),
        "group_commit": group_commit,
        "extra_ratios_vs_aiosqlite": {
            f"ours_c{c}": _ratio(reserve[f"ours_c{c}"], reserve["raw_aiosqlite"]) for c in sizes.concurrency
        },
    }


def statement_check(
    reserve: dict[str, Series], orders: dict[str, Series], raw_reserve: tuple[int, ...], raw_place: int
) -> Json:
    """Statements per attempt that ours ran (observed on its engine) beside the raw copy's count:
    a mismatch means the product changed and the raw baseline no longer does the same work."""
    ours_reserve = sorted(
        {run["statements_per_attempt"] for key, s in reserve.items() if key.startswith("ours") for run in s.runs}
    )
    ours_place = sorted(
        {run["statements_per_attempt"] for key, s in orders.items() if key.startswith("ours") for run in s.runs}
    )
    return {
        "reserve": {"ours": ours_reserve, "raw": raw_reserve},
        "place": {"ours": ours_place, "raw": raw_place},
        "match": len(ours_reserve) == 1 and ours_reserve[0] in raw_reserve and ours_place == [raw_place],
    }


def _ratio(ours: Series, raw: Series) -> float:
    """Median over rounds of ours / raw in the same round. The runs of one round follow each
    other, so other load on the machine (which drifts) weighs on both sides of each ratio."""
    paired = [a["per_second"] / b["per_second"] for a, b in zip(ours.runs, raw.runs, strict=True) if b["per_second"]]
    return round(median(paired), 3) if paired else 0.0


def ratios(reserve: dict[str, Series], orders: dict[str, Series], pairs: dict[str, str], raw_place: str) -> Json:
    """ours / raw per pair ``{ours key: raw key}`` (for orders: ``raw_place`` with the same
    concurrency suffix, when it exists); the target holds when every reservation pair meets it."""
    reserve_ratios = {f"{ours} / {raw}": _ratio(reserve[ours], reserve[raw]) for ours, raw in pairs.items()}
    order_pairs = {ours: raw_place.format(c=orders[ours].concurrency) for ours in pairs}
    order_ratios = {
        f"{ours} / {raw}": _ratio(orders[ours], orders[raw]) for ours, raw in order_pairs.items() if raw in orders
    }
    worst = min(reserve_ratios.values())
    return {
        "reserve": reserve_ratios,
        "place": order_ratios,
        "target": TARGET_RATIO,
        "worst_reserve_ratio": worst,
        "target_met": worst >= TARGET_RATIO,
    }


# ------------------------------------------------------------------------------------------ PostgreSQL


def engine_settings(database: Database) -> Json:
    """The pool settings the product's engine really has (observed, so the record stays true
    when storage/database.py changes)."""
    pool = database.engine.pool
    size = getattr(pool, "size", None)
    return {
        "pool": type(pool).__name__,
        "pool_size": size() if callable(size) else None,
        "max_overflow": getattr(pool, "_max_overflow", None),
        "pre_ping": getattr(pool, "_pre_ping", None),
    }


async def pg_part(sizes: Sizes, target: PgDatabase) -> Json:
    stack = await build_stack(await migrated_pg(target), sizes)
    books = await PgBooks.open(target.dsn)
    ours_driver = "storeops (SQLAlchemy + asyncpg)"
    raw_driver = "asyncpg pool (no reset query on release)"
    reserve: dict[str, Series] = {}
    orders: dict[str, Series] = {}
    for c in sizes.concurrency:
        reserve[f"raw_asyncpg_c{c}"] = Series(f"{raw_driver}: UPDATE then INSERT", "reserve", c)
        reserve[f"raw_asyncpg_cte_c{c}"] = Series(f"{raw_driver}: one statement (CTE), as ours", "reserve", c)
        reserve[f"ours_c{c}"] = Series(ours_driver, "reserve", c)
        orders[f"raw_asyncpg_c{c}"] = Series(raw_driver, "place", c)
        orders[f"ours_c{c}"] = Series(ours_driver, "place", c)
    diagnostics: Json = {}
    try:
        for round_no in range(sizes.rounds):
            for c in sizes.concurrency:
                pool = await asyncpg_pool(target.dsn, c)
                try:
                    await measure(reserve[f"raw_asyncpg_c{c}"], books, stack.anchor, sizes.attempts, sizes.warmup,
                                  asyncpg_reserve(pool, stack.anchor, sizes.skus))  # fmt: skip
                    await measure(reserve[f"raw_asyncpg_cte_c{c}"], books, stack.anchor, sizes.attempts, sizes.warmup,
                                  asyncpg_take(pool, stack.anchor, sizes.skus))  # fmt: skip
                    await measure(orders[f"raw_asyncpg_c{c}"], books, stack.anchor, sizes.orders, sizes.warmup,
                                  asyncpg_place(pool, sizes.skus, f"raw-{round_no}-c{c}"))  # fmt: skip
                finally:
                    await pool.close()
                await measure(reserve[f"ours_c{c}"], books, stack.anchor, sizes.attempts, sizes.warmup,
                              ours_reserve(stack, sizes.skus), stack.counters)  # fmt: skip
                await measure(orders[f"ours_c{c}"], books, stack.anchor, sizes.orders, sizes.warmup,
                              ours_place(stack, sizes.skus, f"ours-{round_no}-c{c}"), stack.counters)  # fmt: skip
        if sizes.diagnostics:
            diagnostics = await pg_diagnostics(sizes, target, stack.anchor, books)
        scarce_case = await scarce(stack, books, sizes)
        settings = engine_settings(stack.database)
    finally:
        await books.close()
        await stack.database.dispose()
    return {
        "database": "temporary, created and dropped by the bench; raw and ours share it, reset between runs",
        "engine": {"ours": settings, "raw": "asyncpg.create_pool(min_size=C, max_size=C), no reset on release"},
        "reserve": {key: series.as_json() for key, series in reserve.items()},
        "place": {key: series.as_json() for key, series in orders.items()},
        "scarce": scarce_case,
        "ratios": ratios(
            reserve, orders, {f"ours_c{c}": f"raw_asyncpg_cte_c{c}" for c in sizes.concurrency}, "raw_asyncpg_c{c}"
        ),
        "extra_ratios_vs_two_statements": {
            f"ours_c{c}": _ratio(reserve[f"ours_c{c}"], reserve[f"raw_asyncpg_c{c}"]) for c in sizes.concurrency
        },
        "statements": statement_check(reserve, orders, PG_RESERVE_STATEMENTS, PG_ORDER_STATEMENTS),
        "diagnostics": diagnostics,
    }


async def pg_diagnostics(sizes: Sizes, target: PgDatabase, anchor: int, books: Books) -> Json:
    """The bare reservation on engine variants of storage.database, to show what its settings
    cost. These are NOT necessarily the product's settings (see ``engine.ours``)."""
    top = max(sizes.concurrency)
    found: Json = {"note": "bare reservation unit of work on engine variants (not product settings)"}
    variants: list[tuple[str, int, bool, tuple[int, ...]]] = [
        ("pool_size=10, pre_ping=True", 10, True, sizes.concurrency),
        ("pool_size=10, pre_ping=False", 10, False, sizes.concurrency),
        (f"pool_size={max(10, top)}, pre_ping=False", max(10, top), False, (top,)),
    ]
    for label, pool_size, pre_ping, levels in variants:
        database = variant_database(target.url, pool_size=pool_size, pre_ping=pre_ping)
        try:
            variant = await build_variant(database, anchor)
            for c in levels:
                series = Series(f"storeops engine variant: {label}", "reserve", c)
                for _ in range(sizes.rounds):
                    await measure(series, books, anchor, sizes.attempts, sizes.warmup,
                                  ours_reserve(variant, sizes.skus), variant.counters)  # fmt: skip
                found[f"{label}, C={c}"] = series.as_json()
        finally:
            await database.dispose()
    return found


async def build_variant(database: Database, anchor: int) -> Stack:
    """A stack on an already loaded database (no stock loading, the given anchor)."""
    counters = EngineCounters()
    counters.watch(database.engine)
    clock = UtcClock()
    shop = topology(stores=0, channels=1)
    uow = SqlUnitOfWorkFactory(database)
    ledger = Ledger(uow, shop, clock)
    return Stack(database, uow, ledger, OrderDesk(uow, shop, clock, ledger), clock, anchor, counters)


# ------------------------------------------------------------------------------------------ entry


async def run(quick: bool, probe: PgProbe, pg_url: str, log: Callable[[str], None]) -> Json:
    sizes = QUICK if quick else FULL
    started = time.perf_counter()
    result: Json = {
        "benchmark": "reservations",
        "quick": quick,
        "machine": machine_facts(probe.server_version),
        "parameters": {
            **asdict(sizes),
            "warehouse": WAREHOUSE,
            "units_per_sku": PLENTY,
            "busy_timeout_ms": BUSY_TIMEOUT_MS,
            "figure": "median per_second over rounds; per_second = timed attempts / wall seconds",
            "cpu": "bench_process_cpu_ms_per_attempt: CPU of this process (all threads; not the PostgreSQL server)",
            "ratio": "median over rounds of ours / raw of the same round (runs of a round are back to back)",
            "target_ratio": TARGET_RATIO,
            "audit": "after each run, over the whole database; successes include the run's warm-up attempts",
        },
    }
    sqlite: Json = {}
    with tempfile.TemporaryDirectory(prefix="storeops-bench-") as folder:
        result["parameters"]["sqlite_folder"] = folder
        for synchronous in ("FULL", "NORMAL"):
            log(f"reservations: SQLite synchronous={synchronous}")
            sqlite[synchronous] = await sqlite_part(sizes, synchronous, Path(folder))
    result["sqlite"] = sqlite
    if probe.available:
        log(f"reservations: PostgreSQL {probe.server_version}")
        async with temporary_pg_database(pg_url) as target:
            result["postgres"] = {"skipped": False, "temporary_database": target.name, **await pg_part(sizes, target)}
    else:
        log(f"reservations: PostgreSQL skipped: {probe.reason}")
        result["postgres"] = {"skipped": True, "reason": probe.reason}
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["summary"] = summary(result)
    return result


def summary(result: Json) -> Json:
    found: Json = {}
    for synchronous, part in result["sqlite"].items():
        found[f"sqlite_{synchronous.lower()}"] = _part_summary(part)
    postgres = result["postgres"]
    if postgres["skipped"]:
        found["postgres"] = {"skipped": True, "reason": postgres["reason"]}
    else:
        found["postgres"] = _part_summary(postgres)
        found["postgres_engine_variants_reserve_per_s"] = {
            key: value["per_second_median"] for key, value in postgres["diagnostics"].items() if isinstance(value, dict)
        }
    return found


def _part_summary(part: Json) -> Json:
    return {
        "reservations_per_s": {key: series["per_second_median"] for key, series in part["reserve"].items()},
        "reserve_cpu_ms_per_attempt": {
            key: series["cpu_ms_per_attempt_median"] for key, series in part["reserve"].items()
        },
        "orders_per_s": {key: series["per_second_median"] for key, series in part["place"].items()},
        "ratio_reserve": part["ratios"]["reserve"],
        "ratio_place": part["ratios"]["place"],
        "target_met": part["ratios"]["target_met"],
        "oversell": sum(s["oversell"] for s in [*part["reserve"].values(), *part["place"].values()])
        + sum(part["scarce"][case]["oversell"] for case in ("unit_of_work", "order_desk_place")),
        "audits_ok": all(s["audits_ok"] for s in [*part["reserve"].values(), *part["place"].values()]),
        "raw_does_same_statements": part["statements"]["match"],
        "scarce_succeeded": {case: part["scarce"][case]["succeeded"] for case in ("unit_of_work", "order_desk_place")},
        "scarce_exact": all(part["scarce"][case]["exact"] for case in ("unit_of_work", "order_desk_place")),
        **(
            {"ratio_reserve_vs_aiosqlite": part["extra_ratios_vs_aiosqlite"]}
            if "extra_ratios_vs_aiosqlite" in part
            else {"ratio_reserve_vs_two_statements": part["extra_ratios_vs_two_statements"]}
        ),
    }
