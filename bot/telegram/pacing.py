"""Telegram's flood limits, kept on our side: at most one message a second per chat and about
thirty a second in all. A 429 that still comes back is waited out (``retry_after``) and the
same message is sent again, so nothing is dropped. The limits count new messages: an edit of a message a
chat already shows (:meth:`Pacer.edit`, a task closed by a person's press) neither waits for a chat's second
nor takes it, as Telegram lets a bot edit the message a person has just pressed a button on.

Deliveries go through :class:`Pacer`. Everything else the bot sends — a command's reply, a button's answer —
goes through :class:`FloodWait`, a request middleware on the bot's session: a 429 is waited out there too, up to
``max_wait_s``, so a reply the manager is waiting for (``/return``'s confirmation, say) is not lost to a burst."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, TypeVar

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
log = logging.getLogger(__name__)
_PACED: ContextVar[bool] = ContextVar("storeops_telegram_paced", default=False)
"""Set while :meth:`Pacer.send` runs its call: the pacer waits out 429s itself, :class:`FloodWait` stands aside."""


class Pacer:
    def __init__(
        self,
        *,
        per_chat_s: float = 1.0,
        overall_per_s: int = 30,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_retries: int = 5,
    ) -> None:
        self._per_chat_s, self._overall = per_chat_s, overall_per_s
        self._clock, self._sleep, self._max_retries = clock, sleep, max_retries
        self._last: dict[int, float] = {}
        self._recent: deque[float] = deque()
        self._lock = asyncio.Lock()
        self.waited_s = 0.0  # for the bench: how long pacing held messages back
        self.retries = 0

    def now(self) -> float:
        """The pacer's clock, in seconds (only differences matter)."""
        return self._clock()

    def free_in(self, chats: Iterable[int]) -> float:
        """Seconds until one message to each of ``chats`` could start without waiting on the limits (0: now)."""
        distinct = set(chats)
        now = self._clock()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        wait = max((self._last.get(chat, -1e9) + self._per_chat_s - now for chat in distinct), default=0.0)
        over = len(self._recent) + len(distinct) - self._overall
        if over > 0 and self._recent:  # the oldest ``over`` in the last second must leave it first
            wait = max(wait, self._recent[min(over, len(self._recent)) - 1] + 1.0 - now)
        return max(wait, 0.0)

    async def _slot(self, chat_id: int) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                while self._recent and now - self._recent[0] >= 1.0:
                    self._recent.popleft()
                wait = max(
                    self._last.get(chat_id, -1e9) + self._per_chat_s - now,
                    (self._recent[0] + 1.0 - now) if len(self._recent) >= self._overall else 0.0,
                )
                if wait <= 0:
                    self._last[chat_id] = now
                    self._recent.append(now)
                    return
                self.waited_s += wait
                await self._sleep(wait)

    async def turn(self, chat_id: int) -> None:
        """Wait, without holding up other chats, until a message to ``chat_id`` may go within the limits, and take
        that turn; :meth:`took` once Telegram answered. For a message sent outside the deliveries that a person waits
        for (``/report``'s photo): it goes when its chat's second is over, instead of being refused (429) and sent
        again a whole ``retry_after`` later, and the next delivery to that chat counts it."""
        while (wait := self.free_in([chat_id])) > 0:
            await self._sleep(wait)
        await self._slot(chat_id)

    def took(self, chat_id: int) -> None:
        self._done(chat_id)

    async def send(self, chat_id: int, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call`` (one Bot API request to ``chat_id``) within the limits."""
        return await self._attempts(chat_id, call, counted=True)

    async def edit(self, chat_id: int, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call``, an edit of a message ``chat_id`` shows, at once: it is not one of the chat's messages (a
        429 is still waited out and the edit made again)."""
        return await self._attempts(chat_id, call, counted=False)

    async def _attempts(self, chat_id: int, call: Callable[[], Awaitable[T]], *, counted: bool) -> T:
        for attempt in range(self._max_retries + 1):
            if counted:
                await self._slot(chat_id)
            paced = _PACED.set(True)
            try:
                return await call()
            except TelegramRetryAfter as error:
                if attempt == self._max_retries:
                    raise
                self.retries += 1
                self.waited_s += error.retry_after
                await self._sleep(float(error.retry_after))
            finally:
                _PACED.reset(paced)
                if counted:
                    self._done(chat_id)
        raise AssertionError("unreachable")

    def _done(self, chat_id: int) -> None:
        """Count the next second from when Telegram answered, not from when we asked: the
        request reached it somewhere in between, and its window starts there."""
        self._last[chat_id] = max(self._last.get(chat_id, 0.0), self._clock())


class FloodWait(BaseRequestMiddleware):
    """Waits out Telegram's 429 (``retry_after``) for requests outside :class:`Pacer` and sends them again: at most
    ``retries`` times, and never for longer than ``max_wait_s`` at once — past that the error goes up to the
    handler (and aiogram's log) instead of holding the update for minutes."""

    def __init__(self, *, sleep: Sleep = asyncio.sleep, retries: int = 3, max_wait_s: float = 30.0) -> None:
        self.sleep, self._retries, self._max_wait_s = sleep, retries, max_wait_s
        self.waited = 0  # how many 429s were waited out (for tests and the log)

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        if _PACED.get():
            return await make_request(bot, method)
        for attempt in range(self._retries + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                if attempt == self._retries or error.retry_after > self._max_wait_s:
                    raise
                log.info("telegram: %s refused for flood, retry in %ss", method.__api_method__, error.retry_after)
                self.waited += 1
                await self.sleep(float(error.retry_after))
        raise AssertionError("unreachable")
