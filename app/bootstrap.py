"""The composition root: builds the database, the workflows and (later) the bots and jobs from
settings. Nothing else connects to anything or reads the environment."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from app.settings import Settings
from bot.slack.app import build_slack_app
from bot.slack.delivery import SlackDelivery
from storage.database import Database, open_database
from storage.migrate import migrate
from storage.uow import SqlUnitOfWorkFactory
from workflows.ledger import Ledger
from workflows.orders import OrderDesk
from workflows.ports import Clock, UnitOfWorkFactory
from workflows.store_confirmation import KIND as STORE_CONFIRMATION
from workflows.store_confirmation import StoreCascade
from workflows.tasks import DeadlineKind, DeadlinePump, TaskBoard
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
    tasks: TaskBoard
    cascade: StoreCascade
    pump: DeadlinePump
    slack_app: AsyncApp | None = None
    slack_delivery: SlackDelivery | None = None

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
    board = TaskBoard(uow, clock)
    timeout = timedelta(seconds=settings.business.store_confirmation_timeout_s)
    cascade = StoreCascade(topology, clock, board, ledger, timeout)
    handlers = {
        (STORE_CONFIRMATION, DeadlineKind.EXPIRE): cascade.on_timeout,
        (STORE_CONFIRMATION, DeadlineKind.REMIND): cascade.on_reminder,
    }
    # chunks of deadlines fired side by side on PostgreSQL; SQLite has a single writer
    concurrency = 1 if database.is_sqlite else 4
    pump = DeadlinePump(
        uow, clock, handlers, owner=f"{socket.gethostname()}:{os.getpid()}", concurrency=concurrency,
        lock_keys={STORE_CONFIRMATION: cascade.lock_key},
    )  # fmt: skip
    services = Services(
        settings, topology, database, uow, clock, ledger, OrderDesk(uow, topology, clock, ledger, cascade),
        board, cascade, pump,
    )  # fmt: skip
    slack = settings.slack
    # Slack answers over HTTP (signed, POST /slack/events) or, with an app token, over Socket Mode.
    if slack.bot_token is not None and (slack.signing_secret is not None or slack.app_token is not None):
        client = AsyncWebClient(
            token=slack.bot_token.get_secret_value(),
            base_url=str(slack.api_base),
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=5)],  # honours Retry-After
        )
        services.slack_delivery = SlackDelivery(uow, client, topology, clock, settings.business.locale)
        services.slack_app = build_slack_app(
            client=client, signing_secret=slack.signing_secret.get_secret_value() if slack.signing_secret else None,
            cascade=cascade,
            delivery=services.slack_delivery, topology=topology, locale=settings.business.locale,
        )  # fmt: skip
    return services
