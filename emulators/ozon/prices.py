"""Ozon's prices as the emulator keeps them: per product a price, an ``old_price`` (struck out on the card) and a
currency, with Ozon's answers to ``POST /v1/product/import/prices`` (per-item ``updated``/``errors`` inside a 200)
and ``POST /v5/product/info/prices`` (a cursor), in the shapes of Ozon's published OpenAPI file.

The per-item error codes are the spec's (``NOT_FOUND_ERROR``, ``price_negative``, ``invalid_category_price`` — which
the spec's table misspells ``invalid_cat egory_price`` —, the ``discount_…`` codes of ``old_price`` margins). Where the
spec is silent the choice is marked *[emulator]*:

* a product's price changes at most 10 times in any hour (the spec's rule); the 11th update is refused per item with
  ``TOO_MANY_REQUESTS``, the code Ozon gives a stock update too frequent, *[emulator]*;
* a currency other than the cabinet's (RUB) is refused per item, ``CURRENCY_MISMATCH`` *[emulator]*;
* a price that is not a number is a 400 for the whole request *[emulator]*;
* a product never priced lists a price of 0.
"""

from __future__ import annotations

import base64
import binascii
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from emulators.ozon.postings import Product

Answer = tuple[int, dict[str, Any]]

MAX_PRICE_ITEMS = 1000
MAX_PAGE = 1000
UPDATES_AN_HOUR = 10
HOUR_S = 3600.0
CURRENCY = "RUB"
NOT_FOUND = ("NOT_FOUND_ERROR", "Товара с таким идентификатором нет в личном кабинете.")
NEGATIVE = ("price_negative", "Попытка установить отрицательную цену.")
OUT_OF_BOUNDS = ("invalid_category_price", "Попытка установить слишком высокую или слишком низкую цену на товар.")
TOO_OFTEN = ("TOO_MANY_REQUESTS", "The price of one product can be updated 10 times an hour")  # [emulator]
CURRENCY_MISMATCH = ("CURRENCY_MISMATCH", "currency_code must be the cabinet's currency, RUB")  # [emulator]


@dataclass
class Priced:
    price: Decimal
    old_price: Decimal = Decimal(0)
    currency: str = CURRENCY


def _rpc(message: str) -> Answer:
    return 400, {"code": 3, "message": message, "details": []}


