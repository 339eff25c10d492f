"""Telegram's flood limits, kept on our side: at most one message a second per chat and about
thirty a second in all. A 429 that still comes back is waited out (``retry_after``) and the
same message is sent again, so nothing is dropped."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from aiogram.exceptions import TelegramRetryAfter

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


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

    async def send(self, chat_id: int, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call`` (one Bot API request to ``chat_id``) within the limits."""
        for attempt in range(self._max_retries + 1):
            await self._slot(chat_id)
            try:
                return await call()
            except TelegramRetryAfter as error:
                if attempt == self._max_retries:
                    raise
                self.retries += 1
                self.waited_s += error.retry_after
                await self._sleep(float(error.retry_after))
            finally:
                self._done(chat_id)
        raise AssertionError("unreachable")

    def _done(self, chat_id: int) -> None:
        """Count the next second from when Telegram answered, not from when we asked: the
        request reached it somewhere in between, and its window starts there."""
        self._last[chat_id] = max(self._last.get(chat_id, 0.0), self._clock())
