"""Yandex Market's Partner API for one campaign over HTTP on 127.0.0.1, for the real ``httpx`` client.

Serves updateStocks (``PUT …/offers/stocks``), getStocks (``POST …/offers/stocks``), getOrders
(``GET …/orders``, with the update-time filter), getReturns (``GET …/returns``), and the seller's moves of an order,
updateOrderStatus (``PUT …/orders/{orderId}/status``) and getOrder (``GET …/orders/{orderId}``:
:mod:`emulators.yandex_market.fulfilment`), and the campaign's prices, updatePrices (``POST …/offer-prices/updates``,
10 000 offers a minute; 423 when the cabinet's prices are the same in every store) and getPricesByOfferIds
(``POST …/offer-prices``: :mod:`emulators.yandex_market.prices`) under
``/v2/campaigns/{campaignId}`` and the older unversioned ``/campaigns/{campaignId}``.
Answers as the Market does: ``Api-Key`` checked (none → 401, wrong → 403), an unknown campaign → 404, a fifth
parallel request or a 100 001st sku in a minute → 420 ``REQUEST_LIMIT_EXCEEDED``, a malformed or partly unknown
stock push → 400 and nothing applied. Tests steer it into failures and record every call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from emulators.local_server import LocalServer
from emulators.refusals import ForcedRateLimits
from emulators.yandex_market import fulfilment, lifecycle
from emulators.yandex_market.lifecycle import MarketReturn
from emulators.yandex_market.limits import Clock, InFlight, SkuWindow
from emulators.yandex_market.prices import (
    OFFERS_PER_MINUTE,
    PriceEntry,
    parse_price_offer_ids,
    parse_update_prices,
    price_offer,
)
from emulators.yandex_market.wire import (
    MarketOrder,
    StockEntry,
    WireError,
    error_body,
    page_limit,
    page_offset,
    page_token,
    parse_offer_ids,
    parse_update_stocks,
    warehouse_offer,
)

UPDATE_STOCKS, GET_STOCKS, GET_ORDERS, GET_RETURNS = "updateStocks", "getStocks", "getOrders", "getReturns"
UPDATE_ORDER_STATUS, GET_ORDER = "updateOrderStatus", "getOrder"
UPDATE_PRICES, GET_PRICES = "updatePrices", "getPricesByOfferIds"
STOCK_PAGE_DEFAULT, STOCK_PAGE_MAX = 100, 200  # PageLimit200.yaml
ORDERS_PAGE_MAX = 50  # PageLimit50TruncateWithoutDefault.yaml
RETURNS_PAGE_DEFAULT, RETURNS_PAGE_MAX = 50, 100  # PageLimit100Truncate.yaml

Handler = Callable[[web.Request, Any], Awaitable[web.Response]]
"""A method's own answer, given the request and its JSON body (``None`` when it had none)."""


@dataclass(frozen=True)
class YmCall:
    """One request as received (the key is not kept: only whether it was right) and the HTTP status answered."""

    operation: str
    method: str
    path: str
    query: Mapping[str, str]
    body: Any
    key_ok: bool
    status: int
    pairs: tuple[tuple[str, str], ...] = ()  # the query as sent, a repeated name (``status=A&status=B``) each time

    def query_values(self) -> dict[str, list[str]]:
        """The query with every value of a repeated name."""
        values: dict[str, list[str]] = {}
        for name, value in self.pairs:
            values.setdefault(name, []).append(value)
        return values


