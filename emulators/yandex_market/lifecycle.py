"""What becomes of the Market's orders after they are placed, in the emulator: cancelled (with a substatus for the
reason), delivered, coming back (a return, or an unredeemed order: ``UNREDEEMED``); and how getOrders' update-time
filter and getReturns read them (ReturnDTO, page tokens, ``fromDate``/``toDate`` by update date).

The spec's rules checked: ``updatedAtFrom``/``updatedAtTo`` are ISO 8601 with an offset, at most 30 days apart, the
start included and the end not; getReturns' dates are ``YYYY-MM-DD`` and its ``limit`` is cut to 100. Which time zone
getReturns' dates are counted in the spec does not say: *[emulator]* Moscow, as the Market's order dates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from emulators.yandex_market.wire import MARKET_TIME, MarketOrder, WireError

MAX_UPDATED_RANGE = timedelta(days=30)
RETURN_TYPES = frozenset({"UNREDEEMED", "RETURN"})


@dataclass
class MarketReturn:
    """A return or an unredeemed order (``return_type``) of items ``(offer id, count)``; ``reason`` is the
    decision's ``reasonType`` (``BAD_QUALITY``, ``DOES_NOT_FIT``…), empty for none."""

    return_id: int
    order_id: int
    items: list[tuple[str, int]]
    return_type: str
    created_at: datetime
    updated_at: datetime
    shipment_status: str = "IN_TRANSIT"
    refund_status: str = "STARTED_BY_USER"
    reason: str = ""

    def dto(self) -> dict[str, Any]:
        """ReturnDTO (required fields, statuses, dates and the decision's reason)."""
        items = []
        for number, (offer_id, count) in enumerate(self.items):
            item: dict[str, Any] = {"shopSku": offer_id, "count": count}
            if self.reason:
                decision = {"returnItemId": self.return_id * 100 + number, "count": count, "reasonType": self.reason}
                item["decisions"] = [decision]
            items.append(item)
        return {
            "id": self.return_id,
            "orderId": self.order_id,
            "creationDate": self.created_at.astimezone(MARKET_TIME).isoformat(timespec="seconds"),
            "updateDate": self.updated_at.astimezone(MARKET_TIME).isoformat(timespec="seconds"),
            "refundStatus": self.refund_status,
            "shipmentStatus": self.shipment_status,
            "items": items,
            "returnType": self.return_type,
        }


def cancel(order: MarketOrder, substatus: str, at: datetime) -> None:
    if order.status == "CANCELLED":
        raise ValueError(f"order {order.order_id} is already cancelled")
    order.status, order.substatus, order.updated_at = "CANCELLED", substatus, at


def deliver(order: MarketOrder, at: datetime) -> None:
    if order.status == "CANCELLED":
        raise ValueError(f"order {order.order_id} is cancelled")
    order.status, order.substatus, order.updated_at = "DELIVERED", "DELIVERY_SERVICE_DELIVERED", at


def updated_between(query: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
    """getOrders' ``updatedAtFrom`` (included) and ``updatedAtTo`` (not included), checked."""
    ends = []
    for name in ("updatedAtFrom", "updatedAtTo"):
        raw = query.get(name)
        moment = _aware(raw) if raw is not None else None
        if raw is not None and moment is None:
            raise WireError(400, [("BAD_REQUEST", f"{name}: ISO 8601 with an offset, e.g. 2017-11-21T00:42:42+03:00")])
        ends.append(moment)
    since, until = ends
    if since is not None and until is not None and not timedelta(0) <= until - since <= MAX_UPDATED_RANGE:
        raise WireError(400, [("BAD_REQUEST", "updatedAtFrom..updatedAtTo: at most 30 days, the start first")])
    return since, until


def updated_within(order: MarketOrder, since: datetime | None, until: datetime | None) -> bool:
    moment = order.updated_at or order.created_at
    return (since is None or since <= moment) and (until is None or moment < until)


def returns_chosen(returns: Sequence[MarketReturn], query: Mapping[str, str]) -> list[MarketReturn]:
    """getReturns' filters: ``fromDate``..``toDate`` (both included) on the update date, ``type``."""
    since, until = _day(query, "fromDate"), _day(query, "toDate")
    kind = query.get("type")
    if kind is not None and kind not in RETURN_TYPES:
        raise WireError(400, [("BAD_REQUEST", f"type: one of {sorted(RETURN_TYPES)}")])
    chosen = []
    for item in sorted(returns, key=lambda r: r.return_id):
        day = item.updated_at.astimezone(MARKET_TIME).date()
        if (since is None or since <= day) and (until is None or day <= until) and kind in (None, item.return_type):
            chosen.append(item)
    return chosen


def _day(query: Mapping[str, str], name: str) -> date | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        if len(raw) == len("YYYY-MM-DD"):
            return date.fromisoformat(raw)
    except ValueError:
        pass
    raise WireError(400, [("BAD_REQUEST", f"{name}: a date, YYYY-MM-DD")])


def _aware(raw: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
