"""Who may talk to the bot: the owner and the managers named in the topology. Anyone else gets
a short refusal that reveals nothing, and the attempt is logged (user id only)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject

from bot.telegram.texts import tg
from bot.texts import Locale
from workflows.office import role_of
from workflows.topology import People

log = logging.getLogger(__name__)


class OfficeOnly(BaseMiddleware):
    """Outer middleware on messages and callbacks: puts the person's ``role`` (a
    :class:`workflows.vocabulary.Role`) into the handler's data."""

    def __init__(self, people: People, locale: Locale) -> None:
        self._people, self._locale = people, locale

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user = getattr(event, "from_user", None)
        role = role_of(self._people, user.id) if user is not None else None
        if role is None:
            log.warning("telegram: refused user id=%s (not the owner or a manager)", user.id if user else None)
            if isinstance(event, Message):
                await event.answer(tg(self._locale, "refused"))
            elif isinstance(event, CallbackQuery):
                await event.answer(tg(self._locale, "refused"), show_alert=True)
            return None
        data["role"] = role
        return await handler(event, data)
