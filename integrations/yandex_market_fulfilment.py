"""Moving a Yandex Market order on (``workflows.channels.FulfilsOrders``): the status changes the client sends and how
it tells an order already where it was asked to be. The client (:class:`integrations.yandex_market.YandexMarketClient`)
sends them.

Both moves are updateOrderStatus (``PUT /v2/campaigns/{campaignId}/orders/{orderId}/status``, 10 000 an hour), with
the body ``{"order": {"status": …, "substatus": …}}``, as the spec's description of the method says:

* **ready to ship**: ``PROCESSING`` / ``STARTED`` → ``PROCESSING`` / ``READY_TO_SHIP``;
* **cancel unfillable**: → ``CANCELLED`` / ``SHOP_FAILED`` ("the shop cannot fill the order", e.g. the goods are not
  in the warehouse), from ``STARTED`` or ``READY_TO_SHIP``.

Boxes (setOrderBoxLayout) are not sent: the spec makes the layout something to correct before ready to ship, not a
step of it, and the lines the port hands over (offers and counts) hold nothing the Market does not already know. An
order with goods that need marking codes is refused by the Market until they are sent; that refusal comes back in
its words.

The Market's refusals of a status change (``STATUS_NOT_ALLOWED``, ``SUBSTATUS_NOT_ALLOWED``, ``ORDER_IN_TERMINAL_STATE``
…) do not say whether the order is already there, so after a 400 the order is read (getOrder) and one at or past the
asked state is a success. Past ready to ship: ``PROCESSING`` / ``SHIPPED`` and every status after ``PROCESSING``
but a cancellation.
"""

from __future__ import annotations

import re
from typing import Any

from workflows.channels import ChannelRefused

PROCESSING, CANCELLED = "PROCESSING", "CANCELLED"
READY_TO_SHIP, SHOP_FAILED = "READY_TO_SHIP", "SHOP_FAILED"
PROCESSING_DONE = frozenset({READY_TO_SHIP, "SHIPPED"})
AFTER_PROCESSING = frozenset({"DELIVERY", "PICKUP", "DELIVERED", "PARTIALLY_RETURNED", "RETURNED"})
_ORDER_ID = re.compile(r"[1-9][0-9]{0,18}")


def order_path(external_id: str) -> str:
    """``/orders/{orderId}`` of the campaign; ``orderId`` is an int64, so anything else is refused here."""
    if not _ORDER_ID.fullmatch(external_id) or int(external_id) >= 2**63:
        raise ChannelRefused(f"{external_id[:40]!r} is not a Yandex Market order id")
    return f"/orders/{external_id}"


def status_request(status: str, substatus: str) -> dict[str, Any]:
    return {"order": {"status": status, "substatus": substatus}}


def ready(order: dict[str, Any]) -> bool:
    """Whether an OrderDTO is ready to ship or further on (and not cancelled)."""
    status = order.get("status")
    return status in AFTER_PROCESSING or (status == PROCESSING and order.get("substatus") in PROCESSING_DONE)


def cancelled(order: dict[str, Any]) -> bool:
    return order.get("status") == CANCELLED
