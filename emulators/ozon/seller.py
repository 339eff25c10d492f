"""One Ozon seller account as data: its products, FBS warehouses, stock, reserves and postings, and the three
methods the stock client uses, answered in the shapes of Ozon's published OpenAPI file (the spec).

Nothing here speaks HTTP: each method takes the decoded request body and returns ``(status, body)``. Where the
spec is silent the choice is marked *[emulator]*; it is a plausible reading, not Ozon's documented behaviour.

Stock is kept the way Ozon describes it: what ``/v2/products/stocks`` sets is the quantity **available, reserves
excluded**; an FBS posting awaiting packaging reserves its units, taking them out of what is available; and
``/v4/product/info/stocks`` reports ``present`` (available + reserved) and ``reserved``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard

from emulators.ozon.postings import UNFULFILLED, OzonReturn, Posting, Product, cutoff_or_delivering, render_posting

Answer = tuple[int, dict[str, Any]]

MAX_STOCK_ITEMS = 100
PAIR_INTERVAL_S = 30.0
MAX_PAGE = 1000
VISIBILITIES = frozenset(
    {
        "ALL",
        "VISIBLE",
        "INVISIBLE",
        "EMPTY_STOCK",
        "NOT_MODERATED",
        "MODERATED",
        "DISABLED",
        "STATE_FAILED",
        "READY_TO_SUPPLY",
        "VALIDATION_STATE_PENDING",
        "VALIDATION_STATE_FAIL",
        "VALIDATION_STATE_SUCCESS",
        "TO_SUPPLY",
        "IN_SALE",
        "REMOVED_FROM_SALE",
        "BANNED",
        "OVERPRICED",
        "CRITICALLY_OVERPRICED",
        "EMPTY_BARCODE",
        "BARCODE_EXISTS",
        "QUARANTINE",
        "ARCHIVED",
        "OVERPRICED_WITH_STOCK",
        "PARTIAL_APPROVED",
    }
)  # the spec's v4Visibility
TOO_FREQUENT = "TOO_MANY_REQUESTS"
TOO_FREQUENT_MESSAGE = "Stock of one product on one warehouse can be updated once in 30 seconds"


def rpc_status(code: int, message: str) -> dict[str, Any]:
    """Ozon's error body (``rpcStatus``)."""
    return {"code": code, "message": message, "details": []}


def invalid(message: str) -> Answer:
    """A request-level refusal: HTTP 400, gRPC code 3 (INVALID_ARGUMENT)."""
    return 400, rpc_status(3, message)


