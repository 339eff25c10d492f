"""Yandex Market's Partner API as a sales channel (``workflows.channels.ChannelClient``), on an injected
``httpx.AsyncClient``.

What the Market documents (its API documentation and published OpenAPI):

* Auth is the ``Api-Key`` header. At most **4 requests in parallel** per campaign, whatever the method; more, or
  more than a method's own budget, answers **420** ``{"status":"ERROR","errors":[{"code":"REQUEST_LIMIT_EXCEEDED"}]}``.
* ``PUT /v2/campaigns/{campaignId}/offers/stocks`` (updateStocks) takes 1..2000 unique ``sku`` values (the ShopSku
  pattern), each with exactly one item ``{count: 0..2e9, updatedAt: ISO-8601 with offset}``, and at most 100 000
  skus a minute. It answers ``{"status":"OK"}``, or 400 with ``errors: [{code, message}]`` for the whole request.
* ``POST /v2/campaigns/{campaignId}/offers/stocks`` (getStocks) reads stock back: by ``offerIds`` (≤ 500, the whole
  answer at once) or the whole listing page by page (``page_token`` + ``limit``).
* ``GET /v2/campaigns/{campaignId}/orders`` (getOrders): orders in ``PROCESSING`` / ``STARTED`` are confirmed and
  ready to be packed. Deprecated in the spec (shutdown 2027-04-12; its successor needs a ``businessId``).
* What became of orders (cancelled, delivered, returned): getOrders by update time and getReturns (5 000 requests an
  hour), see :mod:`integrations.yandex_market_events`.
* Moving an order on — ready to ship, or cancelled because the shop cannot fill it — is updateOrderStatus
  (``PUT …/orders/{orderId}/status``), read back with getOrder when the Market refuses the change, both 10 000
  requests an hour: see :mod:`integrations.yandex_market_fulfilment`.
* Prices: the campaign's updatePrices and getPricesByOfferIds (``…/offer-prices/updates``, ``…/offer-prices``),
  10 000 offers a minute each: see :mod:`integrations.yandex_market_prices`.

The key is sent in a header and never appears in a log line, an exception or a ``repr``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar

import httpx

from integrations import yandex_market_events as events
from integrations import yandex_market_fulfilment as moves
from integrations import yandex_market_prices as prices
from integrations.rate_gate import RateGate
from integrations.wire import Wire, json_object
from workflows.channels import (
    ChannelOrder,
    ChannelOrderEvent,
    ChannelOrderLine,
    ChannelRefused,
    ChannelUnavailable,
    OrderEventKind,
    OrderEventPage,
    PriceLine,
    PushOutcome,
    StockLine,
)

log = logging.getLogger(__name__)

BASE_URL = "https://api.partner.market.yandex.ru"
SHOP_SKU = re.compile(r"(?=.*\S.*)[^\x00-\x08\x0A-\x1f\x7f]{1,255}")
"""ShopSku.yaml's pattern ``^(?=.*\\S.*)[^\\x00-\\x08\\x0A-\\x1f\\x7f]{1,255}$``, for ``fullmatch`` (Python's ``$``
would let a trailing newline through)."""
BATCH_LIMIT = 2000
MAX_COUNT = 2_000_000_000
PARALLEL_REQUESTS = 4
READ_CHUNK = 500  # GetWarehouseStocksRequest.offerIds maxItems
LISTING_PAGE = 100  # getStocks ``limit``: 200 in the spec, cut to 100 (silently) by the 2026-08-04 changelog
ORDERS_PAGE = 50  # getOrders ``limit`` maximum
MARKET_TIME = timezone(timedelta(hours=3), "MSK")  # unverified: order dates carry no offset; Moscow time assumed

NEW_ORDER_STATUS, NEW_ORDER_SUBSTATUS = "PROCESSING", "STARTED"

Params = Mapping[str, str | int | list[str]]


def default_push_gate() -> RateGate:
    """updateStocks allows 100 000 skus a minute; a push takes one token per sku. A bucket lets through at most
    ``burst + 60 * rate`` in any 60 seconds: 90 000/min with a burst of 8 000 (four full batches) leaves one batch
    (2 000 skus) for the Market counting a push when it arrives, up to 1.3 s later than the gate let it go — a full
    sync at the Market's own limit with the whole 10 000 as burst was refused a push so."""
    return RateGate(per_minute=90_000, burst=8_000)


