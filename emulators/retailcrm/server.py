"""RetailCRM API v5 for one account over HTTP on 127.0.0.1, for the real ``httpx`` client.

Serves ``POST /api/v5/store/inventories/upload`` (form-encoded, ``offers`` a JSON string, optional ``site``) and
``GET /api/v5/store/inventories`` (``filter[…]``, ``limit`` / ``page``); prices (``store/prices/upload``,
``store/offers``: :mod:`emulators.retailcrm.prices`) and orders (:mod:`emulators.retailcrm.orders`) beside them.
Answers as RetailCRM does: a ``success`` flag in every answer, refusals as ``{"success": false, "errorMsg": …,
"errors": {…}}``; the key from ``X-API-KEY`` or ``apiKey`` (none → 401, wrong → 403); more than 10 requests in a
second → 503, on a clock tests move. Offers it does not know are skipped and named in ``notFoundOffers``; anything
malformed refuses the whole upload.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from emulators.local_server import LocalServer
from emulators.retailcrm.orders import CrmOrdersState, OrderRefusal
from emulators.retailcrm.prices import CrmPricesState, PriceRefusal

UPLOAD, INVENTORIES = "store/inventories/upload", "store/inventories"
PRICES_UPLOAD, OFFERS = "store/prices/upload", "store/offers"
MAX_UPLOAD = 250
PAGE_LIMITS = (20, 50, 100, 250)
FORM = "application/x-www-form-urlencoded"
ID_FIELDS = ("id", "externalId", "xmlId")

Clock = Callable[[], float]
Handler = Callable[[web.Request], Awaitable[web.Response]]


@dataclass(frozen=True)
class CrmCall:
    """One request as received (the key is not kept: only whether it was right) and the HTTP status answered.
    ``form`` is the form body's fields as sent (strings; ``offers`` still a JSON string)."""

    operation: str
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    content_type: str
    form: Mapping[str, str]
    key_ok: bool
    status: int


@dataclass(frozen=True)
class CrmOffer:
    """An offer of the catalogue: RetailCRM's ``id``, and ``xmlId`` / ``externalId`` (the same text here)."""

    id: int
    xml_id: str

    @property
    def external_id(self) -> str:
        return self.xml_id


