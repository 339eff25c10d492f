"""Prices on Yandex Market (``workflows.channels.SetsPrices``): what the client sends and how it reads the answers.
The client (:class:`integrations.yandex_market.YandexMarketClient`) sends them, in its campaign's parallel slots.

What the Market's OpenAPI says:

* updatePrices, ``POST /v2/campaigns/{campaignId}/offer-prices/updates``: ``{"offers": [{"offerId": <ShopSku>,
  "price": {"value": <number > 0>, "currencyId": "RUR"}}]}``, 1..2000 offers, at most **10 000 offers a minute**
  (``x-resource-limit-config`` on ``req.offers``). It answers ``{"status": "OK"}``, or 400 with ``errors: [{code,
  message}]``. The price is not shown at once ("up to several minutes").
* It is the method for a cabinet whose stores may have prices of their own. A cabinet whose prices are the same in
  every store (``onlyDefaultPrice``) answers it **423**; such a cabinet sets prices with updateBusinessPrices under
  ``/v2/businesses/{businessId}``, which this client does not call (it knows only its campaign): the 423 is refused
  in the Market's words, with that said.
* getPricesByOfferIds, ``POST /v2/campaigns/{campaignId}/offer-prices``: ``{"offerIds": [...]}``, at most 500, the
  whole list at once; ``result.offers[{offerId, price: {value, currencyId}, updatedAt}]``, 10 000 offers a minute
  counted on those returned (the lower of the spec's two tiers).

A push carries at most 400 offers (below 500, the business method's maximum, so the same batches would fit it too):
the size of a push is the gate's burst, see :func:`default_price_gate`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from integrations.rate_gate import RateGate, Sleep
from workflows.channels import PriceLine

PRICE_BATCH_LIMIT = 400
PRICE_GATE_PER_MINUTE = 9_600
PRICE_READ_CHUNK = 500  # GetPricesByOfferIdsRequest.offerIds maxItems
CURRENCY = "RUR"
UPDATES_PATH = "/offer-prices/updates"
READ_PATH = "/offer-prices"


def default_price_gate(*, clock: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep) -> RateGate:
    """updatePrices allows 10 000 offers a minute; a push takes one token per offer, all at once. A bucket lets
    through at most ``burst + rate * 60`` offers in any 60 seconds, however the Market counts its minute (a sliding
    one, the strictest reading, or the clock's), so ``burst + rate * 60 <= 10 000``; and the burst must hold a whole
    push, else a push takes more than the burst at once and the bound grows by the difference. 9 600 a minute with a
    burst of one push of 400 meets it exactly (400 + 9 600) and sends a full upload at 96 % of the Market's rate
    (9 000 and 500, as before, was 90 %: 10 % longer than the limit allows). Pushes then go every 2.5 s, so one that
    reaches the Market up to 2.5 s sooner after another than it left here still fits its minute."""
    return RateGate(per_minute=PRICE_GATE_PER_MINUTE, burst=PRICE_BATCH_LIMIT, clock=clock, sleep=sleep)


def default_price_read_gate() -> RateGate:
    """getPricesByOfferIds allows 10 000 offers a minute (counted on the offers returned): 9 000 a minute with a burst
    of one read of 500 keeps within it (9 500 in any minute); reads back are reconciliation's, not a full upload's."""
    return RateGate(per_minute=9_000, burst=PRICE_READ_CHUNK)


def price_refusal(price: Decimal) -> str | None:
    """Why the Market could not take ``price`` as a price in roubles (``None`` when it can)."""
    if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
        return f"price {price!r} is not a positive amount"
    if price != price.quantize(Decimal("0.01")):
        return f"price {price} has more than two decimals (kopecks)"
    return None


def update_body(batch: Sequence[PriceLine]) -> dict[str, Any]:
    """An UpdatePricesRequest. The value goes as a JSON number: an amount with kopecks is exact as a float's
    shortest form."""
    return {
        "offers": [
            {"offerId": line.offer_id, "price": {"value": float(line.price), "currencyId": CURRENCY}} for line in batch
        ]
    }


def shown_prices(answer: dict[str, Any]) -> dict[str, Decimal]:
    """getPricesByOfferIds' ``result.offers[]`` as offer id -> price in roubles; an offer without a readable price
    in roubles is left out."""
    result = answer.get("result")
    offers = result.get("offers") if isinstance(result, dict) else None
    shown: dict[str, Decimal] = {}
    for offer in offers if isinstance(offers, list) else []:
        if not isinstance(offer, dict) or not isinstance(offer.get("offerId"), str):
            continue
        price = offer.get("price")
        if not isinstance(price, dict) or price.get("currencyId", CURRENCY) != CURRENCY:
            continue
        value = as_amount(price.get("value"))
        if value is not None:
            shown[offer["offerId"]] = value
    return shown


def as_amount(value: object) -> Decimal | None:
    """A JSON number (or numeric text) as a positive Decimal; ``None`` when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount > 0 else None