class SellerAccount:
    """The account's state and its answers. ``clock`` readings (seconds) drive the 30-s rule per pair."""

    def __init__(self, warehouses: Mapping[int, str], offer_ids: Iterable[str]) -> None:
        self.warehouses = dict(warehouses)
        self.products: dict[str, Product] = {}
        for n, offer in enumerate(offer_ids):
            self.products[offer] = Product(offer, 300_000_000 + n, 1_400_000_000 + n, f"Товар {offer}")
        self.available: dict[tuple[int, str], int] = {}
        self.reserved: dict[tuple[int, str], int] = {}
        self.updated_at: dict[tuple[int, str], float] = {}
        self.postings: dict[str, Posting] = {}
        self.returns: list[OzonReturn] = []  # by id, as /v1/returns/list pages them
        self.throttle_code = TOO_FREQUENT  # newer accounts see "Stock is updated too frequently"

    # -- POST /v2/products/stocks ----------------------------------------------------------------------------

    def update_stocks(self, body: Any, now: float) -> Answer:
        stocks = body.get("stocks") if isinstance(body, dict) else None
        if not isinstance(stocks, list) or not 1 <= len(stocks) <= MAX_STOCK_ITEMS:
            return invalid(
                "Request validation error: invalid ProductsStocksRequest.Stocks: "
                f"value must contain between 1 and {MAX_STOCK_ITEMS} items, inclusive"
            )
        for n, item in enumerate(stocks):
            if not _valid_stock_item(item):
                return invalid(
                    f"Request validation error: invalid ProductsStocksRequest.Stocks[{n}]: "
                    "embedded message failed validation"
                )
        return 200, {"result": [self._update_one(item, now) for item in stocks]}

    def _update_one(self, item: dict[str, Any], now: float) -> dict[str, Any]:
        warehouse_id: int = item["warehouse_id"]
        product = self._product(item.get("offer_id"), item.get("product_id"))  # offer_id wins, as on Ozon
        result: dict[str, Any] = {
            "warehouse_id": warehouse_id,
            "product_id": product.product_id if product else item.get("product_id", 0),
            "offer_id": product.offer_id if product else item.get("offer_id", ""),
            "updated": False,
            "errors": [],
        }
        error = self._stock_error(product, warehouse_id, item["stock"], now)
        if error is not None:
            result["errors"] = [{"code": error[0], "message": error[1]}]
            return result
        assert product is not None
        self.available[warehouse_id, product.offer_id] = item["stock"]
        self.updated_at[warehouse_id, product.offer_id] = now
        result["updated"] = True
        return result

    def _stock_error(
        self, product: Product | None, warehouse_id: int, stock: int, now: float
    ) -> tuple[str, str] | None:
        if product is None:
            return "offer_id_not_found", "Товара с таким артикулом нет в личном кабинете."
        if warehouse_id not in self.warehouses:
            return "WAREHOUSE_NOT_FOUND", f"Склад {warehouse_id} не найден."
        if stock < 0:  # [emulator] the spec names no code for this
            return "INVALID_STOCK", "stock must not be negative"
        last = self.updated_at.get((warehouse_id, product.offer_id))
        if last is not None and now - last < PAIR_INTERVAL_S:  # a refused attempt does not restart the 30 s
            return self.throttle_code, TOO_FREQUENT_MESSAGE
        return None

    def _product(self, offer_id: Any, product_id: Any) -> Product | None:
        if isinstance(offer_id, str) and offer_id:
            return self.products.get(offer_id)
        return next((p for p in self.products.values() if p.product_id == product_id), None)

    # -- POST /v4/product/info/stocks ------------------------------------------------------------------------

    def stock_info(self, body: Any) -> Answer:
        if not isinstance(body, dict) or not isinstance(body.get("filter"), dict):
            return invalid("filter is required")
        limit, cursor, flt = body.get("limit"), body.get("cursor", ""), body["filter"]
        if not _is_int(limit) or not 1 <= limit <= MAX_PAGE:
            return invalid(f"limit must be between 1 and {MAX_PAGE}")
        if flt.get("visibility", "ALL") not in VISIBILITIES:
            return invalid(f"unknown visibility {flt.get('visibility')!r}")
        start = _read_cursor(cursor)
        if start is None:
            return invalid("invalid cursor")
        offers = set(flt.get("offer_id") or [])
        product_ids = {str(p) for p in flt.get("product_id") or []}
        matching = [
            p
            for p in self.products.values()
            if (not offers and not product_ids) or p.offer_id in offers or str(p.product_id) in product_ids
        ]
        page = matching[start : start + limit]
        more = start + limit < len(matching)
        return 200, {
            "cursor": _make_cursor(start + limit) if more else "",
            "total": len(matching),
            "items": [self._stock_item(p) for p in page],
        }

    def _stock_item(self, product: Product) -> dict[str, Any]:
        entries = []
        for warehouse_id in self.warehouses:
            key = (warehouse_id, product.offer_id)
            if key not in self.available and key not in self.reserved:
                continue
            reserved = self.reserved.get(key, 0)
            entries.append(
                {
                    "present": self.available.get(key, 0) + reserved,
                    "reserved": reserved,
                    "shipment_type": "SHIPMENT_TYPE_GENERAL",
                    "sku": product.sku,
                    "type": "fbs",
                    "warehouse_ids": [str(warehouse_id)],  # [emulator] one entry per warehouse
                }
            )
        return {"offer_id": product.offer_id, "product_id": product.product_id, "stocks": entries}

    # -- POST /v3/posting/fbs/unfulfilled/list ---------------------------------------------------------------

    def add_posting(self, posting: Posting, *, reserve: bool) -> None:
        if posting.posting_number in self.postings:
            raise ValueError(f"posting {posting.posting_number} exists")
        if posting.warehouse_id not in self.warehouses:
            raise ValueError(f"the seller has no warehouse {posting.warehouse_id}")
        for offer, qty in posting.products:
            if offer not in self.products:
                raise ValueError(f"the seller has no product {offer!r}")
            if reserve:
                key = (posting.warehouse_id, offer)
                self.reserved[key] = self.reserved.get(key, 0) + qty
                self.available[key] = max(0, self.available.get(key, 0) - qty)
        posting.reserves = reserve
        self.postings[posting.posting_number] = posting

    def unfulfilled(self, body: Any) -> Answer:
        if not isinstance(body, dict) or not isinstance(body.get("filter"), dict):
            return invalid("filter is required")
        limit, offset, flt = body.get("limit"), body.get("offset"), body["filter"]
        if not _is_int(limit) or not 1 <= limit <= MAX_PAGE:
            return invalid(f"limit must be between 1 and {MAX_PAGE}")
        if not _is_int(offset) or offset < 0:
            return invalid("offset must be a non-negative number")
        period = cutoff_or_delivering(flt)
        if isinstance(period, str):
            return invalid(period)
        field, since, until = period
        status, warehouses = flt.get("status"), set(flt.get("warehouse_id") or [])
        found = [
            p
            for p in self.postings.values()
            if (p.status == status if status else p.status in UNFULFILLED)
            and (not warehouses or p.warehouse_id in warehouses)
            and (moment := p.shipment_date if field == "cutoff" else p.delivering_date) is not None
            and since <= moment <= until
        ]
        found.sort(
            key=lambda p: (p.in_process_at, p.posting_number), reverse=str(body.get("dir", "ASC")).upper() == "DESC"
        )
        page = found[offset : offset + limit]
        return 200, {
            "result": {
                "postings": [render_posting(p, self.warehouses[p.warehouse_id], self.products) for p in page],
                "count": len(found),
            }
        }


def _valid_stock_item(item: Any) -> bool:
    """What Ozon's request validation refuses as a whole: not an object, no warehouse, a stock not a number."""
    return (
        isinstance(item, dict)
        and _is_int(item.get("warehouse_id"))
        and item["warehouse_id"] > 0
        and _is_int(item.get("stock"))
    )


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _make_cursor(offset: int) -> str:
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
