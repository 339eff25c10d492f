"""``storeops sandbox``: every outside system emulated on 127.0.0.1, the real service wired to them through their
base URLs (the production code path), a demo shop seeded from 1C, and the console at ``/sandbox``.

Start-up: an empty database of the sandbox's own (``database.py``: a SQLite file in a temporary directory, or one
created on the PostgreSQL server ``--database-url`` names, dropped on exit), the emulators (free ports), then the
settings a real operator would write pointing at them, then ``app.bootstrap.build`` (which migrates), then 1C's
register is pulled once over OData — the seeded catalogue reaches every channel the way real stock does, through the
outbox — and, once the service listens, 1C's retail price list is uploaded over ``POST /api/1c/prices`` so every
channel shows a price from the start."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Self

import httpx
from sqlalchemy.engine import URL

from app.bootstrap import Services, build
from app.sandbox.catalogue import (
    CATALOGUE,
    OZON_WAREHOUSE,
    PEOPLE,
    RETAIL,
    RETAILCRM_STORE,
    STORES,
    WB_WAREHOUSE,
    YM_CAMPAIGN,
    article_key,
    demo_topology,
    offered,
)
from app.sandbox.changes import Changes
from app.sandbox.clock import SandboxClock
from app.sandbox.console import install
from app.sandbox.database import own_database
from app.sandbox.scenarios import Scenarios
from app.sandbox.shop import Emulators
from app.service import RunningService
from app.settings import load_settings
from emulators.cbr import CbrEmulator
from emulators.cdek import CdekEmulator
from emulators.onec import OneCODataEmulator
from emulators.ozon import OzonEmulator
from emulators.retailcrm import RetailCrmEmulator
from emulators.site import SiteEmulator
from emulators.slack import SlackEmulator
from emulators.telegram import TelegramEmulator
from emulators.telegram.model import TgUser
from emulators.wildberries import WildberriesEmulator
from emulators.yandex_market import YandexMarketEmulator
from emulators.yookassa import YooKassaEmulator
from storage import schema
from workflows.offer_ids import offer_id_for
from workflows.onec_pull import PullResult
from workflows.topology import Topology

log = logging.getLogger("storeops.sandbox")
NOTICES = schema.notices.name  # what the chats' deliveries send from
# what the daily report reads, where a new row may change today's figures (an order, its events, a task, an alert)
REPORTED = frozenset(table.name for table in (schema.orders, schema.order_events, schema.tasks, schema.alerts))

# The emulated accounts' credentials: made up, the same each run, never real.
TELEGRAM_TOKEN = "700000001:SANDBOX-bot-token"  # noqa: S105
SLACK_TOKEN, SLACK_SECRET = "xoxb-sandbox-bot-token", "sandbox-signing-secret"
WB_TOKEN, OZON_CLIENT, OZON_KEY, YM_KEY = "sandbox-wb-token", "sandbox-ozon", "sandbox-ozon-key", "sandbox-ym-key"
SITE_TOKEN, CRM_KEY, CRM_SITE = "sandbox-site-token", "sandbox-crm-key", "shop"
ONEC_USER, ONEC_PASSWORD = "storeops", "sandbox-1c-password"
CDEK_CLIENT, CDEK_SECRET = "sandbox-cdek", "sandbox-cdek-secret"
GATEWAY_SHOP, GATEWAY_KEY = "100500", "test_sandbox-yookassa-secret-key"


def wb_chrt_ids(topology: Topology) -> dict[str, int]:
    """Our SKU → the Wildberries size (one card per article or kit, one size each)."""
    return {a.sku: 300_000_000 + n for n, a in enumerate(offered(), 1)}


def _emulators(topology: Topology, clock: SandboxClock) -> Emulators:
    rule = {name: channel.offer_id for name, channel in topology.channels.items()}

    def offers(channel: str) -> list[str]:
        return [offer_id_for(a.sku, rule[channel]) for a in offered()]

    chrt = wb_chrt_ids(topology)
    cards = [
        {"vendorCode": offer_id_for(a.sku, rule["wildberries"]), "title": a.name,
         "sizes": [{"chrtId": chrt[a.sku], "techSize": "0"}]}
        for a in offered()
    ]  # fmt: skip
    warehouses = {w.code: w.onec_id or w.code for w in topology.warehouses}
    items = [(a.sku, article_key(a.sku), warehouses[code], qty) for a in CATALOGUE for code, qty in a.stock]
    users = [TgUser(p.telegram_id, p.name.split(" ")[0], language_code="ru") for p in PEOPLE]
    staff = {user: name for store in STORES for user, name in store.staff}

    def unix() -> float:
        return clock.now().timestamp()

    return Emulators(
        slack=SlackEmulator(
            bot_token=SLACK_TOKEN, channels={s.slack_channel: s.code for s in STORES}, users=staff, wall_clock=unix
        ),
        # message dates follow the sandbox clock (rate limits too: moving it on only frees them sooner)
        telegram=TelegramEmulator(token=TELEGRAM_TOKEN, users=users, clock=unix, first_date=int(unix())),
        onec=OneCODataEmulator(ONEC_USER, ONEC_PASSWORD, items=items),
        wildberries=WildberriesEmulator(token=WB_TOKEN, warehouses={WB_WAREHOUSE: "Склад продавца"}, cards=cards),
        ozon=OzonEmulator(OZON_CLIENT, OZON_KEY, {OZON_WAREHOUSE: "Склад FBS"}, offers("ozon")),
        yandex_market=YandexMarketEmulator(YM_KEY, YM_CAMPAIGN, offers("yandex_market")),
        site=SiteEmulator(SITE_TOKEN),
        retailcrm=RetailCrmEmulator(CRM_KEY, CRM_SITE, [RETAILCRM_STORE], offers("retailcrm")),
        cbr=CbrEmulator(),
        cdek=CdekEmulator(CDEK_CLIENT, CDEK_SECRET),
        yookassa=YooKassaEmulator(shop_id=GATEWAY_SHOP, secret_key=GATEWAY_KEY),
    )


def environment(emulators: Emulators, *, database_url: str, host: str, port: int, api_token: str,
                locale: str, link_secret: str) -> dict[str, str]:  # fmt: skip
    """What an operator would put in ``.env`` to run against these systems."""
    e = emulators
    return {
        "DATABASE_URL": database_url, "HTTP_HOST": host, "HTTP_PORT": str(port), "API_TOKEN": api_token,
        "LOCALE": locale,
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_API_BASE": e.telegram.base_url, "TELEGRAM_MODE": "polling",
        "SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_API_BASE": e.slack.base_url,
        "WB_TOKEN": WB_TOKEN, "WB_API_BASE": e.wildberries.base_url, "WB_CONTENT_API_BASE": e.wildberries.base_url,
        "WB_PRICES_API_BASE": e.wildberries.base_url,
        "OZON_CLIENT_ID": OZON_CLIENT, "OZON_API_KEY": OZON_KEY, "OZON_API_BASE": e.ozon.base_url,
        "YM_API_KEY": YM_KEY, "YM_API_BASE": e.yandex_market.base_url,
        "SITE_API_BASE": e.site.base_url, "SITE_API_TOKEN": SITE_TOKEN,
        "RETAILCRM_API_BASE": e.retailcrm.base_url, "RETAILCRM_API_KEY": CRM_KEY, "RETAILCRM_SITE": CRM_SITE,
        "CBR_DAILY_URL": e.cbr.daily_url,
        "ONEC_ODATA_URL": e.onec.base, "ONEC_ODATA_USER": ONEC_USER, "ONEC_ODATA_PASSWORD": ONEC_PASSWORD,
        "ONEC_ODATA_INTERVAL_S": "60",
        "ONEC_EXCHANGE_USER": ONEC_USER, "ONEC_EXCHANGE_PASSWORD": ONEC_PASSWORD,
        "CDEK_CLIENT_ID": CDEK_CLIENT, "CDEK_CLIENT_SECRET": CDEK_SECRET, "CDEK_API_BASE": e.cdek.base_url,
        "CDEK_SENDER_NAME": "Магазин storeops (песочница)", "CDEK_SENDER_PHONE": "+74950000000",
        "CDEK_SHIPMENT_POINT": "MSK123",
        # the payment watch asks the gateway about stuck payments, as in production
        "PAYMENT_GATEWAY_URL": e.yookassa.base_url, "PAYMENT_GATEWAY_SHOP_ID": GATEWAY_SHOP,
        "PAYMENT_GATEWAY_SECRET_KEY": GATEWAY_KEY,
        "CLIENT_LINK_SECRET": link_secret,  # the clients' signed order pages, linked from the console
        # business timers as in production; the console's clock moves them
        "STORE_CONFIRMATION_TIMEOUT_S": "1200", "ONEC_SILENCE_ALERT_S": "1800", "FX_CHECK_INTERVAL_S": "10",
        "DEADLINE_PUMP_INTERVAL_S": "1",
    }  # fmt: skip


# Settings of the operator's own shell that would point the sandbox away from its emulators.
_FOREIGN = ("SLACK_APP_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "PAYMENTS_HMAC_SECRET", "STOREOPS_CONFIG",
            "CLIENT_LINK_BASE_URL")  # fmt: skip


class Soon:
    """``work`` run in the background when asked, once more if asked again meanwhile, never twice at once."""

    def __init__(self, work: Callable[[], Awaitable[None]], what: str) -> None:
        self._work, self._what = work, what
        self._running: asyncio.Task[None] | None = None
        self._again = False

    def ask(self) -> None:
        if self._running is not None and not self._running.done():
            self._again = True
            return
        self._running = asyncio.create_task(self._runs())

    async def close(self) -> None:
        if self._running is not None:
            self._running.cancel()
            await asyncio.gather(self._running, return_exceptions=True)

    async def _runs(self) -> None:
        again = True
        while again:
            self._again = False
            try:
                await self._work()
            except Exception:  # the scheduled runs try again; the sandbox keeps running
                log.exception("sandbox: %s failed", self._what)
            again = self._again


class Sandbox:
    """``async with Sandbox() as sandbox:`` — the whole shop running; :attr:`console_url` to open. What the console
    and the scenarios use of it is ``app.sandbox.shop.SandboxShop``."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 8080, locale: str = "ru", database: URL | None = None
    ) -> None:
        """``database``: where the sandbox makes its own (``database.requested_database``); none: a SQLite file in a
        temporary directory."""
        self.host, self.port, self.locale, self.database = host, port, locale, database
        self.topology = demo_topology()
        self.clock = SandboxClock()
        self.api_token = secrets.token_urlsafe(24)
        self._stack = AsyncExitStack()
        self.emulators: Emulators
        self.services: Services
        self.running: RunningService
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
        self.wb_chrt = wb_chrt_ids(self.topology)
        self.scenarios = Scenarios(self)
        self.changes = Changes()  # what tells an open console that what it shows changed
        self._ticking: asyncio.Task[None] | None = None
        self._warming: asyncio.Task[None] | None = None
        self._woken = Soon(self.deliver, "delivering the chats' notices")  # when a notice is queued
        self._telegram = Soon(self._deliver_telegram, "delivering Telegram's notices")  # at Telegram's pace

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def console_url(self) -> str:
        return f"{self.running.url}/sandbox"

    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stop()

    async def _start(self) -> None:
        # first in, last out: the database is removed after the service that uses it has stopped
        database_url = await self._stack.enter_async_context(own_database(self.database))
        self.emulators = _emulators(self.topology, self.clock)
        for emulator in vars(self.emulators).values():
            emulator.observe(self.changes.heard)
            await self._stack.enter_async_context(emulator)
        env = environment(
            self.emulators, database_url=database_url, host=self.host, port=self.port, api_token=self.api_token,
            locale=self.locale, link_secret=secrets.token_hex(32),
        )  # fmt: skip
        for key in _FOREIGN:
            os.environ.pop(key, None)
        os.environ.update(env)
        settings = load_settings(env_file=None)
        self.services = await build(settings, self.topology, clock=self.clock)
        self._stack.push_async_callback(self.services.close)
        self.changes.watch_database(self.services.database.engine)
        self.changes.on_added(self._queued)
        self.changes.on_added(self._reported)
        await self.seed()
        console = install(self, self.scenarios)
        self.running = await self._stack.enter_async_context(RunningService(self.services, extend=console))
        await self.seed_prices()
        self._ticking = asyncio.create_task(self._tick())
        if self.services.chats.telegram_report is not None:  # a newcomer's first /report as quick as the next
            self._warming = asyncio.create_task(self.services.chats.telegram_report.warm_up())
            self.services.chats.telegram_report.expect_today()

    async def _stop(self) -> None:
        await self._woken.close()
        await self._telegram.close()
        if self._warming is not None:
            await asyncio.gather(self._warming, return_exceptions=True)  # a thread: it cannot be cancelled
        if self._ticking is not None:
            self._ticking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticking
        await self._stack.aclose()
        await self.http.aclose()

    async def seed(self) -> None:
        """1C's register, read once over OData as the scheduled pull reads it; the outbox does the rest."""
        log.info("sandbox: seeded from 1C: %s", await self.pull_onec())

    async def seed_prices(self) -> None:
        """1C's retail price of every article and kit, uploaded as 1C's price list is: over our API."""
        items = [{"sku": a.sku, "price_type": RETAIL, "price": str(a.price_rub)} for a in offered()]
        headers = {"Authorization": f"Bearer {self.api_token}"}
        response = await self.http.post(f"{self.url}/api/1c/prices", json={"items": items}, headers=headers)
        response.raise_for_status()
        log.info("sandbox: 1C's price list: %s", response.json())

    async def pull_onec(self) -> PullResult:
        """The scheduled OData pull, now."""
        if self.services.shop.onec_pull is None:
            raise RuntimeError("the sandbox's 1C OData settings did not take")
        return await self.services.shop.onec_pull.run()

    async def _tick(self) -> None:
        """Scenario steps due on the sandbox clock (a channel coming back), checked every second."""
        while True:
            await asyncio.sleep(1)
            try:
                await self.scenarios.fire_due()
            except Exception:  # a failing step is logged; the sandbox keeps running
                log.exception("sandbox: a scheduled scenario step failed")

    # -- the clock ---------------------------------------------------------------------------------------------

    async def advance(self, seconds: int) -> None:
        """Move the business clock and let every timer that fell due fire now rather than at its next tick."""
        self.clock.advance(seconds)
        self.changes.poke()
        await self.catch_up()

    async def catch_up(self) -> None:
        services = self.services
        await self.scenarios.fire_due()
        while await services.shop.pump.run_once():
            pass
        await services.shop.fx.check_due()
        if services.shop.topup_checkout is not None:  # top-ups asked during the jump are created at the gateway
            await services.shop.topup_checkout.run_once()
        if services.shop.payment_watch is not None:  # payments stuck through the jump are asked about at the gateway
            await services.shop.payment_watch.run_once()
        await self.deliver()  # what the timers ask of people goes out before the slower rest of the jump
        # 1C, pulled every minute, would have spoken during the jump: pull it before judging its silence, or every
        # jump of half an hour raises "1С молчит" and the next pull its recovery; a 1C made to fail stays silent
        await self.pull_onec()
        await services.shop.operations.watch_onec()
        for dispatcher in services.shop.dispatchers:
            dispatcher.kick()
        await self.deliver()

    def _queued(self, tables: frozenset[str]) -> None:
        """A commit queued a notice for Slack or Telegram (a question, a task, an alert, an edit): deliver it now,
        in the background, rather than at the delivery jobs' next second."""
        if NOTICES in tables:
            self._woken.ask()

    def _reported(self, tables: frozenset[str]) -> None:
        """A commit added to what the daily report reads: today's chart is drawn ahead, if someone asked for it."""
        if tables & REPORTED and self.services.chats.telegram_report is not None:
            self.services.chats.telegram_report.day_changed()

    async def deliver(self) -> None:
        """The chats' delivery jobs, now, not at their next second: Slack's done when this returns, Telegram's
        started. Telegram's keeps to Telegram's pace (a second message to a chat within a second waits for it,
        as it would), so nothing here waits for that."""
        if self.services.chats.slack_delivery is not None:
            await self.services.chats.slack_delivery.run_once()
        self._telegram.ask()

    async def _deliver_telegram(self) -> None:
        if self.services.chats.telegram_delivery is not None:
            await self.services.chats.telegram_delivery.run_once()
