"""The Market's wire shapes (from its published OpenAPI): the error envelope, the updateStocks
request's validation, getStocks offers, OrderDTOs and opaque page tokens.

Error *messages* are the emulator's own (the spec types them as free text); a message about one offer names it in
single quotes, ``sku 'A-1': …``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

SHOP_SKU = re.compile(r"(?=.*\S.*)[^\x00-\x08\x0A-\x1f\x7f]{1,255}")
"""ShopSku.yaml's pattern, for ``fullmatch`` (after the ``x-transform: trim`` the spec applies)."""
MAX_SKUS = 2000
MAX_COUNT = 2_000_000_000
MAX_OFFER_IDS = 500  # GetWarehouseStocksRequest.offerIds
MARKET_TIME = timezone(timedelta(hours=3), "MSK")  # order dates are written in Moscow time, without an offset


class WireError(Exception):
    """A refusal to answer as ``{"status":"ERROR","errors":[…]}`` with HTTP ``status``."""

    def __init__(self, status: int, errors: Sequence[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{code}: {message}" for code, message in errors))
        self.status, self.errors = status, list(errors)


def error_body(errors: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """ApiErrorResponse: ``status`` ERROR and ``errors`` of ApiErrorDTO ``{code, message}``."""
    return {"status": "ERROR", "errors": [{"code": code, "message": message} for code, message in errors]}


@dataclass(frozen=True)
class StockUpdate:
    """One UpdateStockDTO as taken: the sku trimmed; ``stamp`` is ``updatedAt`` verbatim, ``updated_at`` parsed
    (both ``None`` when the request had none)."""

    sku: str
    count: int
    updated_at: datetime | None
    stamp: str | None


def parse_update_stocks(body: object, catalogue: set[str]) -> list[StockUpdate]:
    """An UpdateStocksRequest, checked whole: :class:`WireError` (400) listing every problem, or every update."""
    if not isinstance(body, dict) or not isinstance(body.get("skus"), list):
        raise WireError(400, [("BAD_REQUEST", "skus: required, an array of 1..2000 UpdateStockDTO")])
    skus: list[object] = body["skus"]
    if not 1 <= len(skus) <= MAX_SKUS:
        raise WireError(400, [("BAD_REQUEST", f"skus: size must be between 1 and {MAX_SKUS}, got {len(skus)}")])
    problems: list[tuple[str, str]] = []
    updates: list[StockUpdate] = []
    seen: set[str] = set()
    for index, entry in enumerate(skus):
        update = _stock_update(index, entry, problems)
        if update is None:
            continue
        if update.sku in seen:
            problems.append(("DUPLICATE_SHOP_SKU", f"sku '{update.sku}': appears more than once in the request"))
        elif update.sku not in catalogue:
            problems.append(("OFFER_NOT_FOUND", f"sku '{update.sku}': no such offer in the campaign"))
        seen.add(update.sku)
        updates.append(update)
    if problems:
        raise WireError(400, problems)
    return updates


def _stock_update(index: int, entry: object, problems: list[tuple[str, str]]) -> StockUpdate | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("sku"), str):
        problems.append(("BAD_REQUEST", f"skus[{index}].sku: required string"))
        return None
    sku = entry["sku"].strip()
    if not SHOP_SKU.fullmatch(sku):
        problems.append(("INVALID_SHOP_SKU", f"sku '{sku}': does not match the ShopSku pattern"))
        return None
    items = entry.get("items")
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
        problems.append(("BAD_REQUEST", f"sku '{sku}': items must hold exactly one item"))
        return None
    count, stamp = items[0].get("count"), items[0].get("updatedAt")
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_COUNT:
        problems.append(("BAD_REQUEST", f"sku '{sku}': count must be an integer in 0..{MAX_COUNT}"))
        return None
    updated_at = None
    if stamp is not None:
        stamp = str(stamp)
        updated_at = _aware(stamp)
        if updated_at is None:
            problems.append(("BAD_REQUEST", f"sku '{sku}': updatedAt must be ISO 8601 with an offset"))
            return None
    return StockUpdate(sku=sku, count=count, updated_at=updated_at, stamp=stamp)


def _aware(stamp: object) -> datetime | None:
    if not isinstance(stamp, str) or "T" not in stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def parse_offer_ids(body: object) -> list[str] | None:
    """GetWarehouseStocksRequest's ``offerIds`` filter (``None``: no filter); :class:`WireError` when malformed."""
    if body is None:
        return None
    if not isinstance(body, dict):
        raise WireError(400, [("BAD_REQUEST", "the body must be a GetWarehouseStocksRequest object")])
    offer_ids = body.get("offerIds")
    if offer_ids is None:
        return None
    if not isinstance(offer_ids, list) or not 1 <= len(offer_ids) <= MAX_OFFER_IDS:
        raise WireError(400, [("BAD_REQUEST", f"offerIds: size must be between 1 and {MAX_OFFER_IDS}")])
    if len(set(map(str, offer_ids))) != len(offer_ids):
        raise WireError(400, [("BAD_REQUEST", "offerIds: items must be unique")])
    bad = [offer for offer in offer_ids if not isinstance(offer, str) or not SHOP_SKU.fullmatch(offer.strip())]
    if bad:
        raise WireError(
            400, [("INVALID_SHOP_SKU", f"sku '{offer}': does not match the ShopSku pattern") for offer in bad]
        )
    return [offer.strip() for offer in offer_ids]


def page_token(offset: int) -> str:
    """An opaque ``nextPageToken`` for the page starting at ``offset``."""
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def page_offset(token: str | None) -> int:
    """The offset a token from :func:`page_token` stands for (0 without one); :class:`WireError` for a bad one."""
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    prefix, _, number = text.partition(":")
    if prefix != "offset" or not number.isdigit():
        raise WireError(400, [("BAD_REQUEST", "page_token: not a token this method gave")])
    return int(number)


def page_limit(raw: str | None, *, default: int, maximum: int) -> int:
    """A ``limit`` query parameter: at least 1, cut to ``maximum`` (the Market truncates, it does not refuse)."""
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise WireError(400, [("BAD_REQUEST", "limit: must be a positive integer")])
    return min(int(raw), maximum)


@dataclass
class StockEntry:
    """The stock the Market holds for one offer: the last count pushed and the ``updatedAt`` it came with (the
    time it was taken, when the push gave none). ``stamp`` is ``updatedAt`` as sent, verbatim."""

    count: int
    updated_at: datetime
    stamp: str | None = None


def warehouse_offer(offer_id: str, entry: StockEntry | None) -> dict[str, Any]:
    """WarehouseOfferDTO. The count pushed is shown both as ``FIT`` and as ``AVAILABLE`` (the emulator holds no
    reservations)."""
    if entry is None:
        return {"offerId": offer_id, "stocks": []}
    return {
        "offerId": offer_id,
        "stocks": [{"type": "FIT", "count": entry.count}, {"type": "AVAILABLE", "count": entry.count}],
        "updatedAt": entry.updated_at.isoformat(timespec="seconds"),
    }


@dataclass
class MarketOrder:
    """An order as a test placed it; :meth:`dto` renders the spec's OrderDTO (required fields and the item ones)."""

    order_id: int
    items: list[tuple[str, int]]
    status: str = "PROCESSING"
    substatus: str = "STARTED"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    fake: bool = False
    price: float = 100.0
    updated_at: datetime | None = None  # the last change (``updatedAt``); placing it, when ``None``
    ship_on: date | None = None  # the day to hand it to the delivery service (``shipmentDate``); else the next

    def dto(self) -> dict[str, Any]:
        total = sum(count for _, count in self.items) * self.price
        created = self.created_at.astimezone(MARKET_TIME)
        return {
            "id": self.order_id,
            "status": self.status,
            "substatus": self.substatus,
            "creationDate": created.strftime("%d-%m-%Y %H:%M:%S"),
            "updatedAt": (self.updated_at or self.created_at).astimezone(MARKET_TIME).strftime("%d-%m-%Y %H:%M:%S"),
            "currency": "RUR",
            "itemsTotal": total,
            "deliveryTotal": 0,
            "buyerItemsTotalBeforeDiscount": total,
            "paymentType": "PREPAID",
            "paymentMethod": "YANDEX",
            "fake": self.fake,
            "items": [
                {
                    "id": self.order_id * 100 + number,
                    "offerId": offer_id,
                    "offerName": offer_id,
                    "price": self.price,
                    "buyerPrice": self.price,
                    "buyerPriceBeforeDiscount": self.price,
                    "count": count,
                }
                for number, (offer_id, count) in enumerate(self.items, start=1)
            ],
            "delivery": {
                "type": "DELIVERY",
                "serviceName": "Доставка Маркета",
                "deliveryPartnerType": "YANDEX_MARKET",
                "dates": {"fromDate": (created + timedelta(days=2)).strftime("%d-%m-%Y")},
                "deliveryServiceId": 1006360,
                "shipments": [
                    {"shipmentDate": (self.ship_on or (created + timedelta(days=1)).date()).strftime("%d-%m-%Y")}
                ],
            },
            "buyer": {"type": "PERSON"},
            "taxSystem": "OSN",
        }
