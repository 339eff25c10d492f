"""Shared fixtures: the example topology, a fake clock, and a unit of work on each backend.

PostgreSQL tests use a throw-away database created on the server named by
``STOREOPS_TEST_PG_URL`` (default: the local one). Without a server they skip with the reason,
unless ``STOREOPS_REQUIRE_POSTGRES=1`` (set by CI), where they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.topology import load_topology
from bot.telegram.aiogram_import import import_aiogram
from storage.database import Database, open_database
from storage.migrate import migrate
from storage.schema import metadata
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FakeClock, MemoryUnitOfWorkFactory
from workflows.ledger import Ledger
from workflows.orders import OrderDesk
from workflows.ports import UnitOfWorkFactory
from workflows.topology import Topology

# aiogram as the service imports it (app/chats.py): its Telegram types and methods built when first used, so the
# Telegram tests run the models the way the service builds them.
import_aiogram()

# In CI the property tests replay a fixed set of examples, so a run cannot fail on a case that a
# previous run never tried; locally they explore new ones each time.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("STOREOPS_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("STOREOPS_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def topology() -> Topology:
    return load_topology(ROOT / "storeops.example.toml")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _pg_admin(sql: str) -> None:
    """Run admin SQL on its own loop in a thread: the caller may be inside the test's loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _pg_admin_execute(sql)).result()


async def _pg_admin_execute(sql: str) -> None:
    import asyncpg

    url = make_url(PG_URL)
    connection = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, database="postgres", timeout=5
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _unreachable(error: Exception) -> None:
    if REQUIRE_PG:
        pytest.fail(f"PostgreSQL is required here (STOREOPS_REQUIRE_POSTGRES=1) but unreachable: {error}")
    pytest.skip(f"no PostgreSQL reachable at {make_url(PG_URL).render_as_string(hide_password=True)}: {error}")


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL server's URL, once it answered: for what creates and drops databases of its own there (the
    sandbox)."""
    try:
        _pg_admin("SELECT 1")
    except Exception as error:
        _unreachable(error)
    return PG_URL


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh database for this test session, dropped at the end."""
    name = f"storeops_test_{uuid.uuid4().hex[:10]}"
    try:
        _pg_admin(f'CREATE DATABASE "{name}"')
    except Exception as error:
        _unreachable(error)
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _clean(database: Database) -> None:
    async with database.engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            await connection.execute(table.delete())


async def _open_clean(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Database:
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'storeops.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    )
    db = open_database(url)
    await migrate(db)
    await _clean(db)
    return db


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database on each backend."""
    db = await _open_clean(request, request.param, tmp_path)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def uow(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[UnitOfWorkFactory]:
    """A unit-of-work factory: the in-memory fake, or SQL on SQLite and on PostgreSQL."""
    if request.param == "memory":
        yield MemoryUnitOfWorkFactory()
        return
    db = await _open_clean(request, request.param, tmp_path)
    try:
        yield SqlUnitOfWorkFactory(db)
    finally:
        await db.dispose()


@pytest.fixture
def ledger(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> Ledger:
    return Ledger(uow, topology, clock)


@pytest.fixture
def desk(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock, ledger: Ledger) -> OrderDesk:
    return OrderDesk(uow, topology, clock, ledger)


async def table_count(database: Database, table: str) -> int:
    async with database.engine.connect() as connection:
        return int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())
