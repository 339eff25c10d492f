"""Wildberries as a sales channel (``workflows.channels.ChannelClient``), on an injected ``httpx.AsyncClient``.

What WB serves (its API documentation and published OpenAPI files): stock per *size* of a card (``chrtId``) on one
seller warehouse, set with ``PUT /api/v3/stocks/{warehouseId}`` (1..1000 items, amount ≤ 100000, 204 on success, 409
with an array of errors naming the refused items, 406 when the seller is banned) and read with ``POST`` on the same
path; the cards with their sizes from ``POST /content/v2/get/cards/list`` (100 a page, a cursor); new FBS orders,
one unit of one size each, from ``GET /api/v3/orders/new``; what became of them from ``POST /api/v3/orders/status``
(1..1000 order ids a request, :mod:`integrations.wildberries_statuses`). The FBS flow (``workflows.channels.
FulfilsOrders``: an order into an open supply, an unfillable one cancelled) is in
:mod:`integrations.wildberries_fulfilment`; prices (``workflows.channels.SetsPrices``, per card ``nmID`` on the prices
API's host) in :mod:`integrations.wildberries_prices`. The token goes raw in ``Authorization``.

**Offer ids.** Our offer id for WB is the seller's vendorCode, with the size after a ``/`` when the card has more
than one: ``"SHIRT-01/XL"``; a card with a single size (WB gives a size-less product one size, ``techSize "0"``) is
named by its bare vendorCode, and ``"MUG-7/0"`` names it too. ``/`` cannot be in a vendorCode (the shop's WB rule,
``workflows.offer_ids``), so the first ``/`` always splits vendorCode from size; cards whose vendorCode has one are
skipped when learning, with a warning. A bare vendorCode of a card with several sizes is refused (it names no
single stock), and so is an offer id with no card: ``"not on Wildberries (no card)"``.

**A 409 on a stock update.** The spec lists the refused items in the answer (``data``: each as sent; by legacy
barcode ``sku`` or by ``chrtId``) but does not say whether WB applies the other items of that request. This
client does not guess: it rejects the items named, with WB's words, and sends the rest again at once (a stock
update sets an absolute amount, so sending it twice is harmless); they count as accepted only when WB answers 204.
After three such rounds whatever is left goes back as ``retry``. A 409 costs 10 tokens of the stocks bucket.

**Errors.** 429 → :class:`ChannelUnavailable` with ``X-Ratelimit-Retry`` as ``retry_after`` (and the gate holds
off that long); 5xx, a timeout, a refused connection, an answer that is not WB's shape, a 409
``StoreIsProcessing`` → :class:`ChannelUnavailable`; 401, 403, 406 and other 4xx → :class:`ChannelRefused` with
WB's own message. A 409 costs 10 tokens on the orders limits too. The token is never logged nor put into an error.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, Field, ValidationError

from integrations.rate_gate import RateGate
from integrations.wildberries_fulfilment import Statuses, WildberriesFulfilment
from integrations.wildberries_prices import PRICE_BATCH, PRICES_HOST, WildberriesPrices, price_gate
from integrations.wildberries_statuses import event_of
from integrations.wire import Wire
from workflows.channels import (
    ChannelOrder,
    ChannelOrderEvent,
    ChannelOrderLine,
    ChannelRefused,
    ChannelUnavailable,
    OrderEventPage,
    PriceLine,
    PushOutcome,
    StockLine,
)

log = logging.getLogger(__name__)

SIZE_SEPARATOR = "/"
MAX_AMOUNT = 100_000
NO_CARD = "not on Wildberries (no card)"
CARDS_PAGE = 100
CONFLICT_COST = 10
CONFLICT_ROUNDS = 3
STATUS_BATCH = 1000  # order ids per POST /api/v3/orders/status
_MAX_ORDER_ID = 2**63 - 1  # WB's order ids are int64
_MAX_CARD_PAGES = 10_000  # a million cards: a cursor that runs longer is a fault, not a catalogue
_REASON_CHARS = 300
_PROCESSING = "Wildberries: the warehouse is being processed; try again in a few seconds"


class _Size(BaseModel):
    chrtID: int
    techSize: str = ""
    skus: list[str] = Field(default_factory=list)


class _Card(BaseModel):
    vendorCode: str
    nmID: int | None = None
    sizes: list[_Size] = Field(default_factory=list)


class _Cursor(BaseModel):
    updatedAt: str | None = None
    nmID: int | None = None
    total: int = 0


class _CardsPage(BaseModel):
    cards: list[_Card] = Field(default_factory=list)
    cursor: _Cursor = Field(default_factory=_Cursor)


class _StockRecord(BaseModel):
    chrtId: int | None = None
    sku: str | None = None
    amount: int


class _Stocks(BaseModel):
    stocks: list[_StockRecord] = Field(default_factory=list)


class _Order(BaseModel):
    id: int
    chrtId: int
    createdAt: dt.datetime


class _Orders(BaseModel):
    orders: list[dict[str, Any]]  # each read alone, so one odd order does not hide the others


class _Status(BaseModel):
    id: int
    supplierStatus: str | None = None
    wbStatus: str | None = None


class _Statuses(BaseModel):
    orders: list[dict[str, Any]]  # each read alone, as new orders are


class _Conflict(BaseModel):
    code: str = ""
    message: str = ""
    data: list[dict[str, Any]] | None = None


_Model = TypeVar("_Model", bound=BaseModel)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ProductMap:
    """Offer id ↔ ``chrtId``, learned from the card list (the convention is in the module's docstring)."""

    def __init__(self, cards: Iterable[_Card]) -> None:
        self._by_pair: dict[tuple[str, str], int] = {}
        self._sizes: dict[str, list[int]] = {}
        self._offer_of: dict[int, str] = {}
        self._by_barcode: dict[str, int] = {}
        self._nm_of: dict[int, int] = {}  # chrtId -> the card's nmID (the prices API names cards by it)
        for card in cards:
            if SIZE_SEPARATOR in card.vendorCode:
                log.warning("wildberries: card vendorCode=%r has a '/'; it cannot be named, skipped", card.vendorCode)
                continue
            if card.vendorCode in self._sizes:
                log.warning("wildberries: two cards with vendorCode=%r; the later one is used", card.vendorCode)
            self._sizes[card.vendorCode] = [size.chrtID for size in card.sizes]
            for size in card.sizes:
                if card.nmID is not None:
                    self._nm_of[size.chrtID] = card.nmID
                self._by_pair[card.vendorCode, size.techSize] = size.chrtID
                self._by_barcode.update(dict.fromkeys(size.skus, size.chrtID))
                single = len(card.sizes) == 1
                self._offer_of[size.chrtID] = card.vendorCode if single else offer_id(card.vendorCode, size.techSize)

    def __len__(self) -> int:
        return len(self._offer_of)

    def chrt_id(self, offer: str) -> int | str:
        """The size ``offer`` names, or why it names none."""
        vendor_code, separator, size = offer.partition(SIZE_SEPARATOR)
        if separator:
            return self._by_pair.get((vendor_code, size), NO_CARD)
        sizes = self._sizes.get(vendor_code, [])
        if len(sizes) > 1:
            return f"the Wildberries card has {len(sizes)} sizes: name one as {vendor_code}{SIZE_SEPARATOR}<size>"
        return sizes[0] if sizes else NO_CARD

    def offer_id(self, chrt_id: int) -> str | None:
        return self._offer_of.get(chrt_id)

    def nm_id(self, chrt_id: int) -> int | None:
        """The card (``nmID``) a size belongs to."""
        return self._nm_of.get(chrt_id)

    def by_barcode(self, barcode: str) -> int | None:
        return self._by_barcode.get(barcode)


def offer_id(vendor_code: str, size: str | None = None) -> str:
    """Our offer id for a card (``size`` ``None``: the card has one size) or one size of it."""
    return vendor_code if size is None else f"{vendor_code}{SIZE_SEPARATOR}{size}"


@dataclass(frozen=True)
class _Want:
    sku: str
    amount: int


# The stocks bucket's 300 a minute with one token less than its burst of 20: WB counts a request when it arrives, and
# its bucket stops filling while full, so a burst that reached it later than the gate let it go left WB a token
# short for the next request (a full sync at WB's own limits was refused a request so). One token absorbs 0.2 s.
STOCK_GATE = (300, 19)


class WildberriesClient:
    """Stock, stock read-back, new FBS orders and their moves of one seller warehouse (``warehouse_id``), and the
    seller's prices.

    ``marketplace_base`` and ``content_base`` are the two WB hosts (``https://marketplace-api.wildberries.ru``,
    ``https://content-api.wildberries.ru``). ``gate`` keeps within the stocks limit (300 a minute, burst 20, shared
    by update and read) with a burst of 19 (:data:`STOCK_GATE`); ``orders_gate`` (FBS orders and supplies),
    ``cancel_gate`` (cancelling an order) and ``content_gate`` within those groups' (300/20, 100/20 and 100/5);
    ``prices_gate`` within the prices API's (10 in 6 s, burst 5) on ``prices_base``
    (``https://discounts-prices-api.wildberries.ru``). Sizes are learned from the card list on first use; call
    :meth:`learn_products` again to pick up new cards.
    """

    batch_limit = 1000
    price_batch_limit = PRICE_BATCH
    pushes_in_flight = 4  # WB limits a rate with a burst of 20, not requests at once: overlap answers and gate
    price_read_step = Decimal(1)  # WB's prices are whole roubles (workflows.channels.RoundsPricesRead)

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        token: str,
        marketplace_base: str,
        content_base: str,
        warehouse_id: int,
        name: str = "wildberries",
        gate: RateGate | None = None,
        orders_gate: RateGate | None = None,
        content_gate: RateGate | None = None,
        cancel_gate: RateGate | None = None,
        prices_base: str = PRICES_HOST,
        prices_gate: RateGate | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.name = name
        self.warehouse_id = warehouse_id
        self._http = client
        self._token = token
        marketplace = marketplace_base.rstrip("/")
        self._stocks_url = f"{marketplace}/api/v3/stocks/{warehouse_id}"
        self._orders_url = f"{marketplace}/api/v3/orders/new"
        self._statuses_url = f"{marketplace}/api/v3/orders/status"
        self._cards_url = f"{content_base.rstrip('/')}/content/v2/get/cards/list"
        self.gate = gate or RateGate(*STOCK_GATE)
        self.orders_gate = orders_gate or RateGate(300, 20)
        self.content_gate = content_gate or RateGate(100, 5)
        self._products: ProductMap | None = None
        self._clock = clock
        self._wire = Wire(
            "Wildberries",
            unavailable=ChannelUnavailable,
            refused=ChannelRefused,
            words=self._words,
            refusal=self._refusal,
            retry_headers=("X-Ratelimit-Retry", "Retry-After"),
        )
        self.fulfilment = WildberriesFulfilment(
            call=self._call,
            refuse=self._wire.refuse,
            statuses=self._statuses_of,
            marketplace=marketplace,
            orders_gate=self.orders_gate,
            cancel_gate=cancel_gate or RateGate(100, 20),
            clock=clock,
        )
        self.prices = WildberriesPrices(
            call=self._call, refuse=self._wire.refuse, sizes=self.products, base=prices_base,
            gate=prices_gate or price_gate(),
        )  # fmt: skip

    def __repr__(self) -> str:  # never the token
        return f"WildberriesClient(name={self.name!r}, warehouse_id={self.warehouse_id})"

    # -- products --------------------------------------------------------------------------------------------

    async def learn_products(self) -> int:
        """Read every card (all pages) and replace the size map; returns how many sizes are known.

        A failure part-way leaves the map as it was.
        """
        self._products = await self._learn()
        return len(self._products)

    async def products(self) -> ProductMap:
        """The size map, learned now if it never was."""
        if self._products is None:
            self._products = await self._learn()
        return self._products

    async def _learn(self) -> ProductMap:
        cards: list[_Card] = []
        cursor: dict[str, Any] = {"limit": CARDS_PAGE}
        seen: set[tuple[str, int]] = set()
        for _ in range(_MAX_CARD_PAGES):
            body = {"settings": {"cursor": cursor, "filter": {"withPhoto": -1}}}
            response = await self._call(self.content_gate, "POST", self._cards_url, body)
            page = self._expect(_CardsPage, response)
            cards.extend(page.cards)
            if page.cursor.total < CARDS_PAGE or not page.cards:
                break
            after = page.cursor
            if after.updatedAt is None or after.nmID is None or (after.updatedAt, after.nmID) in seen:
                raise ChannelUnavailable("Wildberries' card list gave no cursor to go on from")
            seen.add((after.updatedAt, after.nmID))
            cursor = {"limit": CARDS_PAGE, "updatedAt": after.updatedAt, "nmID": after.nmID}
        else:
            raise ChannelUnavailable("Wildberries' card list did not end")
        products = ProductMap(cards)
        log.info("wildberries: learned cards=%d sizes=%d", len(cards), len(products))
        return products

    # -- stock -----------------------------------------------------------------------------------------------

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        """Set the amounts of ``lines`` on the warehouse (see the module's docstring for a 409)."""
        if len(lines) > self.batch_limit:
            raise ValueError(f"Wildberries takes at most {self.batch_limit} stocks a request, not {len(lines)}")
        products = await self.products()
        rejected: dict[str, str] = {}
        pending: dict[int, _Want] = {}
        for line in lines:
            chrt_id = products.chrt_id(line.offer_id)
            if line.qty < 0:
                rejected[line.sku] = f"a negative quantity ({line.qty}) cannot be a stock"
            elif isinstance(chrt_id, str):
                rejected[line.sku] = chrt_id
            elif chrt_id in pending and pending[chrt_id].sku != line.sku:
                rejected[line.sku] = f"the same Wildberries size as {pending[chrt_id].sku}"
            else:
                pending[chrt_id] = _Want(line.sku, min(line.qty, MAX_AMOUNT))
        accepted, retry = await self._put_stocks(pending, rejected, products)
        if rejected:
            some = list(rejected.items())[:5]
            log.warning("wildberries: warehouse=%s rejected=%d, e.g. %s", self.warehouse_id, len(rejected), some)
        return PushOutcome(accepted=accepted, rejected=rejected, retry=retry)

    async def _put_stocks(
        self, pending: dict[int, _Want], rejected: dict[str, str], products: ProductMap
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Send ``pending`` until WB answers 204; moves refused items into ``rejected``. ``(accepted, retry)``."""
        for round_no in range(CONFLICT_ROUNDS):
            if not pending:
                return (), ()
            body = {"stocks": [{"chrtId": chrt_id, "amount": want.amount} for chrt_id, want in pending.items()]}
            try:
                response = await self._call(self.gate, "PUT", self._stocks_url, body)
                if response.status_code != httpx.codes.CONFLICT:  # a 2xx: WB took them all
                    return tuple(want.sku for want in pending.values()), ()
                refused = self._refused_items(response, pending, products)
            except ChannelUnavailable:
                if round_no == 0:
                    raise
                break  # what WB already refused stays refused; the rest is sent again later
            for chrt_id, reason in refused.items():
                rejected[pending.pop(chrt_id).sku] = reason
        return (), tuple(want.sku for want in pending.values())

    def _refused_items(
        self, response: httpx.Response, pending: dict[int, _Want], products: ProductMap
    ) -> dict[int, str]:
        """The items of ``pending`` a 409 names, with WB's reason; raises when it names none of them."""
        try:
            body = response.json()
            conflicts = [_Conflict.model_validate(entry) for entry in (body if isinstance(body, list) else [body])]
        except (ValueError, TypeError, ValidationError):
            raise ChannelUnavailable("Wildberries answered 409 in an unknown shape") from None
        refused: dict[int, str] = {}
        for conflict in conflicts:
            if conflict.code == "StoreIsProcessing":
                raise ChannelUnavailable(_PROCESSING)
            reason = f"{conflict.message} ({conflict.code})" if conflict.message else conflict.code
            for item in conflict.data or ():
                chrt_id = item.get("chrtId")
                if not isinstance(chrt_id, int) and isinstance(item.get("sku"), str):
                    chrt_id = products.by_barcode(item["sku"])
                if isinstance(chrt_id, int) and chrt_id in pending:
                    refused[chrt_id] = self._scrub(reason)
        if not refused:
            words = "; ".join(self._scrub(c.message or c.code) for c in conflicts) or "no reason given"
            raise ChannelRefused(f"Wildberries refused the stock update (HTTP 409): {words}"[:_REASON_CHARS])
        return refused

    async def read_stock(self, lines: Sequence[StockLine]) -> dict[str, int]:
        """What the warehouse holds for ``lines``: ``sku -> amount``; lines without a card or a record are left out."""
        products = await self.products()
        skus_of: dict[int, list[str]] = {}
        for line in lines:
            chrt_id = products.chrt_id(line.offer_id)
            if isinstance(chrt_id, int):
                skus_of.setdefault(chrt_id, []).append(line.sku)
        chrt_ids = list(skus_of)
        held: dict[str, int] = {}
        for start in range(0, len(chrt_ids), self.batch_limit):
            body = {"chrtIds": chrt_ids[start : start + self.batch_limit]}
            answer = self._expect(_Stocks, await self._call(self.gate, "POST", self._stocks_url, body))
            for record in answer.stocks:
                size = record.chrtId if record.chrtId is not None else products.by_barcode(record.sku or "")
                for sku in skus_of.get(size, []) if size is not None else []:
                    held[sku] = record.amount
        return held

    # -- prices (workflows.channels.SetsPrices) --------------------------------------------------------------

    async def push_prices(self, lines: Sequence[PriceLine]) -> PushOutcome:
        """Set the prices of ``lines``: whole roubles, no seller's discount; *accepted* is WB taking the upload
        (:mod:`integrations.wildberries_prices`)."""
        return await self.prices.push(lines)

    async def read_prices(self, lines: Sequence[PriceLine]) -> dict[str, Decimal]:
        """What WB shows a buyer for ``lines`` before its own promotions, in whole roubles: ``sku -> price``."""
        return await self.prices.read(lines)

    # -- orders ----------------------------------------------------------------------------------------------

    async def new_orders(self) -> list[ChannelOrder]:
        """Every FBS order still new on WB (of all the seller's warehouses), one line of one unit each.

        An order whose size is not among the learned cards, or that cannot be read, is skipped with a warning.
        WB's order carries no shipping deadline (``ddate`` and ``sellerDate`` are delivery dates, and only for
        oversized goods): its orders have no ``ship_by``, and the managers' time to decide is the setting alone.
        """
        products = await self.products()
        answer = self._expect(_Orders, await self._call(self.orders_gate, "GET", self._orders_url))
        orders: list[ChannelOrder] = []
        for raw in answer.orders:
            try:
                order = _Order.model_validate(raw)
            except ValidationError:
                log.warning("wildberries: order id=%r cannot be read; skipped", raw.get("id"))
                continue
            offer = products.offer_id(order.chrtId)
            if offer is None:
                log.warning(
                    "wildberries: order id=%s is for chrtId=%s, not on a known card; skipped", order.id, order.chrtId
                )
                continue
            created = order.createdAt if order.createdAt.tzinfo else order.createdAt.replace(tzinfo=dt.UTC)
            orders.append(ChannelOrder(str(order.id), (ChannelOrderLine(offer, 1),), created))
        return orders

    async def order_events(self, cursor: str | None, watching: Sequence[str]) -> OrderEventPage:
        """What became of the orders in ``watching``: WB tells statuses only of the order ids it is asked about
        (:mod:`integrations.wildberries_statuses` says which mean an event), so each read asks about every id
        watched, :data:`STATUS_BATCH` a request, on the orders gate. An id that is not a WB order id (not a
        number) is not asked about; an id WB does not answer for gives no event.

        WB has no list of what changed since a time, so ``cursor`` is not used: the page's cursor is only the
        time of this read (ISO-8601, UTC), a stable value to store. An order that is cancelled, sold or refused
        comes back on every read while it is watched; the intake takes it once. Its ``at`` is the read's time:
        WB's answer carries none.
        """
        now = self._clock().astimezone(dt.UTC)
        ids = list(dict.fromkeys(_order_ids(watching)))
        events: list[ChannelOrderEvent] = []
        for start in range(0, len(ids), STATUS_BATCH):
            asked = ids[start : start + STATUS_BATCH]
            body = {"orders": asked}
            answer = self._expect(_Statuses, await self._call(self.orders_gate, "POST", self._statuses_url, body))
            events.extend(_events(answer, set(asked), now))
        if events:
            log.info("wildberries: %d order events among %d orders watched", len(events), len(ids))
        return OrderEventPage(events=tuple(events), cursor=now.isoformat())

    async def _statuses_of(self, order_id: int) -> Statuses | None:
        """One order's ``(supplierStatus, wbStatus)``; ``None`` when WB has no such order."""
        body = {"orders": [order_id]}
        answer = self._expect(_Statuses, await self._call(self.orders_gate, "POST", self._statuses_url, body))
        for raw in answer.orders:
            try:
                status = _Status.model_validate(raw)
            except ValidationError:
                continue
            if status.id == order_id:
                return status.supplierStatus, status.wbStatus
        return None

    # -- the FBS flow (workflows.channels.FulfilsOrders) -----------------------------------------------------

    async def ready_to_ship(self, external_id: str, lines: Sequence[ChannelOrderLine]) -> None:
        """Put the assembly order into our open supply (WB's orders are one unit each: ``lines`` add nothing)."""
        await self.fulfilment.ready_to_ship(external_id)

    async def cancel_unfillable(self, external_id: str) -> None:
        """Cancel the assembly order as the seller; one already cancelled is a success."""
        await self.fulfilment.cancel_unfillable(external_id)

    # -- the wire --------------------------------------------------------------------------------------------

    async def _call(
        self,
        gate: RateGate,
        method: str,
        url: str,
        body: Any = None,
        *,
        passing: Collection[int] = (httpx.codes.CONFLICT,),
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """One request through ``gate``; the 2xx answer or one in ``passing`` (for the caller to read), else the
        channel error."""
        await gate.wait()
        headers = {"Authorization": self._token}
        response = await self._wire.send(
            self._http, method, url, gate=gate, passing=passing, json=body, params=params, headers=headers
        )
        if response.status_code == httpx.codes.CONFLICT:
            gate.charge(CONFLICT_COST - 1)  # WB counts a 409 as ten requests, on the stock and the orders limits
        return response

    def _expect(self, model: type[_Model], response: httpx.Response) -> _Model:
        """The answer read as ``model``; the channel error of a 409 where no 409 was expected."""
        if not httpx.codes.is_success(response.status_code):
            raise self._wire.refuse(response)
        try:
            return model.model_validate_json(response.content)
        except ValidationError:
            raise ChannelUnavailable(f"Wildberries answered {response.request.url.path} in an unknown shape") from None

    def _words(self, response: httpx.Response) -> str:
        """WB's code and words (``StatusNotAcceptable: …``), never the token."""
        code, words = _wb_words(response)
        return self._scrub(f"{code}: {words}" if code else words)

    def _refusal(self, response: httpx.Response, reason: str) -> ChannelUnavailable | None:
        """A refusal that is only a pause: the warehouse is being processed."""
        code, _ = _wb_words(response)
        return ChannelUnavailable(_PROCESSING) if code == "StoreIsProcessing" else None

    def _scrub(self, text: str) -> str:
        """``text`` without the token, should WB ever echo it."""
        return text.replace(self._token, "***") if self._token else text


def _order_ids(watching: Iterable[str]) -> Iterable[int]:
    """The WB order ids among ``watching`` (as ``new_orders`` gives them: decimal digits); others are skipped."""
    for order_id in watching:
        if order_id.isascii() and order_id.isdigit() and 0 < int(order_id) <= _MAX_ORDER_ID:
            yield int(order_id)
        else:
            log.warning("wildberries: %r is not a Wildberries order id; its status is not asked", order_id[:40])


def _events(answer: _Statuses, asked: set[int], now: dt.datetime) -> Iterable[ChannelOrderEvent]:
    """The events of the orders asked about in one status answer; an entry that cannot be read is skipped."""
    for raw in answer.orders:
        try:
            status = _Status.model_validate(raw)
        except ValidationError:
            log.warning("wildberries: a status of order id=%r cannot be read; skipped", raw.get("id"))
            continue
        if status.id not in asked:
            continue
        event = event_of(status.supplierStatus, status.wbStatus)
        if event is not None:
            kind, reason = event
            yield ChannelOrderEvent(external_id=str(status.id), kind=kind, at=now, reason=reason)


def _wb_words(response: httpx.Response) -> tuple[str | None, str]:
    """WB's error code (``None`` for the gateway's, whose code is an internal trace id) and its words, from any of
    its error shapes: the gateway's, ``Error``, the content API's, the 409 array."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    if not isinstance(body, dict):
        return None, response.reason_phrase
    if "title" in body or "detail" in body:
        return None, ": ".join(str(body[key]) for key in ("title", "detail") if body.get(key))
    if "errorText" in body:
        return None, str(body["errorText"])
    code = str(body["code"]) if body.get("code") else None
    return code, str(body.get("message") or code or response.reason_phrase)
