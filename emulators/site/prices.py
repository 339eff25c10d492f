"""The site's prices (``docs/site_stock_api.md``, ``PUT /prices`` and ``GET /prices``) as the document shapes them:
what an item must hold, and the price kept per sku (the newest ``updated_at`` wins, as for stock)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

SITE_PRICE = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")


@dataclass(frozen=True)
class SitePrice:
    price: Decimal
    updated_at: datetime


def price_refusal(item: dict[str, Any]) -> str | None:
    """Why an item's ``price`` is not one the document allows (``None`` when it is)."""
    price = item.get("price")
    if not isinstance(price, str) or not SITE_PRICE.fullmatch(price) or Decimal(price) <= 0:
        return 'price must be a string of roubles greater than 0 with at most two decimals, e.g. "1290.50"'
    return None


def wire(sku: str, held: SitePrice) -> dict[str, str]:
    return {"sku": sku, "price": f"{held.price:f}"}
