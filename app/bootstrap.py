"""The composition root: the database, the outside systems and the chats from settings, and the shop's
workflows assembled on them (:func:`workflows.shop.assemble`, which tests call with fakes). Nothing else
connects to anything or reads the environment."""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy.exc import SQLAlchemyError

from app.chats import Chats, connect_chats
from app.instance import incarnation
from app.metrics import Metrics
from app.outside import outside_systems
from app.settings import Settings
from storage.database import Database, DatabaseUnavailable, open_database
from storage.migrate import migrate
from storage.uow import SqlUnitOfWorkFactory
from workflows.leases import LeaseKeeper
from workflows.ports import Clock
from workflows.shop import Instance, Rules, Shop, assemble
from workflows.topology import Topology

log = logging.getLogger(__name__)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Services:
    """What a running storeops is made of: the shop's workflows, the chats, and what they run on."""

    settings: Settings
    database: Database
    http_client: httpx.AsyncClient
    shop: Shop
    chats: Chats
    metrics: Metrics
    leases: LeaseKeeper  # this process's heartbeat and the renewal of the leases it holds

    async def close(self) -> None:
        await self.shop.close()
        await self.http_client.aclose()
        await self.chats.close()
        try:
            await self.leases.end()  # its work is over: another start takes its rows at once
        except (SQLAlchemyError, DatabaseUnavailable, OSError) as error:
            log.warning("could not give back this instance's leases (%s); they run out", type(error).__name__)
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
    http_client = httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=True)
    outside = outside_systems(settings, topology, http_client, database, clock)
    metrics = Metrics(uow, clock, sorted(outside.channels))
    me = incarnation(settings)
    instance = Instance(
        owner=me.owner,
        deadline_concurrency=1 if database.is_sqlite else 4,  # SQLite has a single writer
        sync_observer=metrics,
    )
    shop = assemble(uow, topology, clock, outside, rules(settings), instance)
    leases = LeaseKeeper(uow, clock, me, instance.held)
    return Services(settings, database, http_client, shop, connect_chats(settings, shop), metrics, leases)


def settle_start_up() -> None:
    """Once the service has started: what start-up built (modules, settings, the schema, the chats' libraries: some
    200 000 objects with Telegram and Slack) lives as long as the process, so the garbage collector is told to stop
    walking it (``gc.freeze``), after collecting what start-up left. Each full collection then walks only what the
    jobs made, which cut the CPU a 1C snapshot takes by a fifth (docs/footprint.md). For a long-running process only:
    what is frozen is never collected."""
    gc.collect()
    gc.freeze()


def rules(settings: Settings) -> Rules:
    business = settings.business
    return Rules(
        store_confirmation_timeout=timedelta(seconds=business.store_confirmation_timeout_s),
        fx_deviation_threshold=Decimal(str(business.fx_deviation_threshold)),
        fraud_amount_threshold_rub=Decimal(business.fraud_amount_threshold_rub),
        onec_silence=timedelta(seconds=business.onec_silence_alert_s),
        onec_future_tolerance=timedelta(seconds=business.onec_future_tolerance_s),
        unfillable_decision=timedelta(seconds=business.unfillable_decision_s),
        unfillable_ship_by_margin=timedelta(seconds=business.unfillable_ship_by_margin_s),
        unfillable_wait=timedelta(seconds=business.unfillable_wait_s),
        parcel_weight_g=settings.carrier.default_weight_g,
        carrier_poll_after=timedelta(seconds=settings.carrier.interval_s),
        returns_sellable_at_once=business.returns_sellable_at_once,
        crm_cancel_statuses=frozenset(settings.channels.retailcrm_cancel_statuses.split(",")),
        price_drop_approval=Decimal(str(business.price_drop_approval)),
        price_approval=timedelta(seconds=business.price_approval_timeout_s),
        payment_poll_after=timedelta(seconds=settings.payment_gateway.poll_after_s),
        payment_task_after=timedelta(seconds=settings.payment_gateway.task_after_s),
        money_decision=timedelta(seconds=business.money_decision_timeout_s),
        money_postpone=timedelta(seconds=business.money_postpone_s),
        money_purchase_watch=timedelta(seconds=business.money_purchase_watch_s),
    )