def default_read_gate() -> RateGate:
    """getStocks allows 100 000 offers a minute (counted on the offers returned); same arithmetic as pushes."""
    return RateGate(per_minute=90_000, burst=10_000)


def default_orders_gate() -> RateGate:
    """getOrders allows 10 000 requests an hour: 160 a minute leaves a little headroom."""
    return RateGate(per_minute=160, burst=10)


def default_status_gate() -> RateGate:
    """updateOrderStatus and getOrder allow 10 000 requests an hour each: one such gate per method."""
    return default_orders_gate()


def default_returns_gate() -> RateGate:
    """getReturns allows 5 000 requests an hour: 80 a minute leaves a little headroom."""
    return RateGate(per_minute=80, burst=5)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _OffersRefused(Exception):
    """A 400 whose every error names offers of the request: ``reasons`` is offer id -> the Market's message."""

    def __init__(self, reasons: dict[str, str]) -> None:
        super().__init__(f"{len(reasons)} offers refused")
        self.reasons = reasons


class YandexMarketClient:
    """One campaign (shop) of the Market. ``base`` is the API root (:data:`BASE_URL`, or an emulator's).

    ``gate`` paces stock pushes (one token per sku; :func:`default_push_gate`), ``price_gate`` price pushes (one
    token per offer); reads and orders have their own budgets. Every request of this client, of any kind, holds
    one of four slots, the Market's parallel limit — so use one client per campaign. ``clock`` gives the time the
    pushed figures are true (``updatedAt``); it must be timezone-aware. One request per call and no retry, except
    that a push refused for some offers is sent once more without them.
    """

    batch_limit = BATCH_LIMIT
    price_batch_limit = prices.PRICE_BATCH_LIMIT
    pushes_in_flight = PARALLEL_REQUESTS  # the campaign's 4 requests at once (the client's slots keep to them)
    charges_per_line = True  # updateStocks counts SKUs a minute: an order's lines go in a push of their own

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_key: str,
        base: str = BASE_URL,
        campaign_id: int,
        name: str = "yandex_market",
        gate: RateGate | None = None,
        price_gate: RateGate | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if campaign_id < 1:
            raise ValueError("a campaign id is a positive integer")
        self.name = name
        self._client = client
        self._headers = {"Api-Key": api_key, "Accept": "application/json"}
        self._campaign = f"{base.rstrip('/')}/v2/campaigns/{campaign_id}"
        self._push_gate = gate if gate is not None else default_push_gate()
        self._read_gate = default_read_gate()
        self._orders_gate = default_orders_gate()
        self._returns_gate = default_returns_gate()
        self._status_gate = default_status_gate()
        self._order_gate = default_status_gate()
        self._price_gate = price_gate if price_gate is not None else prices.default_price_gate()
        self._price_read_gate = prices.default_price_read_gate()
        self._clock = clock
        self._parallel = asyncio.Semaphore(PARALLEL_REQUESTS)

    def __repr__(self) -> str:
        return f"YandexMarketClient(name={self.name!r}, campaign={self._campaign!r})"

    # -- stock out ---------------------------------------------------------------------------------------------

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        """Send each line's ``qty`` (0 included, never omitted) as its offer's count, stamped with the clock's now.

        A line whose offer id the Market would refuse (not a ShopSku, padded with whitespace the Market trims, in
        the push twice) or whose qty is outside 0..2e9 is rejected here and not sent. If the Market refuses the
        request for offers it names, those are rejected and the rest is sent once more; what is still not taken
        after that comes back in ``retry``. ``ValueError`` for more than :attr:`batch_limit` lines.
        """
        if len(lines) > self.batch_limit:
            raise ValueError(f"a push carries at most {self.batch_limit} lines, not {len(lines)}")
        stamp = self._stamp()  # the figures are true now, not when a slot frees up
        rejected: dict[str, str] = {}
        batch = _sendable(lines, rejected)
        return await _dropping_refused(batch, rejected, lambda sendable: self._put_stocks(sendable, stamp), "stock")

    async def _put_stocks(self, batch: Sequence[StockLine], stamp: str) -> None:
        body = {"skus": [{"sku": line.offer_id, "items": [{"count": line.qty, "updatedAt": stamp}]} for line in batch]}
        await self._push_gate.wait(len(batch))
        try:
            await self._call("PUT", "/offers/stocks", self._push_gate, json=body)
        except _BadRequest as bad:
            reasons = _reasons_by_offer(bad.errors, {line.offer_id for line in batch})
            if reasons is None:
                raise _WIRE.refuse(bad.response) from None
            raise _OffersRefused(reasons) from None

    def _stamp(self) -> str:
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("the clock must give timezone-aware times: updatedAt needs an offset")
        return now.isoformat(timespec="seconds")

    # -- stock back --------------------------------------------------------------------------------------------

    async def read_stock(self, lines: Sequence[StockLine]) -> dict[str, int]:
        """What the Market shows as available for these lines, asked by ``offerIds`` 500 at a time.

        Per offer: the ``AVAILABLE`` count (``FIT`` when the answer has no ``AVAILABLE``), summed over the
        warehouses the answer lists. An offer listed with no stocks shows 0; one not listed is left out, as are
        lines whose offer id is not a ShopSku (the Market would refuse the whole request for them).
        """
        skus_of = _readable_offers(lines)
        offer_ids = list(skus_of)
        shown: dict[str, int] = {}
        for start in range(0, len(offer_ids), READ_CHUNK):
            chunk = offer_ids[start : start + READ_CHUNK]
            await self._read_gate.wait(len(chunk))
            answer = await self._call_refusing("POST", "/offers/stocks", self._read_gate, json={"offerIds": chunk})
            shown.update(_shown_stock(answer))
        return {sku: shown[offer] for offer, skus in skus_of.items() if offer in shown for sku in skus}

    async def listed_stock(self) -> dict[str, int]:
        """Every offer of the campaign's listing, ``offer id -> shown count`` (as :meth:`read_stock` counts it),
        read page by page with ``page_token``. Archived offers are not in the listing."""
        shown: dict[str, int] = {}
        token: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, str | int] = {"limit": LISTING_PAGE}
            if token is not None:
                params["page_token"] = token
            await self._read_gate.wait(LISTING_PAGE)
            answer = await self._call_refusing("POST", "/offers/stocks", self._read_gate, params=params, json={})
            shown.update(_shown_stock(answer))
            token = _next_token(_dict(answer.get("result")))
            if token is None or token in seen:
                return shown
            seen.add(token)

    # -- prices (SetsPrices) ------------------------------------------------------------------------------------

    async def push_prices(self, lines: Sequence[PriceLine]) -> PushOutcome:
        """Set each line's price (roubles) on its offer in this campaign (updatePrices; see
        :mod:`integrations.yandex_market_prices`).

        A line whose offer id the Market would refuse, or whose price is not a positive amount in kopecks, is
        rejected here and not sent. Offers the Market names in a 400 are rejected in its words and the rest is sent
        once more, as for stock. A 423 (the cabinet's prices are the same in every store) is refused as a whole.
        ``ValueError`` for more than :attr:`price_batch_limit` lines."""
        if len(lines) > self.price_batch_limit:
            raise ValueError(f"a price push carries at most {self.price_batch_limit} lines, not {len(lines)}")
        rejected: dict[str, str] = {}
        batch = _sendable(lines, rejected)
        return await _dropping_refused(batch, rejected, self._update_prices, "price")

    async def _update_prices(self, batch: Sequence[PriceLine]) -> None:
        await self._price_gate.wait(len(batch))
        try:
            await self._call("POST", prices.UPDATES_PATH, self._price_gate, json=prices.update_body(batch))
        except _BadRequest as bad:
            reasons = _reasons_by_offer(bad.errors, {line.offer_id for line in batch})
            if reasons is None:
                raise _WIRE.refuse(bad.response) from None
            raise _OffersRefused(reasons) from None

    async def read_prices(self, lines: Sequence[PriceLine]) -> dict[str, Decimal]:
        """The price this campaign shows for these lines' offers (getPricesByOfferIds, 500 at a time); an offer
        with no price in roubles is left out, as are offer ids that are not ShopSkus."""
        skus_of = _readable_offers(lines)
        offer_ids = list(skus_of)
        shown: dict[str, Decimal] = {}
        for start in range(0, len(offer_ids), prices.PRICE_READ_CHUNK):
            chunk = offer_ids[start : start + prices.PRICE_READ_CHUNK]
            await self._price_read_gate.wait(len(chunk))
            answer = await self._call_refusing(
                "POST", prices.READ_PATH, self._price_read_gate, json={"offerIds": chunk}
            )
            shown.update(prices.shown_prices(answer))
        return {sku: shown[offer] for offer, skus in skus_of.items() if offer in shown for sku in skus}

    # -- orders ------------------------------------------------------------------------------------------------

    async def new_orders(self) -> list[ChannelOrder]:
        """Orders in ``PROCESSING`` / ``STARTED`` (confirmed, to be packed), every page. Test orders
        (``fake``) are not asked for. An order that cannot be read is logged and left for the next poll."""
        orders: list[ChannelOrder] = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, str | int] = {
                "status": NEW_ORDER_STATUS,
                "substatus": NEW_ORDER_SUBSTATUS,
                "limit": ORDERS_PAGE,
            }
            if token is not None:
                params["page_token"] = token
            await self._orders_gate.wait()
            answer = await self._call_refusing("GET", "/orders", self._orders_gate, params=params)
            for raw in answer.get("orders") or []:
                order = _order(raw)
                if order is None:
                    log.warning("yandex_market: an order could not be read (id=%r)", _dict(raw).get("id"))
                else:
                    orders.append(order)
            token = _next_token(answer)
            if token is None or token in seen:
                return orders
            seen.add(token)

    # -- what became of orders ---------------------------------------------------------------------------------

    async def order_events(self, cursor: str | None, watching: Sequence[str]) -> OrderEventPage:
        """Orders cancelled or delivered and returns made since ``cursor`` (see
        :mod:`integrations.yandex_market_events`); ``watching`` is not needed, the Market lists changes by time.
        One event per order and kind; the cursor returned is the moment read up to."""
        now = self._clock().astimezone(UTC)
        since, until = events.window(cursor, now)
        found: dict[tuple[str, OrderEventKind], ChannelOrderEvent] = {}
        orders: Params = {
            "status": list(events.EVENT_STATUSES),
            "updatedAtFrom": events.stamp(since),
            "updatedAtTo": events.stamp(until),
            "limit": ORDERS_PAGE,
        }
        for raw in await self._every_page("/orders", self._orders_gate, orders, _whole, "orders"):
            _keep(found, events.order_event(raw, now))
        returns: Params = {
            "fromDate": events.market_day(since),
            "toDate": events.market_day(until),
            "limit": events.RETURNS_PAGE,
        }
        for raw in await self._every_page("/returns", self._returns_gate, returns, _result, "returns"):
            _keep(found, events.return_event(raw, now))
        return OrderEventPage(tuple(found.values()), events.stamp(until))

    async def _every_page(
        self, path: str, gate: RateGate, params: Params, holder: Callable[[dict[str, Any]], dict[str, Any]], key: str
    ) -> list[object]:
        """Every entry of a paged list (``holder(answer)[key]``, its ``paging`` beside it), following ``page_token``."""
        listed: list[object] = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            await gate.wait()
            page = {**params, "page_token": token} if token is not None else params
            answer = holder(await self._call_refusing("GET", path, gate, params=page))
            entries = answer.get(key)
            listed.extend(entries if isinstance(entries, list) else [])
            token = _next_token(answer)
            if token is None or token in seen:
                return listed
            seen.add(token)

    # -- moving orders on (FulfilsOrders) ----------------------------------------------------------------------

    async def ready_to_ship(self, external_id: str, lines: Sequence[ChannelOrderLine]) -> None:
        """``PROCESSING`` / ``READY_TO_SHIP``; an order already there or further on is left as it is. ``lines`` are
        not sent: the Market holds the order's items (see :mod:`integrations.yandex_market_fulfilment`)."""
        await self._move(external_id, moves.status_request(moves.PROCESSING, moves.READY_TO_SHIP), moves.ready)
        log.info("yandex_market: order %s is ready to ship", external_id)

    async def cancel_unfillable(self, external_id: str) -> None:
        """``CANCELLED`` / ``SHOP_FAILED``; an order already cancelled is left as it is."""
        await self._move(external_id, moves.status_request(moves.CANCELLED, moves.SHOP_FAILED), moves.cancelled)
        log.info("yandex_market: order %s is cancelled as one the shop cannot fill", external_id)

    async def _move(self, external_id: str, body: dict[str, Any], done: Callable[[dict[str, Any]], bool]) -> None:
        """One status change; after a 400, success when the order, read again, is already ``done``."""
        path = moves.order_path(external_id)
        await self._status_gate.wait()
        try:
            await self._call("PUT", path + "/status", self._status_gate, json=body)
        except _BadRequest as bad:
            await self._order_gate.wait()
            order = _dict((await self._call_refusing("GET", path, self._order_gate)).get("order"))
            if not done(order):
                raise _WIRE.refuse(bad.response) from None

    # -- the wire ----------------------------------------------------------------------------------------------

    async def _call_refusing(
        self,
        method: str,
        path: str,
        gate: RateGate,
        *,
        params: Params | None = None,
        json: Any = None,
    ) -> dict[str, Any]:
        try:
            return await self._call(method, path, gate, params=params, json=json)
        except _BadRequest as bad:
            raise _WIRE.refuse(bad.response) from None

    async def _call(
        self,
        method: str,
        path: str,
        gate: RateGate,
        *,
        params: Params | None = None,
        json: Any = None,
    ) -> dict[str, Any]:
        """One request in one of the parallel slots; the answer's JSON object, or one of the channel errors
        (``_BadRequest`` for a 400, which the caller words)."""
        async with self._parallel:
            response = await _WIRE.send(
                self._client,
                method,
                self._campaign + path,
                gate=gate,
                passing=(httpx.codes.BAD_REQUEST,),
                params=params,
                json=json,
                headers=self._headers,
            )
        if response.status_code == httpx.codes.BAD_REQUEST:
            raise _BadRequest(response)
        body = _WIRE.json_body(response)
        if body.get("status", "OK") != "OK":
            raise _WIRE.unusable(response)
        return body


