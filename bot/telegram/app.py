"""The aiogram side, built in the composition root: a Bot pointed at ``TELEGRAM_API_BASE``, a
Dispatcher with the access middleware and the routers, and the two ways updates come in —
polling (the default, after deleting any webhook) or ``POST /telegram/webhook`` with the
secret header checked by aiogram."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.methods import TelegramMethod
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.telegram.access import OfficeOnly
from bot.telegram.commands import bot_commands, commands_router
from bot.telegram.report import TelegramReport, report_router
from bot.telegram.tasks_router import tasks_router
from bot.texts import Locale
from workflows.ledger import Ledger
from workflows.office import OfficeDesk
from workflows.operations import Operations
from workflows.orders import OrderDesk
from workflows.topology import Topology

WEBHOOK_PATH = "/telegram/webhook"


def build_bot(token: str, api_base: str) -> Bot:
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_base)))


def build_dispatcher(
    *,
    office: OfficeDesk,
    topology: Topology,
    ledger: Ledger,
    orders: OrderDesk,
    operations: Operations,
    locale: Locale,
    after_decision: Callable[[], Awaitable[object]],
    report: TelegramReport | None = None,
) -> Dispatcher:
    dispatcher = Dispatcher()
    only_office = OfficeOnly(topology.people, locale)
    dispatcher.message.outer_middleware(only_office)
    dispatcher.callback_query.outer_middleware(only_office)
    dispatcher.include_router(tasks_router(office, locale, after_decision))
    if report is not None:  # before the commands: their router answers anything else with the help
        dispatcher.include_router(report_router(report, locale))
    dispatcher.include_router(commands_router(office, topology, ledger, orders, operations, locale))
    return dispatcher


async def register_commands(bot: Bot, locale: Locale) -> None:
    await bot.set_my_commands(bot_commands(locale))


async def start_polling(dispatcher: Dispatcher, bot: Bot) -> None:
    """Runs until cancelled. Any webhook is deleted first, or Telegram refuses getUpdates."""
    await bot.delete_webhook(drop_pending_updates=False)
    await dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False)


class _WebhookHandler(SimpleRequestHandler):
    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        """Bytes, not str: hmac refuses to compare str holding anything but ASCII, as a header may."""
        given = telegram_secret_token.encode("utf-8", "surrogateescape")
        return not self.secret_token or hmac.compare_digest(given, self.secret_token.encode())

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        """As aiogram's, but a body that is not a JSON object is a 400, not an exception (a 500)."""
        try:
            update = bot.session.json_loads(await request.read())
        except (ValueError, RecursionError):  # not JSON, not UTF-8, too deep, or digits Python does not read
            update = None
        if not isinstance(update, dict):
            return web.Response(status=400, text="the update is not a JSON object")
        result: TelegramMethod[Any] | None = await self.dispatcher.feed_webhook_update(bot, update, **self.data)
        return web.Response(body=self._build_response_writer(bot=bot, result=result))


def mount_webhook(app: web.Application, dispatcher: Dispatcher, bot: Bot, secret: str) -> None:
    _WebhookHandler(dispatcher=dispatcher, bot=bot, secret_token=secret, handle_in_background=False).register(
        app, path=WEBHOOK_PATH
    )
