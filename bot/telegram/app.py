"""The aiogram side, built in the composition root: a Bot pointed at ``TELEGRAM_API_BASE``, a
Dispatcher with the access middleware and the routers, and the two ways updates come in —
polling (the default, after deleting any webhook; by one instance at a time) or
``POST /telegram/webhook`` with the secret header checked by aiogram."""

from __future__ import annotations

import asyncio
import hmac
import logging
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
from bot.telegram.pacing import FloodWait
from bot.telegram.report import TelegramReport, report_router
from bot.telegram.tasks_router import tasks_router
from bot.texts import Locale
from workflows.boxes import BoxDesk
from workflows.client_links import ClientLinks
from workflows.leadership import Leadership
from workflows.ledger import Ledger
from workflows.office import OfficeDesk
from workflows.operations import Operations
from workflows.order_lookup import OrderLookup
from workflows.returns import Returns
from workflows.topology import Topology
from workflows.unfillable import UnfillableDesk

WEBHOOK_PATH = "/telegram/webhook"
LEADERSHIP_CHECK_S = 15.0
"""How often an instance standing by asks to poll, and the polling one checks it still may: the longest a
takeover waits after the poller stopped, and the longest two could overlap after its database connection broke."""

log = logging.getLogger(__name__)


def build_bot(token: str, api_base: str) -> Bot:
    """The bot; every request it makes outside a paced delivery waits out a 429 (:class:`FloodWait`)."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base))
    session.middleware(FloodWait())
    return Bot(token, session=session)


def build_dispatcher(
    *,
    office: OfficeDesk,
    topology: Topology,
    ledger: Ledger,
    lookup: OrderLookup,
    operations: Operations,
    locale: Locale,
    after_decision: Callable[[], Awaitable[object]],
    report: TelegramReport | None = None,
    returns: Returns | None = None,
    unfillable: UnfillableDesk | None = None,
    boxes: BoxDesk | None = None,
    links: ClientLinks | None = None,
) -> Dispatcher:
    dispatcher = Dispatcher()
    only_office = OfficeOnly(topology.people, locale)
    dispatcher.message.outer_middleware(only_office)
    dispatcher.callback_query.outer_middleware(only_office)
    dispatcher.include_router(tasks_router(office, locale, after_decision))
    if report is not None:  # before the commands: their router answers anything else with the help
        dispatcher.include_router(report_router(report, locale))
    dispatcher.include_router(
        commands_router(office, topology, ledger, lookup, operations, locale, returns, unfillable, boxes, links)
    )
    return dispatcher


async def register_commands(bot: Bot, locale: Locale) -> None:
    await bot.set_my_commands(bot_commands(locale))


async def start_polling(dispatcher: Dispatcher, bot: Bot) -> None:
    """Runs until cancelled. Any webhook is deleted first, or Telegram refuses getUpdates."""
    await bot.delete_webhook(drop_pending_updates=False)
    await dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False)


async def stop_polling(dispatcher: Dispatcher, polling: asyncio.Task[None]) -> None:
    """aiogram's own stop: it cancels its per-bot long poll and waits for it. Cancelling ``polling`` alone would
    leave that inner poll running into a closed session ("Failed to fetch updates")."""
    try:
        await asyncio.wait_for(dispatcher.stop_polling(), timeout=10)
    except (RuntimeError, TimeoutError):  # not polling yet (still deleting the webhook), ended, or stuck
        polling.cancel()
    await asyncio.gather(polling, return_exceptions=True)


async def poll_while_leading(dispatcher: Dispatcher, bot: Bot, leadership: Leadership) -> None:
    """Runs until cancelled. Telegram serves one ``getUpdates`` poller per bot, so of the instances sharing a
    database only the one holding ``leadership`` polls; the others stand by and ask again every
    :data:`LEADERSHIP_CHECK_S`, and one of them takes over when the poller stops or loses its database
    connection. Leadership is released on the way out, so a takeover need not wait for the poller's host."""
    told = False
    try:
        while True:
            if await leadership.acquire():
                told = False
                await _poll_until_deposed(dispatcher, bot, leadership)
            elif not told:
                log.info("another instance polls Telegram; this one stands by")
                told = True
            await asyncio.sleep(LEADERSHIP_CHECK_S)
    finally:
        await leadership.release()


async def _poll_until_deposed(dispatcher: Dispatcher, bot: Bot, leadership: Leadership) -> None:
    """Poll until polling ends by itself (it is started again after a pause) or the leadership is lost."""
    polling = asyncio.create_task(start_polling(dispatcher, bot))
    try:
        while True:
            done, _ = await asyncio.wait({polling}, timeout=LEADERSHIP_CHECK_S)
            if done:
                error = None if polling.cancelled() else polling.exception()
                why = "no error" if error is None else type(error).__name__  # its text may hold the bot's URL
                log.warning("telegram: polling ended (%s); it starts again shortly", why)
                return
            if not await leadership.confirm():
                log.warning("telegram: this instance lost the polling leadership; it stops polling")
                return
    finally:
        await stop_polling(dispatcher, polling)


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
