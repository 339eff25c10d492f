"""Writers at once: each keeps its own work or loses only its own. On SQLite they share transactions (group commit,
storage/group_commit.py); on PostgreSQL each has its own, and the same must hold."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError

from storage import sqlite_driver
from storage.database import Database, open_database
from storage.group_commit import BatchLost
from storage.migrate import migrate
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FakeClock
from workflows.errors import DuplicateOrder
from workflows.model import Customer, LineStatus, Order, OrderLine, Reservation, ReservationState, StockFigure

WRITERS = 12


def _order(external_id: str) -> Order:
    now = FakeClock().now()
    return Order(None, "site", external_id, Customer(), Decimal(1), "RUB", now, [], [])


class Boom(Exception):
    pass


async def _write(uow: SqlUnitOfWorkFactory, n: int, *, fail: str | None = None) -> str:
    """Store order ``w-n``; ``fail``: raise after writing it ("python"), or break a statement after it ("sql")."""
    async with uow() as work:
        await work.orders.add(_order(f"w-{n}"))
        if fail == "python":
            raise Boom(n)
        if fail == "sql":  # lines of an order that does not exist: the foreign key refuses them
            await work.orders.add_lines(10**9, [OrderLine(1, "IRON", 1, LineStatus.OUT_OF_STOCK)])
        await work.commit()
    return f"w-{n}"


async def _stored(database: Database) -> set[str]:
    async with SqlUnitOfWorkFactory(database)(read_only=True) as work:
        return {f"w-{n}" for n in range(WRITERS) if await work.orders.find("site", f"w-{n}") is not None}


@pytest.mark.parametrize("fail", ["python", "sql"])
async def test_a_failing_writer_loses_only_its_own_work(database: Database, fail: str) -> None:
    uow = SqlUnitOfWorkFactory(database)
    outcomes = await asyncio.gather(
        *(_write(uow, n, fail=fail if n in (3, 7) else None) for n in range(WRITERS)), return_exceptions=True
    )
    failed = {n for n, outcome in enumerate(outcomes) if isinstance(outcome, BaseException)}
    assert failed == {3, 7}
    assert all(isinstance(outcomes[n], Boom if fail == "python" else IntegrityError) for n in failed)
    assert await _stored(database) == {f"w-{n}" for n in range(WRITERS)} - {"w-3", "w-7"}
    if database.writers is not None:  # SQLite: they went in fewer transactions than writers
        assert database.writers.kept == WRITERS - 2
        assert database.writers.batches < WRITERS - 2


async def test_a_writer_that_left_sees_the_writers_before_it(database: Database) -> None:
    """The same order twice at once: the second sees the first's, committed, as soon as it has left."""
    uow = SqlUnitOfWorkFactory(database)

    async def place() -> str:
        try:
            await _write(uow, 1)
            return "taken"
        except DuplicateOrder:
            async with uow(read_only=True) as work:
                assert await work.orders.find("site", "w-1") is not None
            return "found"

    assert sorted(await asyncio.gather(*(place() for _ in range(6)))) == ["found"] * 5 + ["taken"]


def _next_commit_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's next COMMIT fails once with an I/O error; the ones after it commit."""
    failures = iter([sqlite3.OperationalError("disk I/O error")])
    real_commit = sqlite_driver._commit

    def failing_commit(connection: sqlite3.Connection, deferred: list[Any]) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        real_commit(connection, deferred)

    monkeypatch.setattr(sqlite_driver, "_commit", failing_commit)


