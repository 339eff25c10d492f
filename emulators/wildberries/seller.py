"""One Wildberries seller account as the emulator keeps it: product cards with their sizes, stock per (seller
warehouse, size) and new FBS orders, with WB's answers to the methods the client uses (shapes from WB's
published OpenAPI files). Plain data and pure answers: the HTTP side is in :mod:`emulators.wildberries.server`.

Where the spec is silent the emulator picks something and says so:

* a 409 on a stock update echoes each refused item as it was sent (``{"chrtId": …, "amount": …}``), the way the
  spec's examples echo a legacy ``{"sku": …, "amount": …}`` item;
* whether WB applies the good items of a request answered 409 is not documented: by default nothing is applied,
  ``apply_valid_on_conflict=True`` applies them (clients must be right either way);
* reading stock lists only the sizes that have a stock record on that warehouse;
* the statuses of assembly orders leave out ids the seller has no order with (the spec does not say what WB does).
"""

from __future__ import annotations

import bisect
import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_ITEMS = 1000
MAX_AMOUNT = 100_000
MAX_CARDS_PAGE = 100
MAX_STATUS_IDS = 1000
SUPPLIER_STATUSES = frozenset({"new", "confirm", "complete", "cancel"})
WB_STATUSES = frozenset(
    {"waiting", "sorted", "sold", "canceled", "canceled_by_client", "declined_by_client", "defect"}
    | {"ready_for_pickup", "postponed_delivery", "accepted_by_carrier", "sent_to_carrier"}
)
BAN_MESSAGE = "Обновление остатков заблокировано в связи с баном поставщика"
_EPOCH = dt.datetime(2025, 12, 1, 9, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class WbAnswer:
    """An HTTP answer before it is put on the wire (``body`` ``None``: no body, as with 204)."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CardSize:
    chrt_id: int
    tech_size: str
    wb_size: str
    barcodes: tuple[str, ...]


@dataclass(frozen=True)
class Card:
    nm_id: int
    vendor_code: str
    sizes: tuple[CardSize, ...]
    updated_at: str  # RFC 3339, as WB writes it
    has_photo: bool
    title: str

    @property
    def cursor_key(self) -> tuple[str, int]:
        return self.updated_at, self.nm_id

    def wire(self) -> dict[str, Any]:
        """The card as ``/content/v2/get/cards/list`` shows it (the fields a stock client may read)."""
        photo = f"https://basket-01.wbbasket.ru/vol{self.nm_id // 100000}/part{self.nm_id // 1000}/{self.nm_id}"
        return {
            "nmID": self.nm_id,
            "imtID": self.nm_id + 500_000_000,
            "nmUUID": str(uuid.uuid5(uuid.NAMESPACE_OID, str(self.nm_id))),
            "subjectID": 105,
            "subjectName": "Футболки",
            "vendorCode": self.vendor_code,
            "brand": "Тест",
            "title": self.title,
            "needKiz": False,
            "photos": [{"big": f"{photo}/images/big/1.webp"}] if self.has_photo else [],
            "sizes": [
                {"chrtID": s.chrt_id, "techSize": s.tech_size, "wbSize": s.wb_size, "skus": list(s.barcodes)}
                for s in self.sizes
            ],
            "createdAt": self.updated_at,
            "updatedAt": self.updated_at,
        }


def card_from(raw: Mapping[str, Any], index: int) -> Card:
    """A card from a test's ``{"vendorCode": …, "sizes": [{"chrtId": …, "techSize": …}]}``.

    Optional: ``nmID``, ``updatedAt``, ``photo`` (default true), ``title``, per size ``wbSize`` and ``skus``
    (barcodes; one is made up when absent). Cards get distinct ``updatedAt`` values, newest last.
    """
    sizes = tuple(
        CardSize(
            chrt_id=int(size["chrtId"]),
            tech_size=str(size.get("techSize", "0")),
            wb_size=str(size.get("wbSize", "")),
            barcodes=tuple(size.get("skus", [f"20{int(size['chrtId']):011d}"])),
        )
        for size in raw.get("sizes", [])
    )
    if not sizes:
        raise ValueError(f"card {raw.get('vendorCode')!r} has no sizes: WB gives every card at least one")
    updated = raw.get("updatedAt") or (_EPOCH + dt.timedelta(minutes=index)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return Card(
        nm_id=int(raw.get("nmID", 200_000_000 + index)),
        vendor_code=str(raw["vendorCode"]),
        sizes=sizes,
        updated_at=str(updated),
        has_photo=bool(raw.get("photo", True)),
        title=str(raw.get("title", raw["vendorCode"])),
    )


def error(status: int, code: str, message: str, data: Any = None) -> WbAnswer:
    """A domain error in WB's ``Error`` shape."""
    body: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        body["data"] = data
    return WbAnswer(status, body)


def content_error(status: int, text: str) -> WbAnswer:
    """An error of the content API (``responseBodyContentError400``)."""
    return WbAnswer(status, {"data": None, "error": True, "errorText": text, "additionalErrors": None})


class SellerAccount:
    """What one seller has on Wildberries, and WB's answers to the stock, card and order methods."""

    def __init__(self, warehouses: Mapping[int, str], cards: Iterable[Mapping[str, Any]]) -> None:
        self.warehouses = dict(warehouses)
        self.cards = [card_from(raw, index) for index, raw in enumerate(cards)]
        self._listed: dict[int, tuple[list[Card], list[tuple[str, int]], list[Card]]] = {}  # see _listing
        self.sizes = {size.chrt_id: (card, size) for card in self.cards for size in card.sizes}
        self.by_barcode = {code: size.chrt_id for card in self.cards for size in card.sizes for code in size.barcodes}
        self.stocks: dict[tuple[int, int], int] = {}
        self.orders: dict[int, dict[str, Any]] = {}  # the new ones
        self.placed: dict[int, dict[str, Any]] = {}  # every order ever placed, new or not
        self.statuses: dict[int, tuple[str, str]] = {}  # every order's (supplierStatus, wbStatus)
        self.banned = False
        self.processing = False  # the warehouse is busy: stock updates answer 409 StoreIsProcessing
        self.apply_valid_on_conflict = False
        self.ignored_items: list[dict[str, Any]] = []  # items WB answers 204 to but does not apply (bad names)

    def trash_card(self, vendor_code: str) -> None:
        """Move a card to the trash: it leaves the card list and its sizes are unknown to the stock methods."""
        trashed = [card for card in self.cards if card.vendor_code == vendor_code]
        self.cards = [card for card in self.cards if card.vendor_code != vendor_code]
        for size in (size for card in trashed for size in card.sizes):
            self.sizes.pop(size.chrt_id, None)
            for barcode in size.barcodes:
                self.by_barcode.pop(barcode, None)

    # -- stocks ------------------------------------------------------------------------------------------------

    def update_stocks(self, warehouse_id: int, body: Any) -> WbAnswer:
        """``PUT /api/v3/stocks/{warehouseId}``: 204, or 400 / 404 / 406 / 409 as WB answers."""
        if warehouse_id not in self.warehouses:
            return error(404, "NotFound", "")
        if self.banned:
            return error(406, "StatusNotAcceptable", BAN_MESSAGE)
        if self.processing:
            return WbAnswer(409, [{"code": "StoreIsProcessing", "message": "The store is processing"}])
        items = body.get("stocks") if isinstance(body, dict) else None
        if not isinstance(items, list):
            return error(400, "IncorrectRequestBody", "Incorrect required body")
        if not 1 <= len(items) <= MAX_ITEMS:
            return error(400, "IncorrectRequest", "Переданы некорректные данные")
        updates: dict[int, int] = {}
        conflicts: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            if not isinstance(item, dict):
                return error(400, "IncorrectRequestBody", "Incorrect required body")
            refusal = self._check_item(item)
            if isinstance(refusal, WbAnswer):
                return refusal
            if refusal is not None:
                conflicts.setdefault(refusal, []).append(_echo(item))
                continue
            chrt_id = self._chrt_id_of(item)
            if chrt_id is None or "amount" not in item:  # names are not validated: 204, nothing applied
                self.ignored_items.append(dict(item))
                continue
            updates[chrt_id] = item["amount"]
        if conflicts and not self.apply_valid_on_conflict:
            return _conflict(conflicts)
        for chrt_id, amount in updates.items():
            self.stocks[warehouse_id, chrt_id] = amount
        return _conflict(conflicts) if conflicts else WbAnswer(204)

    def _check_item(self, item: Mapping[str, Any]) -> WbAnswer | str | None:
        """A 400 for the whole request, a 409 code for this item, or ``None`` when it is fine."""
        for key in ("chrtId", "amount"):
            if key in item and not _is_int(item[key]):
                return error(400, "IncorrectParameter", "IncorrectParameter")
        if "sku" in item and not isinstance(item["sku"], str):
            return error(400, "IncorrectParameter", "IncorrectParameter")
        amount = item.get("amount", 0)
        if amount < 0:
            return error(400, "IncorrectParameter", "IncorrectParameter")
        if amount > MAX_AMOUNT:
            return "UploadDataLimit"
        if ("chrtId" in item or "sku" in item) and self._chrt_id_of(item) is None:
            return "NotFound"
        return None

    def _chrt_id_of(self, item: Mapping[str, Any]) -> int | None:
        if "chrtId" in item:
            chrt_id = item["chrtId"]
            return chrt_id if chrt_id in self.sizes else None
        if "sku" in item:  # legacy: a barcode
            return self.by_barcode.get(item["sku"])
        return None

    def read_stocks(self, warehouse_id: int, body: Any) -> WbAnswer:
        """``POST /api/v3/stocks/{warehouseId}``: the stock records of the sizes asked for."""
        if warehouse_id not in self.warehouses:
            return error(404, "NotFound", "")
        wanted = body.get("chrtIds") if isinstance(body, dict) else None
        if not isinstance(wanted, list) or not all(_is_int(chrt_id) for chrt_id in wanted):
            return error(400, "IncorrectRequestBody", "Incorrect required body")
        if len(wanted) > MAX_ITEMS:
            return error(400, "IncorrectRequest", "Переданы некорректные данные")
        stocks = [
            {"chrtId": chrt_id, "sku": self._barcode(chrt_id), "amount": self.stocks[warehouse_id, chrt_id]}
            for chrt_id in dict.fromkeys(wanted)
            if (warehouse_id, chrt_id) in self.stocks
        ]
        return WbAnswer(200, {"stocks": stocks})

    def _barcode(self, chrt_id: int) -> str:
        barcodes = self.sizes[chrt_id][1].barcodes if chrt_id in self.sizes else ()
        return barcodes[0] if barcodes else ""

    def warehouse_list(self) -> WbAnswer:
        """``GET /api/v3/warehouses``."""
        return WbAnswer(
            200,
            [
                {"name": name, "officeId": 300 + index, "id": warehouse_id, "cargoType": 1, "deliveryType": 1}
                | {"isDeleting": False, "isProcessing": False}
                for index, (warehouse_id, name) in enumerate(self.warehouses.items())
            ],
        )

    # -- content -----------------------------------------------------------------------------------------------

    def cards_page(self, body: Any) -> WbAnswer:
        """``POST /content/v2/get/cards/list``: one page, after the cursor's ``(updatedAt, nmID)``.

        As WB: newest first unless ``sort.ascending``; ``filter.withPhoto`` 0 (the default) lists only cards
        *without* photos, 1 only with, -1 all; the answer's ``cursor.total`` is the number of cards on the page.
        """
        settings = body.get("settings") if isinstance(body, dict) else None
        if not isinstance(settings, dict):
            return content_error(400, "Request body can not be decoded")
        cursor = settings.get("cursor") or {}
        limit = cursor.get("limit", MAX_CARDS_PAGE)
        if not _is_int(limit) or not 1 <= limit <= MAX_CARDS_PAGE:
            return content_error(400, f"cursor.limit must be 1..{MAX_CARDS_PAGE}")
        with_photo = (settings.get("filter") or {}).get("withPhoto", 0)
        ascending = bool((settings.get("sort") or {}).get("ascending", False))
        keys, cards = self._listing(-1 if with_photo == -1 else 1 if with_photo == 1 else 0)
        after = (str(cursor["updatedAt"]), int(cursor["nmID"])) if "updatedAt" in cursor and "nmID" in cursor else None
        if ascending:
            start = 0 if after is None else bisect.bisect_right(keys, after)
            page = cards[start : start + limit]
        else:
            end = len(cards) if after is None else bisect.bisect_left(keys, after)
            page = cards[max(0, end - limit) : end][::-1]
        answer_cursor: dict[str, Any] = {"total": len(page)}
        if page:
            answer_cursor = {"updatedAt": page[-1].updated_at, "nmID": page[-1].nm_id, "total": len(page)}
        return WbAnswer(200, {"cards": [card.wire() for card in page], "cursor": answer_cursor})

    def _listing(self, with_photo: int) -> tuple[list[tuple[str, int]], list[Card]]:
        """The cards ``withPhoto`` lists, by their cursor's key, and the keys; sorted once while the cards stay the
        same (a card is never changed in place, the list is replaced), not for every page: a bench lists 100 000."""
        cached = self._listed.get(with_photo)
        if cached is None or cached[0] is not self.cards:
            chosen = [card for card in self.cards if with_photo == -1 or card.has_photo == (with_photo == 1)]
            chosen.sort(key=lambda card: card.cursor_key)
            cached = self._listed[with_photo] = (self.cards, [card.cursor_key for card in chosen], chosen)
        return cached[1], cached[2]

    # -- orders ------------------------------------------------------------------------------------------------

    def add_order(
        self,
        chrt_id: int,
        *,
        order_id: int,
        warehouse_id: int,
        created_at: dt.datetime,
        price: int,
        article: str | None,
    ) -> dict[str, Any]:
        """A new FBS assembly task for one unit of size ``chrt_id`` (an ``OrderNew``)."""
        card, size = self.sizes.get(chrt_id, (None, None))
        order = {
            "address": None,
            "requiredMeta": [],
            "optionalMeta": [],
            "deliveryType": "fbs",
            "comment": "",
            "scanPrice": None,
            "orderUid": f"{order_id}_{uuid.uuid5(uuid.NAMESPACE_OID, str(order_id)).hex}",
            "article": article if article is not None else (card.vendor_code if card else ""),
            "colorCode": "",
            "rid": uuid.uuid5(uuid.NAMESPACE_URL, f"rid/{order_id}").hex,
            "createdAt": created_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "offices": ["Калуга"],
            "skus": list(size.barcodes) if size else [],
            "id": order_id,
            "warehouseId": warehouse_id,
            "officeId": 123,
            "nmId": card.nm_id if card else 0,
            "chrtId": chrt_id,
            "price": price,
            "finalPrice": price,
            "convertedPrice": price,
            "convertedFinalPrice": price,
            "currencyCode": 643,
            "convertedCurrencyCode": 643,
            "cargoType": 1,
            "isZeroOrder": False,
            "options": {"isB2b": False},
        }
        self.orders[order_id] = order
        self.placed[order_id] = order
        self.statuses[order_id] = ("new", "waiting")
        return order

    def set_status(self, order_id: int, wb_status: str, supplier_status: str | None = None) -> None:
        """The order's statuses change (``supplier_status`` ``None``: kept); it is no longer new unless both
        say so. ``ValueError`` for a status WB's spec does not list or an order the seller does not have."""
        if order_id not in self.statuses:
            raise ValueError(f"the seller has no order {order_id}")
        supplier = supplier_status or self.statuses[order_id][0]
        if wb_status not in WB_STATUSES or supplier not in SUPPLIER_STATUSES:
            raise ValueError(f"not a status of WB's spec: {supplier!r}, {wb_status!r}")
        self.statuses[order_id] = (supplier, wb_status)
        if (supplier, wb_status) != ("new", "waiting"):
            self.orders.pop(order_id, None)

    def order_statuses(self, body: Any) -> WbAnswer:
        """``POST /api/v3/orders/status``: the statuses of 1..1000 order ids."""
        wanted = body.get("orders") if isinstance(body, dict) else None
        if not isinstance(wanted, list):
            return error(400, "IncorrectRequestBody", "Incorrect required body")
        if not all(_is_int(order_id) for order_id in wanted):
            return error(400, "IncorrectParameter", "IncorrectParameter")
        if not 1 <= len(wanted) <= MAX_STATUS_IDS:
            return error(400, "IncorrectRequest", "Переданы некорректные данные")
        orders = [
            {"id": order_id, "supplierStatus": self.statuses[order_id][0], "wbStatus": self.statuses[order_id][1]}
            for order_id in dict.fromkeys(wanted)
            if order_id in self.statuses
        ]
        return WbAnswer(200, {"orders": orders})

    def new_orders(self) -> WbAnswer:
        """``GET /api/v3/orders/new``: every assembly task still new."""
        return WbAnswer(200, {"orders": list(self.orders.values())})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _echo(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: item[key] for key in ("sku", "chrtId", "amount") if key in item}


_CONFLICT_MESSAGES = {"NotFound": "Not found", "UploadDataLimit": "Upload limit exceeded."}


def _conflict(conflicts: Mapping[str, Sequence[dict[str, Any]]]) -> WbAnswer:
    """WB's 409 for stocks: an array (``StocksWarehouseError``), one entry per error code."""
    return WbAnswer(409, [{"code": c, "message": _CONFLICT_MESSAGES[c], "data": list(d)} for c, d in conflicts.items()])
