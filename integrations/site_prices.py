"""Prices on the site's API (``docs/site_stock_api.md``, ``PUT /prices`` and ``GET /prices``): how an amount goes
over the wire and comes back. A price is a JSON *string*, roubles with a decimal point and at most two decimals
(``"1290.50"``), so neither side ever rounds it through a binary float."""

from __future__ import annotations

import re
from decimal import Decimal

SITE_PRICE = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")
"""What the site takes as a price (for ``fullmatch``): up to 999 999 999.99 roubles."""
KOPECK = Decimal("0.01")


def price_refusal(price: Decimal) -> str | None:
    """Why the site could not take ``price`` (``None`` when it can): the document's rule, checked before sending."""
    if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
        return f"price {price!r} is not a positive amount"
    if price != price.quantize(KOPECK):
        return f"price {price} has more than two decimals (kopecks)"
    if not SITE_PRICE.fullmatch(wire_price(price)):
        return f"price {price} is more than the site takes (999 999 999.99)"
    return None


def wire_price(price: Decimal) -> str:
    """``Decimal("1290.5")`` as ``"1290.50"``."""
    return f"{price.quantize(KOPECK):f}"


def read_price(value: object) -> Decimal | None:
    """A price as the site answers it; ``None`` when it is not one (a number, not text, or not positive)."""
    if not isinstance(value, str) or not SITE_PRICE.fullmatch(value):
        return None
    price = Decimal(value)
    return price if price > 0 else None
