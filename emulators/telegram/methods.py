"""The Bot API methods the emulator answers, and the flood control in front of the ones that send.

:meth:`BotApi.call` takes a method name (case-insensitive, as in Telegram) and its parameters and returns the
``result``, or raises :class:`~emulators.telegram.params.BotApiError`.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

from emulators.refusals import ForcedRateLimits
from emulators.telegram.conversations import Conversations
from emulators.telegram.keyboards import BotCommand, check_commands, scope_key
from emulators.telegram.model import BotProfile
from emulators.telegram.params import (
    BotApiError,
    Params,
    bad_request,
    bool_param,
    float_param,
    int_param,
    json_param,
    text_param,
    too_many_requests,
)
from emulators.telegram.rate_limit import FloodControl, SentMessage
from emulators.telegram.updates import UpdateQueue, WebhookConfig

NEW_MESSAGE_METHODS = frozenset({"sendMessage", "sendPhoto"})
EDIT_METHODS = frozenset({"editMessageText", "editMessageReplyMarkup"})
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class BotApi:
    """One bot's side of the Bot API over the emulator's state."""

    def __init__(
        self,
        *,
        bot_id: int,
        profile: BotProfile,
        conversations: Conversations,
        updates: UpdateQueue,
        flood: FloodControl,
        clock: Callable[[], float],
    ) -> None:
        self.bot_id = bot_id
        self.profile = profile
        self.conversations = conversations
        self.updates = updates
        self.flood = flood
        self.forced = ForcedRateLimits()
        self.commands: dict[tuple[str, str], list[BotCommand]] = {}
        self.sent: list[SentMessage] = []
        self._clock = clock
        chats = conversations
        handlers: dict[str, Callable[[Params], Any]] = {
            "getMe": lambda _params: self.profile.to_api(self.bot_id),
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": lambda _params: self.updates.webhook_info(),
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "sendMessage": chats.send_message,
            "sendPhoto": chats.send_photo,
            "editMessageText": chats.edit_message_text,
            "editMessageReplyMarkup": chats.edit_message_reply_markup,
            "deleteMessage": chats.delete_message,
            "answerCallbackQuery": chats.answer_callback_query,
        }
        self._handlers = {name.lower(): (name, handler) for name, handler in handlers.items()}

    def canonical(self, method: str) -> str:
        """The Bot API spelling of ``method`` (``sendmessage`` → ``sendMessage``); unknown names stay as given."""
        known = self._handlers.get(method.lower())
        return method if known is None else known[0]

    async def call(self, method: str, params: Params) -> Any:
        """Run ``method``; flood control first for the methods that post to a chat."""
        known = self._handlers.get(method.lower())
        if known is None:
            raise BotApiError(404, "Not Found")
        name, handler = known
        forced = self.forced.take(name)
        if forced is not None:
            raise too_many_requests(forced)
        counted = name in NEW_MESSAGE_METHODS or name in EDIT_METHODS
        new_message = name in NEW_MESSAGE_METHODS
        chat_id = 0
        if counted:
            chat_id = self.conversations.resolve_chat(params).id
            retry_after = self.flood.refusal(chat_id, new_message=new_message)
            if retry_after is not None:
                raise too_many_requests(retry_after)
        result = handler(params)
        if inspect.isawaitable(result):
            result = await result
        if counted:
            self.flood.count(chat_id, new_message=new_message)
            if new_message:
                self.sent.append(SentMessage(chat_id, self._clock()))
        return result

    # -- updates and webhook ---------------------------------------------------------------------------------

    async def get_updates(self, params: Params) -> list[dict[str, Any]]:
        limit = int_param(params, "limit") or 100
        if not 1 <= limit <= 100:
            limit = 100
        self.updates.allow(_update_types(json_param(params, "allowed_updates")))
        hold = float_param(params, "timeout") or 0.0
        return await self.updates.poll(offset=int_param(params, "offset"), limit=limit, hold=hold)

    def set_webhook(self, params: Params) -> bool:
        url = text_param(params, "url") or ""
        if not url:
            return self.delete_webhook(params)
        if not url.startswith(("https://", "http://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = text_param(params, "secret_token")
        if secret is not None and not _SECRET.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = int_param(params, "max_connections") or 40
        if bool_param(params, "drop_pending_updates"):
            self.updates.drop_pending()
        self.updates.allow(_update_types(json_param(params, "allowed_updates")))
        self.updates.set_webhook(WebhookConfig(url, secret, min(max(max_connections, 1), 100)))
        return True

    def delete_webhook(self, params: Params) -> bool:
        if bool_param(params, "drop_pending_updates"):
            self.updates.drop_pending()
        self.updates.set_webhook(None)
        return True

    # -- the command menu ------------------------------------------------------------------------------------

    @staticmethod
    def _command_key(params: Params) -> tuple[str, str]:
        return scope_key(json_param(params, "scope")), text_param(params, "language_code") or ""

    def set_my_commands(self, params: Params) -> bool:
        self.commands[self._command_key(params)] = check_commands(json_param(params, "commands"))
        return True

    def get_my_commands(self, params: Params) -> list[dict[str, str]]:
        commands = self.commands.get(self._command_key(params), [])
        return [{"command": c.command, "description": c.description} for c in commands]

    def delete_my_commands(self, params: Params) -> bool:
        self.commands.pop(self._command_key(params), None)
        return True


def _update_types(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise bad_request("can't parse allowed_updates JSON object")
    return value