Line = TypeVar("Line", StockLine, PriceLine)


async def _dropping_refused(
    batch: list[Line], rejected: dict[str, str], send: Callable[[list[Line]], Awaitable[None]], what: str
) -> PushOutcome:
    """Send ``batch``; if the Market refuses it for offers it names, reject those and send the rest once more. What
    a failed resend leaves comes back in ``retry``; a first request that fails as a whole raises."""
    for attempt in (1, 2):
        if not batch:
            break
        try:
            await send(batch)
        except _OffersRefused as refused:
            for line in batch:
                if line.offer_id in refused.reasons:
                    rejected[line.sku] = refused.reasons[line.offer_id]
            batch = [line for line in batch if line.offer_id not in refused.reasons]
            log.warning("yandex_market: %d offers refused in a %s push", len(refused.reasons), what)
            continue
        except ChannelUnavailable:
            if attempt == 1:
                raise
            break  # the resend failed as a whole: what is left is for later
        return PushOutcome(accepted=tuple(line.sku for line in batch), rejected=rejected)
    return PushOutcome(rejected=rejected, retry=tuple(line.sku for line in batch))


class _BadRequest(Exception):
    """A 400: whether it refuses offers or the whole request is for the caller to tell from ``errors``."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__("bad request")
        self.response, self.errors = response, _errors(response)


def _sendable(lines: Sequence[Line], rejected: dict[str, str]) -> list[Line]:
    """The lines the Market can take, in order; the others go into ``rejected`` with the reason."""
    times = Counter(line.offer_id for line in lines)
    batch: list[Line] = []
    for line in lines:
        reason = _offer_refusal(line.offer_id, times[line.offer_id])
        if reason is None:
            reason = _qty_refusal(line.qty) if isinstance(line, StockLine) else prices.price_refusal(line.price)
        if reason is None:
            batch.append(line)
        else:
            rejected[line.sku] = reason
    return batch


def _offer_refusal(offer: str, times: int) -> str | None:
    if not SHOP_SKU.fullmatch(offer):
        return f"offer id {offer[:40]!r} is not a Yandex Market SKU (1..255 characters, no control characters)"
    if offer != offer.strip():
        return f"offer id {offer[:40]!r} has leading or trailing whitespace, which the Market trims off"
    if times > 1:
        return f"offer id {offer[:40]!r} is in this push {times} times; the Market takes each offer once a request"
    return None


def _qty_refusal(qty: int) -> str | None:
    if isinstance(qty, bool) or not 0 <= qty <= MAX_COUNT:
        return f"quantity {qty!r} is outside 0..{MAX_COUNT}"
    return None


def _readable_offers(lines: Sequence[StockLine] | Sequence[PriceLine]) -> dict[str, list[str]]:
    """Offer id -> our skus, for the lines whose offer id the Market would not refuse a read for."""
    skus_of: dict[str, list[str]] = {}
    for line in lines:
        if SHOP_SKU.fullmatch(line.offer_id) and line.offer_id == line.offer_id.strip():
            skus_of.setdefault(line.offer_id, []).append(line.sku)
    return skus_of


_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"|«([^»]*)»")


def _reasons_by_offer(errors: list[dict[str, Any]], sent: set[str]) -> dict[str, str] | None:
    """Offer id -> reason, when every error names (in quotes) offers that were sent; else ``None``.

    The spec's ApiErrorDTO has only ``code`` and ``message``, so a refused offer can only be told by its id
    appearing, quoted, in the message. An error naming none means the request as a whole was wrong."""
    reasons: dict[str, str] = {}
    for error in errors:
        message = str(error.get("message", ""))
        named = {next(group for group in match.groups() if group is not None) for match in _QUOTED.finditer(message)}
        offers = named & sent
        if not offers:
            return None
        for offer in offers:
            reasons[offer] = f"{error.get('code', 'ERROR')}: {message}"[:300]
    return reasons or None


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    raw = (json_object(response) or {}).get("errors")
    return [error for error in raw if isinstance(error, dict)] if isinstance(raw, list) else []


def _said(response: httpx.Response) -> str:
    """The Market's own words, short: ``FORBIDDEN: Access denied; …``."""
    errors = _errors(response)[:3]
    return "; ".join(f"{error.get('code', 'ERROR')}: {error.get('message', '')}".rstrip(": ") for error in errors)


