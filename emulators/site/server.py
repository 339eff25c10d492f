"""The site's stock and price API (``docs/site_stock_api.md``) over HTTP on 127.0.0.1, for the real ``httpx`` client.

Answers as the document says: no ``Authorization`` → 401, a wrong token → 403, an 11th request within a second →
429 with ``Retry-After``, a push of more than 1000 items or a read of more than 1000 skus → 413 (stock and prices
alike), a body not of the documented shape → 400; otherwise 200, item by item. Tests steer it into failures and
read what it holds and what it was asked.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from emulators.local_server import LocalServer
from emulators.refusals import ForcedRateLimits
from emulators.site import prices
from emulators.site.order_events import BadQuery, OrderJournal, SiteOrderEvent
from emulators.site.prices import SitePrice

PUT_STOCK, GET_STOCK, GET_ORDERS = "putStock", "getStock", "getNewOrders"
GET_ORDER_EVENTS = "getOrderEvents"
PUT_PRICES, GET_PRICES = "putPrices", "getPrices"
MAX_ITEMS = 1000
SITE_SKU = re.compile(r"[^\x00-\x1f\x7f]{1,255}")

Clock = Callable[[], float]
"""Monotonic seconds, for the per-second limit; ``time.monotonic`` in real use, a fake in tests."""
Handler = Callable[[web.Request, Any], Awaitable[web.Response]]


@dataclass(frozen=True)
class SiteStock:
    available: int
    updated_at: datetime


@dataclass(frozen=True)
class SiteOrder:
    order_id: str
    lines: tuple[tuple[str, int], ...]
    created_at: datetime

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.order_id,
            "created_at": self.created_at.isoformat(),
            "lines": [{"sku": sku, "qty": qty} for sku, qty in self.lines],
        }


@dataclass(frozen=True)
class SiteCall:
    """One request as received (the token is not kept: only whether it was right) and the status answered."""

    operation: str
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: Any
    token_ok: bool
    status: int


class _WireError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class SiteEmulator(LocalServer):
    """The site, taking any sku when ``skus`` is ``None``, else only those. ``clock`` drives the rate limit.

    ``async with SiteEmulator("token") as site:`` and give ``site.base_url`` to the client. What was pushed is in
    :meth:`stock` / :attr:`stocks`; :attr:`calls` records every request.
    """

    name = "site"
    url_path = "/api"

    def __init__(
        self,
        token: str,
        *,
        skus: Iterable[str] | None = None,
        clock: Clock = time.monotonic,
        per_second: int = 10,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._token = token
        self.skus: set[str] | None = None if skus is None else set(skus)
        self.stocks: dict[str, SiteStock] = {}
        self.prices: dict[str, SitePrice] = {}
        self.orders: dict[str, SiteOrder] = {}
        self.journal = OrderJournal()
        self.calls: list[SiteCall] = []
        self.per_second = per_second
        self.forced = ForcedRateLimits()
        self._clock, self._now = clock, now
        self._recent: deque[float] = deque()
        self._rejects: dict[str, str] = {}
        self._price_rejects: dict[str, str] = {}
        self._failure: int | None = None

    def __repr__(self) -> str:
        return f"SiteEmulator(skus={'any' if self.skus is None else len(self.skus)})"

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_put("/api/stock", self._guarded(PUT_STOCK, self._put_stock))
        app.router.add_get("/api/stock", self._guarded(GET_STOCK, self._get_stock))
        app.router.add_put("/api/prices", self._guarded(PUT_PRICES, self._put_prices))
        app.router.add_get("/api/prices", self._guarded(GET_PRICES, self._get_prices))
        app.router.add_get("/api/orders/new", self._guarded(GET_ORDERS, self._get_orders))
        app.router.add_get("/api/orders/events", self._guarded(GET_ORDER_EVENTS, self._get_order_events))
        return app

    # -- what tests steer and read -----------------------------------------------------------------------------

    def stock(self, sku: str) -> int | None:
        """What the site shows as available for ``sku`` (``None``: never pushed)."""
        held = self.stocks.get(sku)
        return None if held is None else held.available

    def price(self, sku: str) -> Decimal | None:
        """The price the site shows for ``sku`` (``None``: never set)."""
        held = self.prices.get(sku)
        return None if held is None else held.price

    def add_order(
        self, order_id: str, lines: Sequence[tuple[str, int]], *, created_at: datetime | None = None
    ) -> SiteOrder:
        """A new order of ``lines`` (sku, qty) to fulfil."""
        order = SiteOrder(order_id, tuple(lines), created_at or self._now())
        self.orders[order_id] = order
        return order

    def record_event(self, order_id: str, status: str, *, at: datetime | None = None, reason: str = "") -> str:
        """Write what became of an order in the journal (``status``: ``cancelled``, ``delivered``, ``returned``, or
        anything else for a status the client must skip); it leaves the new orders. Returns the cursor just past
        it."""
        self.orders.pop(order_id, None)
        return self.journal.write(SiteOrderEvent(order_id, status, at or self._now(), reason))

    def cancel_order(self, order_id: str, reason: str = "", *, at: datetime | None = None) -> str:
        """The buyer or the shop cancelled the order on the site."""
        return self.record_event(order_id, "cancelled", at=at, reason=reason)

    def reject(self, sku: str, reason: str) -> None:
        """Pushes of ``sku`` are rejected with ``reason`` from now on."""
        self._rejects[sku] = reason

    def reject_price(self, sku: str, reason: str) -> None:
        """Prices of ``sku`` are rejected with ``reason`` from now on."""
        self._price_rejects[sku] = reason

    def fail_with(self, status: int = 503) -> None:
        """Answer every request with HTTP ``status`` until :meth:`recover`."""
        if not 400 <= status <= 599:
            raise ValueError(f"a failure is an HTTP 4xx or 5xx status, not {status}")
        self._failure = status

    def recover(self) -> None:
        self._failure = None

    def refuse(self, operation: str = PUT_STOCK, times: int = 1, retry_after: int = 1) -> None:
        """The next ``times`` calls of ``operation`` answer 429 with ``Retry-After: retry_after``."""
        self.forced.add(operation, times, retry_after)

    def calls_of(self, operation: str) -> list[SiteCall]:
        return [call for call in self.calls if call.operation == operation]

    # -- answering ---------------------------------------------------------------------------------------------

    def _guarded(self, operation: str, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def guarded(request: web.Request) -> web.Response:
            body = await _body(request)
            auth = request.headers.get("Authorization")
            response = self._admit(operation, auth)
            if response is None:
                try:
                    response = await handler(request, body)
                except _WireError as error:
                    response = _error(error.status, error.reason)
            query = tuple(request.query.items())
            token_ok = auth == f"Bearer {self._token}"
            self.calls.append(SiteCall(operation, request.method, request.path, query, body, token_ok, response.status))
            return response

        return guarded

    def _admit(self, operation: str, auth: str | None) -> web.Response | None:
        if self._failure is not None:
            return _error(self._failure, "the site is failing")
        if not auth:
            return _error(401, "the Authorization header is missing")
        if auth != f"Bearer {self._token}":
            return _error(403, "the token is not valid")
        now = self._clock()
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.per_second:
            return _error(429, f"more than {self.per_second} requests a second", {"Retry-After": "1"})
        retry_after = self.forced.take(operation)
        if retry_after is not None:
            return _error(429, f"rate limited ({operation})", {"Retry-After": str(retry_after)})
        self._recent.append(now)
        return None

    async def _put_stock(self, request: web.Request, body: Any) -> web.Response:
        items = _items(body)
        counts = Counter(item.get("sku") for item in items if isinstance(item.get("sku"), str))
        accepted: list[str] = []
        rejected: list[dict[str, Any]] = []
        for item in items:
            sku = item.get("sku")
            reason = self._refusal(item, counts)
            if reason is not None:
                rejected.append({"sku": sku, "reason": reason})
                continue
            assert isinstance(sku, str)
            accepted.append(sku)
            stamp = datetime.fromisoformat(item["updated_at"])
            held = self.stocks.get(sku)
            if held is None or stamp >= held.updated_at:  # an older figure is taken but not applied
                self.stocks[sku] = SiteStock(item["available"], stamp)
        return web.json_response({"accepted": accepted, "rejected": rejected})

    def _refusal(self, item: dict[str, Any], counts: Counter[Any]) -> str | None:
        available, stamp = item.get("available"), item.get("updated_at")
        reason = self._sku_refusal(item.get("sku"), counts, self._rejects)
        if reason is not None:
            return reason
        if not isinstance(available, int) or isinstance(available, bool) or available < 0:
            return "available must be an integer >= 0"
        if not _aware(stamp):
            return "updated_at must be ISO-8601 with an offset"
        return None

    def _sku_refusal(self, sku: object, counts: Counter[Any], rejects: dict[str, str]) -> str | None:
        if not isinstance(sku, str) or not SITE_SKU.fullmatch(sku):
            return "sku must be 1..255 characters without control characters"
        if counts[sku] > 1:
            return "sku is in the request more than once"
        if sku in rejects:
            return rejects[sku]
        if self.skus is not None and sku not in self.skus:
            return "unknown sku"
        return None

    async def _put_prices(self, request: web.Request, body: Any) -> web.Response:
        items = _items(body)
        counts = Counter(item.get("sku") for item in items if isinstance(item.get("sku"), str))
        accepted: list[str] = []
        rejected: list[dict[str, Any]] = []
        for item in items:
            sku = item.get("sku")
            reason = self._sku_refusal(sku, counts, self._price_rejects) or prices.price_refusal(item)
            if reason is None and not _aware(item.get("updated_at")):
                reason = "updated_at must be ISO-8601 with an offset"
            if reason is not None:
                rejected.append({"sku": sku, "reason": reason})
                continue
            assert isinstance(sku, str)
            accepted.append(sku)
            stamp = datetime.fromisoformat(item["updated_at"])
            held = self.prices.get(sku)
            if held is None or stamp >= held.updated_at:  # an older price is taken but not applied
                self.prices[sku] = SitePrice(Decimal(item["price"]), stamp)
        return web.json_response({"accepted": accepted, "rejected": rejected})

    async def _get_prices(self, request: web.Request, body: Any) -> web.Response:
        wanted = _wanted(request)
        return web.json_response(
            {"items": [prices.wire(sku, self.prices[sku]) for sku in wanted if sku in self.prices]}
        )

    async def _get_stock(self, request: web.Request, body: Any) -> web.Response:
        wanted = _wanted(request)
        items = []
        for sku in wanted:
            held = self.stocks.get(sku)
            if held is not None or (self.skus is not None and sku in self.skus):
                items.append({"sku": sku, "available": 0 if held is None else held.available})
        return web.json_response({"items": items})

    async def _get_orders(self, request: web.Request, body: Any) -> web.Response:
        chosen = sorted(self.orders.values(), key=lambda order: order.created_at)
        return web.json_response({"orders": [order.wire() for order in chosen]})

    async def _get_order_events(self, request: web.Request, body: Any) -> web.Response:
        try:
            return web.json_response(self.journal.page(request.query.get("after"), request.query.get("limit")))
        except BadQuery as error:
            raise _WireError(400, str(error)) from None


_NOT_JSON = "<not JSON>"


async def _body(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    text = await request.text()
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return _NOT_JSON


def _wanted(request: web.Request) -> list[str]:
    """The skus a read asks for, or :class:`_WireError` (400, 413)."""
    wanted = list(dict.fromkeys(request.query.getall("sku", [])))
    if not wanted:
        raise _WireError(400, "at least one sku is needed")
    if len(wanted) > MAX_ITEMS:
        raise _WireError(413, f"at most {MAX_ITEMS} skus a request, not {len(wanted)}")
    return wanted


def _items(body: Any) -> list[dict[str, Any]]:
    """The push's items, or :class:`_WireError` (400, 413) for a body not of the documented shape."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise _WireError(400, 'the body must be {"items": [...]}')
    items: list[Any] = body["items"]
    if len(items) > MAX_ITEMS:
        raise _WireError(413, f"at most {MAX_ITEMS} items a request, not {len(items)}")
    if not all(isinstance(item, dict) for item in items):
        raise _WireError(400, "every item must be an object")
    return items


def _aware(stamp: object) -> bool:
    if not isinstance(stamp, str):
        return False
    try:
        return datetime.fromisoformat(stamp).utcoffset() is not None
    except ValueError:
        return False


def _error(status: int, reason: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": reason}, status=status, headers=headers)
