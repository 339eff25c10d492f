"""Slack's rate limiting as the Web API applies it, driven by an injectable clock.

Slack documents ``chat.postMessage`` as a "special" tier: about one message per second per channel, with short
bursts allowed; over the limit it answers HTTP 429 with a ``Retry-After`` header (whole seconds). Tests also need
to provoke a 429 on demand, whatever the traffic, to exercise retry code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]
"""Monotonic seconds; ``time.monotonic`` in real use, a fake in tests so nothing sleeps."""


@dataclass(frozen=True)
class RateLimitPolicy:
    """Per-channel posting limit: ``per_second`` sustained, up to ``burst`` messages back to back."""

    per_second: float = 1.0
    burst: int = 3

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("per_second must be positive and burst at least 1")


@dataclass
class _Bucket:
    tokens: float
    updated: float


class ChannelRateLimiter:
    """A token bucket per channel: each message takes a token, tokens come back at ``per_second``.

    Equivalent to Slack's "1 message per second per channel, short bursts allowed": ``burst`` rapid messages
    pass, the next one is refused until a token has come back.
    """

    def __init__(self, policy: RateLimitPolicy, clock: Clock) -> None:
        self._policy = policy
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, channel: str) -> int | None:
        """Take a token for ``channel``; ``None`` when allowed, else the whole seconds to wait (``Retry-After``)."""
        now = self._clock()
        bucket = self._buckets.get(channel)
        if bucket is None:
            bucket = self._buckets[channel] = _Bucket(tokens=float(self._policy.burst), updated=now)
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(float(self._policy.burst), bucket.tokens + elapsed * self._policy.per_second)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / self._policy.per_second))
