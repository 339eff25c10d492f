"""Wildberries' seller API over HTTP on 127.0.0.1, for the real ``httpx`` client.

One port serves both hosts the stock client uses (give :attr:`~emulators.local_server.LocalServer.base_url` as
the marketplace *and* the content base): ``PUT``/``POST /api/v3/stocks/{warehouseId}``, ``GET
/api/v3/orders/new``, ``POST /api/v3/orders/status``, ``PATCH /api/v3/orders/{orderId}/cancel``, ``GET``/``POST
/api/v3/supplies``, ``GET /api/v3/supplies/{supplyId}``, ``PATCH /api/marketplace/v3/supplies/{supplyId}/orders``,
``GET /api/v3/warehouses``, ``POST /content/v2/get/cards/list`` (supplies and cancels:
:mod:`emulators.wildberries.supplies`) and, of the prices API, ``POST /api/v2/upload/task``, ``POST
/api/v2/upload/task/size`` and ``GET``/``POST /api/v2/list/goods/filter`` (:mod:`emulators.wildberries.prices`).

The gateway comes first, as on WB: the token in ``Authorization`` (raw, or ``Bearer <token>``, both seen in
the wild) else 401 in the gateway's shape; then the seller's token bucket of that group of methods else 429 with
``X-Ratelimit-Retry``; then whatever failure a test asked for (:meth:`WildberriesEmulator.fail_with`); then the
method itself (:class:`~emulators.wildberries.seller.SellerAccount`).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qs

from aiohttp import web

from emulators.local_server import LocalServer
from emulators.refusals import ForcedRateLimits
from emulators.wildberries.prices import CardPrice, PriceList
from emulators.wildberries.rate_limit import CANCEL, CONTENT, ORDERS, PRICES, STOCKS, BucketPolicy, Clock, TokenBucket
from emulators.wildberries.seller import SellerAccount, WbAnswer, error
from emulators.wildberries.supplies import SupplyDesk

STOCKS_PATH = "/api/v3/stocks/{warehouseId}"
NEW_ORDERS_PATH = "/api/v3/orders/new"
ORDER_STATUSES_PATH = "/api/v3/orders/status"
WAREHOUSES_PATH = "/api/v3/warehouses"
CARDS_LIST_PATH = "/content/v2/get/cards/list"
CANCEL_ORDER_PATH = "/api/v3/orders/{orderId}/cancel"
SUPPLIES_PATH = "/api/v3/supplies"
SUPPLY_PATH = "/api/v3/supplies/{supplyId}"
SUPPLY_ORDERS_PATH = "/api/marketplace/v3/supplies/{supplyId}/orders"
PRICES_UPLOAD_PATH = "/api/v2/upload/task"
SIZE_PRICES_UPLOAD_PATH = "/api/v2/upload/task/size"
PRICES_LIST_PATH = "/api/v2/list/goods/filter"

Group = Literal["stocks", "orders", "cancel", "content", "prices"]
Auth = Literal["raw", "bearer", "missing", "wrong"]
_ANY = "*"


@dataclass(frozen=True)
class WildberriesCall:
    """One request as the emulator received it (the token itself is never kept) and the status it got."""

    method: str
    path: str
    body: Any
    auth: Auth
    status: int
    at: float
    query: Mapping[str, list[str]] = field(default_factory=dict)


class WildberriesEmulator(LocalServer):
    """One seller on Wildberries, served on a free port of 127.0.0.1.

    ``warehouses`` maps the seller's warehouse ids to names; ``cards`` are the product cards, each
    ``{"vendorCode": …, "sizes": [{"chrtId": …, "techSize": …}]}`` (see
    :func:`~emulators.wildberries.seller.card_from` for the optional fields). ``clock`` drives the rate limits
    and call times: pass a fake one so tests move time instead of sleeping.
    """

    name = "Wildberries"
    url_path = "/"

    def __init__(
        self,
        *,
        token: str,
        warehouses: Mapping[int, str],
        cards: Iterable[Mapping[str, Any]] = (),
        clock: Clock = time.monotonic,
        buckets: Mapping[Group, BucketPolicy] | None = None,
    ) -> None:
        self.token = token
        self.seller = SellerAccount(warehouses, cards)
        self.desk = SupplyDesk(self.seller)
        self.price_list = PriceList(lambda: self.seller.cards)
        self.received: list[WildberriesCall] = []
        self._clock = clock
        policies: dict[Group, BucketPolicy] = {
            "stocks": STOCKS, "orders": ORDERS, "cancel": CANCEL, "content": CONTENT, "prices": PRICES,
        }  # fmt: skip
        policies.update(buckets or {})
        self.buckets: dict[Group, TokenBucket] = {group: TokenBucket(p, clock) for group, p in policies.items()}
        self._forced = ForcedRateLimits()
        self._failure: int | None = None
        self._next_order_id = 5_000_000

    # -- serving ---------------------------------------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_put(STOCKS_PATH, self._handle)
        app.router.add_post(STOCKS_PATH, self._handle)
        app.router.add_get(NEW_ORDERS_PATH, self._handle)
        app.router.add_post(ORDER_STATUSES_PATH, self._handle)
        app.router.add_get(WAREHOUSES_PATH, self._handle)
        app.router.add_patch(CANCEL_ORDER_PATH, self._handle)
        app.router.add_get(SUPPLIES_PATH, self._handle)
        app.router.add_post(SUPPLIES_PATH, self._handle)
        app.router.add_get(SUPPLY_PATH, self._handle)
        app.router.add_patch(SUPPLY_ORDERS_PATH, self._handle)
        app.router.add_post(CARDS_LIST_PATH, self._handle)
        app.router.add_post(PRICES_UPLOAD_PATH, self._handle)
        app.router.add_post(SIZE_PRICES_UPLOAD_PATH, self._handle)
        app.router.add_get(PRICES_LIST_PATH, self._handle)
        app.router.add_post(PRICES_LIST_PATH, self._handle)
        return app

    # -- what tests read and steer ---------------------------------------------------------------------------

    def stock(self, warehouse_id: int, chrt_id: int) -> int | None:
        """The amount WB holds for a size on a seller warehouse; ``None`` when it has no record."""
        return self.seller.stocks.get((warehouse_id, chrt_id))

    def set_stock(self, warehouse_id: int, chrt_id: int, amount: int) -> None:
        """Put a stock record in place, as if the seller had set it in the cabinet."""
        self.seller.stocks[warehouse_id, chrt_id] = amount

    def price(self, chrt_id: int) -> int | None:
        """What WB shows a buyer for a size before its own promotions (the price less the seller's discount, whole
        roubles); ``None`` when the card has no price."""
        card, _ = self.seller.sizes[chrt_id]
        return self.price_list.size_price(card.nm_id, chrt_id)

    def card_price(self, vendor_code: str) -> tuple[int, int] | None:
        """A card's own ``(price, discount %)``; ``None`` when it has no price."""
        card = next(card for card in self.seller.cards if card.vendor_code == vendor_code)
        found = self.price_list.prices.get(card.nm_id)
        return None if found is None else (found.price, found.discount)

    def set_price(self, vendor_code: str, price: int, *, discount: int = 0) -> None:
        """Price a card as if the seller had done it in the cabinet (every size at ``price``)."""
        card = next(card for card in self.seller.cards if card.vendor_code == vendor_code)
        self.price_list.prices[card.nm_id] = CardPrice(price, discount)

    def allow_size_prices(self, vendor_code: str) -> None:
        """The card's category lets each size have its own price (``editableSizePrice``)."""
        self.price_list.per_size.add(next(c.nm_id for c in self.seller.cards if c.vendor_code == vendor_code))

    def nm_id(self, vendor_code: str) -> int:
        return next(card.nm_id for card in self.seller.cards if card.vendor_code == vendor_code)

    def trash_card(self, vendor_code: str) -> None:
        """The seller moved a card to the trash (after a client learned it): its sizes answer 409 NotFound."""
        self.seller.trash_card(vendor_code)

    def calls(self, path_prefix: str = "") -> list[WildberriesCall]:
        """Requests received, oldest first; only those whose path starts with ``path_prefix`` when given."""
        return [call for call in self.received if call.path.startswith(path_prefix)]

    def add_order(
        self,
        chrt_id: int,
        *,
        order_id: int | None = None,
        warehouse_id: int | None = None,
        created_at: dt.datetime | None = None,
        price: int = 150000,
        article: str | None = None,
    ) -> dict[str, Any]:
        """A new FBS order (one unit of size ``chrt_id``) that ``/api/v3/orders/new`` lists until removed.

        Defaults: the next order id, the first warehouse, now, the card's vendorCode as ``article``.
        """
        if order_id is None:
            self._next_order_id += 1
            order_id = self._next_order_id
        return self.seller.add_order(
            chrt_id,
            order_id=order_id,
            warehouse_id=warehouse_id if warehouse_id is not None else next(iter(self.seller.warehouses)),
            created_at=created_at or dt.datetime.now(dt.UTC),
            price=price,
            article=article,
        )

    def remove_order(self, order_id: int) -> None:
        """The order is no longer new (the seller took it into a supply, or it was cancelled)."""
        self.seller.orders.pop(order_id, None)

    def set_order_status(self, order_id: int, wb_status: str, *, supplier_status: str | None = None) -> None:
        """What ``/api/v3/orders/status`` says of an order from now on, e.g. ``"sold"``, or ``"canceled"`` with
        ``supplier_status="cancel"`` for the seller's cancel; the order leaves the new ones."""
        self.seller.set_status(order_id, wb_status, supplier_status)

    def cancel_order(self, order_id: int, wb_status: str = "canceled") -> None:
        """WB or the buyer cancelled the order (``wb_status``: ``canceled``, ``declined_by_client``, ``defect``…)."""
        self.seller.set_status(order_id, wb_status)

    def open_supply(self, name: str) -> str:
        """A supply the seller opened (in the cabinet, or by an earlier run of a client); its id."""
        return self.desk.open_supply(name).id

    def close_supply(self, supply_id: str) -> None:
        """The warehouse staff handed the supply over in WB's cabinet: closed, its orders ``complete``."""
        self.desk.close(supply_id)

    def supplies(self) -> list[dict[str, Any]]:
        """Every supply as WB lists it, oldest first, each with ``orders``: the ids it holds."""
        return [{**supply.wire(), "orders": list(supply.orders)} for supply in self.desk.supplies.values()]

    def order_status(self, order_id: int) -> tuple[str, str]:
        """The order's ``(supplierStatus, wbStatus)``."""
        return self.seller.statuses[order_id]

    def force_rate_limit(self, times: int = 1, retry_after: int = 1, *, group: Group | None = None) -> None:
        """Answer the next ``times`` requests (of ``group``, or any) 429 with ``X-Ratelimit-Retry: retry_after``."""
        self._forced.add(group or _ANY, times, retry_after)

    def fail_with(self, status: int = 503) -> None:
        """Answer every authorised request with HTTP ``status`` until :meth:`recover`."""
        if not 400 <= status <= 599:
            raise ValueError(f"a failure is an HTTP 4xx or 5xx status, not {status}")
        self._failure = status

    def recover(self) -> None:
        """Answer normally again (a ban stays until :meth:`unban`)."""
        self._failure = None
        self.seller.processing = False

    def ban(self) -> None:
        """The seller is banned: stock updates answer 406 ``StatusNotAcceptable``."""
        self.seller.banned = True

    def unban(self) -> None:
        self.seller.banned = False

    def store_is_processing(self) -> None:
        """The warehouse is busy: stock updates answer 409 ``StoreIsProcessing`` until :meth:`recover`."""
        self.seller.processing = True

    def apply_valid_on_conflict(self, apply: bool = True) -> None:
        """Whether a stock update answered 409 still applies its good items (default: it does not)."""
        self.seller.apply_valid_on_conflict = apply

    # -- answering -------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        auth = self._auth(request.headers.get("Authorization"))
        answer = self._answer(request, body, auth)
        query = parse_qs(request.query_string, keep_blank_values=True)
        call = WildberriesCall(request.method, request.path, body, auth, answer.status, self._clock(), query)
        self.received.append(call)
        if answer.body is None:
            return web.Response(status=answer.status, headers=answer.headers)
        return web.json_response(answer.body, status=answer.status, headers=answer.headers)

    def _auth(self, header: str | None) -> Auth:
        if not header:
            return "missing"
        if header == self.token:
            return "raw"
        return "bearer" if header == f"Bearer {self.token}" else "wrong"

    def _answer(self, request: web.Request, body: Any, auth: Auth) -> WbAnswer:
        if auth in ("missing", "wrong"):
            detail = "empty Authorization header" if auth == "missing" else "token problem; token is malformed"
            return gateway_error(401, detail)
        group = _group(request.path)
        retry_after = self._forced.take(group)
        if retry_after is None:
            retry_after = self._forced.take(_ANY)
        if retry_after is None:
            retry_after = self.buckets[group].admit()
        if retry_after is not None:
            answer = gateway_error(429, f"limited by {uuid.uuid5(uuid.NAMESPACE_OID, group)}")
            return WbAnswer(429, answer.body, {"X-Ratelimit-Retry": str(retry_after)})
        if self._failure is not None:
            return gateway_error(self._failure, HTTPStatus(self._failure).phrase.lower())
        answer = self._dispatch(request, body)
        if answer.status == 409:
            self.buckets[group].charge_conflict()
        return answer

    def _dispatch(self, request: web.Request, body: Any) -> WbAnswer:
        fulfilment = self._fulfilment(request, body)
        if fulfilment is not None:
            return fulfilment
        if request.path == CARDS_LIST_PATH:
            return self.seller.cards_page(body)
        prices = self._prices(request, body)
        if prices is not None:
            return prices
        if request.path == NEW_ORDERS_PATH:
            return self.seller.new_orders()
        if request.path == ORDER_STATUSES_PATH:
            return self.seller.order_statuses(body)
        if request.path == WAREHOUSES_PATH:
            return self.seller.warehouse_list()
        try:
            warehouse_id = int(request.match_info["warehouseId"])
        except ValueError:
            return error(400, "IncorrectParameter", "IncorrectParameter")
        if request.method == "PUT":
            return self.seller.update_stocks(warehouse_id, body)
        return self.seller.read_stocks(warehouse_id, body)

    def _prices(self, request: web.Request, body: Any) -> WbAnswer | None:
        """The answer of a method of the prices API; ``None`` for the other routes."""
        if request.path == PRICES_UPLOAD_PATH:
            return self.price_list.upload(body)
        if request.path == SIZE_PRICES_UPLOAD_PATH:
            return self.price_list.upload_sizes(body)
        if request.path == PRICES_LIST_PATH and request.method == "GET":
            return self.price_list.list_by_query(parse_qs(request.query_string))
        if request.path == PRICES_LIST_PATH:
            return self.price_list.list_by_cards(body)
        return None

    def _fulfilment(self, request: web.Request, body: Any) -> WbAnswer | None:
        """The answer of a supply method or of a cancel; ``None`` for the other routes."""
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else ""
        if route == SUPPLIES_PATH:
            if request.method == "POST":
                return self.desk.create(body)
            return self.desk.page(parse_qs(request.query_string))
        if route == SUPPLY_PATH:
            return self.desk.one(request.match_info["supplyId"])
        if route == SUPPLY_ORDERS_PATH:
            return self.desk.add_orders(request.match_info["supplyId"], body)
        if route == CANCEL_ORDER_PATH:
            order_id = request.match_info["orderId"]
            if not order_id.isascii() or not order_id.isdigit():
                return error(400, "IncorrectParameter", "IncorrectParameter")
            return self.desk.cancel(int(order_id))
        return None


def gateway_error(status: int, detail: str) -> WbAnswer:
    """An error in the shape WB's API gateway answers (401, 429, and the emulator's forced failures)."""
    phrase = HTTPStatus(status).phrase
    body = {
        "title": phrase.lower(),
        "detail": detail,
        "code": f"07e4668e-{uuid.uuid4().hex[:12]}-[UK-emulator]",
        "requestId": uuid.uuid4().hex,
        "origin": "s2s-api-auth-catalog",
        "status": status,
        "statusText": phrase,
        "timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return WbAnswer(status, body)


def _group(path: str) -> Group:
    """The bucket a path draws on; the warehouse list shares the orders' (close enough for a stock client), as do
    the supplies (WB's own grouping)."""
    if path.startswith("/content/"):
        return "content"
    if path.startswith("/api/v2/"):
        return "prices"
    if path.startswith("/api/v3/orders/") and path.endswith("/cancel"):
        return "cancel"
    return "stocks" if path.startswith("/api/v3/stocks/") else "orders"


async def _json_body(request: web.Request) -> Any:
    """The request's JSON body; ``None`` when there is none or it is not JSON (the method answers 400)."""
    raw = await request.read()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
