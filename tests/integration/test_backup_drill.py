"""The restore drill: a database the service wrote through its own repositories, backed up and restored into a
fresh place, reads the same — on SQLite by ``storeops backup`` while orders keep coming, on PostgreSQL by the
``pg_dump -Fc`` / ``pg_restore`` commands docs/deploy.md gives. The restored database takes new orders.

Also here, since the compose file starts two instances on one PostgreSQL at once: both migrate, safely."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from storage.database import Database, open_database
from storage.migrate import alembic_config, migrate
from storage.schema import metadata
from storage.sqlite_backup import backup, restore
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import PG_URL, REQUIRE_PG, ROOT, _pg_admin
from tests.fakes import FakeClock
from workflows.ledger import Ledger
from workflows.model import ReservationState, StockFigure
from workflows.orders import LineRequest, OrderDesk, PlaceOrder
from workflows.topology import Topology

Contents = dict[str, list[tuple[Any, ...]]]


async def contents(database: Database) -> Contents:
    """Every row of every table, in primary key order, and the schema's version."""
    found: Contents = {}
    async with database.engine.connect() as connection:
        for table in metadata.sorted_tables:
            rows = await connection.execute(select(table).order_by(*table.primary_key.columns))
            found[table.name] = [tuple(row) for row in rows]
        found["alembic_version"] = [
            tuple(row) for row in await connection.execute(text("SELECT * FROM alembic_version"))
        ]
    return found


async def _shop(database: Database, topology: Topology) -> tuple[Ledger, OrderDesk]:
    uow = SqlUnitOfWorkFactory(database)
    ledger = Ledger(uow, topology, FakeClock())
    return ledger, OrderDesk(uow, topology, FakeClock(), ledger)


async def _write_some(database: Database, topology: Topology) -> None:
    ledger, desk = await _shop(database, topology)
    await ledger.apply_stock(FakeClock().now(), [StockFigure("КР-7/2", "online", 7), StockFigure("IRON", "online", 3)])
    for n in range(5):
        await desk.place(PlaceOrder("ozon", f"DRILL-{n}", [LineRequest("КР-7/2", 1), LineRequest("IRON", 1)]))
    cancelled = (await desk.place(PlaceOrder("wildberries", "WB-9", [LineRequest("IRON", 1)]))).order.id
    assert cancelled is not None
    await desk.cancel(cancelled, "drill")


async def _takes_a_new_order(database: Database, topology: Topology, before: Contents) -> None:
    _, desk = await _shop(database, topology)
    placed = await desk.place(PlaceOrder("ozon", "AFTER-RESTORE", [LineRequest("КР-7/2", 1)]))
    assert placed.created
    assert placed.order.id > max(row[0] for row in before["orders"])


def _orders_consistent(found: Contents) -> None:
    """No half of a transaction: each order has its line, each line its reservation."""
    orders = {row[0] for row in found["orders"]}
    assert len(found["order_lines"]) == len(orders)
    assert len(found["reservations"]) == len(orders)


async def test_a_sqlite_backup_taken_while_orders_come_in_restores_whole(topology: Topology, tmp_path: Path) -> None:
    live = open_database(f"sqlite+aiosqlite:///{tmp_path / 'live.db'}")
    await migrate(live)
    ledger, desk = await _shop(live, topology)
    await ledger.apply_stock(FakeClock().now(), [StockFigure("КР-7/2", "online", 10_000)])
    placed = 0
    stop = asyncio.Event()

    async def buyers() -> None:
        nonlocal placed
        while not stop.is_set() and placed < 2_000:
            await desk.place(PlaceOrder("ozon", f"B-{placed}", [LineRequest("КР-7/2", 1)]))
            placed += 1

    writing = asyncio.create_task(buyers())
    while placed < 20:
        await asyncio.sleep(0.01)
    started_at = placed
    await asyncio.to_thread(backup, tmp_path / "live.db", tmp_path / "while-writing.db")
    finished_at = placed
    while placed < finished_at + 20:
        await asyncio.sleep(0.01)
    stop.set()
    await writing
    try:
        restored = restore(tmp_path / "while-writing.db", tmp_path / "restored" / "storeops.db", replace=False)
        assert restored.replaced is None
        copy = open_database(f"sqlite+aiosqlite:///{restored.copied.path}")
        try:
            found = await contents(copy)
            assert started_at <= len(found["orders"]) <= finished_at < placed
            _orders_consistent(found)
            async with SqlUnitOfWorkFactory(copy)(read_only=True) as work:
                totals = await work.reservations.totals(ReservationState.ACTIVE)
            assert totals == {("КР-7/2", "online"): len(found["orders"])}
            await _takes_a_new_order(copy, topology, found)
        finally:
            await copy.dispose()

        # quiet now: the backup is the live database exactly
        backup(tmp_path / "live.db", tmp_path / "quiet.db")
        again = restore(tmp_path / "quiet.db", tmp_path / "restored" / "storeops.db", replace=True)
        assert again.replaced is not None and again.replaced.exists()
        copy = open_database(f"sqlite+aiosqlite:///{again.copied.path}")
        try:
            assert await contents(copy) == await contents(live)
        finally:
            await copy.dispose()
    finally:
        await live.dispose()


