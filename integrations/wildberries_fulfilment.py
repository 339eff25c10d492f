"""Wildberries' FBS flow for :class:`workflows.channels.FulfilsOrders`: an assembly order that may ship goes into an
open *supply*; one the shop cannot fill is cancelled. Used by :class:`integrations.wildberries.WildberriesClient`.

**Ready to ship.** WB ships FBS orders in supplies: the seller creates a supply (``POST /api/v3/supplies``), adds
assembly orders to it (``PATCH /api/marketplace/v3/supplies/{supplyId}/orders``, which moves them from ``new`` to
``confirm``: on assembly), and the supply is handed over to WB as a whole. This client keeps one open supply of its
own, named ``storeops YYYY-MM-DD`` (the day it was opened, UTC): it finds the newest open supply whose name starts
with ``storeops`` (``GET /api/v3/supplies``, every page) or creates one, and remembers its id in memory so the list
is not read on every order. Supplies people made in WB's cabinet under other names are left alone.

**Closing the supply is not ours.** Handing the supply over (``PATCH /api/v3/supplies/{supplyId}/deliver``), its
barcode and boxes are the warehouse staff's work in WB's cabinet, when the courier comes; this client never closes
a supply. Once they close it, the next order finds WB refusing to add to it: the client asks WB whether the supply
is still open (``GET /api/v3/supplies/{supplyId}``), and when it is closed or gone, forgets it, finds or creates a
new open one and adds the order there.

**Idempotent.** Before adding, the order's statuses are read (``POST /api/v3/orders/status``): one already
``confirm`` (in a supply, ours or one the staff chose) or ``complete`` (handed over), or sold, is a success and is
not moved; one cancelled or refused is :class:`ChannelRefused`. After a 404 or 409 from WB the statuses are read
again, so an order someone else moved on meanwhile is a success too. A supply takes the cargo type and warehouse of
its first order and refuses others (409 ``FailedToAddSupplyOrder``): such an order is refused with WB's words and
needs the staff.

**Cancel unfillable.** ``PATCH /api/v3/orders/{orderId}/cancel`` (``supplierStatus`` ``cancel``; WB has no reason
code for it). An order WB already shows as cancelled (by the seller, the buyer or WB) is a success; one handed over
or sold is refused with WB's words. Cancelling has its own limit (100 a minute, burst 20), so its own gate.

Errors go through the client's wire: 429 and 5xx → :class:`ChannelUnavailable` with WB's wait, other 4xx →
:class:`ChannelRefused` with WB's words, never the token. A 409 costs ten requests on either limit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field, ValidationError

from integrations.rate_gate import RateGate
from integrations.wildberries_statuses import event_of
from workflows.channels import ChannelRefused, ChannelUnavailable, OrderEventKind
from workflows.outside import OutsideSystemError

log = logging.getLogger(__name__)

SUPPLY_PREFIX = "storeops"
SUPPLIES_PAGE = 1000  # WB's maximum ``limit`` of the supply list
IN_A_SUPPLY = frozenset({"confirm", "complete"})  # supplierStatus of an order at or past "ready to ship"
_MAX_SUPPLY_PAGES = 1000  # a million supplies: a list that runs longer is a fault
_MAX_ORDER_ID = 2**63 - 1
_ANSWERED = (httpx.codes.NOT_FOUND, httpx.codes.CONFLICT)

Statuses = tuple[str | None, str | None]
"""An order's ``(supplierStatus, wbStatus)``."""


class Call(Protocol):
    """The client's one request through a gate (its wire, its token): the 2xx answer or one in ``passing``."""

    def __call__(
        self,
        gate: RateGate,
        method: str,
        url: str,
        body: Any = None,
        *,
        passing: Collection[int] = ...,
        params: dict[str, Any] | None = None,
    ) -> Awaitable[httpx.Response]: ...


class _Supply(BaseModel):
    id: str
    done: bool
    name: str = ""
    createdAt: dt.datetime | None = None


class _SupplyPage(BaseModel):
    next: int = 0
    supplies: list[_Supply] = Field(default_factory=list)


class _Created(BaseModel):
    id: str = Field(min_length=1)


_Model = TypeVar("_Model", bound=BaseModel)


