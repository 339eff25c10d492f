"""The port every sales channel's client implements (Wildberries, Ozon, Yandex Market, the
site, RetailCRM): push stock, read it back for reconciliation, and pull new orders. The sync
engine talks only to this; each client maps our articles to the channel's ids, keeps within the
channel's rate limits and turns the channel's answers into these shapes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from workflows.outside import Refused, Unavailable


@dataclass(frozen=True)
class StockLine:
    sku: str  # our article (1C's)
    offer_id: str  # the channel's id for it (see workflows.offer_ids)
    qty: int  # what the channel should show as available, >= 0


@dataclass(frozen=True)
class PushOutcome:
    """What became of each line of one push."""

    accepted: tuple[str, ...] = ()  # skus the channel took
    rejected: dict[str, str] = field(default_factory=dict)  # sku -> the channel's reason; retrying will not help
    retry: tuple[str, ...] = ()  # skus the channel asked us to send again later (per-item throttling)


class ChannelUnavailable(Unavailable):
    """The whole request failed and may succeed later: rate limited (429, 420), 5xx, a timeout, a
    refused connection. ``retry_after`` is the channel's own hint in seconds, when it gave one."""


class ChannelRefused(Refused):
    """The channel refused the request as a whole and retrying will not help (bad token, banned
    seller, malformed request): ``reason`` says why, in the channel's words."""


@dataclass(frozen=True)
class ChannelOrderLine:
    offer_id: str
    qty: int


@dataclass(frozen=True)
class ChannelOrder:
    external_id: str  # the channel's order id, as text
    lines: tuple[ChannelOrderLine, ...]
    created_at: datetime


class ChannelClient(Protocol):
    name: str  # the channel's name in the topology: wildberries | ozon | yandex_market | …
    batch_limit: int  # most lines one push may carry

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        """Send up to ``batch_limit`` lines. Raises ChannelUnavailable or ChannelRefused."""
        ...

    async def read_stock(self, lines: Sequence[StockLine]) -> dict[str, int]:
        """What the channel shows now for these lines: ``sku -> qty`` (missing: not listed)."""
        ...

    async def new_orders(self) -> list[ChannelOrder]:
        """Orders the channel has that we have not been told of (or all new ones; intake is
        idempotent on the channel's order id)."""
        ...


@runtime_checkable
class LearnsProducts(Protocol):
    """A client that maps our offers to the channel's own product ids from the channel's catalogue (Wildberries:
    sizes and their chrtIds) and must read it again now and then to pick up new cards and sizes. The composition
    root schedules :meth:`learn_products` for every client that has it (checked structurally: ``isinstance``)."""

    async def learn_products(self) -> int:
        """Read the channel's catalogue again and replace the map; how many products are known."""
        ...
