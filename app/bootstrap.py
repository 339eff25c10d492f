"""The composition root: builds the database, the workflows and (later) the bots and jobs from
settings. Nothing else connects to anything or reads the environment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.settings import Settings
from storage.database import Database, open_database
from storage.migrate import migrate
from storage.uow import SqlUnitOfWorkFactory
from workflows.ledger import Ledger
from workflows.orders import OrderDesk
from workflows.ports import Clock, UnitOfWorkFactory
from workflows.topology import Topology


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    topology: Topology
    database: Database
    uow: UnitOfWorkFactory
    clock: Clock
    ledger: Ledger
    orders: OrderDesk

    async def close(self) -> None:
        await self.database.dispose()


async def build(
    settings: Settings, topology: Topology, *, clock: Clock | None = None, run_migrations: bool = True
) -> Services:
    database = open_database(
        settings.database.url,
        busy_timeout_ms=settings.database.busy_timeout_ms,
        sqlite_synchronous=settings.database.sqlite_synchronous,
    )
    if run_migrations:
        await migrate(database)
    clock = clock or SystemClock()
    uow = SqlUnitOfWorkFactory(database)
    ledger = Ledger(uow, topology, clock)
    return Services(settings, topology, database, uow, clock, ledger, OrderDesk(uow, topology, clock, ledger))
