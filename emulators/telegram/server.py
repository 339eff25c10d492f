"""The Telegram Bot API over HTTP on 127.0.0.1, close enough on the wire for the real aiogram 3 ``Bot``.

Every method is served at ``/bot<token>/<method>`` (see :mod:`emulators.telegram.wire` for the bodies accepted).
Answers are ``{"ok": true, "result": ...}``, or ``{"ok": false, "error_code": N, "description": ...}`` with HTTP
status N (429 adds ``parameters.retry_after``). A token other than the bot's gets 401 ``Unauthorized``; an
unknown method 404 ``Not Found``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from emulators.local_server import LocalServer
from emulators.telegram.conversations import Conversations
from emulators.telegram.keyboards import scope_key
from emulators.telegram.methods import BotApi
from emulators.telegram.model import BotProfile, CallbackQueryRecord, MessageRef, TgChat, TgMessage, TgUser
from emulators.telegram.params import BotApiError
from emulators.telegram.rate_limit import Clock, FloodControl, FloodReport, TelegramLimits, flood_report, seconds_reader
from emulators.telegram.updates import Update, UpdateQueue, WebhookConfig
from emulators.telegram.webhook import WebhookDelivery, WebhookPusher
from emulators.telegram.wire import create_app


@dataclass(frozen=True)
class TgCall:
    """One method call as received, and how it was answered (``error`` is the description when not ``ok``).

    ``at`` is on the emulator's clock; ``via`` is ``"http"``, or ``"webhook"`` for a method a webhook answered with.
    """

    method: str
    params: dict[str, Any]
    at: float
    status: int
    error: str | None
    result: Any = None
    via: str = "http"


class TelegramEmulator(LocalServer):
    """One bot, its chats and its updates, served on a free port of 127.0.0.1.

    ``async with TelegramEmulator() as tg:`` then
    ``Bot(tg.token, session=AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url)))``.
    ``clock`` (see :mod:`emulators.telegram.rate_limit` for the protocol) drives flood control, call times and
    message dates (``first_date`` plus the seconds the clock has moved): pass a fake one and move it instead of
    sleeping. ``poll_cap`` bounds how long an empty ``getUpdates`` is held (real seconds).
    """

    name = "Telegram"
    url_path = ""
    handler_cancellation = True  # a getUpdates the client gave up on (stop_polling) ends at once, unanswered

    def __init__(
        self,
        *,
        token: str = "123456:TEST",  # noqa: S107 - the test bot's token, not a secret
        profile: BotProfile | None = None,
        users: Iterable[TgUser] = (),
        chats: Iterable[TgChat] = (),
        auto_create_chats: bool = True,
        limits: TelegramLimits | None = None,
        clock: Clock = time.monotonic,
        poll_cap: float = 0.5,
        first_date: int = 1_700_000_000,
        webhook_auto_delivery: bool = False,
        webhook_timeout: float = 5.0,
    ) -> None:
        bot_id, _, secret = token.partition(":")
        if not bot_id.isdigit() or not secret:
            raise ValueError("a bot token looks like '<digits>:<secret>'")
        self.token = token
        self._now = seconds_reader(clock)
        origin = self._now()
        profile = profile or BotProfile()
        self.conversations = Conversations(
            profile.user(int(bot_id)),
            users=users,
            chats=chats,
            auto_create_chats=auto_create_chats,
            unix_now=lambda: int(first_date + self._now() - origin),
        )
        self.updates = UpdateQueue(poll_cap)
        self.api = BotApi(
            bot_id=int(bot_id),
            profile=profile,
            conversations=self.conversations,
            updates=self.updates,
            flood=FloodControl(limits or TelegramLimits(), self._now),
            clock=self._now,
        )
        self.received: list[TgCall] = []
        self.webhook_pusher = WebhookPusher(
            self.updates,
            execute=self._execute_webhook_reply,
            clock=self._now,
            unix_now=self.conversations.unix_now,
            read_timeout=webhook_timeout,
        )
        self.webhook_auto_delivery = webhook_auto_delivery
        self._recorded = asyncio.Event()
        self._auto_delivery: asyncio.Task[None] | None = None
        self._holding: dict[str, asyncio.Event] = {}
        self.held: list[str] = []  # methods of calls that arrived while held, in order

    # -- serving ---------------------------------------------------------------------------------------------

    def application(self) -> web.Application:
        """The aiohttp application answering ``/bot<token>/<method>``."""
        return create_app(self.answer)

    async def _after_start(self) -> None:
        self.updates.reopen()
        await self.webhook_pusher.open()
        if self.webhook_auto_delivery:
            self._auto_delivery = asyncio.create_task(self.webhook_pusher.run())

    async def _before_stop(self) -> None:
        self.release()
        self.updates.close()
        if self._auto_delivery is not None:
            task, self._auto_delivery = self._auto_delivery, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.webhook_pusher.close()

    def now(self) -> float:
        """The emulator's clock, in seconds."""
        return self._now()

    # -- answering -------------------------------------------------------------------------------------------

    async def answer(self, token: str, method: str, params: dict[str, Any], via: str = "http") -> tuple[int, Any]:
        """The HTTP status and body for ``method`` called with ``params``; the call is recorded."""
        name = self.api.canonical(method)
        gate = self._holding.get(name)
        if gate is not None:
            self.held.append(name)
            self._wake()
            await gate.wait()
        try:
            if token != self.token:
                raise BotApiError(401, "Unauthorized")
            result = await self.api.call(name, params)
        except BotApiError as failure:
            self._record(TgCall(name, params, self._now(), failure.status, failure.description, via=via))
            return failure.status, failure.body()
        self._record(TgCall(name, params, self._now(), 200, None, result, via))
        return 200, {"ok": True, "result": result}

    def _record(self, call: TgCall) -> None:
        self.received.append(call)
        self._wake()

    def _wake(self) -> None:
        self._recorded.set()
        self._recorded = asyncio.Event()

    # -- what tests read -------------------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[TgCall]:
        """Calls received, oldest first; only those of ``method`` when given."""
        return [call for call in self.received if method is None or call.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[TgCall]:  # noqa: ASYNC109
        """Wait until ``count`` calls of ``method`` arrived (for bots that call in the background).

        ``timeout`` (real seconds) only guards against a hang: ``TimeoutError`` names what did arrive.
        """
        try:
            async with asyncio.timeout(timeout):
                while len(self.calls(method)) < count:
                    await self._recorded.wait()
        except TimeoutError:
            seen = [call.method for call in self.received]
            raise TimeoutError(f"{count} × {method} not received within {timeout} s; got {seen}") from None
        return self.calls(method)

    async def wait_for_held(self, method: str, count: int = 1, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``count`` calls of ``method`` are held (``timeout`` only guards against a hang)."""
        async with asyncio.timeout(timeout):
            while self.held.count(method) < count:
                await self._recorded.wait()

    def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[TgMessage]:
        """The bot's messages in a chat, in sending order, with their current text, markup and edit history."""
        return [m for m in self.transcript(chat_id) if m.outgoing and (include_deleted or not m.deleted)]

    def transcript(self, chat_id: int) -> list[TgMessage]:
        """Every message in a chat, the users' and the bot's (deleted ones included)."""
        return list(self.conversations.messages.get(chat_id, []))

    def callbacks(self) -> list[CallbackQueryRecord]:
        """Button presses pushed so far, with the bot's answers."""
        return list(self.conversations.callbacks.values())

    def commands(self, scope: Mapping[str, Any] | None = None, language_code: str = "") -> list[tuple[str, str]]:
        """The command menu set for ``scope`` (default scope when ``None``) and ``language_code``."""
        return [(c.command, c.description) for c in self.api.commands.get((scope_key(scope), language_code), [])]

    def photo(self, chat_id: int, message_id: int) -> bytes | None:
        """The bytes of a photo the bot uploaded (``None`` for a URL or a message without one)."""
        message = self.conversations.find(chat_id, message_id)
        return None if message is None or message.photo is None else message.photo.data

    @property
    def webhook(self) -> WebhookConfig | None:
        return self.updates.webhook

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every POST to the webhook so far, oldest first."""
        return list(self.webhook_pusher.deliveries)

    def pending_updates(self) -> list[Update]:
        return list(self.updates.pending)

    def flood_report(self) -> FloodReport:
        """The highest rates the bot's accepted new messages reached (see :func:`flood_report`)."""
        return flood_report(self.api.sent)

    # -- what tests steer ------------------------------------------------------------------------------------

    def user(self, user: int | TgUser) -> TgUser:
        """A user by id (created on first use) or registered as given."""
        return self.conversations.add_user(user) if isinstance(user, TgUser) else self.conversations.user(user)

    def push_text(
        self, user: int | TgUser, text: str, *, chat_id: int | None = None, reply_to: int | None = None
    ) -> int:
        """``user`` writes ``text`` to the bot (in a group when ``chat_id`` is given); the update's id."""
        sender = self.user(user)
        chat = self.conversations.chat(sender.id if chat_id is None else chat_id)
        message = self.conversations.user_message(sender, chat, text, reply_to)
        return self.updates.push("message", self.conversations.incoming(message))

    def push_callback(
        self, user: int | TgUser, message: MessageRef | tuple[int, int], data: str, *, require_button: bool = True
    ) -> str:
        """``user`` presses a button on the bot's ``message`` (a :class:`TgMessage`, aiogram's ``Message`` or
        ``(chat_id, message_id)``); the query's id.

        The query carries the message as it is stored now. With ``require_button`` the message must currently
        show a button with that ``callback_data`` (a user cannot press a button that is not there).
        """
        chat_id, message_id = message if isinstance(message, tuple) else (message.chat.id, message.message_id)
        stored = self.conversations.find(chat_id, message_id)
        if require_button and stored is not None:
            offered = {button.get("callback_data") for row in stored.buttons for button in row}
            if data not in offered:
                raise ValueError(f"message {message_id} in chat {chat_id} shows no button with data {data!r}")
        record, query = self.conversations.press(self.user(user), chat_id, message_id, data)
        self.updates.push("callback_query", query)
        return record.id

    def push_update(self, kind: str, payload: dict[str, Any]) -> int:
        """Any other update, as raw Bot API JSON (``kind`` is its field, e.g. ``"my_chat_member"``)."""
        return self.updates.push(kind, payload)

    def block(self, user_id: int) -> None:
        """The user blocks the bot: sending to their private chat answers 403."""
        self.conversations.blocked.add(user_id)

    def force_rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` answer 429 with ``retry_after``, whatever the traffic."""
        self.api.forced.add(method, times, retry_after)

    def hold(self, method: str) -> None:
        """Calls of ``method`` wait, unanswered, until :meth:`release`; then they are answered as usual (a slow
        Telegram). :attr:`held` records them as they arrive."""
        self._holding.setdefault(method, asyncio.Event())

    def release(self, method: str | None = None) -> None:
        """Stop holding ``method`` (every method when ``None``): the calls held are answered now."""
        for name in [method] if method is not None else list(self._holding):
            gate = self._holding.pop(name, None)
            if gate is not None:
                gate.set()

    async def push_to_webhook(self) -> list[WebhookDelivery]:
        """POST the pending updates to the webhook in order, stopping at the first failure; what happened.

        Delivered updates are confirmed; a method the webhook answered with is executed (recorded ``via="webhook"``).
        """
        return await self.webhook_pusher.push()

    async def _execute_webhook_reply(self, method: str, params: dict[str, Any]) -> None:
        await self.answer(self.token, method, params, via="webhook")
