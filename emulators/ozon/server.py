"""Ozon's Seller API over HTTP on 127.0.0.1, for the real ``httpx`` client.

Serves ``POST /v2/products/stocks``, ``POST /v4/product/info/stocks``, ``POST /v3/posting/fbs/unfulfilled/list``,
``POST /v3/posting/fbs/list``, ``POST /v1/returns/list`` and, for the seller's own moves, ``POST /v3/posting/fbs/get``,
``POST /v4/posting/fbs/ship`` and ``POST /v2/posting/fbs/cancel`` (:mod:`emulators.ozon.fulfilment`), and prices,
``POST /v1/product/import/prices`` and ``POST /v5/product/info/prices`` (:mod:`emulators.ozon.prices`), of one seller
(:class:`~emulators.ozon.seller.SellerAccount`). A request passes, in order: a failure a test asked for
(:meth:`OzonEmulator.fail_with`, :meth:`OzonEmulator.hang`); the headers (``Client-Id`` and ``Api-Key`` both
missing or empty → 401, wrong → 403, as ``rpcStatus``; the status codes and texts are *[emulator]*, the spec lists
only the texts); a forced 429; 50 requests a second per Client-Id over all methods; 80 stock updates a minute per
seller, counted in any 60-s window; then the method. Over a limit: HTTP 429 ``{"code": 8, "message": …}``. Refused
requests do not count towards a limit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from typing import Any

from aiohttp import web

from emulators.local_server import LocalServer
from emulators.ozon import fulfilment, lifecycle
from emulators.ozon.postings import Cancellation, OzonReturn, Posting, postings_products
from emulators.ozon.prices import PriceBook, Priced
from emulators.ozon.seller import SellerAccount, invalid, rpc_status
from emulators.refusals import ForcedRateLimits

STOCKS_PATH = "/v2/products/stocks"
STOCK_INFO_PATH = "/v4/product/info/stocks"
UNFULFILLED_PATH = "/v3/posting/fbs/unfulfilled/list"
FBS_LIST_PATH = "/v3/posting/fbs/list"
RETURNS_PATH = "/v1/returns/list"
POSTING_GET_PATH = "/v3/posting/fbs/get"
SHIP_PATH = "/v4/posting/fbs/ship"
CANCEL_PATH = "/v2/posting/fbs/cancel"
IMPORT_PRICES_PATH = "/v1/product/import/prices"
PRICE_INFO_PATH = "/v5/product/info/prices"
PER_SECOND_MESSAGE = "You have reached request rate limit per second"
PER_MINUTE_MESSAGE = "You have reached request rate limit per minute"  # [emulator] the spec gives no text

Clock = Callable[[], float]
_ANY = "*"
_NOT_JSON = object()


@dataclass(frozen=True)
class OzonCall:
    """One request as received (the key itself is never kept) and the status it got.

    ``key`` is ``"ok"``, ``"wrong"`` or ``"missing"``; ``at`` is the emulator's clock when it arrived."""

    path: str
    body: Any
    client_id: str | None
    key: str
    status: int
    at: float


class SlidingWindow:
    """At most ``limit`` admissions in any ``span`` seconds (on ``clock``)."""

    def __init__(self, limit: int, span: float, clock: Clock) -> None:
        self.limit, self.span, self._clock = limit, span, clock
        self._times: deque[float] = deque()

    def full(self) -> bool:
        """Whether one more now would exceed the limit."""
        now = self._clock()
        while self._times and self._times[0] <= now - self.span:
            self._times.popleft()
        return len(self._times) >= self.limit

    def add(self) -> None:
        self._times.append(self._clock())