class WildberriesFulfilment:
    """One open supply of ours and the two moves of the FBS flow (see the module's docstring)."""

    def __init__(
        self,
        *,
        call: Call,
        refuse: Callable[[httpx.Response], OutsideSystemError],
        statuses: Callable[[int], Awaitable[Statuses | None]],
        marketplace: str,
        orders_gate: RateGate,
        cancel_gate: RateGate,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._call, self._refuse, self._statuses = call, refuse, statuses
        self._marketplace = marketplace.rstrip("/")
        self._orders_gate, self._cancel_gate = orders_gate, cancel_gate
        self._clock = clock
        self._supply_id: str | None = None
        self._lock = asyncio.Lock()

    @property
    def supply_id(self) -> str | None:
        """The open supply remembered, if any."""
        return self._supply_id

    # -- ready to ship ---------------------------------------------------------------------------------------

    async def ready_to_ship(self, external_id: str) -> None:
        order_id = order_id_of(external_id)
        if await self._moved_on(order_id):
            return
        supply_id = await self._open_supply()
        refused = await self._add(supply_id, order_id)
        if refused is None:
            log.info("wildberries: order %s added to supply %s", order_id, supply_id)
            return
        if await self._moved_on(order_id, refused):
            return
        if await self._still_open(supply_id):
            raise self._refuse(refused)
        log.info("wildberries: supply %s is closed; the next order goes into another", supply_id)
        self._forget(supply_id)
        supply_id = await self._open_supply()
        refused = await self._add(supply_id, order_id)
        if refused is not None:
            raise self._refuse(refused)
        log.info("wildberries: order %s added to supply %s", order_id, supply_id)

    async def _moved_on(self, order_id: int, refused: httpx.Response | None = None) -> bool:
        """Whether the order is already in a supply or further on; refused when it is cancelled or unknown."""
        statuses = await self._statuses(order_id)
        if statuses is None:
            if refused is not None:
                raise self._refuse(refused)
            raise ChannelRefused(f"Wildberries has no assembly order {order_id}")
        supplier, wb = statuses
        event = event_of(supplier, wb)
        if event is not None and event[0] is not OrderEventKind.DELIVERED:
            raise ChannelRefused(f"Wildberries: order {order_id} cannot ship, it is {event[0]} ({event[1]})")
        return event is not None or supplier in IN_A_SUPPLY

    async def _add(self, supply_id: str, order_id: int) -> httpx.Response | None:
        """``None`` when WB took the order into the supply, else its 404 or 409 answer."""
        url = f"{self._marketplace}/api/marketplace/v3/supplies/{quote(supply_id, safe='')}/orders"
        response = await self._call(self._orders_gate, "PATCH", url, {"orders": [order_id]}, passing=_ANSWERED)
        return None if httpx.codes.is_success(response.status_code) else response

    async def _still_open(self, supply_id: str) -> bool:
        url = f"{self._marketplace}/api/v3/supplies/{quote(supply_id, safe='')}"
        response = await self._call(self._orders_gate, "GET", url, passing=(httpx.codes.NOT_FOUND,))
        if response.status_code == httpx.codes.NOT_FOUND:
            return False
        return not _read(_Supply, response).done

    def _forget(self, supply_id: str) -> None:
        if self._supply_id == supply_id:
            self._supply_id = None

    # -- the open supply -------------------------------------------------------------------------------------

    async def _open_supply(self) -> str:
        """The remembered open supply, else the newest open one of ours on WB, else a new one."""
        async with self._lock:  # two orders at once must not open two supplies
            if self._supply_id is None:
                self._supply_id = await self._find_open() or await self._create()
            return self._supply_id

    async def _find_open(self) -> str | None:
        url = f"{self._marketplace}/api/v3/supplies"
        ours: list[_Supply] = []
        after = 0
        for _ in range(_MAX_SUPPLY_PAGES):
            params = {"limit": SUPPLIES_PAGE, "next": after}
            page = _read(_SupplyPage, await self._call(self._orders_gate, "GET", url, params=params))
            ours += [s for s in page.supplies if not s.done and s.name.startswith(SUPPLY_PREFIX)]
            if len(page.supplies) < SUPPLIES_PAGE or page.next in (0, after):
                break
            after = page.next
        else:
            raise ChannelUnavailable("Wildberries' supply list did not end")
        if not ours:
            return None
        newest = max(ours, key=lambda s: (s.createdAt or dt.datetime.min.replace(tzinfo=dt.UTC), s.id))
        log.info("wildberries: open supply %s found (%d open of ours)", newest.id, len(ours))
        return newest.id

    async def _create(self) -> str:
        name = f"{SUPPLY_PREFIX} {self._clock().astimezone(dt.UTC):%Y-%m-%d}"
        response = await self._call(self._orders_gate, "POST", f"{self._marketplace}/api/v3/supplies", {"name": name})
        supply_id = _read(_Created, response).id
        log.info("wildberries: supply %s opened as %r", supply_id, name)
        return supply_id

    # -- cancel ----------------------------------------------------------------------------------------------

    async def cancel_unfillable(self, external_id: str) -> None:
        order_id = order_id_of(external_id)
        url = f"{self._marketplace}/api/v3/orders/{order_id}/cancel"
        response = await self._call(self._cancel_gate, "PATCH", url, passing=_ANSWERED)
        if httpx.codes.is_success(response.status_code):
            log.info("wildberries: order %s cancelled as unfillable", order_id)
            return
        statuses = await self._statuses(order_id)
        event = None if statuses is None else event_of(*statuses)
        if event is not None and event[0] is OrderEventKind.CANCELLED:
            log.info("wildberries: order %s was already cancelled (%s)", order_id, event[1])
            return
        raise self._refuse(response)


def order_id_of(external_id: str) -> int:
    """WB's assembly order id (decimal digits, as ``new_orders`` gives it); refused when it is none."""
    if external_id.isascii() and external_id.isdigit() and 0 < int(external_id) <= _MAX_ORDER_ID:
        return int(external_id)
    raise ChannelRefused(f"{external_id[:40]!r} is not a Wildberries order id")


def _read(model: type[_Model], response: httpx.Response) -> _Model:
    try:
        return model.model_validate_json(response.content)
    except ValidationError:
        raise ChannelUnavailable(f"Wildberries answered {response.request.url.path} in an unknown shape") from None
