"""A token bucket the channel clients wait on before each request, so they keep within a
channel's published limits instead of finding them by 429s. A push the sync engine marks urgent
(:func:`workflows.channels.urgent_push`: it carries what an order changed) goes ahead of the
requests already waiting. Clock and sleep are injectable: tests move a fake clock instead of waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from workflows.channels import push_is_urgent

Sleep = Callable[[float], Awaitable[None]]
EPSILON = 1e-9
MIN_SLEEP_S = 0.001


class RateGate:
    """``per_minute`` requests a minute on average, at most ``burst`` at once. ``cost`` lets a
    request that the channel charges more for (Wildberries: a 409 costs 10) take more tokens.

    Waiters go one at a time in their order of arrival, except that an urgent one goes before every ordinary one:
    an ordinary waiter takes no token while an urgent one waits (it may be asleep until the tokens it needs are
    there), and urgent ones go in their own order of arrival. The sum taken is the same either way."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("a rate gate needs a positive rate and a burst of at least 1")
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock, self._sleep = clock, sleep
        self._stamp = clock()
        self._lock, self._urgent_lock = asyncio.Lock(), asyncio.Lock()  # ordinary waiters' turn, urgent waiters'
        self._urgent = 0  # urgent waiters
        self._no_urgent = asyncio.Event()
        self._no_urgent.set()
        self.waited_s = 0.0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now

    async def wait(self, cost: float = 1.0, *, urgent: bool | None = None) -> None:
        """Take ``cost`` tokens, waiting until there are enough; ``urgent`` (by default: whether the running push is
        marked urgent) goes ahead of the ordinary waiters."""
        if not (push_is_urgent() if urgent is None else urgent):
            async with self._lock:
                await self._take(cost, yielding=True)
            return
        self._urgent += 1
        self._no_urgent.clear()
        try:
            async with self._urgent_lock:
                await self._take(cost, yielding=False)
        finally:
            self._urgent -= 1
            if not self._urgent:
                self._no_urgent.set()

    async def _take(self, cost: float, *, yielding: bool) -> None:
        while True:
            if yielding and self._urgent:  # an urgent waiter takes the next tokens
                await self._no_urgent.wait()
                continue
            self._refill()
            needed = min(cost, self._burst)
            if self._tokens >= needed - EPSILON:  # float dust must not leave a waiter asking for 1e-13 s
                self._tokens -= cost
                return
            wait = max(MIN_SLEEP_S, (needed - self._tokens) / self._rate)
            self.waited_s += wait
            await self._sleep(wait)

    def charge(self, cost: float) -> None:
        """Take tokens after the fact (the channel charged a failed request extra); may go negative."""
        self._refill()
        self._tokens -= cost

    def hold_off(self, seconds: float) -> None:
        """The channel said wait (a Retry-After style header): no token until then."""
        self._refill()
        self._tokens = min(self._tokens, -seconds * self._rate)
