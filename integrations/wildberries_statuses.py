"""What Wildberries' statuses of an FBS assembly order mean for us (``workflows.channels.OrderEventKind``).

``POST /api/v3/orders/status`` gives two statuses per order. ``supplierStatus`` follows the seller's own actions
(``new``, ``confirm``: in a supply, ``complete``: handed over for delivery, ``cancel``: cancelled by the seller);
``wbStatus`` follows Wildberries' side. Read from WB's published spec:

* ``sold``: the buyer received the order → delivered;
* ``canceled`` (cancelled), ``declined_by_client`` (the buyer cancelled within the first hour, before assembly),
  ``defect`` (cancelled as defective) → cancelled, with the status as the reason;
* ``canceled_by_client``: WB words it "the buyer cancelled the order *on receipt*", i.e. refused it at the
  pick-up point after it was shipped: the goods come back through WB → returned, with the status as the reason;
* ``waiting``, ``sorted``, ``ready_for_pickup``, ``postponed_delivery``, ``accepted_by_carrier``,
  ``sent_to_carrier`` and anything new: still on its way, no event.

A seller's cancel (``supplierStatus`` ``cancel``) is a cancellation even while ``wbStatus`` has not caught up.
WB's status answer carries no time: the event is stamped when it was read.
"""

from __future__ import annotations

from workflows.channels import OrderEventKind

SOLD = "sold"
RETURNED_STATUSES = frozenset({"canceled_by_client"})
CANCELLED_STATUSES = frozenset({"canceled", "declined_by_client", "defect"})
SELLER_CANCEL = "cancel"
UNDER_WAY_STATUSES = frozenset(
    {"waiting", "sorted", "ready_for_pickup", "postponed_delivery", "accepted_by_carrier", "sent_to_carrier"}
)
"""``wbStatus`` values of an order still on its way: no event (listed so a status WB adds is noticed)."""


def event_of(supplier_status: str | None, wb_status: str | None) -> tuple[OrderEventKind, str] | None:
    """The event an order's statuses mean, with its reason (WB's status word); ``None`` while it is under way."""
    if wb_status == SOLD:
        return OrderEventKind.DELIVERED, wb_status
    if wb_status in RETURNED_STATUSES:
        return OrderEventKind.RETURNED, wb_status
    if wb_status in CANCELLED_STATUSES:
        return OrderEventKind.CANCELLED, wb_status
    if supplier_status == SELLER_CANCEL:
        return OrderEventKind.CANCELLED, f"supplierStatus {SELLER_CANCEL}"
    return None
