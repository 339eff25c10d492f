"""The chat adapters from settings: the store staff's Slack (over signed HTTP or Socket Mode) and the
office's Telegram bot, each wired to the shop's workflows. Either may be absent.

Each chat's libraries are imported when it is set up, not with this module: aiogram some 20 MB (its Telegram types
and methods built when first used, :mod:`bot.telegram.aiogram_import`; 120 MB as aiogram imports itself),
slack_bolt and slack_sdk some 7 MB, and a service, or a command such as ``storeops migrate``, that does not talk to
that chat carries none of it (docs/footprint.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.client_links import client_links
from app.settings import Settings
from bot.wording import Names
from workflows.order_lookup import OrderLookup
from workflows.shop import Shop

if TYPE_CHECKING:
    from aiogram import Bot, Dispatcher
    from slack_bolt.async_app import AsyncApp

    from bot.slack.delivery import SlackDelivery
    from bot.slack.identity import KnownBot
    from bot.telegram.delivery import TelegramDelivery
    from bot.telegram.report import TelegramReport


@dataclass
class Chats:
    slack_app: AsyncApp | None = None
    slack_delivery: SlackDelivery | None = None
    slack_bot: KnownBot | None = None
    telegram_bot: Bot | None = None
    telegram_dispatcher: Dispatcher | None = None
    telegram_delivery: TelegramDelivery | None = None
    telegram_report: TelegramReport | None = None  # /report and the scheduled daily send

    async def close(self) -> None:
        if self.slack_delivery is not None:
            await self.slack_delivery.close()
        if self.slack_bot is not None:
            await self.slack_bot.close()
        if self.telegram_delivery is not None:
            await self.telegram_delivery.close()
        if self.telegram_report is not None:
            await self.telegram_report.close()
        if self.telegram_bot is not None:
            await self.telegram_bot.session.close()


def connect_chats(settings: Settings, shop: Shop) -> Chats:
    chats = Chats()
    _connect_slack(settings, shop, chats)
    _connect_telegram(settings, shop, chats)
    return chats


def _connect_slack(settings: Settings, shop: Shop, chats: Chats) -> None:
    """Slack answers over HTTP (signed, POST /slack/events) or, with an app token, over Socket Mode."""
    slack = settings.slack
    if slack.bot_token is None or (slack.signing_secret is None and slack.app_token is None):
        return
    from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.slack.app import build_slack_app
    from bot.slack.delivery import SlackDelivery
    from bot.slack.identity import KnownBot
    from bot.slack.people import SlackNames

    client = AsyncWebClient(
        token=slack.bot_token.get_secret_value(),
        base_url=str(slack.api_base),
        timeout=slack.timeout_s,  # type: ignore[arg-type]  # aiohttp takes a float; slack_sdk hints int
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=5)],  # honours Retry-After
    )
    locale = settings.business.locale
    chats.slack_delivery = SlackDelivery(
        shop.uow, client, shop.topology, shop.clock, locale, owner=shop.instance.owner, held=shop.instance.held
    )
    chats.slack_bot = KnownBot(client)
    secret = slack.signing_secret.get_secret_value() if slack.signing_secret else None
    chats.slack_app = build_slack_app(
        client=client, bot=chats.slack_bot, signing_secret=secret,
        cascade=shop.cascade, delivery=chats.slack_delivery, topology=shop.topology, locale=locale,
        names=SlackNames(slack.name_timeout_s), returns=shop.returns,
    )  # fmt: skip


def _connect_telegram(settings: Settings, shop: Shop, chats: Chats) -> None:
    telegram = settings.telegram
    if telegram.bot_token is None:
        return
    from bot.telegram.aiogram_import import import_aiogram

    import_aiogram()  # before any other module imports aiogram: its types and methods built when first used
    from bot.telegram.app import build_bot, build_dispatcher
    from bot.telegram.delivery import TelegramDelivery
    from bot.telegram.pacing import Pacer
    from bot.telegram.report import TelegramReport

    bot = build_bot(telegram.bot_token.get_secret_value(), str(telegram.api_base))
    locale = settings.business.locale
    pacer = Pacer()  # the deliveries' count of each chat's second; /report's photo keeps to it too
    delivery = TelegramDelivery(
        shop.uow, bot, shop.topology, shop.clock, locale, pacer, shop.alerts,
        owner=shop.instance.owner, held=shop.instance.held,
    )  # fmt: skip
    chats.telegram_bot, chats.telegram_delivery = bot, delivery
    if shop.reports is not None:
        owner = shop.topology.people.owner_telegram_id
        chats.telegram_report = TelegramReport(bot, shop.reports, owner, Names.of(shop.topology, locale), pacer)
    chats.telegram_dispatcher = build_dispatcher(
        office=shop.office, topology=shop.topology, ledger=shop.ledger,
        lookup=OrderLookup(shop.uow, shop.topology.channels, shop.payments),
        operations=shop.operations, locale=locale, after_decision=delivery.after_decision, report=chats.telegram_report,
        returns=shop.returns, unfillable=shop.unfillable, boxes=shop.boxes,
        links=client_links(settings.client_page, shop.clock),
    )  # fmt: skip