class YandexMarketEmulator(LocalServer):
    """One campaign of the Market with its catalogue of ``offers`` (ShopSkus), served on a free local port.

    ``async with YandexMarketEmulator("key", 12345, offers=["A-1"]) as ym:`` and give ``ym.base_url`` to the client.
    ``clock`` (monotonic seconds) drives the per-minute sku limit; ``now`` stamps stock pushed without
    ``updatedAt``. What was pushed is in :attr:`stocks` / :meth:`stock`; :attr:`calls` records every request;
    :attr:`peak_in_flight` is the most requests ever handled at once.
    """

    name = "Yandex Market"
    url_path = "/"

    def __init__(
        self,
        api_key: str,
        campaign_id: int,
        offers: Iterable[str] = (),
        *,
        warehouse_id: int = 700_001,
        max_parallel: int = 4,
        skus_per_minute: int = 100_000,
        price_offers_per_minute: int = OFFERS_PER_MINUTE,
        clock: Clock = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.api_key, self.campaign_id, self.warehouse_id = api_key, campaign_id, warehouse_id
        self.offers: list[str] = list(dict.fromkeys(offers))
        self.stocks: dict[str, StockEntry] = {}
        self.orders: dict[int, MarketOrder] = {}
        self.returns: list[MarketReturn] = []
        self.calls: list[YmCall] = []
        self.max_parallel = max_parallel
        self.in_flight = InFlight()
        self.sku_window = SkuWindow(skus_per_minute, clock)
        self.prices: dict[str, PriceEntry] = {}
        self.price_window = SkuWindow(price_offers_per_minute, clock)
        self.same_prices_everywhere = False  # the cabinet's onlyDefaultPrice: campaign prices answer 423
        self.forced = ForcedRateLimits()
        self._now = now
        self._failure: int | None = None

    # -- serving -----------------------------------------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application()
        for prefix in ("/v2/campaigns/{campaignId}", "/campaigns/{campaignId}"):
            app.router.add_put(prefix + "/offers/stocks", self._guarded(UPDATE_STOCKS, self._update_stocks))
            app.router.add_post(prefix + "/offers/stocks", self._guarded(GET_STOCKS, self._get_stocks))
            app.router.add_get(prefix + "/orders", self._guarded(GET_ORDERS, self._get_orders))
            app.router.add_get(prefix + "/returns", self._guarded(GET_RETURNS, self._get_returns))
            app.router.add_put(prefix + "/orders/{orderId}/status", self._guarded(UPDATE_ORDER_STATUS, self._status))
            app.router.add_get(prefix + "/orders/{orderId}", self._guarded(GET_ORDER, self._get_order))
            app.router.add_post(prefix + "/offer-prices/updates", self._guarded(UPDATE_PRICES, self._update_prices))
            app.router.add_post(prefix + "/offer-prices", self._guarded(GET_PRICES, self._get_prices))
        return app

    async def _before_stop(self) -> None:
        self.in_flight.release()  # held requests are let go first

    # -- what tests steer and read -----------------------------------------------------------------------------

    def stock(self, offer_id: str) -> StockEntry | None:
        """The stock held for ``offer_id`` (``None``: never pushed)."""
        return self.stocks.get(offer_id)

    def price(self, offer_id: str) -> PriceEntry | None:
        """The price the campaign shows for ``offer_id`` (``None``: never set)."""
        return self.prices.get(offer_id)

    def add_offer(self, *offer_ids: str) -> None:
        self.offers.extend(offer for offer in offer_ids if offer not in self.offers)

    def add_order(
        self,
        order_id: int,
        items: Sequence[tuple[str, int]],
        *,
        status: str = "PROCESSING",
        substatus: str = "STARTED",
        created_at: datetime | None = None,
        fake: bool = False,
        ship_on: date | None = None,
    ) -> MarketOrder:
        """Place an order of ``items`` (offer id, count); by default confirmed and waiting to be packed, to be
        shipped on ``ship_on`` (else the day after it was placed, in Moscow time)."""
        order = MarketOrder(order_id, list(items), status, substatus, created_at or self._now(), fake, ship_on=ship_on)
        self.orders[order_id] = order
        return order

    def cancel_order(self, order_id: int, substatus: str = "USER_CHANGED_MIND", *, at: datetime | None = None) -> None:
        """The order is cancelled, ``substatus`` saying why (the spec's OrderSubstatusType: ``USER_CHANGED_MIND``,
        ``SHOP_FAILED``, ``USER_REFUSED_DELIVERY``…), at ``at`` (else now): its ``updatedAt``."""
        lifecycle.cancel(self.orders[order_id], substatus, at or self._now())

    def deliver(self, order_id: int, *, at: datetime | None = None) -> None:
        """The buyer received the order (``DELIVERED``), at ``at`` (else now)."""
        lifecycle.deliver(self.orders[order_id], at or self._now())

    def return_(
        self,
        order_id: int,
        reason: str = "BAD_QUALITY",
        *,
        return_type: str = "RETURN",
        items: Sequence[tuple[str, int]] | None = None,
        shipment_status: str = "IN_TRANSIT",
        refund_status: str = "STARTED_BY_USER",
        at: datetime | None = None,
    ) -> MarketReturn:
        """A return (``RETURN``) or an unredeemed order (``UNREDEEMED``) of the order's items (or ``items``), made
        and last updated at ``at`` (else now); ``reason`` is the decision's reasonType ("" for none)."""
        if return_type not in lifecycle.RETURN_TYPES:
            raise ValueError(f"a return is one of {sorted(lifecycle.RETURN_TYPES)}, not {return_type!r}")
        order, moment = self.orders[order_id], at or self._now()
        made = MarketReturn(
            return_id=len(self.returns) + 310_000,
            order_id=order_id,
            items=list(items or order.items),
            return_type=return_type,
            created_at=moment,
            updated_at=moment,
            shipment_status=shipment_status,
            refund_status=refund_status,
            reason=reason,
        )
        self.returns.append(made)
        return made

    def fail_with(self, status: int = 503) -> None:
        """Answer every request with HTTP ``status`` and an ``INTERNAL_ERROR`` body until :meth:`recover`."""
        if not 400 <= status <= 599:
            raise ValueError(f"a failure is an HTTP 4xx or 5xx status, not {status}")
        self._failure = status

    def recover(self) -> None:
        self._failure = None

    def refuse(self, operation: str = UPDATE_STOCKS, times: int = 1, retry_after: int = 0) -> None:
        """The next ``times`` calls of ``operation`` answer 420, whatever the traffic; with ``Retry-After`` when
        ``retry_after`` > 0 (the Market does not document that header: this tests that a hint is honoured)."""
        self.forced.add(operation, times, retry_after)

    def hold(self) -> None:
        """Requests admitted from now on wait, in flight, until :meth:`release` (to test parallelism)."""
        self.in_flight.hold()

    def release(self) -> None:
        self.in_flight.release()

    async def wait_in_flight(self, count: int) -> None:
        """Until ``count`` requests are being handled at once (bound it with ``asyncio.timeout``)."""
        await self.in_flight.wait_for(count)

    @property
    def peak_in_flight(self) -> int:
        return self.in_flight.peak

    def calls_of(self, operation: str) -> list[YmCall]:
        return [call for call in self.calls if call.operation == operation]

    # -- answering ---------------------------------------------------------------------------------------------

    def _guarded(self, operation: str, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        """What every method shares: failure mode, auth, campaign, the parallel limit, forced 420s, the hold."""

        async def guarded(request: web.Request) -> web.Response:
            body = await _body(request)
            key = request.headers.get("Api-Key")
            count = await self.in_flight.enter()
            try:
                response = await self._admit(operation, request, key, count) or await self._held(handler, request, body)
            finally:
                self.in_flight.leave()
            recorded = "<not JSON>" if body is _NOT_JSON else body
            query, pairs = dict(request.query), tuple(request.query.items())
            key_ok = key == self.api_key
            self.calls.append(
                YmCall(operation, request.method, request.path, query, recorded, key_ok, response.status, pairs)
            )
            return response

        return guarded

    async def _admit(self, operation: str, request: web.Request, key: str | None, count: int) -> web.Response | None:
        if self._failure is not None:
            return _error(self._failure, [("INTERNAL_ERROR", "Internal server error")])
        if not key:
            return _error(401, [("UNAUTHORIZED", "Api-Key header is missing")])
        if key != self.api_key:
            return _error(403, [("FORBIDDEN", "Access denied: the Api-Key token is not valid")])
        if request.match_info["campaignId"] != str(self.campaign_id):
            return _error(404, [("CAMPAIGN_NOT_FOUND", f"Campaign {request.match_info['campaignId']} not found")])
        if count > self.max_parallel:
            return _limited(
                f"Hit rate limit of {self.max_parallel} parallel requests for campaignId {self.campaign_id}"
            )
        retry_after = self.forced.take(operation)
        if retry_after is not None:
            headers = {"Retry-After": str(retry_after)} if retry_after > 0 else {}
            return _limited(f"Hit rate limit for {operation}", headers)
        return None

    async def _held(self, handler: Handler, request: web.Request, body: Any) -> web.Response:
        await self.in_flight.held()
        try:
            if body is _NOT_JSON:
                raise WireError(400, [("BAD_REQUEST", "the body is not valid JSON")])
            return await handler(request, body)
        except WireError as error:
            return _error(error.status, error.errors)

    async def _update_stocks(self, request: web.Request, body: Any) -> web.Response:
        updates = parse_update_stocks(body, set(self.offers))
        if not self.sku_window.take(len(updates)):
            return _limited(f"Hit rate limit of {self.sku_window.per_minute} skus per minute for updateStocks")
        for update in updates:
            self.stocks[update.sku] = StockEntry(update.count, update.updated_at or self._now(), update.stamp)
        return web.json_response({"status": "OK"})

    async def _update_prices(self, request: web.Request, body: Any) -> web.Response:
        if self.same_prices_everywhere:
            raise WireError(423, [("LOCKED", "Prices are the same for all stores of the business: set them with "
                                   "POST v2/businesses/{businessId}/offer-prices/updates")])  # fmt: skip
        updates = parse_update_prices(body, set(self.offers))
        if not self.price_window.take(len(updates)):
            return _limited(f"Hit rate limit of {self.price_window.per_minute} offers per minute for updatePrices")
        for update in updates:
            self.prices[update.offer_id] = PriceEntry(update.value, update.currency, self._now())
        return web.json_response({"status": "OK"})

    async def _get_prices(self, request: web.Request, body: Any) -> web.Response:
        wanted = parse_price_offer_ids(body)
        chosen = [offer for offer in (self.offers if wanted is None else wanted) if offer in self.prices]
        return web.json_response(
            {"status": "OK", "result": {"offers": [price_offer(offer, self.prices[offer]) for offer in chosen]}}
        )

    async def _get_stocks(self, request: web.Request, body: Any) -> web.Response:
        wanted = parse_offer_ids(body)
        if wanted is not None:  # a list asked by offerIds comes whole, without paging
            page, next_offset = [offer for offer in wanted if offer in self.offers], None
        else:
            start = page_offset(_token(request))
            limit = page_limit(request.query.get("limit"), default=STOCK_PAGE_DEFAULT, maximum=STOCK_PAGE_MAX)
            page = self.offers[start : start + limit]
            next_offset = start + limit if start + limit < len(self.offers) else None
        offers = [warehouse_offer(offer, self.stocks.get(offer)) for offer in page]
        result: dict[str, Any] = {"warehouses": [{"warehouseId": self.warehouse_id, "offers": offers}]}
        if next_offset is not None:
            result["paging"] = {"nextPageToken": page_token(next_offset)}
        return web.json_response({"status": "OK", "result": result})

    async def _get_orders(self, request: web.Request, body: Any) -> web.Response:
        statuses, substatuses = _multi(request, "status"), _multi(request, "substatus")
        fake = request.query.get("fake", "false").lower() == "true"
        since, until = lifecycle.updated_between(request.query)
        chosen = [
            order
            for _, order in sorted(self.orders.items())
            if (not statuses or order.status in statuses)
            and (not substatuses or order.substatus in substatuses)
            and order.fake == fake
            and lifecycle.updated_within(order, since, until)
        ]
        start = page_offset(_token(request))
        limit = page_limit(request.query.get("limit"), default=ORDERS_PAGE_MAX, maximum=ORDERS_PAGE_MAX)
        answer: dict[str, Any] = {"orders": [order.dto() for order in chosen[start : start + limit]]}
        if start + limit < len(chosen):
            answer["paging"] = {"nextPageToken": page_token(start + limit)}
        return web.json_response(answer)

    async def _status(self, request: web.Request, body: Any) -> web.Response:
        order = fulfilment.find(self.orders, request.match_info["orderId"])
        fulfilment.change_status(order, body, self._now())
        return web.json_response({"order": order.dto()})

    async def _get_order(self, request: web.Request, body: Any) -> web.Response:
        return web.json_response({"order": fulfilment.find(self.orders, request.match_info["orderId"]).dto()})

    async def _get_returns(self, request: web.Request, body: Any) -> web.Response:
        chosen = lifecycle.returns_chosen(self.returns, request.query)
        start = page_offset(_token(request))
        limit = page_limit(request.query.get("limit"), default=RETURNS_PAGE_DEFAULT, maximum=RETURNS_PAGE_MAX)
        result: dict[str, Any] = {"returns": [item.dto() for item in chosen[start : start + limit]]}
        if start + limit < len(chosen):
            result["paging"] = {"nextPageToken": page_token(start + limit)}
        return web.json_response({"status": "OK", "result": result})


_NOT_JSON = object()


async def _body(request: web.Request) -> Any:
    """The request's JSON; ``None`` when it has no body, ``_NOT_JSON`` when the body is not JSON."""
    if not request.can_read_body:
        return None
    text = await request.text()
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return _NOT_JSON


def _token(request: web.Request) -> str | None:
    return request.query.get("page_token") or request.query.get("pageToken")


def _multi(request: web.Request, name: str) -> set[str]:
    """An array query parameter, repeated (``status=A&status=B``) or comma-separated."""
    return {part for value in request.query.getall(name, []) for part in value.split(",") if part}


def _error(status: int, errors: Sequence[tuple[str, str]], headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(error_body(errors), status=status, headers=headers)


def _limited(message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return _error(420, [("REQUEST_LIMIT_EXCEEDED", message)], headers)