class _Refusal(Exception):
    def __init__(self, status: int, message: str, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, dict(errors or {})


class RetailCrmEmulator(CrmOrdersState, CrmPricesState, LocalServer):
    """One account with one ``site``, its warehouses ``stores`` (codes) and catalogue ``offers`` (xmlIds).

    ``async with RetailCrmEmulator("key", "shop", ["main"], ["A-1"]) as crm:`` and give ``crm.base_url`` to the
    client. ``clock`` (monotonic seconds) drives the 10-a-second limit; ``max_page`` cuts the pages it gives.
    What was uploaded is in :meth:`stock`; :attr:`calls` records every request.
    """

    name = "RetailCRM"
    url_path = "/"

    def __init__(
        self,
        api_key: str,
        site: str,
        stores: Iterable[str],
        offers: Iterable[str],
        *,
        per_second: int = 10,
        max_page: int = 250,
        price_types: Iterable[str] = ("base",),
        clock: Clock = time.monotonic,
    ) -> None:
        self.api_key, self.site = api_key, site
        self.stores: list[str] = list(dict.fromkeys(stores))
        self.offers: list[CrmOffer] = []
        self.stocks: dict[tuple[str, str], float] = {}  # (xmlId, store code) -> available
        self.calls: list[CrmCall] = []
        self.per_second, self.max_page = per_second, max_page
        self._clock = clock
        self._admitted: deque[float] = deque()
        self._failure: tuple[int, str] | None = None
        self._lost: set[str] = set()  # operations whose next answer is lost after the work was done
        self._init_orders()
        self._init_prices(price_types)
        self.add_offer(*offers)

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v5/" + UPLOAD, self._guarded(UPLOAD, self._upload))
        app.router.add_get("/api/v5/" + INVENTORIES, self._guarded(INVENTORIES, self._inventories))
        app.router.add_post("/api/v5/" + PRICES_UPLOAD, self._guarded(PRICES_UPLOAD, self._upload_prices))
        app.router.add_get("/api/v5/" + OFFERS, self._guarded(OFFERS, self._offers_list))
        app.router.add_post("/api/v5/orders/create", self._guarded("orders/create", self._create_order))
        payments = "/api/v5/orders/payments/"
        app.router.add_post(payments + "create", self._guarded("payments/create", self._create_payment))
        app.router.add_post(payments + "{payment_id}/edit", self._guarded("payments/edit", self._edit_payment))
        app.router.add_get("/api/v5/orders/history", self._guarded("orders/history", self._history))
        app.router.add_post("/api/v5/orders/{external_id}/edit", self._guarded("orders/edit", self._edit_order))
        app.router.add_get("/api/v5/orders/{external_id}", self._guarded("orders/get", self._get_order))
        app.router.add_get("/api/v5/customers", self._guarded("customers", self._find_customers))
        app.router.add_post("/api/v5/customers/create", self._guarded("customers/create", self._create_customer))
        app.router.add_get("/api/v5/customers/{external_id}", self._guarded("customers/get", self._get_customer))
        return app

    # -- what tests steer and read -----------------------------------------------------------------------------

    def stock(self, offer_xml_id: str, store_code: str) -> float | None:
        """What was uploaded as available for the offer in the store (``None``: never)."""
        return self.stocks.get((offer_xml_id, store_code))

    def add_offer(self, *xml_ids: str) -> None:
        known = {offer.xml_id for offer in self.offers}
        for xml_id in xml_ids:
            if xml_id not in known:
                known.add(xml_id)
                self.offers.append(CrmOffer(id=5600 + len(self.offers) + 1, xml_id=xml_id))

    def fail_with(self, status: int = 503, message: str = "Internal server error") -> None:
        """Answer every request with HTTP ``status`` and ``{"success": false, "errorMsg": message}`` until
        :meth:`recover` (a 200 makes a ``success: false`` answer with a 200)."""
        if status != 200 and not 400 <= status <= 599:
            raise ValueError(f"a failure is HTTP 200 or a 4xx/5xx status, not {status}")
        self._failure = (status, message)

    def recover(self) -> None:
        self._failure = None

    def lose_next_answer(self, operation: str) -> None:
        """The next request of ``operation`` (``"customers/create"``…) is carried out, and its answer lost on the way
        back: the client gets a 504, as from a proxy that gave up waiting."""
        self._lost.add(operation)

    def calls_of(self, operation: str) -> list[CrmCall]:
        return [call for call in self.calls if call.operation == operation]

    # -- answering ---------------------------------------------------------------------------------------------

    def _guarded(self, operation: str, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.Response:
            form = dict(await request.post()) if request.method == "POST" and request.content_type == FORM else {}
            key = request.headers.get("X-API-KEY") or request.query.get("apiKey")
            try:
                self._admit(key)
                response = await handler(request)
                if operation in self._lost:
                    self._lost.discard(operation)
                    raise _Refusal(504, "Gateway Time-out")
            except (_Refusal, OrderRefusal, PriceRefusal) as refusal:
                response = _refused(refusal.status, refusal.message, refusal.errors)
            self.calls.append(
                CrmCall(
                    operation,
                    request.method,
                    request.path,
                    tuple((name, value) for name, value in request.query.items() if name != "apiKey"),
                    request.content_type,
                    {name: str(value) for name, value in form.items()},
                    key == self.api_key,
                    response.status,
                )
            )
            return response

        return guarded

    def _admit(self, key: str | None) -> None:
        if self._failure is not None:
            raise _Refusal(*self._failure)
        if not key:
            raise _Refusal(401, '"apiKey" is missing.')
        if key != self.api_key:
            raise _Refusal(403, 'Wrong "apiKey" value.')
        now = self._clock()
        while self._admitted and self._admitted[0] <= now - 1.0:
            self._admitted.popleft()
        if len(self._admitted) >= self.per_second:
            raise _Refusal(503, f"Rate limit exceeded: more than {self.per_second} requests per second")
        self._admitted.append(now)

    async def _upload(self, request: web.Request) -> web.Response:
        if request.content_type != FORM:
            raise _Refusal(400, "Errors in the input parameters", {"offers": f"the body must be {FORM}"})
        form = await request.post()
        site = form.get("site")
        if site is not None and not isinstance(site, str):
            raise _Refusal(400, "Parameter 'site' must be text")
        if site is not None and site != self.site:
            raise _Refusal(400, f"Site with code '{site}' not found")
        entries = _offers_field(form.get("offers"))
        known = {offer.xml_id: offer for offer in self.offers}
        by_id = {offer.id: offer for offer in self.offers}
        updates: list[tuple[str, str, float]] = []
        not_found: list[dict[str, Any]] = []
        for index, entry in enumerate(entries):
            found = self._find(entry, known, by_id)
            stores = self._stores(index, entry)
            if found is None:
                not_found.append({name: entry[name] for name in ID_FIELDS if name in entry})
            else:
                updates += [(found.xml_id, code, available) for code, available in stores]
        for xml_id, code, available in updates:
            self.stocks[(xml_id, code)] = available
        return _ok({"processedOffersCount": len(entries) - len(not_found), "notFoundOffers": not_found})

    @staticmethod
    def _find(entry: dict[str, Any], known: dict[str, CrmOffer], by_id: dict[int, CrmOffer]) -> CrmOffer | None:
        if isinstance(entry.get("id"), int):
            return by_id.get(entry["id"])
        return known.get(str(entry.get("xmlId", entry.get("externalId"))))

    def _stores(self, index: int, entry: dict[str, Any]) -> list[tuple[str, float]]:
        stores = entry.get("stores")
        if not isinstance(stores, list) or not stores:
            raise _Refusal(400, "Errors in the input parameters", {f"offers[{index}].stores": "required, not empty"})
        taken: list[tuple[str, float]] = []
        for number, store in enumerate(stores):
            where = f"offers[{index}].stores[{number}]"
            if not isinstance(store, dict) or store.get("code") not in self.stores:
                raise _Refusal(400, "Errors in the input parameters", {f"{where}.code": "Store not found"})
            available = store.get("available")
            if not isinstance(available, int | float) or isinstance(available, bool) or available < 0:
                raise _Refusal(400, "Errors in the input parameters", {f"{where}.available": "must be >= 0"})
            taken.append((store["code"], available))
        return taken

    async def _inventories(self, request: web.Request) -> web.Response:
        query = request.query
        limit, page = _number(query.get("limit", "20"), "limit"), _number(query.get("page", "1"), "page")
        if limit not in PAGE_LIMITS:
            raise _Refusal(400, "Errors in the input parameters", {"limit": f"must be one of {PAGE_LIMITS}"})
        limit = min(limit, self.max_page)  # a smaller page than asked: the client must follow the pages
        xml_ids = set(query.getall("filter[offerXmlId][]", [])) | set(query.getall("filter[offerExternalId][]", []))
        sites = query.getall("filter[sites][]", [])
        chosen = [offer for offer in self.offers if (not xml_ids or offer.xml_id in xml_ids)]
        if sites and self.site not in sites:
            chosen = []
        details = query.get("filter[details]") in ("1", "true")
        pages = max(1, -(-len(chosen) // limit))
        shown = [self._inventory(offer, details) for offer in chosen[(page - 1) * limit : page * limit]]
        pagination = {"limit": limit, "totalCount": len(chosen), "currentPage": page, "totalPageCount": pages}
        return _ok({"pagination": pagination, "offers": shown})

    def _inventory(self, offer: CrmOffer, details: bool) -> dict[str, Any]:
        stocks = self.stocks
        held = [(code, stocks[(offer.xml_id, code)]) for code in self.stores if (offer.xml_id, code) in stocks]
        shown: dict[str, Any] = {
            "id": offer.id,
            "xmlId": offer.xml_id,
            "externalId": offer.external_id,
            "quantity": sum(quantity for _, quantity in held),
        }
        if details:
            shown["stores"] = [{"store": code, "quantity": quantity, "purchasePrice": 0} for code, quantity in held]
        return shown


def _offers_field(raw: object) -> list[dict[str, Any]]:
    """The ``offers`` form field: a JSON string of 1..250 objects, each naming its offer by id, externalId or
    xmlId; :class:`_Refusal` (400) otherwise."""
    if not isinstance(raw, str):
        raise _Refusal(400, "Parameter 'offers' is missing")
    try:
        entries = json.loads(raw)
    except ValueError:
        raise _Refusal(400, "Errors in the input parameters", {"offers": "is not valid JSON"}) from None
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_UPLOAD:
        raise _Refusal(400, "Errors in the input parameters", {"offers": f"must hold 1..{MAX_UPLOAD} offers"})
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not any(entry.get(name) not in (None, "") for name in ID_FIELDS):
            raise _Refusal(400, "Errors in the input parameters", {f"offers[{index}]": "needs id, externalId or xmlId"})
    return entries


def _number(raw: str, name: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise _Refusal(400, "Errors in the input parameters", {name: "must be a positive integer"})
    return int(raw)


def _ok(body: dict[str, Any]) -> web.Response:
    return web.json_response({"success": True, **body})


def _refused(status: int, message: str, errors: Mapping[str, str]) -> web.Response:
    body: dict[str, Any] = {"success": False, "errorMsg": message}
    if errors:
        body["errors"] = dict(errors)
    return web.json_response(body, status=status)
