"""Prices in RetailCRM (``workflows.channels.SetsPrices``): what the client
(:class:`integrations.retailcrm.RetailCrmClient`) uploads and how it reads them back, on its wire, gate and key.

What RetailCRM's official clients send and read:

* ``POST /api/v5/store/prices/upload`` is form-encoded: ``prices`` is a JSON *string* holding
  ``[{"xmlId" | "externalId": …, "site": <site code>, "prices": [{"code": <price type code>, "price": <number>}]}]``.
  At most 250 offers a request (unverified: the official clients' largest page, as for stock). It answers
  ``{"success": true, "processedOffersCount": n, "notFoundOffers": [{"xmlId": …, "externalId": …}]}``: offers it
  does not know are skipped, the rest set. A price type the account does not have refuses the whole upload.
* ``GET /api/v5/store/offers`` lists offers, filtered by ``filter[xmlIds][]`` / ``filter[externalIds][]`` and
  ``filter[sites][]``, paged by ``limit`` / ``page``; each offer has ``prices[{priceType, price, ordering,
  currency}]``.

The price type is the account's code for the shop's selling price: ``base`` unless the account names it otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from workflows.channels import PriceLine

PRICE_BATCH_LIMIT = 250  # offers per upload (unverified: the official clients' largest page)
OFFERS_PAGE = 100  # store/offers ``limit``: 100 is the largest every list method takes
DEFAULT_PRICE_TYPE = "base"
UPLOAD_PATH, OFFERS_PATH = "/store/prices/upload", "/store/offers"
KOPECK = Decimal("0.01")

OfferField = Literal["xmlId", "externalId"]
OFFERS_FILTER: dict[OfferField, str] = {"xmlId": "filter[xmlIds][]", "externalId": "filter[externalIds][]"}


def price_refusal(price: Decimal) -> str | None:
    """Why RetailCRM could not take ``price`` as meant (``None`` when it can)."""
    if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
        return f"price {price!r} is not a positive amount"
    if price != price.quantize(KOPECK):
        return f"price {price} has more than two decimals (kopecks)"
    return None


def upload_form(batch: Sequence[PriceLine], field: OfferField, site: str, price_type: str) -> dict[str, str]:
    """The form of one upload: ``prices`` as a JSON string, each offer with the site and its one price. The amount
    goes as a JSON number; an amount with kopecks is exact as a float's shortest form."""
    entries = [
        {field: line.offer_id, "site": site, "prices": [{"code": price_type, "price": float(line.price)}]}
        for line in batch
    ]
    return {"prices": json.dumps(entries, ensure_ascii=False)}


def shown_prices(answer: dict[str, Any], field: OfferField, price_type: str) -> dict[str, Decimal]:
    """store/offers' ``offers[]`` as offer id -> the price of ``price_type``; an offer without one is left out."""
    shown: dict[str, Decimal] = {}
    offers = answer.get("offers")
    for offer in offers if isinstance(offers, list) else []:
        if not isinstance(offer, dict) or offer.get(field) in (None, ""):
            continue
        prices = offer.get("prices")
        for entry in prices if isinstance(prices, list) else []:
            if isinstance(entry, dict) and entry.get("priceType") == price_type:
                amount = _amount(entry.get("price"))
                if amount is not None:
                    shown[str(offer[field])] = amount
    return shown


def _amount(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount > 0 else None
