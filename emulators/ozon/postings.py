"""FBS postings of the Ozon emulator: what one is, the period filter of the unfulfilled list, and a posting in the
shape ``/v3/posting/fbs/unfulfilled/list`` answers (``v3FbsPosting``; prices are strings, as on the wire)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_PERIOD = dt.timedelta(days=365)
UNFULFILLED = ("awaiting_registration", "acceptance_in_progress", "awaiting_approve", "awaiting_packaging")


@dataclass(frozen=True)
class Product:
    offer_id: str
    product_id: int
    sku: int
    name: str


@dataclass
class Posting:
    posting_number: str
    order_id: int
    warehouse_id: int
    products: tuple[tuple[str, int], ...]  # (offer_id, quantity)
    in_process_at: dt.datetime
    shipment_date: dt.datetime
    status: str = "awaiting_packaging"
    delivering_date: dt.datetime | None = None
    status_changed_at: dt.datetime | None = None  # the filter ``last_changed_status_date`` reads it
    reserves: bool = False  # whether its units are held in the warehouse's reserve
    cancellation: Cancellation | None = None


@dataclass(frozen=True)
class Cancellation:
    """``v3Cancellation`` of a cancelled posting: Ozon's reason (words and id) and who cancelled."""

    reason: str
    reason_id: int
    initiator: str  # Продавец | Клиент | Ozon | Система | Служба доставки
    type: str  # seller | client | ozon | system | delivery
    after_ship: bool = False


def postings_products(products: Sequence[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """Checked ``(offer_id, quantity)`` pairs for a posting."""
    if not products or any(qty < 1 for _, qty in products):
        raise ValueError("a posting has at least one product, each with a quantity of at least 1")
    return tuple(products)


def cutoff_or_delivering(flt: Mapping[str, Any]) -> tuple[str, dt.datetime, dt.datetime] | str:
    """``(field, since, until)`` of the filter's one period, or why it has none."""
    cutoff = "cutoff_from" in flt or "cutoff_to" in flt
    delivering = "delivering_date_from" in flt or "delivering_date_to" in flt
    if cutoff == delivering:
        return "use either cutoff_from/cutoff_to or delivering_date_from/delivering_date_to"
    field = "cutoff" if cutoff else "delivering_date"
    try:
        since = dt.datetime.fromisoformat(str(flt[f"{field}_from"]))
        until = dt.datetime.fromisoformat(str(flt[f"{field}_to"]))
    except (KeyError, ValueError):
        return f"{field}_from and {field}_to must both be date-times"
    if since.tzinfo is None or until.tzinfo is None:
        return "date-times must carry a time zone (UTC: Z)"
    if not dt.timedelta(0) <= until - since <= MAX_PERIOD:
        return "the period must not be longer than one year"
    return field, since, until


def render_posting(posting: Posting, warehouse: str, products: Mapping[str, Product]) -> dict[str, Any]:
    """A posting as ``v3FbsPosting`` (``with`` parts left out: ``null``)."""
    return {
        "posting_number": posting.posting_number,
        "order_id": posting.order_id,
        "order_number": posting.posting_number.rsplit("-", 1)[0],
        "status": posting.status,
        "substatus": f"posting_{posting.status}",
        "delivery_method": {
            "id": posting.warehouse_id,
            "name": f"Ozon Логистика курьеру, {warehouse}",
            "warehouse_id": posting.warehouse_id,
            "warehouse": warehouse,
            "tpl_provider_id": 24,
            "tpl_provider": "Ozon Логистика",
        },
        "tracking_number": "",
        "tpl_integration_type": "ozon",
        "in_process_at": stamp(posting.in_process_at),
        "shipment_date": stamp(posting.shipment_date),
        "delivering_date": stamp(posting.delivering_date) if posting.delivering_date else None,
        "cancellation": _cancellation(posting.cancellation),
        "customer": None,
        "addressee": None,
        "products": [_product(products[offer], qty) for offer, qty in posting.products],
        "barcodes": None,
        "analytics_data": None,
        "financial_data": None,
        "is_express": False,
        "requirements": {"products_requiring_gtd": [], "products_requiring_country": []},
        "tariffication": [],
    }


def _cancellation(cancelled: Cancellation | None) -> dict[str, Any]:
    if cancelled is None:
        return {
            "cancel_reason_id": 0,
            "cancel_reason": "",
            "cancellation_type": "",
            "cancelled_after_ship": False,
            "affect_cancellation_rating": False,
            "cancellation_initiator": "",
        }
    return {
        "cancel_reason_id": cancelled.reason_id,
        "cancel_reason": cancelled.reason,
        "cancellation_type": cancelled.type,
        "cancelled_after_ship": cancelled.after_ship,
        "affect_cancellation_rating": cancelled.type == "seller",
        "cancellation_initiator": cancelled.initiator,
    }


def _product(product: Product, qty: int) -> dict[str, Any]:
    return {
        "price": "1259.00",  # a string on the wire, as in the spec
        "currency_code": "RUB",
        "offer_id": product.offer_id,
        "name": product.name,
        "sku": product.sku,
        "quantity": qty,
        "is_blr_traceable": False,
        "is_marketplace_buyout": False,
    }


def stamp(moment: dt.datetime) -> str:
    """A moment as Ozon writes one: UTC, ``Z``."""
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class OzonReturn:
    """One line of ``/v1/returns/list``: a product of a posting coming back (``type``: ``Cancellation`` before
    handing over, ``FullReturn``/``PartialReturn`` refused at handing over, ``ClientReturn`` after it)."""

    id: int
    posting: Posting
    offer_id: str
    quantity: int
    type: str
    reason: str
    status: str  # the visual status' sys_name
    changed_at: dt.datetime  # visual.change_moment
    returned_at: dt.datetime  # logistic.return_date
