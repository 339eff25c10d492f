"""Prices on Ozon (``workflows.channels.SetsPrices``). Used by :class:`integrations.ozon.OzonClient`, which sends the
requests (its headers, its wire, its errors).

**What is sent.** ``POST /v1/product/import/prices`` takes up to 1000 items; each is ``offer_id``, ``price`` (our
price: what a buyer pays before Ozon's own promotions, as a string in roubles with at most two decimals),
``old_price`` ``"0"`` (no struck-out "before discount" price: a price of ours is not a discount, and a non-zero
``old_price`` must differ from ``price`` by Ozon's margins) and ``currency_code`` ``"RUB"``. Auto-promotions and
strategies are left as the seller set them (the fields are not sent, which Ozon reads as ``UNKNOWN``).

**Per-item results.** Ozon answers 200 with ``updated`` and ``errors`` per item: ``updated`` → accepted; an error
``TOO_MANY_REQUESTS`` → ``retry``; any other error → rejected with Ozon's code and words (``NOT_FOUND_ERROR``,
``invalid_category_price``, ``price_negative``…); an item Ozon does not mention → ``retry``.

**10 a product an hour.** Ozon lets a product's price change at most 10 times an hour. This client does not find that
out by errors: it remembers, per offer, when Ozon answered its last updates, and a line whose offer had 10 in the last
:data:`QUOTA_WINDOW_S` is held back without a request and returned in ``retry``. The window counts from Ozon's
answer, so Ozon never sees 11 within an hour however slow a request; a request that may have reached Ozon without an
answer (a timeout, a 5xx) counts too, one refused as a whole or an item rejected does not.

**Rate.** Ozon allows 50 requests a second per Client-Id over all methods and names no limit of its own for this
one. Price updates wait on their own gate, :data:`GATE_PER_SECOND` a second with a burst of :data:`GATE_BURST` (at
most 10 in any second), leaving the rest to reads, orders and stock. Reading back waits on the client's read gate.

**Reading back** is ``price.price`` of ``POST /v5/product/info/prices`` (offer ids as the filter, a cursor): the
price on the product card before Ozon's promotions (``marketing_price`` is after them). A product Ozon shows with no
price (0) is left out, as is one it does not list.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel, Field

from integrations.rate_gate import RateGate, Sleep
from workflows.channels import ChannelUnavailable, PriceLine, PushOutcome

log = logging.getLogger(__name__)

IMPORT_PRICES_PATH = "/v1/product/import/prices"
PRICE_INFO_PATH = "/v5/product/info/prices"
PRICE_BATCH = 1000
UPDATES_PER_PRODUCT = 10  # in any hour
QUOTA_WINDOW_S = 3600.0
GATE_PER_SECOND = 5
GATE_BURST = 5
TOO_FREQUENT = frozenset({"TOO_MANY_REQUESTS"})
MAX_OFFER_ID = 50
PAGE_LIMIT = 1000
_KOPECKS = Decimal("0.01")
_MAX_PAGES = 10_000
_REASON_CHARS = 300

_Model = TypeVar("_Model", bound=BaseModel)
Post = Callable[[str, dict[str, Any], RateGate], Awaitable[httpx.Response]]
"""The client's one request through a gate, whatever the status of its answer."""


class Expect(Protocol):
    """The client's reading of a 2xx answer as a model (a shape not Ozon's: :class:`ChannelUnavailable`)."""

    def __call__(self, model: type[_Model], response: httpx.Response) -> _Model: ...


def price_gate(*, clock: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep) -> RateGate:
    """The gate of one seller account's price updates (see the module's docstring)."""
    return RateGate(GATE_PER_SECOND * 60, GATE_BURST, clock=clock, sleep=sleep)


def ozon_price(price: Decimal) -> str:
    """A price as Ozon takes it: roubles, a point, at most two decimals ("1448", "1448.50")."""
    kopecks = price.quantize(_KOPECKS, rounding=ROUND_HALF_UP)
    return str(int(kopecks)) if kopecks == kopecks.to_integral_value() else f"{kopecks:.2f}"


class _ItemError(BaseModel):
    code: str = ""
    message: str = ""


class _ItemResult(BaseModel):
    offer_id: str = ""
    updated: bool = False
    errors: list[_ItemError] = Field(default_factory=list)


class _ImportAnswer(BaseModel):
    result: list[_ItemResult]


class _Price(BaseModel):
    price: Decimal | None = None


class _PriceItem(BaseModel):
    offer_id: str
    price: _Price = Field(default_factory=_Price)


class _PricePage(BaseModel):
    cursor: str = ""
    items: list[_PriceItem] = Field(default_factory=list)


class PriceQuota:
    """When Ozon answered each offer's last price updates, to keep within 10 a product an hour."""

    def __init__(self, limit: int = UPDATES_PER_PRODUCT, window_s: float = QUOTA_WINDOW_S) -> None:
        self.limit, self.window_s = limit, window_s
        self._answered: dict[str, deque[float]] = {}

    def full(self, offer: str, now: float) -> bool:
        times = self._answered.get(offer)
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if times is not None and not times:
            del self._answered[offer]
            return False
        return times is not None and len(times) >= self.limit

    def stamp(self, offers: Iterable[str], now: float) -> None:
        for offer in offers:
            self._answered.setdefault(offer, deque()).append(now)