_WIRE = Wire(
    "Yandex Market",
    unavailable=ChannelUnavailable,
    refused=ChannelRefused,
    words=_said,
    limited=frozenset({420, httpx.codes.TOO_MANY_REQUESTS}),  # 420: REQUEST_LIMIT_EXCEEDED, the Market's own
)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _whole(answer: dict[str, Any]) -> dict[str, Any]:
    return answer  # getOrders: ``orders`` and ``paging`` at the top


def _result(answer: dict[str, Any]) -> dict[str, Any]:
    return _dict(answer.get("result"))  # getReturns: inside ``result``


def _keep(found: dict[tuple[str, OrderEventKind], ChannelOrderEvent], event: ChannelOrderEvent | None) -> None:
    if event is not None:
        found.setdefault((event.external_id, event.kind), event)


def _next_token(holder: dict[str, Any]) -> str | None:
    token = _dict(holder.get("paging")).get("nextPageToken")
    return token if isinstance(token, str) and token else None


def _shown_stock(answer: dict[str, Any]) -> dict[str, int]:
    """getStocks' ``result.warehouses[].offers[]`` as offer id -> shown count, summed over warehouses."""
    shown: dict[str, int] = {}
    for warehouse in _dict(answer.get("result")).get("warehouses") or []:
        for offer in _dict(warehouse).get("offers") or []:
            offer_id = _dict(offer).get("offerId")
            if isinstance(offer_id, str):
                shown[offer_id] = shown.get(offer_id, 0) + _available(_dict(offer).get("stocks"))
    return shown


