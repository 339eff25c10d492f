"""Ozon as a sales channel (``workflows.channels.ChannelClient``), on an injected ``httpx.AsyncClient``.

What Ozon serves (its API documentation and published OpenAPI file): every method is a ``POST`` with ``Client-Id`` and
``Api-Key`` headers. Stock of one FBS warehouse is set with ``/v2/products/stocks`` (at most 100 product-warehouse
pairs a request, 80 requests a minute per seller), read back with ``/v4/product/info/stocks`` (a cursor), and
orders are the FBS postings awaiting packaging from ``/v3/posting/fbs/unfulfilled/list`` (limit and offset). What
became of postings (cancelled, delivered, returned) is read from ``/v3/posting/fbs/list`` and ``/v1/returns/list``
(see :mod:`integrations.ozon_events`). A posting is assembled (ready to ship) with ``/v4/posting/fbs/ship`` and
cancelled for want of stock with ``/v2/posting/fbs/cancel``, both idempotent (see :mod:`integrations.ozon_fulfilment`).
Prices (``workflows.channels.SetsPrices``) are set with ``/v1/product/import/prices`` and read back with
``/v5/product/info/prices`` (see :mod:`integrations.ozon_prices`), on a gate of their own.

**Per-item results.** A stock update answers 200 with ``updated`` and ``errors`` per item: ``updated`` →
accepted; ``TOO_MANY_REQUESTS`` (or its newer text ``Stock is updated too frequently``) → ``retry``; any other
error → rejected with Ozon's code and message; an item Ozon does not mention → ``retry``.

**30 s per pair.** Ozon updates one product-warehouse pair at most once in 30 s. This client does not find that
out by errors: a line whose pair was sent less than :data:`PAIR_INTERVAL_S` ago, or is in flight, is held back
without a request and returned in ``retry``. The 30 s count from when Ozon *answered* (by then it has applied the
update), so a slow first request cannot bring a second one within 30 s of it at Ozon. A request Ozon certainly did
not act on (a refused connection, 401/403/429/4xx, an item it rejected) does not start the 30 s.

**Rate.** Stock updates wait on :attr:`OzonClient.gate`: :data:`GATE_BURST` at once, then
:data:`GATE_PER_MINUTE` a minute. Ozon counts 80 a minute and does not say how, so the gate is set for the
strictest reading, any 60-s window: a burst of 2 plus 78 a minute never puts more than 80 in one (the rate, not the
burst, sets a long sync's pace: 4 plus 76 made 1 000 updates take 1.049 times what 80 a minute would). Reads and
order lists, and the moves of postings, wait on :attr:`OzonClient.read_gate` (20 a second, far below the 50 a
second per Client-Id that all methods share). Share one gate among the clients of one seller account (one per
warehouse).

**Stock read back** is ``present - reserved`` of the entries whose ``warehouse_ids`` name this warehouse: what
is available to sell, reserves excluded, which is what a stock update sets (the spec: ``stock`` is "quantity in
stock without the reserved"). A product Ozon lists with no entry for the warehouse reads 0; one Ozon does not list
is left out. The spec does not say whether one entry may lump several FBS warehouses together; if it does, the
number covers all of them.

**Errors.** 429 → :class:`ChannelUnavailable` (``Retry-After``, should Ozon send one, as ``retry_after``, and the
gate holds off that long); 5xx, ``Circle is open``, a timeout, a refused connection or an answer not in Ozon's
shape → :class:`ChannelUnavailable`; 401, 403 and other 4xx → :class:`ChannelRefused` with Ozon's message. The key
is never logged nor put into an error.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, Field, ValidationError

from integrations import ozon_events as events
from integrations import ozon_fulfilment as moves
from integrations import ozon_prices as prices
from integrations.rate_gate import RateGate, Sleep
from integrations.wire import Wire, vendor_words
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

STOCKS_PATH = "/v2/products/stocks"
STOCK_INFO_PATH = "/v4/product/info/stocks"
UNFULFILLED_PATH = "/v3/posting/fbs/unfulfilled/list"
BATCH_LIMIT = 100
PAIR_INTERVAL_S = 30.0
PAIR_MARGIN_S = 0.05  # a held line is due this long after its pair is free: the engine's clock is not this client's
STOCK_UPDATES_PER_MINUTE = 80
GATE_BURST = 2
GATE_PER_MINUTE = STOCK_UPDATES_PER_MINUTE - GATE_BURST
READS_PER_SECOND = 20
MAX_OFFER_ID = 50
PAGE_LIMIT = 1000
ORDERS_STATUS = "awaiting_packaging"
ORDERS_WINDOW = dt.timedelta(days=180)  # cutoff either side of now; Ozon takes a period of a year at most
TOO_FREQUENT = frozenset({"TOO_MANY_REQUESTS", "Stock is updated too frequently"})
_MAX_PAGES = 10_000
_REASON_CHARS = 300


def stock_update_gate(*, clock: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep) -> RateGate:
    """The gate for one seller account's stock updates (see the module's docstring)."""
    return RateGate(GATE_PER_MINUTE, GATE_BURST, clock=clock, sleep=sleep)


class _ItemError(BaseModel):
    code: str = ""
    message: str = ""


class _ItemResult(BaseModel):
    offer_id: str = ""
    warehouse_id: int | None = None
    updated: bool = False
    errors: list[_ItemError] = Field(default_factory=list)


class _StocksAnswer(BaseModel):
    result: list[_ItemResult]


class _Stock(BaseModel):
    present: int = 0
    reserved: int = 0
    warehouse_ids: list[int] = Field(default_factory=list)  # int64 as strings on the wire


class _StockItem(BaseModel):
    offer_id: str
    stocks: list[_Stock] = Field(default_factory=list)


class _StockPage(BaseModel):
    cursor: str = ""
    items: list[_StockItem] = Field(default_factory=list)


class _PostingProduct(BaseModel):
    offer_id: str
    quantity: int = Field(ge=1)


class _Posting(BaseModel):
    posting_number: str
    in_process_at: dt.datetime
    shipment_date: dt.datetime | None = None  # assemble by then: the posting's shipping deadline
    products: list[_PostingProduct] = Field(min_length=1)


class _PostingList(BaseModel):
    postings: list[dict[str, Any]] = Field(default_factory=list)  # each read alone: one odd posting hides none


class _PostingsAnswer(BaseModel):
    result: _PostingList


_Model = TypeVar("_Model", bound=BaseModel)


class OzonClient:
    """Stock, stock read-back and new FBS postings of one seller warehouse (``warehouse_id``) on Ozon.

    ``base`` is ``https://api-seller.ozon.ru``. ``clock`` (monotonic seconds) times the 30 s per pair and, with
    ``sleep``, drives the default gates; ``utcnow`` places the window of :meth:`new_orders`.
    """

    batch_limit = BATCH_LIMIT
    price_batch_limit = prices.PRICE_BATCH
    pushes_in_flight = 2  # the gate sets Ozon's pace; a second push waits on it while the first is answered

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        client_id: str,
        api_key: str,
        base: str,
        warehouse_id: int,
        name: str = "ozon",
        gate: RateGate | None = None,
        read_gate: RateGate | None = None,
        price_gate: RateGate | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        utcnow: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        page_limit: int = PAGE_LIMIT,
    ) -> None:
        if not 1 <= page_limit <= PAGE_LIMIT:
            raise ValueError(f"Ozon pages hold 1 to {PAGE_LIMIT} entries, not {page_limit}")
        self.name = name
        self.warehouse_id = warehouse_id
        self._http = client
        self._base = base.rstrip("/")
        self._headers = {"Client-Id": client_id, "Api-Key": api_key}
        self._api_key = api_key
        self._wire = Wire(
            "Ozon",
            unavailable=ChannelUnavailable,
            refused=ChannelRefused,
            words=self._words,
            refusal=self._refusal,
            not_sent=_NotSent,
        )
        self.gate = gate or stock_update_gate(clock=clock, sleep=sleep)
        self.read_gate = read_gate or RateGate(READS_PER_SECOND * 60, READS_PER_SECOND, clock=clock, sleep=sleep)
        self._clock, self._utcnow = clock, utcnow
        self._page_limit = page_limit
        self._sent: dict[str, float] = {}  # offer_id -> when Ozon answered its last update (inf: in flight)
        # (answered at, offer_id) in the order answered, so the 30 s run out from the front; an entry whose
        # offer was forgotten or answered again since is stale and just dropped
        self._expiry: deque[tuple[float, str]] = deque()
        self.prices = prices.OzonPrices(
            post=self._post, check=lambda response, gate: self._wire.check(response, gate=gate), expect=self._expect,
            not_sent=_NotSent, gate=price_gate or prices.price_gate(clock=clock, sleep=sleep),
            read_gate=self.read_gate, clock=clock, scrub=self._scrub, page_limit=page_limit,
        )  # fmt: skip

    def __repr__(self) -> str:  # never the key
        client_id = self._headers["Client-Id"]
        return f"OzonClient(name={self.name!r}, client_id={client_id!r}, warehouse_id={self.warehouse_id})"

    # -- stock -----------------------------------------------------------------------------------------------

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        """Set the available quantities of ``lines`` on the warehouse (see the module's docstring)."""
        if len(lines) > self.batch_limit:
            raise ValueError(f"Ozon takes at most {self.batch_limit} stocks a request, not {len(lines)}")
        rejected: dict[str, str] = {}
        retry: list[str] = []
        sending = self._choose(lines, rejected, retry)
        if sending:
            accepted, refused, again = await self._update(sending)
            rejected |= refused
            retry += again
        else:
            accepted = ()
        if rejected:
            log.warning(
                "ozon: warehouse=%s rejected=%d, e.g. %s", self.warehouse_id, len(rejected), list(rejected.items())[:5]
            )
        return PushOutcome(
            accepted=accepted, rejected=rejected, retry=tuple(retry), retry_in=self._free_in(lines, retry)
        )

    def _free_in(self, lines: Sequence[StockLine], retry: Sequence[str]) -> dict[str, float]:
        """For each line held back, the seconds until its pair is free (30 s for one in flight, counted from now: its
        answer starts them), so that it is sent again as soon as Ozon takes it, not a whole 30 s after being held."""
        held, now = set(retry), self._clock()
        free_in: dict[str, float] = {}
        for line in lines:
            sent_at = self._sent.get(line.offer_id) if line.sku in held else None
            if sent_at is not None:
                free_in[line.sku] = (
                    PAIR_INTERVAL_S - (now - sent_at) + PAIR_MARGIN_S if sent_at != math.inf else PAIR_INTERVAL_S
                )
        return free_in

    def _choose(self, lines: Sequence[StockLine], rejected: dict[str, str], retry: list[str]) -> dict[str, StockLine]:
        """The lines to send now, by offer id; the others go into ``rejected`` or ``retry``."""
        self._expire(self._clock())
        sending: dict[str, StockLine] = {}
        for line in lines:
            earlier = sending.get(line.offer_id)
            if line.qty < 0:
                rejected[line.sku] = f"a negative quantity ({line.qty}) cannot be a stock"
            elif not line.offer_id or len(line.offer_id) > MAX_OFFER_ID:
                rejected[line.sku] = f"not an Ozon offer_id (1 to {MAX_OFFER_ID} characters): {line.offer_id!r}"
            elif earlier is not None and earlier.sku != line.sku:
                rejected[line.sku] = f"the same Ozon offer_id as {earlier.sku}"
            elif earlier is not None:
                sending[line.offer_id] = line  # the same line twice: the later quantity stands
            elif line.offer_id in self._sent:
                retry.append(line.sku)  # its pair was sent less than 30 s ago, or is in flight
            else:
                sending[line.offer_id] = line
        return sending

    async def _update(self, sending: dict[str, StockLine]) -> tuple[tuple[str, ...], dict[str, str], list[str]]:
        """One request for ``sending``: ``(accepted, rejected, retry)``; keeps the 30-s memory of the pairs."""
        self._sent.update(dict.fromkeys(sending, math.inf))  # none of them was in it: _choose held those back
        body = {
            "stocks": [
                {"offer_id": offer, "stock": line.qty, "warehouse_id": self.warehouse_id}
                for offer, line in sending.items()
            ]
        }
        try:
            response = await self._post(STOCKS_PATH, body, self.gate)
        except _NotSent:
            self._forget(sending)
            raise
        except BaseException:  # a timeout, a broken connection, a cancellation: it may have reached Ozon
            self._stamp(sending)
            raise
        if httpx.codes.is_client_error(response.status_code):
            self._forget(sending)  # refused as a whole (401, 403, 429, 400): Ozon changed nothing
        else:
            self._stamp(sending)
        self._wire.check(response, gate=self.gate)
        answer = self._expect(_StocksAnswer, response)
        results = {r.offer_id: r for r in answer.result if r.warehouse_id in (None, self.warehouse_id)}
        accepted: list[str] = []
        rejected: dict[str, str] = {}
        retry: list[str] = []
        for offer, line in sending.items():
            result = results.get(offer)
            codes = {error.code for error in result.errors} if result else set()
            if result is not None and result.updated:
                accepted.append(line.sku)
            elif result is None or not result.errors or codes & TOO_FREQUENT:
                retry.append(line.sku)
            else:
                rejected[line.sku] = self._reason(result.errors)
                self._forget([offer])  # Ozon did not take it: a corrected line may go at once
        return tuple(accepted), rejected, retry

    def _stamp(self, sending: dict[str, StockLine]) -> None:
        now = self._clock()
        self._sent.update(dict.fromkeys(sending, now))
        self._expiry.extend((now, offer) for offer in sending)

    def _expire(self, now: float) -> None:
        """Forget the pairs whose 30 s are over: only those, not a pass over every pair sent in the last 30 s
        (at Ozon's full rate that is 4 000 of them, read again before every request)."""
        expiry, sent = self._expiry, self._sent
        while expiry and now - expiry[0][0] >= PAIR_INTERVAL_S:
            at, offer = expiry.popleft()
            if sent.get(offer) == at:
                del sent[offer]

    def _forget(self, offers: Iterable[str]) -> None:
        for offer in offers:
            self._sent.pop(offer, None)

    def _reason(self, errors: list[_ItemError]) -> str:
        return self._scrub("; ".join(f"{e.code}: {e.message}" if e.message else e.code for e in errors))[:_REASON_CHARS]

    async def read_stock(self, lines: Sequence[StockLine]) -> dict[str, int]:
        """What Ozon shows as available at the warehouse: ``sku -> present - reserved`` (see the module's docstring)."""
        skus_of: dict[str, list[str]] = {}
        for line in lines:
            skus_of.setdefault(line.offer_id, []).append(line.sku)
        offers = list(skus_of)
        held: dict[str, int] = {}
        for start in range(0, len(offers), PAGE_LIMIT):
            for item in await self._stock_items(offers[start : start + PAGE_LIMIT]):
                mine = [s for s in item.stocks if self.warehouse_id in s.warehouse_ids]
                qty = max(0, sum(s.present - s.reserved for s in mine))
                for sku in skus_of.get(item.offer_id, []):
                    held[sku] = qty
        return held

    async def _stock_items(self, offers: list[str]) -> list[_StockItem]:
        items: list[_StockItem] = []
        cursor = ""
        for _ in range(_MAX_PAGES):
            body = {"cursor": cursor, "filter": {"offer_id": offers, "visibility": "ALL"}, "limit": self._page_limit}
            page = self._expect(_StockPage, await self._call(self.read_gate, STOCK_INFO_PATH, body))
            items.extend(page.items)
            if not page.cursor or not page.items or page.cursor == cursor:
                return items
            cursor = page.cursor
        raise ChannelUnavailable("Ozon's stock list did not end")

    # -- prices (workflows.channels.SetsPrices) --------------------------------------------------------------

    async def push_prices(self, lines: Sequence[PriceLine]) -> PushOutcome:
        """Set the prices of ``lines`` (``old_price`` 0, roubles; see :mod:`integrations.ozon_prices`)."""
        return await self.prices.push(lines)

    async def read_prices(self, lines: Sequence[PriceLine]) -> dict[str, Decimal]:
        """The price on each offer's card before Ozon's promotions: ``sku -> price``."""
        return await self.prices.read(lines)

    # -- orders ----------------------------------------------------------------------------------------------

    async def new_orders(self) -> list[ChannelOrder]:
        """The warehouse's FBS postings awaiting packaging, one order per posting (``posting_number``).

        Pages are read until one comes back short: the spec does not say whether ``count`` is the total or the
        page's, so it is not relied on. A posting that cannot be read is skipped with a warning.
        """
        now = self._utcnow()
        flt = {
            "cutoff_from": _utc(now - ORDERS_WINDOW),
            "cutoff_to": _utc(now + ORDERS_WINDOW),
            "status": ORDERS_STATUS,
            "warehouse_id": [self.warehouse_id],
        }
        orders: dict[str, ChannelOrder] = {}
        offset = 0
        for _ in range(_MAX_PAGES):
            body = {"dir": "ASC", "filter": flt, "limit": self._page_limit, "offset": offset}
            page = self._expect(_PostingsAnswer, await self._call(self.read_gate, UNFULFILLED_PATH, body))
            for raw in page.result.postings:
                order = _order(raw)
                if order is not None:
                    orders.setdefault(order.external_id, order)  # a posting seen twice as the list moved
            offset += len(page.result.postings)
            if len(page.result.postings) < self._page_limit:
                return list(orders.values())
        raise ChannelUnavailable("Ozon's posting list did not end")

    # -- what became of orders ------------------------------------------------------------------------------

    async def order_events(self, cursor: str | None, watching: Sequence[str]) -> OrderEventPage:
        """Cancelled and delivered postings of the warehouse and returns of the account whose status changed since
        ``cursor`` (see :mod:`integrations.ozon_events`); ``watching`` is not needed, Ozon lists changes by time.
        One event per posting and kind; the cursor returned is the moment read up to."""
        now = self._utcnow()
        since, until = events.window(cursor, now)
        found: dict[tuple[str, OrderEventKind], ChannelOrderEvent] = {}
        for status in events.STATUS_KINDS:
            for raw in await self._status_postings(events.postings_filter(status, self.warehouse_id, since, until)):
                _keep(found, events.posting_event(raw, now))
        for raw in await self._returns(events.returns_filter(since, until)):
            _keep(found, events.return_event(raw, now))
        return OrderEventPage(tuple(found.values()), events.utc(until))

    async def _status_postings(self, flt: dict[str, Any]) -> list[dict[str, Any]]:
        """Every page of ``/v3/posting/fbs/list`` for ``flt`` (``offset`` on until ``has_next`` is false)."""
        postings: list[dict[str, Any]] = []
        for _ in range(_MAX_PAGES):
            body = {"dir": "ASC", "filter": flt, "limit": self._page_limit, "offset": len(postings)}
            response = await self._call(self.read_gate, events.FBS_LIST_PATH, body)
            page = self._expect(events.PostingListAnswer, response).result
            postings.extend(page.postings)
            if not page.has_next or not page.postings:
                return postings
        raise ChannelUnavailable("Ozon's posting list did not end")

    async def _returns(self, flt: dict[str, Any]) -> list[dict[str, Any]]:
        """Every page of ``/v1/returns/list`` for ``flt``: each page after the ``id`` that ended the one before."""
        lines: list[dict[str, Any]] = []
        last_id = 0
        for _ in range(_MAX_PAGES):
            body = {"filter": flt, "last_id": last_id, "limit": min(self._page_limit, events.RETURNS_PAGE)}
            answer = self._expect(events.ReturnsAnswer, await self._call(self.read_gate, events.RETURNS_PATH, body))
            lines.extend(answer.returns)
            if not answer.has_next or not answer.returns:
                return lines
            next_id = _return_id(answer.returns[-1])
            if next_id is None or next_id <= last_id:
                raise ChannelUnavailable("Ozon's returns list cannot be paged: no new last id")
            last_id = next_id
        raise ChannelUnavailable("Ozon's returns list did not end")

    # -- moving postings on (FulfilsOrders) -------------------------------------------------------------------

    async def ready_to_ship(self, external_id: str, lines: Sequence[ChannelOrderLine]) -> None:
        """Assemble posting ``external_id`` in one package of ``lines``: it moves on to ``awaiting_deliver``. A
        posting already there or further on is left alone; a cancelled one is refused."""
        posting = await self._posting(external_id)
        if posting.status in moves.SHIPPED_OR_LATER:
            return
        if posting.status == moves.CANCELLED:
            raise ChannelRefused(f"Ozon posting {external_id} is cancelled; it cannot be shipped")
        body = moves.ship_request(posting, lines)
        try:
            self._expect(moves.ShipAnswer, await self._call(self.read_gate, moves.SHIP_PATH, body))
        except ChannelRefused:
            if (await self._posting(external_id)).status not in moves.SHIPPED_OR_LATER:
                raise
        log.info("ozon: posting %s is assembled and awaits shipment", external_id)

    async def cancel_unfillable(self, external_id: str) -> None:
        """Cancel posting ``external_id`` as out of stock at the seller (reason 352); one already cancelled is a
        success."""
        body = moves.cancel_request(external_id)
        try:
            answer = self._expect(moves.CancelAnswer, await self._call(self.read_gate, moves.CANCEL_PATH, body))
        except ChannelRefused:
            if (await self._posting(external_id)).status != moves.CANCELLED:
                raise
            return
        if not answer.result and (await self._posting(external_id)).status != moves.CANCELLED:
            raise ChannelRefused(f"Ozon did not cancel posting {external_id}: it answered result false")
        log.info("ozon: posting %s is cancelled as out of stock", external_id)

    async def _posting(self, posting_number: str) -> moves.Posting:
        response = await self._call(self.read_gate, moves.POSTING_GET_PATH, moves.posting_request(posting_number))
        return self._expect(moves.PostingAnswer, response).result

    # -- the wire --------------------------------------------------------------------------------------------

    async def _call(self, gate: RateGate, path: str, body: dict[str, Any]) -> httpx.Response:
        """One request through ``gate``; the 2xx answer, else the channel error its status means."""
        return self._wire.check(await self._post(path, body, gate), gate=gate)

    async def _post(self, path: str, body: dict[str, Any], gate: RateGate) -> httpx.Response:
        """One request through ``gate``, whatever its status; raises only for what never got an answer
        (:class:`_NotSent` for what never left)."""
        await gate.wait()
        return await self._wire.request(self._http, "POST", f"{self._base}{path}", json=body, headers=self._headers)

    def _expect(self, model: type[_Model], response: httpx.Response) -> _Model:
        """The 2xx answer read as ``model``; :class:`ChannelUnavailable` when it is not in that shape."""
        try:
            return model.model_validate_json(response.content)
        except ValidationError:
            raise ChannelUnavailable(f"Ozon answered {response.request.url.path} in an unknown shape") from None

    def _words(self, response: httpx.Response) -> str:
        """The ``message`` of Ozon's ``rpcStatus`` body, else the reason phrase; never the key."""
        return self._scrub(vendor_words(response))

    def _refusal(self, response: httpx.Response, reason: str) -> ChannelUnavailable | None:
        """A refusal that is only a pause: Ozon's breaker (``Circle is open``) blocks a method for some minutes."""
        words = self._words(response)
        if "circle is open" in words.lower():
            return ChannelUnavailable(f"Ozon paused the method: HTTP {response.status_code}: {words}"[:_REASON_CHARS])
        return None

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


class _NotSent(ChannelUnavailable):
    """The request never left (a refused connection): Ozon certainly changed nothing."""


def _order(raw: dict[str, Any]) -> ChannelOrder | None:
    try:
        posting = _Posting.model_validate(raw)
    except ValidationError:
        log.warning("ozon: posting %r cannot be read; skipped", raw.get("posting_number"))
        return None
    quantities: dict[str, int] = {}
    for product in posting.products:
        quantities[product.offer_id] = quantities.get(product.offer_id, 0) + product.quantity
    lines = tuple(ChannelOrderLine(offer, qty) for offer, qty in quantities.items())
    ship_by = None if posting.shipment_date is None else _as_utc(posting.shipment_date)
    return ChannelOrder(posting.posting_number, lines, _as_utc(posting.in_process_at), ship_by)


def _as_utc(moment: dt.datetime) -> dt.datetime:
    """A Seller API time; one without an offset is UTC, as the Seller API works in UTC."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _keep(found: dict[tuple[str, OrderEventKind], ChannelOrderEvent], event: ChannelOrderEvent | None) -> None:
    if event is not None:
        found.setdefault((event.external_id, event.kind), event)


def _return_id(raw: dict[str, Any]) -> int | None:
    """A return's ``id``: int64, a number or (as Ozon writes int64 in places) a string of digits."""
    value = raw.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
