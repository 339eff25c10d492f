"""RetailCRM (API v5) as a sales channel (``workflows.channels.ChannelClient``), on an injected ``httpx.AsyncClient``.

What RetailCRM documents, and its official clients do:

* Auth is the ``X-API-KEY`` header (``apiKey`` in the query also works; the header keeps the key out of URLs and
  so out of access logs). Every answer carries ``success``; a refusal is ``{"success": false, "errorMsg": …,
  "errors": {field: message} | [message]}`` with a 4xx (or, rarely, a 200).
* About **10 requests a second** per account, whatever the method; more answers **503**, which the official
  clients treat as "rate limited, retry in 1 s".
* ``POST /api/v5/store/inventories/upload`` is form-encoded: ``offers`` is a JSON *string* holding
  ``[{"xmlId": …, "stores": [{"code": <store code>, "available": n}]}]``, plus ``site``. At most 250 offers
  (unverified: the official clients' largest page). It answers ``{"success": true, "processedOffersCount": n,
  "notFoundOffers": [{"xmlId": …, "externalId": …}]}``: offers it does not know are skipped, the rest applied.
* ``GET /api/v5/store/inventories`` lists offers with their stock per store (``filter[details]=1``), filtered by
  ``filter[offerXmlId][]`` / ``filter[offerExternalId][]`` and ``filter[sites][]``, paged by ``limit`` / ``page``.

Prices go up and come back on ``store/prices/upload`` and ``store/offers``: :mod:`integrations.retailcrm_prices`.

Offers are named by ``StockLine.offer_id`` (``workflows.offer_ids`` decides it; by default our article) sent as
``xmlId`` — the field 1C's catalogue exchange fills — or as ``externalId`` with ``offer_field="externalId"``.
The key never appears in a log line, an exception or a ``repr``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from integrations import retailcrm_prices as crm_prices
from integrations.rate_gate import RateGate, Sleep
from integrations.retailcrm_prices import OfferField
from integrations.wire import Wire, json_object
from workflows.channels import ChannelOrder, ChannelRefused, ChannelUnavailable, PriceLine, PushOutcome, StockLine

log = logging.getLogger(__name__)

BATCH_LIMIT = 250  # offers per upload (unverified: the official clients' largest page)
READ_PAGE = 250  # inventories ``limit``: one of 20, 50, 100, 250
QUERY_BUDGET = 6000  # characters of offer filters a read puts in its URL: servers refuse lines over ~8 KB
RATE_LIMITED_RETRY_S = 1.0  # what the official clients wait after a 503

QueryValue = str | int | float | bool | None
_FILTER_OF: dict[OfferField, str] = {"xmlId": "filter[offerXmlId][]", "externalId": "filter[offerExternalId][]"}


def default_gate(*, clock: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep) -> RateGate:
    """8 requests a second and no burst: a bucket lets ``burst + rate * t`` through in any ``t`` seconds, so at
    most 1 + 8 = 9 in any second — one under RetailCRM's 10, however it counts its second and whatever float
    dust the clocks carry."""
    return RateGate(per_minute=8 * 60, burst=1, clock=clock, sleep=sleep)


class RetailCrmClient:
    """One RetailCRM account's ``site`` (shop) and one of its warehouses, ``store_code``. ``base`` is the account's
    root, ``https://<account>.retailcrm.ru`` (or an emulator's).

    Every request, of any kind, waits on ``gate`` (one token each; :func:`default_gate` on ``clock`` / ``sleep``
    when none is given): RetailCRM's limit is per account, so clients of one account should share a gate.
    One request per page and no retry.
    """

    batch_limit = BATCH_LIMIT
    price_batch_limit = crm_prices.PRICE_BATCH_LIMIT

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base: str,
        api_key: str,
        site: str,
        store_code: str,
        name: str = "retailcrm",
        offer_field: OfferField = "xmlId",
        price_type: str = crm_prices.DEFAULT_PRICE_TYPE,
        gate: RateGate | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not site or not store_code:
            raise ValueError("RetailCRM needs a site code and a store code")
        self.name = name
        self._client = client
        self._root = f"{base.rstrip('/')}/api/v5"
        self._headers = {"X-API-KEY": api_key, "Accept": "application/json"}
        self._site, self._store, self._field = site, store_code, offer_field
        self.price_type = price_type  # the account's code of the price the shop sells at
        self._gate = gate if gate is not None else default_gate(clock=clock, sleep=sleep)

    def __repr__(self) -> str:
        return f"RetailCrmClient(name={self.name!r}, root={self._root!r}, site={self._site!r}, store={self._store!r})"

    # -- stock out ---------------------------------------------------------------------------------------------

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        """Upload each line's ``qty`` (0 included) as ``available`` in the store (``store_code``), in one request.

        Lines RetailCRM could not take as meant (an empty offer id, a negative qty, an offer twice in the push)
        are rejected here and not sent; offers the answer lists in ``notFoundOffers`` are rejected with that
        reason; the rest are accepted. ``ValueError`` for more than :attr:`batch_limit` lines.
        """
        if len(lines) > self.batch_limit:
            raise ValueError(f"a push carries at most {self.batch_limit} lines, not {len(lines)}")
        rejected: dict[str, str] = {}
        batch = _sendable(lines, rejected)
        if not batch:
            return PushOutcome(rejected=rejected)
        offers = [{self._field: line.offer_id, "stores": [self._store_stock(line.qty)]} for line in batch]
        form = {"site": self._site, "offers": json.dumps(offers, ensure_ascii=False)}
        answer = await self._call("POST", "/store/inventories/upload", data=form)
        return self._settled(batch, answer, rejected, "stock")

    def _settled(
        self, batch: Sequence[StockLine] | Sequence[PriceLine], answer: dict[str, Any], rejected: dict[str, str],
        what: str,
    ) -> PushOutcome:  # fmt: skip
        """An upload's outcome: the offers in ``notFoundOffers`` rejected, the rest of ``batch`` accepted."""
        not_found = self._not_found(answer.get("notFoundOffers"))
        accepted: list[str] = []
        for line in batch:
            if line.offer_id in not_found:
                named = f"{self._field} {line.offer_id[:60]!r}"
                rejected[line.sku] = f"RetailCRM has no offer with {named} (notFoundOffers)"
            else:
                accepted.append(line.sku)
        if not_found:
            log.warning("retailcrm: %d offers not found in a %s upload", len(not_found), what)
        return PushOutcome(accepted=tuple(accepted), rejected=rejected)

    def _store_stock(self, qty: int) -> dict[str, str | int]:
        return {"code": self._store, "available": qty}

    def _not_found(self, raw: object) -> set[str]:
        return {
            str(entry[self._field])
            for entry in (raw if isinstance(raw, list) else [])
            if isinstance(entry, dict) and entry.get(self._field) is not None
        }

    # -- stock back --------------------------------------------------------------------------------------------

    async def read_stock(self, lines: Sequence[StockLine]) -> dict[str, int]:
        """What RetailCRM holds in the store (``store_code``) for these lines, asked by offer id (up to 250 at a
        time, as many as fit a URL), every page.

        An offer listed with nothing in the store shows 0; an offer not listed is left out.
        """
        skus_of: dict[str, list[str]] = {}
        for line in lines:
            if line.offer_id:
                skus_of.setdefault(line.offer_id, []).append(line.sku)
        shown: dict[str, int] = {}
        for chunk in _chunks(list(skus_of), _FILTER_OF[self._field]):
            shown.update(await self._read_chunk(chunk))
        return {sku: shown[offer] for offer, skus in skus_of.items() if offer in shown for sku in skus}

    async def _read_chunk(self, offer_ids: list[str]) -> dict[str, int]:
        shown: dict[str, int] = {}
        page = 1
        while True:
            params: list[tuple[str, QueryValue]] = [(_FILTER_OF[self._field], offer) for offer in offer_ids]
            params += [("filter[sites][]", self._site), ("filter[details]", 1), ("limit", READ_PAGE), ("page", page)]
            answer = await self._call("GET", "/store/inventories", params=params)
            for offer in answer.get("offers") or []:
                if isinstance(offer, dict) and offer.get(self._field) is not None:
                    shown[str(offer[self._field])] = self._in_store(offer.get("stores"))
            if page >= _pages(answer):
                return shown
            page += 1

    def _in_store(self, stores: object) -> int:
        """``stores[].quantity`` of our store (``store``, or ``code`` in some answers), summed; 0 when absent."""
        total = 0.0
        for store in stores if isinstance(stores, list) else []:
            entry = _dict(store)
            code = entry.get("store", entry.get("code"))
            quantity = entry.get("quantity", entry.get("available"))
            if code == self._store and isinstance(quantity, int | float) and not isinstance(quantity, bool):
                total += quantity
        return int(total)

    # -- prices (SetsPrices) ------------------------------------------------------------------------------------

    async def push_prices(self, lines: Sequence[PriceLine]) -> PushOutcome:
        """Upload each line's price as the offer's price of :attr:`price_type` on the site, in one request (see
        :mod:`integrations.retailcrm_prices`).

        Lines RetailCRM could not take as meant (an empty offer id, an offer twice in the push, a price that is not
        a positive amount in kopecks) are rejected here and not sent; offers in ``notFoundOffers`` are rejected
        with that reason; the rest are accepted. ``ValueError`` for more than :attr:`price_batch_limit` lines."""
        if len(lines) > self.price_batch_limit:
            raise ValueError(f"a price push carries at most {self.price_batch_limit} lines, not {len(lines)}")
        rejected: dict[str, str] = {}
        batch = _sendable(lines, rejected)
        if not batch:
            return PushOutcome(rejected=rejected)
        form = crm_prices.upload_form(batch, self._field, self._site, self.price_type)
        answer = await self._call("POST", crm_prices.UPLOAD_PATH, data=form)
        return self._settled(batch, answer, rejected, "price")

    async def read_prices(self, lines: Sequence[PriceLine]) -> dict[str, Decimal]:
        """The price of :attr:`price_type` RetailCRM holds for these lines' offers on the site, asked by offer id
        (100 a page, as many as fit a URL), every page. An offer without that price, or not listed, is left out."""
        skus_of: dict[str, list[str]] = {}
        for line in lines:
            if line.offer_id:
                skus_of.setdefault(line.offer_id, []).append(line.sku)
        name = crm_prices.OFFERS_FILTER[self._field]
        shown: dict[str, Decimal] = {}
        for chunk in _chunks(list(skus_of), name, crm_prices.OFFERS_PAGE):
            page = 1
            while True:
                params: list[tuple[str, QueryValue]] = [(name, offer) for offer in chunk]
                params += [("filter[sites][]", self._site), ("limit", crm_prices.OFFERS_PAGE), ("page", page)]
                answer = await self._call("GET", crm_prices.OFFERS_PATH, params=params)
                shown.update(crm_prices.shown_prices(answer, self._field, self.price_type))
                if page >= _pages(answer):
                    break
                page += 1
        return {sku: shown[offer] for offer, skus in skus_of.items() if offer in shown for sku in skus}

    # -- orders ------------------------------------------------------------------------------------------------

    async def new_orders(self) -> list[ChannelOrder]:
        """Always ``[]``: RetailCRM is fed *by* the shop (site orders are created in it), so every order it holds
        already reached us through the site; taking them from here too would count them twice."""
        return []

    # -- the wire ----------------------------------------------------------------------------------------------

    @property
    def site(self) -> str:
        return self._site

    async def call(
        self, method: str, path: str, *, params: list[tuple[str, QueryValue]] | None = None,
        data: dict[str, str] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Any RetailCRM v5 method (``path`` after ``/api/v5``) on this account's wire, gate and key: the orders'
        client (``integrations.retailcrm_orders``) shares them."""
        return await self._call(method, path, params=params, data=data)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, QueryValue]] | None = None,
        data: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One request through the gate; the answer's JSON object with ``success: true``, or a channel error."""
        await self._gate.wait()
        response = await _WIRE.send(
            self._client, method, self._root + path, gate=self._gate, params=params, data=data, headers=self._headers
        )
        body = _WIRE.json_body(response)
        if body.get("success") is not True:
            raise _WIRE.refuse(response)
        return body


Line = TypeVar("Line", StockLine, PriceLine)


def _sendable(lines: Sequence[Line], rejected: dict[str, str]) -> list[Line]:
    """The lines RetailCRM can take, in order; the others go into ``rejected`` with the reason."""
    times = Counter(line.offer_id for line in lines)
    batch: list[Line] = []
    for line in lines:
        if not line.offer_id.strip():
            rejected[line.sku] = "empty offer id"
        elif times[line.offer_id] > 1:
            rejected[line.sku] = f"offer id {line.offer_id[:60]!r} is in this push {times[line.offer_id]} times"
        elif isinstance(line, PriceLine):
            reason = crm_prices.price_refusal(line.price)
            if reason is None:
                batch.append(line)
            else:
                rejected[line.sku] = reason
        elif isinstance(line.qty, bool) or line.qty < 0:
            rejected[line.sku] = f"quantity {line.qty!r} is negative"
        else:
            batch.append(line)
    return batch


def _pages(answer: dict[str, Any]) -> int:
    """How many pages a list answer says there are (1 when it does not say)."""
    pages = _dict(answer.get("pagination")).get("totalPageCount")
    return pages if isinstance(pages, int) and not isinstance(pages, bool) else 1


def _chunks(offer_ids: list[str], filter_name: str, most: int = READ_PAGE) -> list[list[str]]:
    """Offer ids in groups of at most ``most`` whose filters fit :data:`QUERY_BUDGET` once encoded."""
    name = len(quote(filter_name, safe="")) + 2  # ``=`` and ``&``
    chunks: list[list[str]] = []
    size = QUERY_BUDGET
    for offer in offer_ids:
        cost = name + len(quote(offer, safe=""))
        if not chunks or len(chunks[-1]) >= most or size + cost > QUERY_BUDGET:
            chunks.append([])
            size = 0
        chunks[-1].append(offer)
        size += cost
    return chunks


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _said(response: httpx.Response) -> str:
    """RetailCRM's own words: ``errorMsg (field: message; …)`` from its error body."""
    body = json_object(response) or {}
    said = str(body.get("errorMsg") or "")
    errors = body.get("errors")
    if isinstance(errors, dict):
        details = [f"{field}: {message}" for field, message in list(errors.items())[:3]]
    elif isinstance(errors, list):
        details = [str(message) for message in errors[:3]]
    else:
        details = []
    if details:
        said = f"{said} ({'; '.join(details)})" if said else "; ".join(details)
    return said


_WIRE = Wire(
    "RetailCRM",
    unavailable=ChannelUnavailable,
    refused=ChannelRefused,
    words=_said,
    limited=frozenset({httpx.codes.TOO_MANY_REQUESTS, httpx.codes.SERVICE_UNAVAILABLE}),
    limited_wait=RATE_LIMITED_RETRY_S,
)
"""A 503 is how RetailCRM says "more than 10 a second"; the official clients wait a second after one."""