def _available(stocks: object) -> int:
    counts: dict[str, int] = {}
    for stock in stocks if isinstance(stocks, list) else []:
        kind, count = _dict(stock).get("type"), _dict(stock).get("count")
        if isinstance(kind, str) and isinstance(count, int) and not isinstance(count, bool):
            counts[kind] = counts.get(kind, 0) + count
    return counts.get("AVAILABLE", counts.get("FIT", 0))


def _order(raw: object) -> ChannelOrder | None:
    """An OrderDTO as a :class:`ChannelOrder`; ``None`` when it lacks what intake needs."""
    order = _dict(raw)
    order_id, created = order.get("id"), order.get("creationDate")
    if not isinstance(order_id, int) or isinstance(order_id, bool) or not isinstance(created, str):
        return None
    try:
        created_at = datetime.strptime(created, "%d-%m-%Y %H:%M:%S").replace(tzinfo=MARKET_TIME)
    except ValueError:
        return None
    lines: list[ChannelOrderLine] = []
    for item in order.get("items") or []:
        offer_id, count = _dict(item).get("offerId"), _dict(item).get("count")
        if not isinstance(offer_id, str) or not isinstance(count, int) or isinstance(count, bool) or count < 1:
            return None
        lines.append(ChannelOrderLine(offer_id=offer_id, qty=count))
    if not lines:
        return None
    return ChannelOrder(
        external_id=str(order_id), lines=tuple(lines), created_at=created_at.astimezone(UTC),
        ship_by=_ship_by(_dict(order.get("delivery")).get("shipments")),
    )  # fmt: skip


def _ship_by(shipments: object) -> datetime | None:
    """The earliest ``delivery.shipments[].shipmentDate`` (``DD-MM-YYYY``, the day to hand the order to the
    delivery service), at the start of that day in Moscow time — the last moment the whole day is still ahead — or
    at its ``shipmentTime`` (Express, ``HH:MM``) when given; ``None`` when the Market gives no day (an order by an
    organisation, until the delivery date is agreed) or one that cannot be read."""
    found: list[datetime] = []
    for shipment in shipments if isinstance(shipments, list) else []:
        day, time = _dict(shipment).get("shipmentDate"), _dict(shipment).get("shipmentTime")
        if not isinstance(day, str):
            continue
        try:
            moment = datetime.strptime(day, "%d-%m-%Y")
            if isinstance(time, str) and time:
                moment = datetime.strptime(f"{day} {time}", "%d-%m-%Y %H:%M")
        except ValueError:
            continue
        found.append(moment.replace(tzinfo=MARKET_TIME).astimezone(UTC))
    return min(found, default=None)