class OzonEmulator(LocalServer):
    """One Ozon seller (``client_id``, ``api_key``) with FBS ``warehouses`` (ids, or ids to names) and ``products``
    (offer ids; product ids and SKUs are made up). ``clock`` (seconds) drives the limits and the 30-s rule per
    pair, ``utcnow`` the default dates of postings: give fakes so tests move time instead of sleeping."""

    name = "Ozon"
    url_path = "/"

    def __init__(
        self,
        client_id: str,
        api_key: str,
        warehouses: Mapping[int, str] | Iterable[int],
        products: Iterable[str] = (),
        *,
        clock: Clock = time.monotonic,
        utcnow: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        stock_updates_per_minute: int = 80,
        requests_per_second: int = 50,
    ) -> None:
        names = warehouses if isinstance(warehouses, Mapping) else {w: f"Склад {w}" for w in warehouses}
        self.client_id, self._api_key = client_id, api_key
        self.seller = SellerAccount(names, products)
        self.price_book = PriceBook(self.seller.products)
        self.received: list[OzonCall] = []
        self._clock, self._utcnow = clock, utcnow
        self.per_second = SlidingWindow(requests_per_second, 1.0, clock)
        self.stock_updates = SlidingWindow(stock_updates_per_minute, 60.0, clock)
        self._forced = ForcedRateLimits()
        self._failure: tuple[int, str] | None = None
        self._hanging = False
        self._released = asyncio.Event()
        self._next_order_id = 559_293_000
        self._moves: dict[str, Callable[[Any], tuple[int, dict[str, Any]]]] = {
            POSTING_GET_PATH: lambda body: fulfilment.get(self.seller, body),
            SHIP_PATH: lambda body: fulfilment.ship(self.seller, body, self._utcnow()),
            CANCEL_PATH: lambda body: fulfilment.cancel(self.seller, body, self._utcnow()),
        }

    def __repr__(self) -> str:  # never the key
        return f"OzonEmulator(client_id={self.client_id!r})"

    def application(self) -> web.Application:
        app = web.Application()
        paths = (STOCKS_PATH, STOCK_INFO_PATH, UNFULFILLED_PATH, FBS_LIST_PATH, RETURNS_PATH)
        for path in (*paths, IMPORT_PRICES_PATH, PRICE_INFO_PATH, *self._moves):
            app.router.add_post(path, self._handle)
        return app

    async def _after_start(self) -> None:
        self._released.clear()

    async def _before_stop(self) -> None:
        self._hanging = False
        self._released.set()

    # -- what tests read and steer ---------------------------------------------------------------------------

    def stock(self, warehouse_id: int, offer_id: str) -> int | None:
        """What is available (reserves excluded; what a stock update sets), ``None`` when never set."""
        return self.seller.available.get((warehouse_id, offer_id))

    def reserved(self, warehouse_id: int, offer_id: str) -> int:
        return self.seller.reserved.get((warehouse_id, offer_id), 0)

    def set_stock(self, warehouse_id: int, offer_id: str, available: int, *, reserved: int | None = None) -> None:
        """Put stock in place as if set in the seller's cabinet (does not start the 30 s of the pair)."""
        self.seller.available[warehouse_id, offer_id] = available
        if reserved is not None:
            self.seller.reserved[warehouse_id, offer_id] = reserved

    def price(self, offer_id: str) -> Decimal | None:
        """The price on the product's card (before Ozon's promotions); ``None`` when never set."""
        priced = self.price_book.prices.get(offer_id)
        return None if priced is None else priced.price

    def old_price(self, offer_id: str) -> Decimal | None:
        priced = self.price_book.prices.get(offer_id)
        return None if priced is None else priced.old_price

    def set_price(self, offer_id: str, price: Decimal, *, old_price: Decimal = Decimal(0)) -> None:
        """Price a product as if in the seller's cabinet (does not count towards its 10 updates an hour)."""
        self.price_book.prices[offer_id] = Priced(price, old_price)

    def set_price_bounds(self, offer_id: str, lowest: Decimal, highest: Decimal) -> None:
        """The product's category allows prices only within these: others are ``invalid_category_price``."""
        self.price_book.bounds[offer_id] = (lowest, highest)

    def add_posting(
        self,
        posting_number: str,
        products: Sequence[tuple[str, int]],
        *,
        warehouse_id: int | None = None,
        status: str = "awaiting_packaging",
        in_process_at: dt.datetime | None = None,
        shipment_date: dt.datetime | None = None,
        order_id: int | None = None,
        reserve: bool = True,
    ) -> Posting:
        """An FBS posting of ``(offer_id, quantity)`` pairs; by default on the first warehouse, in process from
        ``utcnow()``, to be shipped a day later, reserving its units (``reserve=False``: stock untouched)."""
        if order_id is None:
            self._next_order_id += 1
            order_id = self._next_order_id
        started = in_process_at or self._utcnow()
        posting = Posting(
            posting_number=posting_number,
            order_id=order_id,
            warehouse_id=warehouse_id if warehouse_id is not None else next(iter(self.seller.warehouses)),
            products=postings_products(products),
            in_process_at=started,
            shipment_date=shipment_date or started + dt.timedelta(days=1),
            status=status,
            status_changed_at=started,
        )
        self.seller.add_posting(posting, reserve=reserve)
        return posting

    def set_posting_status(self, posting_number: str, status: str, *, at: dt.datetime | None = None) -> None:
        posting = self.seller.postings[posting_number]
        posting.status, posting.status_changed_at = status, at or self._utcnow()

    def cancel_posting(
        self,
        posting_number: str,
        reason: str = "Покупатель отменил заказ",
        *,
        initiator: str = "Клиент",
        cancellation_type: str = "client",
        reason_id: int = 402,
        after_ship: bool = False,
        at: dt.datetime | None = None,
    ) -> Posting:
        """Cancel a posting as Ozon reports it (reason, its id, who; ``at``: when, else ``utcnow()``); units it
        still reserves become available again."""
        posting = self.seller.postings[posting_number]
        cancelled = Cancellation(reason, reason_id, initiator, cancellation_type, after_ship)
        lifecycle.cancel(self.seller, posting, cancelled, at or self._utcnow())
        return posting

    def deliver(self, posting_number: str, *, at: dt.datetime | None = None) -> Posting:
        """The buyer received the posting (``at``, else ``utcnow()``)."""
        posting = self.seller.postings[posting_number]
        lifecycle.deliver(self.seller, posting, at or self._utcnow())
        return posting

    def return_(
        self,
        posting_number: str,
        reason: str = "Покупатель отказался при вручении",
        *,
        kind: str = "FullReturn",
        status: str = "MovingToSeller",
        offers: Sequence[tuple[str, int]] | None = None,
        at: dt.datetime | None = None,
    ) -> list[OzonReturn]:
        """The posting's products (or ``offers``) come back: one line of ``/v1/returns/list`` each, of ``kind``
        (``FullReturn``, ``PartialReturn``, ``ClientReturn``, ``Cancellation``) in the visual ``status``."""
        if kind not in lifecycle.RETURN_TYPES or status not in lifecycle.RETURN_STATUSES:
            raise ValueError(f"not a return the emulator knows: {kind}, {status}")
        posting = self.seller.postings[posting_number]
        moment = at or self._utcnow()
        made = []
        for offer, qty in offers or posting.products:
            number = len(self.seller.returns) + 1_000_015_552
            made.append(OzonReturn(number, posting, offer, qty, kind, reason, status, moment, moment))
            self.seller.returns.append(made[-1])
        return made

    def calls(self, path: str | None = None) -> list[OzonCall]:
        """Requests received, oldest first (only those to ``path`` when given)."""
        return [call for call in self.received if path is None or call.path == path]

    def force_rate_limit(self, times: int = 1, retry_after: int = 0, *, path: str | None = None) -> None:
        """Answer the next ``times`` requests (to ``path``, or any) 429 with Ozon's body; ``retry_after`` > 0 adds
        a ``Retry-After`` header (*[emulator]*: Ozon documents none)."""
        self._forced.add(path or _ANY, times, retry_after)

    def fail_with(self, status: int = 503, message: str | None = None) -> None:
        """Answer every request with HTTP ``status`` and an ``rpcStatus`` body until :meth:`recover`."""
        if not 400 <= status <= 599:
            raise ValueError(f"a failure is an HTTP 4xx or 5xx status, not {status}")
        self._failure = (status, message or _phrase(status))

    def hang(self) -> None:
        """Hold every request unanswered until :meth:`recover` or :meth:`stop`: clients time out."""
        self._hanging = True
        self._released.clear()

    def recover(self) -> None:
        """Answer normally again; requests held by :meth:`hang` are answered now."""
        self._failure = None
        self._hanging = False
        self._released.set()

    # -- answering -------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = _NOT_JSON
        client_id = request.headers.get("Client-Id")
        key = self._key(client_id, request.headers.get("Api-Key"))
        while self._hanging:
            await self._released.wait()
        status, answer, headers = self._answer(request.path, body, key)
        recorded = None if body is _NOT_JSON else body
        self.received.append(OzonCall(request.path, recorded, client_id, key, status, self._clock()))
        return web.json_response(answer, status=status, headers=headers)

    def _key(self, client_id: str | None, api_key: str | None) -> str:
        if not client_id or not api_key:
            return "missing"
        return "ok" if client_id == self.client_id and api_key == self._api_key else "wrong"

    def _answer(self, path: str, body: Any, key: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self._failure is not None:
            status, message = self._failure
            return status, rpc_status(13 if status >= 500 else 9, message), {}
        if key == "missing":
            return 401, rpc_status(16, "Client-Id and Api-Key headers are required"), {}
        if key == "wrong":
            return 403, rpc_status(7, "Invalid Api-Key, please check the key and try again"), {}
        limited = self._limit(path)
        if limited is not None:
            return limited
        if body is _NOT_JSON:
            return (*invalid("invalid request body: not JSON"), {})
        if path == STOCKS_PATH:
            return (*self.seller.update_stocks(body, self._clock()), {})
        if path == STOCK_INFO_PATH:
            return (*self.seller.stock_info(body), {})
        if path == FBS_LIST_PATH:
            return (*lifecycle.fbs_list(self.seller, body), {})
        if path == RETURNS_PATH:
            return (*lifecycle.returns_list(self.seller, body), {})
        if path in self._moves:
            return (*self._moves[path](body), {})
        if path == IMPORT_PRICES_PATH:
            return (*self.price_book.import_prices(body, self._clock()), {})
        if path == PRICE_INFO_PATH:
            return (*self.price_book.info_prices(body), {})
        return (*self.seller.unfulfilled(body), {})

    def _limit(self, path: str) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        forced = self._forced.take(path)
        if forced is None:
            forced = self._forced.take(_ANY)
        if forced is not None:
            return 429, rpc_status(8, PER_SECOND_MESSAGE), ({"Retry-After": str(forced)} if forced > 0 else {})
        windows = [self.per_second, *([self.stock_updates] if path == STOCKS_PATH else [])]
        for window in windows:
            if window.full():
                message = PER_SECOND_MESSAGE if window is self.per_second else PER_MINUTE_MESSAGE
                return 429, rpc_status(8, message), {}
        for window in windows:
            window.add()
        return None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
