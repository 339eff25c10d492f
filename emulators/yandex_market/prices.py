"""The Market's campaign prices as its OpenAPI gives them: updatePrices' request checked (1..2000 offers, each a
ShopSku once, ``price.value`` > 0, ``currencyId`` one of the spec's currencies) and getPricesByOfferIds' answer.
A message about one offer names it in single quotes, as the stock messages do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from emulators.yandex_market.wire import SHOP_SKU, WireError

MAX_PRICE_OFFERS = 2000  # UpdatePricesRequest.offers maxItems
MAX_PRICE_READ = 500  # GetPricesByOfferIdsRequest.offerIds maxItems
OFFERS_PER_MINUTE = 10_000  # updatePrices' and getPricesByOfferIds' x-resource-limit-config
CURRENCIES = frozenset({"RUR", "USD", "EUR", "UAH", "BYN", "KZT", "UZS"})  # a part of CurrencyType's enum


@dataclass(frozen=True)
class PriceEntry:
    """The price the Market holds for one offer of the campaign, and when it was set."""

    value: Decimal
    currency: str
    updated_at: datetime


@dataclass(frozen=True)
class PriceUpdate:
    offer_id: str
    value: Decimal
    currency: str


def parse_update_prices(body: object, catalogue: set[str]) -> list[PriceUpdate]:
    """An UpdatePricesRequest, checked whole: :class:`WireError` (400) listing every problem, or every update."""
    if not isinstance(body, dict) or not isinstance(body.get("offers"), list):
        raise WireError(400, [("BAD_REQUEST", "offers: required, an array of 1..2000 OfferPriceDTO")])
    offers: list[object] = body["offers"]
    if not 1 <= len(offers) <= MAX_PRICE_OFFERS:
        raise WireError(
            400, [("BAD_REQUEST", f"offers: size must be between 1 and {MAX_PRICE_OFFERS}, got {len(offers)}")]
        )
    problems: list[tuple[str, str]] = []
    updates: list[PriceUpdate] = []
    seen: set[str] = set()
    for index, entry in enumerate(offers):
        update = _price_update(index, entry, problems)
        if update is None:
            continue
        if update.offer_id in seen:
            problems.append(("DUPLICATE_OFFER", f"offer '{update.offer_id}': appears more than once in the request"))
        elif update.offer_id not in catalogue:
            problems.append(("OFFER_NOT_FOUND", f"offer '{update.offer_id}': no such offer in the campaign"))
        seen.add(update.offer_id)
        updates.append(update)
    if problems:
        raise WireError(400, problems)
    return updates


def _price_update(index: int, entry: object, problems: list[tuple[str, str]]) -> PriceUpdate | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("offerId"), str):
        problems.append(("BAD_REQUEST", f"offers[{index}].offerId: required string"))
        return None
    offer = entry["offerId"].strip()
    if not SHOP_SKU.fullmatch(offer):
        problems.append(("INVALID_SHOP_SKU", f"offer '{offer}': does not match the ShopSku pattern"))
        return None
    price = entry.get("price")
    value = price.get("value") if isinstance(price, dict) else None
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        problems.append(("BAD_REQUEST", f"offer '{offer}': price.value must be a number greater than 0"))
        return None
    currency = price.get("currencyId", "RUR") if isinstance(price, dict) else "RUR"
    if currency not in CURRENCIES:
        problems.append(("BAD_REQUEST", f"offer '{offer}': price.currencyId {currency!r} is not a currency"))
        return None
    return PriceUpdate(offer, Decimal(str(value)), currency)


def parse_price_offer_ids(body: object) -> list[str] | None:
    """GetPricesByOfferIdsRequest's ``offerIds`` (``None``: no filter); :class:`WireError` when malformed."""
    if body is None:
        return None
    if not isinstance(body, dict):
        raise WireError(400, [("BAD_REQUEST", "the body must be a GetPricesByOfferIdsRequest object")])
    offer_ids = body.get("offerIds")
    if offer_ids is None:
        return None
    if not isinstance(offer_ids, list) or not 1 <= len(offer_ids) <= MAX_PRICE_READ:
        raise WireError(400, [("BAD_REQUEST", f"offerIds: size must be between 1 and {MAX_PRICE_READ}")])
    if len(set(map(str, offer_ids))) != len(offer_ids):
        raise WireError(400, [("BAD_REQUEST", "offerIds: items must be unique")])
    bad = [offer for offer in offer_ids if not isinstance(offer, str) or not SHOP_SKU.fullmatch(offer.strip())]
    if bad:
        raise WireError(
            400, [("INVALID_SHOP_SKU", f"offer '{offer}': does not match the ShopSku pattern") for offer in bad]
        )
    return [offer.strip() for offer in offer_ids]


def price_offer(offer_id: str, entry: PriceEntry) -> dict[str, Any]:
    """OfferPriceByOfferIdsResponseDTO."""
    return {
        "offerId": offer_id,
        "price": {"value": float(entry.value), "currencyId": entry.currency},
        "updatedAt": entry.updated_at.isoformat(timespec="seconds"),
    }
