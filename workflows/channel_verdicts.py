"""What a channel said became of an order, as it reads in the order's history, and the lock that both the order
intake and the order-event feed hold for one channel order (see ``workflows.order_events``)."""

from __future__ import annotations

from datetime import datetime

from workflows.model import OrderEvent
from workflows.ports import HeardOrderEvent

# the order-history kind of each channel event (workflows.channels.OrderEventKind values)
HISTORY_KINDS = {
    "cancelled": "cancelled_by_channel",
    "delivered": "delivered_to_buyer",
    "returned": "returned_by_buyer",
}


def channel_order_lock(channel: str, external_id: str) -> str:
    """The lock name of one channel order: intake and the feed decide about it one at a time."""
    return f"channel-order:{channel}:{external_id}"


def cancel_reason(heard: HeardOrderEvent) -> str:
    """Why the order was cancelled, as ``OrderDesk.cancel_in`` records it."""
    said = f": {heard.reason}" if heard.reason else ""
    return f"cancelled on {heard.channel}{said}"


def history_event(heard: HeardOrderEvent, now: datetime) -> OrderEvent:
    """The order-history line for the event: who said what, why and when by the channel's clock."""
    detail: dict[str, object] = {
        "channel": heard.channel,
        "reason": heard.reason,
        "channel_time": heard.at.isoformat(),
    }
    return OrderEvent(now, HISTORY_KINDS[heard.kind], detail)
