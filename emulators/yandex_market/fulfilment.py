"""The seller moving an order on in the Market emulator: updateOrderStatus (``PUT …/orders/{orderId}/status``) and
getOrder (``GET …/orders/{orderId}``) to read one back.

The changes allowed are the ones the spec's description of updateOrderStatus lists for an FBS order:
``PROCESSING``/``STARTED`` → ``PROCESSING``/``READY_TO_SHIP``, and ``PROCESSING``/``STARTED`` or ``READY_TO_SHIP`` →
``CANCELLED``/``SHOP_FAILED``. Any other (the same status again included) is refused with HTTP 400: the code is one of
the spec's ApiErrorCodeType (``STATUS_NOT_ALLOWED``, ``ORDER_IN_TERMINAL_STATE``), which change gets which and the
message are *[emulator]*. An unknown order → 404 ``ORDER_NOT_FOUND`` *[emulator]*.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emulators.yandex_market.wire import MarketOrder, WireError

ALLOWED = {
    ("PROCESSING", "READY_TO_SHIP"): frozenset({("PROCESSING", "STARTED")}),
    ("CANCELLED", "SHOP_FAILED"): frozenset({("PROCESSING", "STARTED"), ("PROCESSING", "READY_TO_SHIP")}),
}
TERMINAL = frozenset({"CANCELLED", "DELIVERED", "RETURNED", "PARTIALLY_RETURNED"})


def find(orders: dict[int, MarketOrder], raw_id: str) -> MarketOrder:
    """The order ``orderId`` of the path names (an int64)."""
    order = orders.get(int(raw_id)) if raw_id.isdigit() else None
    if order is None:
        raise WireError(404, [("ORDER_NOT_FOUND", f"Order {raw_id[:40]} not found")])
    return order


def change_status(order: MarketOrder, body: Any, at: datetime) -> None:
    """An UpdateOrderStatusRequest applied to ``order``, or :class:`WireError` (400) when the change is not allowed."""
    change = body.get("order") if isinstance(body, dict) else None
    status = change.get("status") if isinstance(change, dict) else None
    if not isinstance(status, str):
        raise WireError(400, [("BAD_REQUEST", "order.status: required")])
    substatus = str(change.get("substatus")) if isinstance(change, dict) else ""
    wanted = (status, substatus)
    if order.status in TERMINAL:
        raise WireError(400, [("ORDER_IN_TERMINAL_STATE", f"Order {order.order_id} is {order.status}")])
    if (order.status, order.substatus) not in ALLOWED.get(wanted, frozenset()):
        raise WireError(
            400,
            [
                (
                    "STATUS_NOT_ALLOWED",
                    f"Status {status}/{substatus} is not allowed for order {order.order_id} in "
                    f"{order.status}/{order.substatus}",
                )
            ],
        )
    order.status, order.substatus, order.updated_at = status, substatus, at
