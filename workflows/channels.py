"""The port every sales channel's client implements (Wildberries, Ozon, Yandex Market, the
site, RetailCRM): push stock, read it back for reconciliation, and pull new orders. The sync
engine talks only to this; each client maps our articles to the channel's ids, keeps within the
channel's rate limits and turns the channel's answers into these shapes."""

from __future__ import annotations

import contextvars
import enum
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple, Protocol, runtime_checkable

from workflows.outside import Refused, Unavailable


class StockLine(NamedTuple):
    """One line of a stock push. A named tuple, as :class:`~workflows.ports.Push`: a drain makes one per line it sends
    (a frozen dataclass's ``__init__`` costs several times as much)."""

    sku: str  # our article (1C's)
    offer_id: str  # the channel's id for it (see workflows.offer_ids)
    qty: int  # what the channel should show as available, >= 0


@dataclass(frozen=True)
class PriceLine:
    sku: str  # our article (1C's)
    offer_id: str  # the channel's id for it (see workflows.offer_ids)
    price: Decimal  # what a buyer should pay on this channel, in roubles with kopecks (already rounded, > 0)


@dataclass(frozen=True)
class PushOutcome:
    """What became of each line of one push."""

    accepted: tuple[str, ...] = ()  # skus the channel took
    rejected: dict[str, str] = field(default_factory=dict)  # sku -> the channel's reason; retrying will not help
    retry: tuple[str, ...] = ()  # skus the channel asked us to send again later (per-item throttling)
    retry_in: dict[str, float] = field(default_factory=dict)  # sku -> seconds until it may go, where the client knows


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
    ship_by: datetime | None = None  # the marketplace's own shipping deadline (UTC), when it gives one


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


def pushes_in_flight(client: object) -> int:
    """How many pushes of one channel may be on the wire at once: the client's ``pushes_in_flight`` where it says
    (Yandex Market takes 4 requests at once per campaign; a gated client gains by overlapping a request's answer
    with the next one's gate), else 1. Each push carries distinct lines, so the order per SKU is kept."""
    value = getattr(client, "pushes_in_flight", 1)
    return value if isinstance(value, int) and value >= 1 else 1


def charges_per_line(client: object) -> bool:
    """Whether a channel counts its limit in lines rather than requests (Yandex Market: 100 000 SKUs a minute). Then
    the lines an order changed go in a push of their own, which costs their lines only, rather than at the head of
    a full one, which would wait at the gate for a whole batch's share of the limit."""
    return getattr(client, "charges_per_line", False) is True


_URGENT_PUSH: contextvars.ContextVar[bool] = contextvars.ContextVar("storeops_urgent_push", default=False)


@contextmanager
def urgent_push() -> Iterator[None]:
    """Mark the requests made within as an urgent push (it carries what an order changed): a client's rate gate lets
    it go ahead of the requests already waiting (``integrations.rate_gate``). Per task, as a context variable is."""
    token = _URGENT_PUSH.set(True)
    try:
        yield
    finally:
        _URGENT_PUSH.reset(token)


def push_is_urgent() -> bool:
    """Whether the running task is within :func:`urgent_push`."""
    return _URGENT_PUSH.get()


@runtime_checkable
class SetsPrices(Protocol):
    """A channel client that can set and read back the price of its offers (every channel's does). Checked
    structurally (``isinstance``). Prices go through the same engine as stock (one line per channel and SKU, the
    newest value wins, leased, retried, refused lines reported), on the channel's own price API and its limits."""

    price_batch_limit: int  # most lines one price push may carry

    async def push_prices(self, lines: Sequence[PriceLine]) -> PushOutcome:
        """Set up to ``price_batch_limit`` prices. Raises ChannelUnavailable or ChannelRefused."""
        ...

    async def read_prices(self, lines: Sequence[PriceLine]) -> dict[str, Decimal]:
        """The price the channel shows now for these lines' offers: ``sku -> price`` (missing: not listed or no
        price). ``price`` of the lines is ignored. Raises ChannelUnavailable or ChannelRefused."""
        ...


@runtime_checkable
class RoundsPricesRead(Protocol):
    """A price client whose channel shows our prices rounded (Wildberries: whole roubles): reading back gives
    ``price_read_step`` multiples, so ours is compared rounded to that step, halves up. Checked structurally."""

    price_read_step: Decimal


@runtime_checkable
class LearnsProducts(Protocol):
    """A client that maps our offers to the channel's own product ids from the channel's catalogue (Wildberries:
    sizes and their chrtIds) and must read it again now and then to pick up new cards and sizes. The composition
    root schedules :meth:`learn_products` for every client that has it (checked structurally: ``isinstance``)."""

    async def learn_products(self) -> int:
        """Read the channel's catalogue again and replace the map; how many products are known."""
        ...


class OrderEventKind(enum.StrEnum):
    """What became of an order on the channel's side, after it was placed. The values are stored."""

    CANCELLED = "cancelled"  # by the buyer, the marketplace or the seller in the channel's cabinet
    DELIVERED = "delivered"  # the buyer has it
    RETURNED = "returned"  # the buyer sent it back (or refused it at pick-up); goods are on their way back


@dataclass(frozen=True)
class ChannelOrderEvent:
    external_id: str  # the channel's order id, as ``new_orders`` gives it
    kind: OrderEventKind
    at: datetime  # when the channel says it happened (UTC); when it does not say, when we saw it
    reason: str = ""  # the channel's words or code (a cancel reason), for the order's history


@dataclass(frozen=True)
class OrderEventPage:
    """Events the channel reported after a cursor. ``cursor`` is the channel's own bookmark (a time, an
    offset, a change id), opaque to the workflows: stored per channel and handed back on the next read."""

    events: tuple[ChannelOrderEvent, ...]
    cursor: str


@runtime_checkable
class ReportsOrderEvents(Protocol):
    """A channel client that can say what became of orders: cancellations, deliveries, returns. Checked
    structurally (``isinstance``), like :class:`LearnsProducts`; a channel without it only sends orders in.

    Delivery is at least once: a read may repeat events already reported (overlapping windows, a cursor
    saved after a crash), so the intake is idempotent on (channel, order, kind)."""

    async def order_events(self, cursor: str | None, watching: Sequence[str]) -> OrderEventPage:
        """Events after ``cursor`` (``None``: the channel's look-back window, e.g. the last days).
        ``watching`` is the channel order ids we hold open, for channels that can only be asked order by
        order (Wildberries' statuses); others may ignore it. Raises ChannelUnavailable or ChannelRefused."""
        ...


@runtime_checkable
class FulfilsOrders(Protocol):
    """A marketplace client that moves its orders through the marketplace's own fulfilment (FBS) flow and can
    cancel an order the shop cannot fill. Checked structurally (``isinstance``). Both calls are idempotent: an
    order already at or past the asked state is a success, so a retry after a lost answer is harmless."""

    async def ready_to_ship(self, external_id: str, lines: Sequence[ChannelOrderLine]) -> None:
        """Every line is allocated and may ship: move the order on (Ozon: the posting is assembled and shipped;
        Wildberries: the assembly order goes into an open supply; Yandex Market: ready to ship). ``lines`` are
        the channel's offers and quantities as the order came. Raises ChannelUnavailable or ChannelRefused."""
        ...

    async def cancel_unfillable(self, external_id: str) -> None:
        """Cancel the order on the marketplace because the shop cannot fill it, with the marketplace's reason
        code for "out of stock" (the one that costs the shop least). Raises ChannelUnavailable or
        ChannelRefused."""
        ...