class PriceBook:
    """The prices of one seller's products and Ozon's answers about them."""

    def __init__(self, products: Mapping[str, Product]) -> None:
        self._products = products
        self.prices: dict[str, Priced] = {}
        self.bounds: dict[str, tuple[Decimal, Decimal]] = {}  # offer -> the category's (lowest, highest) price
        self._updated: dict[str, deque[float]] = {}

    # -- POST /v1/product/import/prices ------------------------------------------------------------------------

    def import_prices(self, body: Any, now: float) -> Answer:
        items = body.get("prices") if isinstance(body, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_PRICE_ITEMS:
            return _rpc(
                "Request validation error: invalid ImportProductsPricesRequest.Prices: "
                f"value must contain between 1 and {MAX_PRICE_ITEMS} items, inclusive"
            )
        parsed: list[tuple[dict[str, Any], Decimal, Decimal]] = []
        for n, item in enumerate(items):
            price = _amount(item.get("price")) if isinstance(item, dict) else None
            old = _amount(item.get("old_price", "0")) if isinstance(item, dict) else None
            if price is None or old is None:
                return _rpc(f"Request validation error: invalid ImportProductsPricesRequest.Prices[{n}]: bad price")
            parsed.append((item, price, old))
        return 200, {"result": [self._import_one(item, price, old, now) for item, price, old in parsed]}

    def _import_one(self, item: dict[str, Any], price: Decimal, old: Decimal, now: float) -> dict[str, Any]:
        product = self._product(item.get("offer_id"), item.get("product_id"))
        result: dict[str, Any] = {
            "product_id": product.product_id if product else item.get("product_id", 0),
            "offer_id": product.offer_id if product else item.get("offer_id", ""),
            "updated": False,
            "errors": [],
        }
        error = NOT_FOUND if product is None else self._error(product.offer_id, item, price, old, now)
        if error is not None:
            result["errors"] = [{"code": error[0], "message": error[1]}]
            return result
        assert product is not None
        self.prices[product.offer_id] = Priced(price, old, item.get("currency_code") or CURRENCY)
        self._updated.setdefault(product.offer_id, deque()).append(now)
        result["updated"] = True
        return result

    def _error(
        self, offer: str, item: Mapping[str, Any], price: Decimal, old: Decimal, now: float
    ) -> tuple[str, str] | None:
        if price < 0 or old < 0:
            return NEGATIVE
        if item.get("currency_code", CURRENCY) not in ("", CURRENCY):
            return CURRENCY_MISMATCH
        low, high = self.bounds.get(offer, (Decimal(0), Decimal("1e9")))
        if not low <= price <= high:
            return OUT_OF_BOUNDS
        margin = _margin_error(price, old)
        if margin is not None:
            return margin
        times = self._updated.get(offer, deque())
        while times and now - times[0] >= HOUR_S:
            times.popleft()
        return TOO_OFTEN if len(times) >= UPDATES_AN_HOUR else None

    def _product(self, offer_id: Any, product_id: Any) -> Product | None:
        if isinstance(offer_id, str) and offer_id:
            return self._products.get(offer_id)
        return next((p for p in self._products.values() if p.product_id == product_id), None)

    # -- POST /v5/product/info/prices --------------------------------------------------------------------------

    def info_prices(self, body: Any) -> Answer:
        if not isinstance(body, dict) or not isinstance(body.get("filter"), dict):
            return _rpc("filter is required")
        limit, flt = body.get("limit"), body["filter"]
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
            return _rpc(f"limit must be between 1 and {MAX_PAGE}")
        start = _read_cursor(body.get("cursor", ""))
        if start is None:
            return _rpc("invalid cursor")
        offers = set(flt.get("offer_id") or [])
        product_ids = {str(p) for p in flt.get("product_id") or []}
        matching = [
            p
            for p in self._products.values()
            if (not offers and not product_ids) or p.offer_id in offers or str(p.product_id) in product_ids
        ]
        page = matching[start : start + limit]
        more = start + limit < len(matching)
        return 200, {"cursor": _cursor(start + limit) if more else "", "items": [self._item(p) for p in page]}

    def _item(self, product: Product) -> dict[str, Any]:
        priced = self.prices.get(product.offer_id, Priced(Decimal(0)))
        price = float(priced.price)
        return {
            "offer_id": product.offer_id,
            "product_id": product.product_id,
            "acquiring": 0,
            "price": {
                "auto_action_enabled": False,
                "auto_add_to_ozon_actions_list_enabled": False,
                "currency_code": priced.currency,
                "marketing_price": price,
                "marketing_seller_price": price,
                "min_price": 0.0,
                "net_price": 0.0,
                "old_price": float(priced.old_price),
                "price": price,
                "retail_price": 0.0,
                "vat": 0.2,
            },
            "volume_weight": 0.1,
        }


def _margin_error(price: Decimal, old: Decimal) -> tuple[str, str] | None:
    """The spec's margins between ``price`` and a non-zero ``old_price``."""
    if old == 0:
        return None
    difference = old - price
    if difference >= old * Decimal("0.9"):
        return "discount_too_big", "Слишком большая скидка."
    if price < 400 and difference <= 20:
        return "discount_for_low_price_is_too_small", "Слишком маленькая скидка."
    if 400 <= price <= 10_000 and difference <= old * Decimal("0.05"):
        return "discount_for_average_price_is_too_small", "Слишком маленькая скидка."
    if price > 10_000 and difference <= 500:
        return "discount_for_top_price_is_too_small", "Слишком маленькая скидка."
    return None


def _amount(raw: Any) -> Decimal | None:
    """A price as Ozon's strings carry it (a point, at most two decimals); ``None`` when it is not one."""
    if not isinstance(raw, str):
        return None
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount == amount.quantize(Decimal("0.01")) else None


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _read_cursor(cursor: Any) -> int | None:
    if cursor in ("", None):
        return 0
    try:
        text = base64.urlsafe_b64decode(str(cursor).encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    prefix, _, number = text.partition(":")
    return int(number) if prefix == "offset" and number.isdigit() else None
