"""What the seller does to an FBS posting in the Ozon emulator: read one (``/v3/posting/fbs/get``), assemble it
(``/v4/posting/fbs/ship``: ``awaiting_packaging`` → ``awaiting_deliver``) and cancel it (``/v2/posting/fbs/cancel``).

Requests are checked as the spec types them: ``posting_number`` is required; a ship request's ``packages`` each hold
``products`` with ``product_id`` (Ozon's SKU, not the seller's article) and ``quantity``; a cancellation names a
reason the seller may use (``cancel_reason_id``; 402, "other", needs ``cancel_reason_message``). The spec documents
no error texts or codes for these methods; those here are *[emulator]*, as are these rules: a posting ships only
from ``awaiting_packaging`` and whole (the packages add up to its products; splitting it into several packages, which
gives new posting numbers on Ozon, is not emulated), and is cancelled only before it is handed over (awaiting
packaging or shipment). A shipped posting still holds its units in the reserve until it is delivered or cancelled.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any, TypeGuard

from emulators.ozon import lifecycle
from emulators.ozon.postings import UNFULFILLED, Cancellation, Posting, render_posting
from emulators.ozon.seller import Answer, SellerAccount, invalid, rpc_status

SHIPPED = "awaiting_deliver"
CANCELLABLE = frozenset({*UNFULFILLED, SHIPPED})
SELLER_REASONS = {  # the spec's reasons a seller may cancel with (/v1/posting/fbs/cancel-reason)
    352: "Товар закончился на складе продавца",
    400: "Остался только бракованный товар",
    402: "Другое (вина продавца)",
}
OTHER_REASON = 402
ALREADY_SHIPPED = "POSTING_ALREADY_SHIPPED"  # [emulator]
ALREADY_CANCELLED = "POSTING_ALREADY_CANCELLED"  # [emulator]
NOT_FOUND = "POSTING_NOT_FOUND"  # [emulator]


def get(seller: SellerAccount, body: Any) -> Answer:
    """``/v3/posting/fbs/get``: the posting, its parts the spec types as objects left out when empty."""
    found = _posting(seller, body)
    if not isinstance(found, Posting):
        return found
    rendered = render_posting(found, seller.warehouses[found.warehouse_id], seller.products)
    return 200, {"result": {key: value for key, value in rendered.items() if value is not None}}


def ship(seller: SellerAccount, body: Any, at: dt.datetime) -> Answer:
    """``/v4/posting/fbs/ship``: the whole posting in one package moves on to ``awaiting_deliver``."""
    found = _posting(seller, body)
    if not isinstance(found, Posting):
        return found
    packed = _packed(body.get("packages"))
    if isinstance(packed, str):
        return invalid(packed)
    if found.status != "awaiting_packaging":
        text = ALREADY_SHIPPED if found.status not in (*UNFULFILLED, "cancelled") else "INVALID_POSTING_STATUS"
        return 400, rpc_status(9, f"{text}: posting {found.posting_number} is {found.status}")
    holds = Counter({seller.products[offer].sku: qty for offer, qty in found.products})
    if packed != holds:
        return invalid(f"the packages must hold the posting's products, no more and no less: {dict(holds)}")
    found.status, found.status_changed_at = SHIPPED, at
    answer: dict[str, Any] = {"result": [found.posting_number]}
    if isinstance(body.get("with"), dict) and body["with"].get("additional_data") is True:
        products = render_posting(found, seller.warehouses[found.warehouse_id], seller.products)["products"]
        answer["additional_data"] = [{"posting_number": found.posting_number, "products": products}]
    return 200, answer


def cancel(seller: SellerAccount, body: Any, at: dt.datetime) -> Answer:
    """``/v2/posting/fbs/cancel`` by the seller, with one of the seller's reasons."""
    found = _posting(seller, body)
    if not isinstance(found, Posting):
        return found
    reason_id, message = body.get("cancel_reason_id"), body.get("cancel_reason_message")
    if not _is_int(reason_id) or reason_id not in SELLER_REASONS:
        return invalid(f"cancel_reason_id must be one of {sorted(SELLER_REASONS)}")
    if reason_id == OTHER_REASON and not (isinstance(message, str) and message.strip()):
        return invalid("cancel_reason_message is required when cancel_reason_id is 402")
    if found.status == "cancelled":
        return 400, rpc_status(9, f"{ALREADY_CANCELLED}: posting {found.posting_number} is cancelled")
    if found.status not in CANCELLABLE:
        return 400, rpc_status(9, f"posting {found.posting_number} is {found.status} and cannot be cancelled")
    reason = message if reason_id == OTHER_REASON else SELLER_REASONS[reason_id]
    lifecycle.cancel(seller, found, Cancellation(reason, reason_id, "Продавец", "seller"), at)
    return 200, {"result": True}


def _posting(seller: SellerAccount, body: Any) -> Posting | Answer:
    number = body.get("posting_number") if isinstance(body, dict) else None
    if not isinstance(number, str) or not number:
        return invalid("posting_number is required")
    found = seller.postings.get(number)
    if found is None:
        return 404, rpc_status(5, f"{NOT_FOUND}: {number}")
    return found


def _packed(packages: Any) -> Counter[int] | str:
    """Units per Ozon SKU over the packages; why they cannot be read, as text."""
    if not isinstance(packages, list) or not packages:
        return "packages must hold at least one package"
    if len(packages) > 1:
        return "[emulator] splitting a posting into several packages is not emulated"
    packed: Counter[int] = Counter()
    for package in packages:
        products = package.get("products") if isinstance(package, dict) else None
        if not isinstance(products, list) or not products:
            return "every package must hold products"
        for product in products:
            sku = product.get("product_id") if isinstance(product, dict) else None
            qty = product.get("quantity") if isinstance(product, dict) else None
            if not _is_int(sku) or not _is_int(qty) or qty < 1:
                return "every product needs product_id (Ozon's SKU) and a quantity of at least 1"
            packed[sku] += qty
    return packed


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
