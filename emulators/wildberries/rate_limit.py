"""Wildberries' rate limiting as its gateway applies it, on an injectable clock.

WB documents each group of methods as a token bucket with four numbers: period, limit, interval (period / limit)
and burst. Stocks on seller warehouses: 300 a minute, burst 20, and **a request answered 409 counts as 10**. FBS
orders, supplies and passes: 300 a minute, burst 20, a 409 counting as 10 too; cancelling an assembly order has
its own: 100 a minute, burst 20, a 409 as 10. Content: 100 a minute, burst 5. Prices and discounts: 10 in 6 s
(100 a minute), burst 5. Over the limit the gateway answers
429 with ``X-Ratelimit-Retry``: whole seconds to wait.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]
"""Monotonic seconds; ``time.monotonic`` in real use, a fake in tests so nothing sleeps."""


@dataclass(frozen=True)
class BucketPolicy:
    """``per_minute`` requests a minute on average, ``burst`` back to back; a 409 answer costs ``conflict_cost``."""

    per_minute: float
    burst: int
    conflict_cost: int = 1

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.burst < 1 or self.conflict_cost < 1:
            raise ValueError("a bucket needs a positive rate, a burst of at least 1 and a cost of at least 1")


STOCKS = BucketPolicy(per_minute=300, burst=20, conflict_cost=10)
ORDERS = BucketPolicy(per_minute=300, burst=20, conflict_cost=10)
CANCEL = BucketPolicy(per_minute=100, burst=20, conflict_cost=10)
CONTENT = BucketPolicy(per_minute=100, burst=5)
PRICES = BucketPolicy(per_minute=100, burst=5)  # 10 in 6 s, burst 5, for every method of the prices API


class TokenBucket:
    """One seller's bucket for one group of methods.

    :meth:`admit` takes a token when a request arrives (or says how long to wait); :meth:`charge_conflict` takes
    the rest of a 409's price after the answer is known, which may leave the bucket in debt.
    """

    def __init__(self, policy: BucketPolicy, clock: Clock) -> None:
        self.policy = policy
        self._clock = clock
        self._rate = policy.per_minute / 60.0
        self._tokens = float(policy.burst)
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.policy.burst), self._tokens + max(0.0, now - self._stamp) * self._rate)
        self._stamp = now

    def admit(self) -> int | None:
        """Take a token: ``None`` when the request may pass, else whole seconds to wait (``X-Ratelimit-Retry``)."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - self._tokens) / self._rate))

    def charge_conflict(self) -> None:
        """The request just admitted was answered 409: it costs ``conflict_cost`` in all."""
        self._refill()
        self._tokens -= self.policy.conflict_cost - 1

    @property
    def tokens(self) -> float:
        """Tokens now (negative: in debt after 409s)."""
        self._refill()
        return self._tokens
