"""Wildberries' prices API as the emulator keeps it: a price (whole roubles) and a seller's discount (%) per card
(``nmID``), and for cards whose category allows it a price per size; with WB's answers to ``POST
/api/v2/upload/task``, ``POST /api/v2/upload/task/size`` and ``GET``/``POST /api/v2/list/goods/filter`` in the shapes of
WB's published OpenAPI file (``data``, ``error``, ``errorText``).

Where the spec is silent the emulator picks something and says so:

* an upload is applied at once (WB applies it later and keeps per-item errors in the upload's history, which the
  emulator does not serve); an item naming a card WB does not have, or a size price for a card whose category has
  no prices per size, is skipped, as WB would report it in that history;
* an upload whose every item is such, or already set, answers 400 "All item Nos. are specified incorrectly, or the
  specified prices and discounts are already set"; one whose every item is known and already set answers 400 "The
  specified prices and discounts are already set";
* the list shows every card of the seller, one never priced at a price of 0; 208 "this task already exists" is not
  emulated;
* a card price sets every size of the card to it, also in a category with prices per size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeGuard

from emulators.wildberries.seller import Card, WbAnswer

MAX_ITEMS = 1000
MAX_LIST = 1000
MAX_PRICE = 1_000_000_000  # [emulator] WB names no maximum
ALREADY_SET = "The specified prices and discounts are already set"
ALL_WRONG_OR_SET = "All item Nos. are specified incorrectly, or the specified prices and discounts are already set"


def price_error(status: int, text: str) -> WbAnswer:
    """An error of the prices API (``ResponseError``)."""
    return WbAnswer(status, {"data": None, "error": True, "errorText": text})


@dataclass
class CardPrice:
    price: int = 0
    discount: int = 0
    sizes: dict[int, int] = field(default_factory=dict)  # chrtId -> price, when the category prices sizes


class PriceList:
    """The prices of one seller's cards and the answers of the prices API."""

    def __init__(self, cards: Callable[[], Sequence[Card]]) -> None:
        self._cards = cards
        self.prices: dict[int, CardPrice] = {}
        self.per_size: set[int] = set()  # nmIDs whose category allows a price per size
        self.uploads: list[dict[str, Any]] = []  # every upload WB took, oldest first
        self._next_upload = 3_235_236_000

    @property
    def cards(self) -> dict[int, Card]:
        """The seller's cards now (a card moved to the trash is gone), by ``nmID``."""
        return {card.nm_id: card for card in self._cards()}

    def size_price(self, nm_id: int, chrt_id: int) -> int | None:
        """What a buyer pays for a size before WB's own promotions: the price less the seller's discount."""
        card = self.prices.get(nm_id)
        if card is None:
            return None
        price = card.sizes.get(chrt_id, card.price)
        return _discounted(price, card.discount)

    # -- POST /api/v2/upload/task ------------------------------------------------------------------------------

    def upload(self, body: Any) -> WbAnswer:
        items = _items(body)
        if isinstance(items, WbAnswer):
            return items
        if not all(isinstance(item, dict) and _is_int(item.get("nmID")) for item in items):
            return price_error(400, "Invalid item No.")
        nm_ids = [item["nmID"] for item in items]
        if len(set(nm_ids)) != len(nm_ids):
            return price_error(400, "Duplicate item Nos.")
        for item in items:
            refusal = _check_card_item(item)
            if refusal is not None:
                return refusal
        cards = self.cards
        known = [item for item in items if item["nmID"] in cards]
        changing = [item for item in known if not self._same(item)]
        if not changing:
            return price_error(400, ALREADY_SET if len(known) == len(items) else ALL_WRONG_OR_SET)
        for item in changing:
            card = self.prices.setdefault(item["nmID"], CardPrice())
            if "price" in item:
                card.price, card.sizes = item["price"], {}
            if "discount" in item:
                card.discount = item["discount"]
        return self._took("prices", changing)

    def _same(self, item: Mapping[str, Any]) -> bool:
        card = self.prices.get(item["nmID"], CardPrice())
        same_price = "price" not in item or (card.price == item["price"] and not card.sizes)
        return same_price and ("discount" not in item or card.discount == item["discount"])

    # -- POST /api/v2/upload/task/size -------------------------------------------------------------------------

    def upload_sizes(self, body: Any) -> WbAnswer:
        items = _items(body)
        if isinstance(items, WbAnswer):
            return items
        for item in items:
            if not isinstance(item, dict) or not _is_int(item.get("nmID")):
                return price_error(400, "Invalid item No.")
            if not _is_int(item.get("sizeID")):
                return price_error(400, "Invalid size")
            if "price" not in item:
                return price_error(400, "Price and discount not specified")
            refusal = _check_price(item["price"])
            if refusal is not None:
                return refusal
        size_ids = [item["sizeID"] for item in items]
        if len(set(size_ids)) != len(size_ids):
            return price_error(400, "Duplicate size IDs")
        applicable = [item for item in items if self._takes_size(item["nmID"], item["sizeID"])]
        changing = [item for item in applicable if self.size_price_set(item) != item["price"]]
        if not changing:
            return price_error(400, ALREADY_SET if len(applicable) == len(items) else ALL_WRONG_OR_SET)
        for item in changing:
            card = self.prices.setdefault(item["nmID"], CardPrice())
            card.sizes[item["sizeID"]] = item["price"]
        return self._took("sizes", changing)

    def size_price_set(self, item: Mapping[str, Any]) -> int | None:
        card = self.prices.get(item["nmID"])
        return None if card is None else card.sizes.get(item["sizeID"], card.price or None)

    def _takes_size(self, nm_id: int, chrt_id: int) -> bool:
        card = self.cards.get(nm_id)
        return nm_id in self.per_size and card is not None and any(s.chrt_id == chrt_id for s in card.sizes)

    def _took(self, kind: str, items: list[dict[str, Any]]) -> WbAnswer:
        self._next_upload += 1
        self.uploads.append({"id": self._next_upload, "kind": kind, "data": items})
        task = {"id": self._next_upload, "alreadyExists": False}
        return WbAnswer(200, {"data": task, "error": False, "errorText": ""})

    # -- GET/POST /api/v2/list/goods/filter --------------------------------------------------------------------

    def list_by_query(self, query: Mapping[str, Sequence[str]]) -> WbAnswer:
        try:
            limit = int(query["limit"][-1])
            offset = int(query.get("offset", ["0"])[-1])
            only = int(query["filterNmID"][-1]) if "filterNmID" in query else None
        except (KeyError, ValueError):
            return price_error(400, "Invalid request parameters")
        if not 1 <= limit <= MAX_LIST or offset < 0:
            return price_error(400, "Invalid request parameters")
        listed = [nm for nm in self.cards if only in (None, nm)]
        return self._goods(listed[offset : offset + limit])

    def list_by_cards(self, body: Any) -> WbAnswer:
        nm_list = body.get("nmList") if isinstance(body, dict) else None
        if not isinstance(nm_list, list) or not 1 <= len(nm_list) <= MAX_LIST or not all(map(_is_int, nm_list)):
            return price_error(400, "Invalid request parameters")
        cards = self.cards
        return self._goods(nm for nm in dict.fromkeys(nm_list) if nm in cards)

    def _goods(self, nm_ids: Iterable[int]) -> WbAnswer:
        cards = self.cards
        goods = [self._good(cards[nm], self.prices.get(nm, CardPrice())) for nm in nm_ids]
        return WbAnswer(200, {"data": {"listGoods": goods}, "error": False, "errorText": ""})

    def _good(self, card: Card, price: CardPrice) -> dict[str, Any]:
        sizes = []
        for size in card.sizes:
            full = price.sizes.get(size.chrt_id, price.price)
            discounted = _discounted(full, price.discount)
            sizes.append(
                {
                    "sizeID": size.chrt_id,
                    "price": full,
                    "discountedPrice": discounted,
                    "clubDiscountedPrice": discounted,
                    "techSizeName": size.tech_size,
                }
            )
        return {
            "nmID": card.nm_id,
            "vendorCode": card.vendor_code,
            "sizes": sizes,
            "currencyIsoCode4217": "RUB",
            "discount": price.discount,
            "clubDiscount": 0,
            "editableSizePrice": card.nm_id in self.per_size,
        }


def _items(body: Any) -> list[Any] | WbAnswer:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return price_error(400, "Invalid data format")
    if not data:
        return price_error(400, "Empty data")
    if len(data) > MAX_ITEMS:
        return price_error(400, "Upload limit exceeded: You can upload a maximum of 1000 items")
    return data


def _check_card_item(item: Mapping[str, Any]) -> WbAnswer | None:
    if "price" not in item and "discount" not in item:
        return price_error(400, "Price and discount not specified")
    if "price" in item:
        refusal = _check_price(item["price"])
        if refusal is not None:
            return refusal
    discount = item.get("discount", 0)
    if not _is_int(discount) or not 0 <= discount <= 99:  # [emulator] WB names no range
        return price_error(400, "Invalid discount value")
    return None


def _check_price(price: Any) -> WbAnswer | None:
    if isinstance(price, float) and not price.is_integer():
        return price_error(400, "Price should be a whole number")
    if not _is_int(price) or not 0 < price <= MAX_PRICE:
        return price_error(400, "Invalid price value")
    return None


def _discounted(price: int, discount: int) -> int:
    return int((Decimal(price) * (100 - discount) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
