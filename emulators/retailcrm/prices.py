"""RetailCRM's offer prices for the emulator (:class:`emulators.retailcrm.server.RetailCrmEmulator` mixes this in).

Serves ``POST store/prices/upload`` (form-encoded, ``prices`` a JSON string of 1..250 offers, each named by ``id``,
``externalId`` or ``xmlId``, with an optional ``site`` and ``prices[{code, price}]``) and ``GET store/offers``
(``filter[ids][]`` / ``filter[externalIds][]`` / ``filter[xmlIds][]``, ``filter[sites][]``, ``limit`` 20/50/100,
``page``; every offer with its ``prices[{priceType, price, ordering, currency}]``). Offers it does not know are
skipped and named in ``notFoundOffers``; a price type the account does not have, or anything malformed, refuses the
whole upload.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from aiohttp import web

MAX_PRICE_UPLOAD = 250
OFFER_LIMITS = (20, 50, 100)
ID_FIELDS = ("id", "externalId", "xmlId")
BAD_INPUT = "Errors in the input parameters"


class CatalogueOffer(Protocol):
    """An offer of the emulator's catalogue (``server.CrmOffer``), as prices need it."""

    @property
    def id(self) -> int: ...

    @property
    def xml_id(self) -> str: ...

    @property
    def external_id(self) -> str: ...


class PriceRefusal(Exception):
    def __init__(self, status: int, message: str, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, dict(errors or {})


class CrmPricesState:
    """Prices per (offer xmlId, price type code). Needs ``site`` and ``offers`` from the emulator."""

    site: str
    offers: Sequence[CatalogueOffer]

    def _init_prices(self, price_types: Iterable[str]) -> None:
        self.price_types: list[str] = list(dict.fromkeys(price_types))
        self.prices: dict[tuple[str, str], Decimal] = {}  # (xmlId, price type code) -> price

    # -- what tests steer and read -----------------------------------------------------------------------------

    def price(self, offer_xml_id: str, price_type: str = "base") -> Decimal | None:
        """The offer's price of ``price_type`` (``None``: never set)."""
        return self.prices.get((offer_xml_id, price_type))

    # -- answering ---------------------------------------------------------------------------------------------

    async def _upload_prices(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            raise PriceRefusal(400, BAD_INPUT, {"prices": "the body must be application/x-www-form-urlencoded"})
        entries = _prices_field((await request.post()).get("prices"))
        updates: list[tuple[str, str, Decimal]] = []
        not_found: list[dict[str, Any]] = []
        for index, entry in enumerate(entries):
            site = entry.get("site")
            if site is not None and site != self.site:
                raise PriceRefusal(400, f"Site with code '{site}' not found")
            taken = self._entry_prices(index, entry.get("prices"))
            found = self._offer(entry)
            if found is None:
                not_found.append({name: entry[name] for name in ID_FIELDS if name in entry})
            else:
                updates += [(found.xml_id, code, price) for code, price in taken]
        for xml_id, code, price in updates:
            self.prices[(xml_id, code)] = price
        return _ok({"processedOffersCount": len(entries) - len(not_found), "notFoundOffers": not_found})

    def _offer(self, entry: dict[str, Any]) -> CatalogueOffer | None:
        for offer in self.offers:
            if entry.get("id") == offer.id or str(entry.get("xmlId", entry.get("externalId"))) == offer.xml_id:
                return offer
        return None

    def _entry_prices(self, index: int, raw: object) -> list[tuple[str, Decimal]]:
        if not isinstance(raw, list) or not raw:
            raise PriceRefusal(400, BAD_INPUT, {f"prices[{index}].prices": "required, not empty"})
        taken: list[tuple[str, Decimal]] = []
        for number, entry in enumerate(raw):
            where = f"prices[{index}].prices[{number}]"
            code = entry.get("code") if isinstance(entry, dict) else None
            if code not in self.price_types:
                raise PriceRefusal(400, BAD_INPUT, {f"{where}.code": f"Price type '{code}' not found"})
            price = entry.get("price")
            if not isinstance(price, int | float) or isinstance(price, bool) or price < 0:
                raise PriceRefusal(400, BAD_INPUT, {f"{where}.price": "must be a number >= 0"})
            taken.append((str(code), Decimal(str(price))))
        return taken

    async def _offers_list(self, request: web.Request) -> web.Response:
        query = request.query
        limit, page = _number(query.get("limit", "20"), "limit"), _number(query.get("page", "1"), "page")
        if limit not in OFFER_LIMITS:
            raise PriceRefusal(400, BAD_INPUT, {"limit": f"must be one of {OFFER_LIMITS}"})
        xml_ids = set(query.getall("filter[xmlIds][]", [])) | set(query.getall("filter[externalIds][]", []))
        ids = {int(raw) for raw in query.getall("filter[ids][]", []) if raw.isdigit()}
        sites = query.getall("filter[sites][]", [])
        chosen = [
            offer for offer in self.offers if (not xml_ids and not ids) or offer.xml_id in xml_ids or offer.id in ids
        ]
        if sites and self.site not in sites:
            chosen = []
        pages = max(1, -(-len(chosen) // limit))
        shown = [self._offer_wire(offer) for offer in chosen[(page - 1) * limit : page * limit]]
        pagination = {"limit": limit, "totalCount": len(chosen), "currentPage": page, "totalPageCount": pages}
        return _ok({"pagination": pagination, "offers": shown})

    def _offer_wire(self, offer: CatalogueOffer) -> dict[str, Any]:
        prices = [
            {"priceType": code, "price": float(self.prices[(offer.xml_id, code)]), "ordering": order, "currency": "RUB"}
            for order, code in enumerate(self.price_types, start=1)
            if (offer.xml_id, code) in self.prices
        ]
        return {
            "id": offer.id,
            "xmlId": offer.xml_id,
            "externalId": offer.external_id,
            "active": True,
            "prices": prices,
        }


def _prices_field(raw: object) -> list[dict[str, Any]]:
    """The ``prices`` form field: a JSON string of 1..250 objects, each naming its offer; :class:`PriceRefusal`."""
    if not isinstance(raw, str):
        raise PriceRefusal(400, "Parameter 'prices' is missing")
    try:
        entries = json.loads(raw)
    except ValueError:
        raise PriceRefusal(400, BAD_INPUT, {"prices": "is not valid JSON"}) from None
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_PRICE_UPLOAD:
        raise PriceRefusal(400, BAD_INPUT, {"prices": f"must hold 1..{MAX_PRICE_UPLOAD} offers"})
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not any(entry.get(name) not in (None, "") for name in ID_FIELDS):
            raise PriceRefusal(400, BAD_INPUT, {f"prices[{index}]": "needs id, externalId or xmlId"})
    return entries


def _number(raw: str, name: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise PriceRefusal(400, BAD_INPUT, {name: "must be a positive integer"})
    return int(raw)


def _ok(body: dict[str, Any]) -> web.Response:
    return web.json_response({"success": True, **body})
