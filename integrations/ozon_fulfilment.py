"""Moving an Ozon FBS posting on (``workflows.channels.FulfilsOrders``): what goes over the wire and what the answers
mean. The client (:class:`integrations.ozon.OzonClient`) sends it.

* **Ready to ship** is Ozon's "assemble the order": ``/v4/posting/fbs/ship`` takes the posting in ``packages`` of
  ``products``, each named by ``product_id`` — Ozon's SKU, not the seller's article — and moves the posting from
  ``awaiting_packaging`` to ``awaiting_deliver``. The SKUs come from the posting itself, read first with
  ``/v3/posting/fbs/get``: that read also makes the call idempotent (a posting already awaiting shipment or further
  on is left alone) and checks that the lines are the posting's. Everything goes in one package: the spec allows
  that, and several packages would split the posting into new numbers the shop does not know.
* **Cancel unfillable** is ``/v2/posting/fbs/cancel`` with reason 352, "Товар закончился на складе продавца" (the
  seller's out-of-stock reason in the spec's list of reasons; reason 402, "other", would need a text).

The spec documents no error codes for either method, so a refusal is not read for "already done": after a refused
ship or cancel the posting is read again, and one that is by then where it was asked to be is a success. Anything
else stays the refusal, in Ozon's words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from workflows.channels import ChannelOrderLine, ChannelRefused

POSTING_GET_PATH = "/v3/posting/fbs/get"
SHIP_PATH = "/v4/posting/fbs/ship"
CANCEL_PATH = "/v2/posting/fbs/cancel"
OUT_OF_STOCK_REASON_ID = 352
CANCELLED = "cancelled"
SHIPPED_OR_LATER = frozenset(
    {
        "awaiting_deliver",
        "sent_by_seller",
        "driver_pickup",
        "delivering",
        "not_accepted",
        "arbitration",
        "client_arbitration",
        "delivered",
    }
)  # the spec's statuses after assembly (cancelled aside)


class _PostingProduct(BaseModel):
    offer_id: str
    sku: int
    quantity: int = Field(ge=1)


class Posting(BaseModel):
    """The parts of ``/v3/posting/fbs/get``'s ``result`` the moves need."""

    posting_number: str
    status: str
    products: list[_PostingProduct] = Field(default_factory=list)


class PostingAnswer(BaseModel):
    result: Posting


class ShipAnswer(BaseModel):
    result: list[str] = Field(min_length=1)  # the posting numbers assembled


class CancelAnswer(BaseModel):
    result: bool


def posting_request(posting_number: str) -> dict[str, Any]:
    return {"posting_number": posting_number}


def cancel_request(posting_number: str) -> dict[str, Any]:
    return {"cancel_reason_id": OUT_OF_STOCK_REASON_ID, "posting_number": posting_number}


def ship_request(posting: Posting, lines: Sequence[ChannelOrderLine]) -> dict[str, Any]:
    """The posting in one package of ``lines``, each offer as Ozon's SKU the posting gives it.

    Raises :class:`ChannelRefused` when a line is not the posting's (an offer it does not hold, or another
    quantity): Ozon would refuse the package, and the shop should look at the order."""
    skus: Mapping[str, int] = {product.offer_id: product.sku for product in posting.products}
    holds = _quantities((product.offer_id, product.quantity) for product in posting.products)
    wanted = _quantities((line.offer_id, line.qty) for line in lines)
    if not wanted or wanted != holds:
        raise ChannelRefused(
            f"Ozon posting {posting.posting_number} holds {_listed(holds)}, not the lines to ship: {_listed(wanted)}"
        )
    products = [{"product_id": skus[offer], "quantity": qty} for offer, qty in wanted.items()]
    return {"packages": [{"products": products}], "posting_number": posting.posting_number}


def _quantities(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    summed: dict[str, int] = {}
    for offer, qty in pairs:
        summed[offer] = summed.get(offer, 0) + qty
    return summed


def _listed(quantities: Mapping[str, int]) -> str:
    return ", ".join(f"{offer} × {qty}" for offer, qty in sorted(quantities.items()))[:200] or "nothing"
