"""Refusals on demand, shared by the emulators: the next K calls of a method answer 429."""

from __future__ import annotations

from collections import defaultdict


class ForcedRateLimits:
    """Makes the next K calls of a method answer 429, whatever the traffic (for tests of retry behaviour)."""

    def __init__(self) -> None:
        self._pending: dict[str, list[int]] = defaultdict(list)

    def add(self, method: str, times: int, retry_after: int) -> None:
        """Queue ``times`` refusals of ``method``, each telling the client to wait ``retry_after`` seconds."""
        self._pending[method].extend([retry_after] * times)

    def take(self, method: str) -> int | None:
        """The ``Retry-After`` of the next queued refusal of ``method``, or ``None`` if there is none."""
        queue = self._pending.get(method)
        return queue.pop(0) if queue else None