async def test_a_failed_commit_fails_every_writer_of_its_batch(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nobody is told "done" for work that is not on disk (SQLite: the batch's COMMIT fails once)."""
    if database.writers is None:
        pytest.skip("group commit is SQLite's")
    _next_commit_fails(monkeypatch)
    outcomes = await asyncio.gather(*(_write(SqlUnitOfWorkFactory(database), n) for n in range(4)),
                                    return_exceptions=True)  # fmt: skip
    told = [n for n, outcome in enumerate(outcomes) if isinstance(outcome, DBAPIError)]
    kept = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert told and set(told) | {int(k[2:]) for k in kept} == {0, 1, 2, 3}
    assert await _stored(database) == set(kept)  # the first batch's writers lost it all, and were told
    assert await _write(SqlUnitOfWorkFactory(database), 9) == "w-9"  # the next batch commits


async def test_batches_one_after_another_keep_one_connection_and_a_failed_one_gives_it_up(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writers one at a time each make a batch: they share one open connection (no checkout and close per batch);
    a batch whose COMMIT failed leaves with its connection, and the next batch opens a fresh one."""
    if database.writers is None:
        pytest.skip("group commit is SQLite's")
    uow = SqlUnitOfWorkFactory(database)
    checkouts: list[object] = []
    event.listen(database.engine.sync_engine.pool, "checkout", lambda dbapi, *_: checkouts.append(dbapi))
    for n in range(3):
        assert await _write(uow, n) == f"w-{n}"
    assert len(checkouts) == 1
    _next_commit_fails(monkeypatch)
    with pytest.raises(DBAPIError):
        await _write(uow, 3)
    assert await _write(uow, 4) == "w-4"
    assert await _write(uow, 5) == "w-5"
    assert len(checkouts) == 2 and checkouts[1] is not checkouts[0]
    assert await _stored(database) == {"w-0", "w-1", "w-2", "w-4", "w-5"}


async def test_a_batch_whose_transaction_is_gone_tells_the_writers_before(database: Database) -> None:
    """SQLite rolls a whole transaction back on a full disk or an I/O error; the writers whose work was in it are
    told, and the writer after it starts a new batch (simulated: a writer ends the transaction itself)."""
    if database.writers is None:
        pytest.skip("group commit is SQLite's")
    uow = SqlUnitOfWorkFactory(database)
    first_in = asyncio.Event()

    async def first() -> str:
        async with uow() as work:
            await work.orders.add(_order("w-0"))
            first_in.set()
            await asyncio.sleep(0)  # the others queue behind it
            await work.commit()
        return "w-0"

    async def breaker() -> None:
        await first_in.wait()
        async with uow() as work:
            await work.orders.add(_order("w-1"))
            connection = work._connection
            assert connection is not None
            await connection.exec_driver_sql("ROLLBACK")  # what SQLite does itself on SQLITE_FULL
            raise Boom(1)

    async def after() -> str:
        await first_in.wait()
        await asyncio.sleep(0)
        return await _write(uow, 2)

    outcomes = await asyncio.gather(first(), breaker(), after(), return_exceptions=True)
    assert isinstance(outcomes[0], BatchLost)
    assert isinstance(outcomes[1], Boom)
    assert outcomes[2] == "w-2"
    assert await _stored(database) == {"w-2"}


async def test_a_writer_cancelled_while_waiting_holds_nobody_up(database: Database) -> None:
    uow = SqlUnitOfWorkFactory(database)
    release = asyncio.Event()

    async def holder() -> str:
        async with uow() as work:
            await work.orders.add(_order("w-0"))
            await release.wait()
            await work.commit()
        return "w-0"

    holding = asyncio.create_task(holder())
    await asyncio.sleep(0.05)
    waiting = [asyncio.create_task(_write(uow, n)) for n in (1, 2, 3)]
    await asyncio.sleep(0.05)
    waiting[1].cancel()  # gives up while queued (SQLite) or while waiting for its connection
    release.set()
    assert await holding == "w-0"
    assert [await waiting[0], await waiting[2]] == ["w-1", "w-3"]
    try:
        await waiting[1]
        cancelled = False
    except asyncio.CancelledError:
        cancelled = True
    assert cancelled or database.writers is None  # on PostgreSQL it may have been done already
    assert await _stored(database) == {"w-0", "w-1", "w-3"} | (set() if cancelled else {"w-2"})


async def _stock_and_anchor(uow: SqlUnitOfWorkFactory, units: int) -> int:
    """``units`` of IRON online, and an order to hang reservations on; the order's id."""
    async with uow() as work:
        await work.stock.save_figures([StockFigure("IRON", "online", units)], FakeClock().now())
        anchor = _order("anchor")
        await work.orders.add(anchor)
        await work.commit()
    assert anchor.id is not None
    return anchor.id


async def _reserve(uow: SqlUnitOfWorkFactory, order_id: int, line_no: int) -> bool:
    reservation = Reservation(None, order_id, line_no, "IRON", "online", 1, ReservationState.ACTIVE, FakeClock().now())
    async with uow() as work:
        taken = await work.reservations.take(reservation)
        await work.commit()
    return taken


async def test_takes_at_once_sell_exactly_what_is_on_hand(database: Database, monkeypatch: Any) -> None:
    """On SQLite a take runs on the event loop's thread: the first of a batch takes the write lock there (no other
    process holds it), the others hold it already. With ``synchronous=FULL`` only the COMMIT, which syncs, goes to
    the driver's thread, and the books come out as with one transaction each."""
    uow = SqlUnitOfWorkFactory(database)
    order_id = await _stock_and_anchor(uow, 5)
    batches_before = database.writers.batches if database.writers is not None else 0
    trips = _count_trips(monkeypatch)
    outcomes = await asyncio.gather(*(_reserve(uow, order_id, n) for n in range(1, WRITERS + 1)))
    trips_taken = trips.count
    assert sorted(outcomes) == [False] * (WRITERS - 5) + [True] * 5
    async with uow(read_only=True) as work:
        (level,) = await work.stock.for_sku("IRON")
        assert (level.on_hand, level.reserved) == (5, 5)
        taken = await work.reservations.for_order(order_id)
        assert sorted(r.line_no for r in taken) == [n for n, ok in enumerate(outcomes, 1) if ok]
    if database.writers is not None:
        batches = database.writers.batches - batches_before
        assert batches < WRITERS  # they shared transactions...
        assert trips_taken == batches  # ...and each batch paid one trip: its COMMIT


async def test_a_take_that_fails_on_the_loops_thread_loses_only_its_own_work(database: Database) -> None:
    """A reservation for an order that does not exist (the foreign key refuses it) fails as a statement does, with
    SQLAlchemy's IntegrityError, and the writers around it keep theirs."""
    uow = SqlUnitOfWorkFactory(database)
    order_id = await _stock_and_anchor(uow, 100)
    outcomes = await asyncio.gather(
        *(_reserve(uow, 10**9 if n == 4 else order_id, n) for n in range(1, WRITERS + 1)), return_exceptions=True
    )
    assert isinstance(outcomes[3], IntegrityError)
    assert [outcome for n, outcome in enumerate(outcomes, 1) if n != 4] == [True] * (WRITERS - 1)
    async with uow(read_only=True) as work:
        (level,) = await work.stock.for_sku("IRON")
        assert level.reserved == WRITERS - 1
        assert len(await work.reservations.for_order(order_id)) == WRITERS - 1


async def test_with_synchronous_normal_a_take_costs_no_trip(tmp_path: Path, monkeypatch: Any) -> None:
    """``synchronous=NORMAL`` in WAL mode: a COMMIT syncs nothing, so a transaction run wholly on the loop's thread
    commits there too and a reservation never goes to the driver's thread; what it wrote is there for a new
    connection."""
    database = open_database(f"sqlite+aiosqlite:///{tmp_path / 'normal.db'}", sqlite_synchronous="NORMAL")
    try:
        await migrate(database)
        uow = SqlUnitOfWorkFactory(database)
        order_id = await _stock_and_anchor(uow, 3)
        trips = _count_trips(monkeypatch)
        assert [await _reserve(uow, order_id, n) for n in range(1, 5)] == [True, True, True, False]
        assert trips.count == 0
        # a transaction that sent a statement to the thread may have written many pages (a 1C message): its COMMIT,
        # and the checkpoint it may run, go there too
        async with uow() as work:
            await work.stock.save_figures([StockFigure(f"BOLT-{n}", "online", n) for n in range(50)], FakeClock().now())
            await work.commit()
        assert trips.count == 2
    finally:
        await database.dispose()
    with contextlib.closing(sqlite3.connect(tmp_path / "normal.db")) as other:
        assert other.execute("SELECT on_hand, reserved FROM stock_levels WHERE sku = 'IRON'").fetchone() == (3, 3)
        assert other.execute("SELECT count(*) FROM reservations").fetchone() == (3,)


async def test_a_take_waits_for_another_process_writer_on_the_drivers_thread(database: Database) -> None:
    """Another process holds SQLite's write lock: the take's BEGIN IMMEDIATE, tried on the loop's thread with no
    busy timeout, is told "busy" at once and goes to the driver's thread to wait out the configured timeout there,
    the loop running meanwhile. It takes the unit once the other writer commits; the timeout is as configured."""
    if database.writers is None:
        pytest.skip("PostgreSQL has no single writer's lock")
    uow = SqlUnitOfWorkFactory(database)
    order_id = await _stock_and_anchor(uow, 1)
    path = database.engine.url.database
    assert path is not None
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        take = asyncio.create_task(_reserve(uow, order_id, 1))
        loop, longest = asyncio.get_running_loop(), 0.0
        for _ in range(20):  # the loop is free while the take waits: no step of it holds the loop for long
            before = loop.time()
            await asyncio.sleep(0.01)
            longest = max(longest, loop.time() - before)
        assert not take.done()
        assert longest < 5  # waiting for the lock on the loop's thread would hold it for the 30-s busy timeout
        other.execute("COMMIT")
    assert await asyncio.wait_for(take, 10) is True
    async with database.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection._conn  # type: ignore[union-attr]
        assert driver.execute("PRAGMA busy_timeout").fetchone() == (30_000,)
    async with uow(read_only=True) as work:
        (level,) = await work.stock.for_sku("IRON")
        assert level.reserved == 1


class _Trips:
    count = 0


def _count_trips(monkeypatch: Any) -> _Trips:
    """Counts the trips to aiosqlite's thread from now on."""
    trips = _Trips()
    real = aiosqlite.Connection._execute

    async def counted(self: Any, function: Any, *args: Any, **kwargs: Any) -> Any:
        trips.count += 1
        return await real(self, function, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return trips


async def test_the_engines_listeners_hear_a_take(database: Database) -> None:
    """What watches the engine for writes (the sandbox's console) hears the take's UPDATE and INSERT, though on SQLite
    the driver runs them, not SQLAlchemy; a take that took nothing wrote no reservation, and none is heard."""
    uow = SqlUnitOfWorkFactory(database)
    order_id = await _stock_and_anchor(uow, 1)
    heard: list[str] = []

    def listener(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        heard.append(" ".join(statement.split()[:3]).upper())

    event.listen(database.engine.sync_engine, "after_cursor_execute", listener)
    try:
        assert await _reserve(uow, order_id, 1) is True
        taken = list(heard)
        heard.clear()
        assert await _reserve(uow, order_id, 2) is False
    finally:
        event.remove(database.engine.sync_engine, "after_cursor_execute", listener)
    if database.writers is not None:  # PostgreSQL: one statement, a CTE, does both
        assert taken == ["UPDATE STOCK_LEVELS SET", "INSERT INTO RESERVATIONS"]
        assert heard == ["UPDATE STOCK_LEVELS SET"]
    else:
        assert len(taken) == len(heard) == 1 and taken[0].startswith("WITH TAKEN AS")
