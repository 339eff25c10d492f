"""The Market's two limits that matter to a stock client, on a clock tests control.

* **Parallel requests**: at most 4 at once per campaign; the fifth answers 420 at once
  (``Hit rate limit of 4 parallel requests for campaignId …``).
* **Skus a minute** for updateStocks: 100 000 (``x-resource-limit-config`` on ``req.skus``). How the Market counts
  its minute is not published; the emulator counts a sliding 60 s, the strictest reading.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

Clock = Callable[[], float]
"""Monotonic seconds; ``time.monotonic`` in real use, a fake in tests."""


class InFlight:
    """Counts the requests being handled now, remembers the most there ever were, and lets a test wait for a
    number of them to arrive (``wait_for``) while :meth:`hold` keeps them from finishing."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self._changed = asyncio.Condition()
        self._released = asyncio.Event()
        self._released.set()

    async def enter(self) -> int:
        """One more request; returns how many are in flight with it."""
        self.now += 1
        self.peak = max(self.peak, self.now)
        async with self._changed:
            self._changed.notify_all()
        return self.now

    def leave(self) -> None:
        self.now -= 1

    def hold(self) -> None:
        """Requests let through from now on wait in :meth:`held` until :meth:`release`."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    async def held(self) -> None:
        await self._released.wait()

    async def wait_for(self, count: int) -> None:
        """Until at least ``count`` requests are in flight (the caller bounds the wait)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.now >= count)


class SkuWindow:
    """Skus taken in the last 60 s; :meth:`take` refuses what would go over ``per_minute``."""

    def __init__(self, per_minute: int, clock: Clock) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._taken: deque[tuple[float, int]] = deque()
        self._total = 0

    def take(self, skus: int) -> bool:
        now = self._clock()
        while self._taken and self._taken[0][0] <= now - 60.0:
            self._total -= self._taken.popleft()[1]
        if self._total + skus > self.per_minute:
            return False
        self._taken.append((now, skus))
        self._total += skus
        return True
