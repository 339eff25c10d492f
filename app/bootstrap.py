"""The composition root: builds the database, the workflows and (later) the bots and jobs from
settings. Nothing else connects to anything or reads the environment."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from aiogram import Bot, Dispatcher
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from app.metrics import Metrics
from app.settings import Settings
from bot.slack.app import build_slack_app
from bot.slack.delivery import SlackDelivery
from bot.telegram.app import build_bot, build_dispatcher
from bot.telegram.delivery import TelegramDelivery
from bot.telegram.pacing import Pacer
from bot.telegram.report import TelegramReport
from integrations.cbr import CbrFeed, CbrRates
from integrations.cdek import CdekClient
from integrations.cdek_carrier import CdekCarrier
from integrations.onec_odata import ODataBalanceSource, ODataStock
from integrations.ozon import OzonClient
from integrations.retailcrm import RetailCrmClient
from integrations.site import SiteClient
from integrations.wildberries import WildberriesClient
from integrations.yandex_market import YandexMarketClient
from storage.database import Database, open_database
from storage.migrate import migrate
from storage.report_queries import SqlDayRecords
from storage.uow import SqlUnitOfWorkFactory
from workflows.alerts import KIND as ALERT
from workflows.alerts import AlertDesk
from workflows.channel_upkeep import ChannelUpkeep
from workflows.channels import ChannelClient
from workflows.daily_report import DailyReports
from workflows.fraud_check import KIND as FRAUD_CHECK
from workflows.fraud_check import FraudCheck
from workflows.fx import KIND as FX_APPROVAL
from workflows.fx import FxWatch
from workflows.ledger import Ledger
from workflows.office import OfficeDesk
from workflows.onec_intake import StockIntake
from workflows.onec_pull import OneCPull
from workflows.operations import Operations
from workflows.orders import OrderDesk
from workflows.payments import PaymentDesk
from workflows.ports import Clock, UnitOfWorkFactory
from workflows.shipping import ShippingDesk
from workflows.store_confirmation import KIND as STORE_CONFIRMATION
from workflows.store_confirmation import StoreCascade
from workflows.sync import SyncDispatcher, SyncOutbox
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
    alerts: AlertDesk
    operations: Operations
    fraud: FraudCheck
    payments: PaymentDesk
    http_client: httpx.AsyncClient
    fx: FxWatch
    intake: StockIntake
    slack_app: AsyncApp | None = None
    slack_delivery: SlackDelivery | None = None
    channel_clients: dict[str, ChannelClient] = field(default_factory=dict)
    dispatchers: list[SyncDispatcher] = field(default_factory=list)
    metrics: Metrics | None = None
    upkeep: list[ChannelUpkeep] = field(default_factory=list)
    onec_pull: OneCPull | None = None
    telegram_bot: Bot | None = None
    telegram_dispatcher: Dispatcher | None = None
    telegram_delivery: TelegramDelivery | None = None
    reports: DailyReports | None = None
    telegram_report: TelegramReport | None = None  # /report and the scheduled daily send
    shipping: ShippingDesk | None = None  # CDEK registration, when CDEK_CLIENT_ID / CDEK_CLIENT_SECRET are set

    async def close(self) -> None:
        for dispatcher in self.dispatchers:
            await dispatcher.close()
        await self.http_client.aclose()
        if self.telegram_bot is not None:
            await self.telegram_bot.session.close()
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
    business = settings.business
    alerts = AlertDesk(clock, board)
    timeout = timedelta(seconds=business.store_confirmation_timeout_s)
    cascade = StoreCascade(topology, clock, board, ledger, timeout, alerts)
    orders = OrderDesk(uow, topology, clock, ledger, cascade)
    operations = Operations(uow, clock, topology, alerts, timedelta(seconds=business.onec_silence_alert_s))
    fraud = FraudCheck(clock, board, alerts, orders)
    http_client = httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=True)
    feed = CbrFeed(CbrRates(http_client, str(settings.channels.cbr_daily_url)))
    fx = FxWatch(uow, clock, board, alerts, feed, Decimal(str(business.fx_deviation_threshold)))
    payments = PaymentDesk(uow, clock, fraud, fx, Decimal(business.fraud_amount_threshold_rub))
    handlers = {
        (STORE_CONFIRMATION, DeadlineKind.EXPIRE): cascade.on_timeout,
        (STORE_CONFIRMATION, DeadlineKind.REMIND): cascade.on_reminder,
        (FRAUD_CHECK, DeadlineKind.EXPIRE): fraud.on_timeout,
        (FX_APPROVAL, DeadlineKind.EXPIRE): fx.on_timeout,
        (ALERT, DeadlineKind.EXPIRE): alerts.on_timeout,
    }
    # chunks of deadlines fired side by side on PostgreSQL; SQLite has a single writer
    concurrency = 1 if database.is_sqlite else 4
    pump = DeadlinePump(
        uow, clock, handlers, owner=f"{socket.gethostname()}:{os.getpid()}", concurrency=concurrency,
        lock_keys={STORE_CONFIRMATION: cascade.lock_key},
    )  # fmt: skip
    services = Services(
        settings, topology, database, uow, clock, ledger, orders, board, cascade, pump, alerts, operations, fraud,
        payments, http_client, fx, StockIntake(uow, topology, ledger, operations),
    )  # fmt: skip
    reports = DailyReports(SqlDayRecords(database), uow, topology, clock)
    services.reports = reports
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
    services.channel_clients = channel_clients(settings, topology, http_client)
    uow.hooks.before.append(SyncOutbox(topology, clock, services.channel_clients).before_commit)
    owner = f"{socket.gethostname()}:{os.getpid()}"
    services.upkeep = [ChannelUpkeep(uow, clock, topology, c, orders) for c in services.channel_clients.values()]
    services.metrics = Metrics(uow, clock, sorted(services.channel_clients))
    services.dispatchers = [
        SyncDispatcher(uow, clock, client, alerts, operations, owner=owner, observer=services.metrics)
        for client in services.channel_clients.values()
    ]

    def wake_dispatchers() -> None:
        for dispatcher in services.dispatchers:
            dispatcher.kick()

    if services.dispatchers:
        uow.hooks.after.append(wake_dispatchers)
    if (carrier := cdek_carrier(settings, http_client)) is not None:
        services.shipping = ShippingDesk(
            uow, clock, carrier, alerts, Decimal(business.fraud_amount_threshold_rub), owner=owner,
            default_weight_g=settings.carrier.default_weight_g,
            poll_after=timedelta(seconds=settings.carrier.interval_s),
        )  # fmt: skip
    odata = settings.onec_odata
    if odata.url is not None and odata.user and odata.password is not None:
        stock = ODataStock(
            http_client, base=str(odata.url), user=odata.user, password=odata.password.get_secret_value(),
            register=odata.stock_register, timezone=topology.onec.timezone,
        )  # fmt: skip
        services.onec_pull = OneCPull(uow, clock, services.intake, alerts, ODataBalanceSource(stock))
    telegram = settings.telegram
    if telegram.bot_token is not None:
        bot = build_bot(telegram.bot_token.get_secret_value(), str(telegram.api_base))
        locale = business.locale
        delivery = TelegramDelivery(uow, bot, topology, clock, locale, Pacer(), alerts)
        answers = {FRAUD_CHECK: fraud.answer, FX_APPROVAL: fx.answer, ALERT: alerts.answer}
        office = OfficeDesk(uow, topology.people, answers)
        services.telegram_bot, services.telegram_delivery = bot, delivery
        services.telegram_report = TelegramReport(bot, reports, topology.people.owner_telegram_id, locale)
        services.telegram_dispatcher = build_dispatcher(
            office=office, topology=topology, ledger=ledger, orders=orders, operations=operations,
            locale=locale, after_decision=delivery.run_once, report=services.telegram_report,
        )  # fmt: skip
    return services


def cdek_carrier(settings: Settings, http: httpx.AsyncClient) -> CdekCarrier | None:
    """CDEK as the carrier when its account is set (the settings then hold the shop's sender name and phone)."""
    keys = settings.carrier
    if not keys.enabled or keys.cdek_client_id is None or keys.cdek_client_secret is None:
        return None
    client = CdekClient(
        http, base=str(keys.cdek_api_base), client_id=keys.cdek_client_id,
        client_secret=keys.cdek_client_secret.get_secret_value(),
    )  # fmt: skip
    return CdekCarrier(
        client, sender_name=keys.sender_name or "", sender_phone=keys.sender_phone or "",
        shipment_point=keys.shipment_point,
    )  # fmt: skip


def channel_clients(settings: Settings, topology: Topology, http: httpx.AsyncClient) -> dict[str, ChannelClient]:
    """A client for each channel whose credentials are set and whose ids the topology gives."""
    keys = settings.channels
    found: dict[str, ChannelClient] = {}
    for name, channel in topology.channels.items():
        if channel.kind == "wildberries" and keys.wb_token and channel.warehouse_id is not None:
            found[name] = WildberriesClient(
                http, token=keys.wb_token.get_secret_value(), marketplace_base=str(keys.wb_api_base),
                content_base=str(keys.wb_content_api_base), warehouse_id=int(channel.warehouse_id), name=name,
            )  # fmt: skip
        elif channel.kind == "ozon" and keys.ozon_client_id and keys.ozon_api_key and channel.warehouse_id is not None:
            found[name] = OzonClient(
                http, client_id=keys.ozon_client_id, api_key=keys.ozon_api_key.get_secret_value(),
                base=str(keys.ozon_api_base), warehouse_id=int(channel.warehouse_id), name=name,
            )  # fmt: skip
        elif channel.kind == "site" and keys.site_api_base and keys.site_api_token:
            found[name] = SiteClient(
                http, base=str(keys.site_api_base), token=keys.site_api_token.get_secret_value(), name=name
            )
        elif channel.kind == "retailcrm" and keys.retailcrm_api_base and keys.retailcrm_api_key and keys.retailcrm_site:
            if channel.warehouse_id is None:
                continue  # the RetailCRM store code goes in the channel's warehouse_id
            found[name] = RetailCrmClient(
                http, base=str(keys.retailcrm_api_base), api_key=keys.retailcrm_api_key.get_secret_value(),
                site=keys.retailcrm_site, store_code=str(channel.warehouse_id), name=name,
            )  # fmt: skip
        elif channel.kind == "yandex_market" and keys.ym_api_key and channel.campaign_id is not None:
            found[name] = YandexMarketClient(
                http, api_key=keys.ym_api_key.get_secret_value(), base=str(keys.ym_api_base),
                campaign_id=channel.campaign_id, name=name,
            )  # fmt: skip
    return found