def _postgres_tools() -> None:
    missing = [tool for tool in ("pg_dump", "pg_restore") if shutil.which(tool) is None]
    if missing:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required here (STOREOPS_REQUIRE_POSTGRES=1) but {missing} are not installed")
        pytest.skip(f"{' and '.join(missing)} not installed (Debian: postgresql-client)")


@pytest.fixture
def fresh_pg() -> Iterator[Any]:
    """A maker of empty PostgreSQL databases, dropped after the test: (SQLAlchemy URL, libpq URL)."""
    made: list[str] = []

    def make() -> tuple[str, str]:
        name = f"storeops_drill_{uuid.uuid4().hex[:10]}"
        try:
            _pg_admin(f'CREATE DATABASE "{name}"')
        except Exception as error:
            if REQUIRE_PG:
                pytest.fail(f"PostgreSQL is required here (STOREOPS_REQUIRE_POSTGRES=1) but unreachable: {error}")
            pytest.skip(f"no PostgreSQL reachable at {make_url(PG_URL).render_as_string(hide_password=True)}: {error}")
        made.append(name)
        url = make_url(PG_URL).set(database=name)
        return url.render_as_string(hide_password=False), url.set(drivername="postgresql").render_as_string(False)

    yield make
    for name in made:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def pg_source(fresh_pg: Any) -> AsyncIterator[tuple[Database, str]]:
    url, libpq = fresh_pg()
    database = open_database(url)
    try:
        yield database, libpq
    finally:
        await database.dispose()


def _pg(*command: str) -> None:
    env = {**os.environ, "PGCONNECT_TIMEOUT": "5"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, f"{command[0]} failed: {done.stderr}"


@pytest.mark.postgres
async def test_a_pg_dump_restores_into_a_fresh_database_with_the_same_data(
    pg_source: tuple[Database, str], fresh_pg: Any, topology: Topology, tmp_path: Path
) -> None:
    _postgres_tools()
    source, source_libpq = pg_source
    await migrate(source)
    await _write_some(source, topology)
    dump = tmp_path / "storeops.dump"
    # the commands of docs/deploy.md, "Backups"
    await asyncio.to_thread(_pg, "pg_dump", "-Fc", "--no-owner", "-f", str(dump), "-d", source_libpq)
    target_url, target_libpq = fresh_pg()
    await asyncio.to_thread(_pg, "pg_restore", "--no-owner", "--exit-on-error", "-d", target_libpq, str(dump))
    target = open_database(target_url)
    try:
        before = await contents(source)
        assert len(before["orders"]) == 6 and before["stock_levels"]
        assert await contents(target) == before
        await migrate(target)  # the service starts on it: nothing to migrate
        await _takes_a_new_order(target, topology, before)  # its sequences came along
    finally:
        await target.dispose()


@pytest.mark.postgres
async def test_two_instances_starting_at_once_on_one_fresh_postgresql_both_migrate(
    fresh_pg: Any, tmp_path: Path
) -> None:
    """Two processes (alembic's context is one per process), as the compose file's two instances start."""
    url, _ = fresh_pg()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "STOREOPS_"))}
    env.update(DATABASE_URL=url, PYTHONPATH=str(ROOT))
    starting = [
        subprocess.Popen(  # noqa: ASYNC220 - both run while this test waits for them
            [sys.executable, "-m", "app.cli", "--env-file", str(tmp_path / "none.env"), "migrate"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in starting:
        _, err = await asyncio.to_thread(process.communicate, timeout=120)
        assert process.returncode == 0, err
    database = open_database(url)
    try:
        found = await contents(database)
    finally:
        await database.dispose()
    assert found["alembic_version"] == [(ScriptDirectory.from_config(alembic_config()).get_current_head(),)]
