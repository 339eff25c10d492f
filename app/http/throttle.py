"""Failed logins per client address: one that fails too often in a short time is refused for a while.

A secret that can be tried without limit can be guessed. :class:`FailedLogins` counts the failures of each
peer address (``request.remote``) within a window; at the limit the address is *blocked* for one whole window,
and every attempt from it is refused — a right secret too, so guessing cannot go on and learn the answer.
A success does not clear the count. The table is in memory (a restart forgets it) and holds at most
``clients`` addresses: a new one pushes out the one seen longest ago.

Behind a reverse proxy every request comes from the proxy's address; the proxy should then do its own
limiting, and a block here applies to everyone behind it.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from workflows.ports import Clock

log = logging.getLogger(__name__)

UNKNOWN_PEER = "unknown"  # request.remote is None on some transports: they share one entry


@dataclass(frozen=True)
class ThrottleLimits:
    failures: int = 10  # failures within ``window`` that block the address
    window: timedelta = timedelta(seconds=60)  # also how long a block lasts
    clients: int = 10_000  # addresses tracked at once; the one seen longest ago is dropped first


@dataclass
class _Client:
    failures: deque[datetime]  # the latest ones, at most ``ThrottleLimits.failures``
    blocked_until: datetime | None = None

    def lapse(self, now: datetime) -> None:
        """A block that has run out ends, and its failures are forgotten with it."""
        if self.blocked_until is not None and now >= self.blocked_until:
            self.blocked_until = None
            self.failures.clear()


class FailedLogins:
    """Failed attempts per client address, for one secret (``what`` names it in the log)."""

    def __init__(self, clock: Clock, what: str, limits: ThrottleLimits | None = None) -> None:
        self._clock, self._what = clock, what
        self.limits = limits or ThrottleLimits()
        self._clients: OrderedDict[str, _Client] = OrderedDict()

    def retry_after(self, peer: str | None) -> int | None:
        """Whole seconds until ``peer`` may try again, or ``None`` when it may try now."""
        client = self._clients.get(peer or UNKNOWN_PEER)
        if client is None:
            return None
        now = self._clock.now()
        client.lapse(now)
        if client.blocked_until is None:
            return None
        return max(1, math.ceil((client.blocked_until - now).total_seconds()))

    def failed(self, peer: str | None) -> None:
        """One more failure of ``peer``; the one that reaches the limit blocks it (logged once)."""
        key = peer or UNKNOWN_PEER
        now = self._clock.now()
        client = self._clients.pop(key, None) or _Client(deque(maxlen=self.limits.failures))
        self._clients[key] = client  # now the most recently seen
        while len(self._clients) > self.limits.clients:
            self._clients.popitem(last=False)
        client.lapse(now)
        while client.failures and now - client.failures[0] >= self.limits.window:
            client.failures.popleft()
        client.failures.append(now)
        if len(client.failures) >= self.limits.failures and client.blocked_until is None:
            client.blocked_until = now + self.limits.window
            log.warning(
                "%s: %d failed attempts from %s within %g s: refused for %g s",
                self._what, len(client.failures), key, self.limits.window.total_seconds(),
                self.limits.window.total_seconds(),
            )  # fmt: skip

    def __len__(self) -> int:
        return len(self._clients)