class OzonPrices:
    """Price updates and read-backs of one seller account (see the module's docstring)."""

    def __init__(
        self,
        *,
        post: Post,
        check: Callable[[httpx.Response, RateGate], httpx.Response],
        expect: Expect,
        not_sent: type[Exception],
        gate: RateGate,
        read_gate: RateGate,
        clock: Callable[[], float],
        scrub: Callable[[str], str],
        page_limit: int = PAGE_LIMIT,
    ) -> None:
        self._post, self._check, self._expect, self._not_sent = post, check, expect, not_sent
        self.gate, self._read_gate = gate, read_gate
        self._clock, self._scrub, self._page_limit = clock, scrub, page_limit
        self.quota = PriceQuota()

    async def push(self, lines: Sequence[PriceLine]) -> PushOutcome:
        if len(lines) > PRICE_BATCH:
            raise ValueError(f"Ozon takes at most {PRICE_BATCH} prices a request, not {len(lines)}")
        rejected: dict[str, str] = {}
        retry: list[str] = []
        sending = self._choose(lines, rejected, retry)
        accepted: list[str] = []
        if sending:
            accepted = await self._update(sending, rejected, retry)
        if rejected:
            log.warning("ozon: prices rejected=%d, e.g. %s", len(rejected), list(rejected.items())[:5])
        return PushOutcome(accepted=tuple(accepted), rejected=rejected, retry=tuple(retry))

    def _choose(self, lines: Sequence[PriceLine], rejected: dict[str, str], retry: list[str]) -> dict[str, PriceLine]:
        """The lines to send now, by offer id; the others go into ``rejected`` or ``retry``."""
        now = self._clock()
        sending: dict[str, PriceLine] = {}
        for line in lines:
            earlier = sending.get(line.offer_id)
            if line.price.quantize(_KOPECKS, rounding=ROUND_HALF_UP) <= 0:
                rejected[line.sku] = f"{line.price} is not a price (at least 0.01)"
            elif not line.offer_id or len(line.offer_id) > MAX_OFFER_ID:
                rejected[line.sku] = f"not an Ozon offer_id (1 to {MAX_OFFER_ID} characters): {line.offer_id!r}"
            elif earlier is not None and earlier.sku != line.sku:
                rejected[line.sku] = f"the same Ozon offer_id as {earlier.sku}"
            elif earlier is None and self.quota.full(line.offer_id, now):
                retry.append(line.sku)  # 10 updates of this product in the last hour
            else:
                sending[line.offer_id] = line
        return sending

    async def _update(self, sending: dict[str, PriceLine], rejected: dict[str, str], retry: list[str]) -> list[str]:
        """One request for ``sending``: the skus Ozon updated; the others go into ``rejected`` or ``retry``."""
        items = [
            {"currency_code": "RUB", "offer_id": offer, "old_price": "0", "price": ozon_price(line.price)}
            for offer, line in sending.items()
        ]
        try:
            response = await self._post(IMPORT_PRICES_PATH, {"prices": items}, self.gate)
        except self._not_sent:
            raise
        except BaseException:  # a timeout, a broken connection: it may have reached Ozon
            self.quota.stamp(sending, self._clock())
            raise
        if httpx.codes.is_server_error(response.status_code):
            self.quota.stamp(sending, self._clock())
        results = {r.offer_id: r for r in self._expect(_ImportAnswer, self._check(response, self.gate)).result}
        accepted: list[str] = []
        for offer, line in sending.items():
            result = results.get(offer)
            if result is not None and result.updated:
                accepted.append(line.sku)
            elif result is None or not result.errors or {e.code for e in result.errors} & TOO_FREQUENT:
                retry.append(line.sku)
            else:
                rejected[line.sku] = self._reason(result.errors)
        self.quota.stamp((offer for offer, line in sending.items() if line.sku in accepted), self._clock())
        return accepted

    def _reason(self, errors: list[_ItemError]) -> str:
        said = "; ".join(f"{e.code}: {e.message}" if e.message else e.code for e in errors)
        return self._scrub(f"Ozon refused the price: {said}")[:_REASON_CHARS]

    async def read(self, lines: Sequence[PriceLine]) -> dict[str, Decimal]:
        skus_of: dict[str, list[str]] = {}
        for line in lines:
            skus_of.setdefault(line.offer_id, []).append(line.sku)
        offers = list(skus_of)
        shown: dict[str, Decimal] = {}
        for start in range(0, len(offers), PAGE_LIMIT):
            for item in await self._items(offers[start : start + PAGE_LIMIT]):
                price = item.price.price
                if price is not None and price > 0:
                    for sku in skus_of.get(item.offer_id, []):
                        shown[sku] = price.quantize(_KOPECKS, rounding=ROUND_HALF_UP)
        return shown

    async def _items(self, offers: list[str]) -> list[_PriceItem]:
        items: list[_PriceItem] = []
        cursor = ""
        for _ in range(_MAX_PAGES):
            body = {"cursor": cursor, "filter": {"offer_id": offers, "visibility": "ALL"}, "limit": self._page_limit}
            response = self._check(await self._post(PRICE_INFO_PATH, body, self._read_gate), self._read_gate)
            page = self._expect(_PricePage, response)
            items.extend(page.items)
            if not page.cursor or not page.items or page.cursor == cursor:
                return items
            cursor = page.cursor
        raise ChannelUnavailable("Ozon's price list did not end")
