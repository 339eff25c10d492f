"""What became of Yandex Market orders, read from two methods of the campaign, as
``workflows.channels.ChannelOrderEvent``\\ s.

* getOrders (``GET …/orders``) with ``status=CANCELLED&status=DELIVERED`` and the update-time filter
  (``updatedAtFrom`` included, ``updatedAtTo`` not, at most 30 days apart): ``CANCELLED`` → *cancelled* with the
  ``substatus`` as the reason (``USER_CHANGED_MIND``, ``SHOP_FAILED``, ``USER_REFUSED_DELIVERY``…), ``DELIVERED`` →
  *delivered*; the time is the order's ``updatedAt`` (Moscow time without an offset, as all the Market's order
  dates), its last change. Test orders (``fake``) are not asked for.
* getReturns (``GET …/returns``) with ``fromDate``/``toDate``, days of the returns' last update → *returned*, both a
  return (``RETURN``) and an unredeemed order (``UNREDEEMED``: refused or not collected); the reason is the type and
  the decision's ``reasonType`` when there is one, the time when the return was made. A return withdrawn before its
  goods were handed over (shipment or refund status ``CANCELLED``) brings nothing back and is left out.

An order refused at delivery is reported both ways, as the Market does: *cancelled* (``USER_REFUSED_DELIVERY``…) and,
once its goods travel back, *returned*.

The cursor is the moment the lists were read up to (ISO 8601, UTC); the next read starts :data:`OVERLAP` before it
and events may repeat (returns are asked by whole days: the day of the cursor is read again). Without a cursor (or
with one that is not a moment) the read looks back :data:`LOOK_BACK`. getOrders takes at most 30 days of updates:
after a longer pause only the last 30 days are read. It also leaves out orders delivered or cancelled more than 30
days ago (and, with no ``fromDate``, orders placed more than 30 days ago): an order that changes later than that
is missed; the Market's successor method (``POST /v1/businesses/{businessId}/orders``) needs the business id this
client is not given.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from workflows.channels import ChannelOrderEvent, OrderEventKind

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=10)
LOOK_BACK = timedelta(days=3)
MAX_UPDATED_RANGE = timedelta(days=30)
EVENT_STATUSES = {"CANCELLED": OrderEventKind.CANCELLED, "DELIVERED": OrderEventKind.DELIVERED}
RETURNS_PAGE = 100  # getReturns ``limit`` maximum
NOTHING_COMES_BACK = "CANCELLED"  # a shipment or refund status: the return was withdrawn
MARKET_TIME = timezone(timedelta(hours=3), "MSK")
_REASON_CHARS = 300


def window(cursor: str | None, now: datetime) -> tuple[datetime, datetime]:
    """``(from, to)`` of the updates to read: the cursor less :data:`OVERLAP` (at most 30 days back) to now."""
    start = _moment(cursor) if cursor else None
    if cursor and start is None:
        log.warning(
            "yandex_market: the order events cursor %r is not a moment; reading the last %s", cursor[:40], LOOK_BACK
        )
    if start is None:
        return now - LOOK_BACK, now
    since = min(start, now) - OVERLAP
    if now - since > MAX_UPDATED_RANGE:
        log.warning("yandex_market: order events were last read at %s; the Market gives only the last 30 days", start)
        since = now - MAX_UPDATED_RANGE
    return since, now


def stamp(moment: datetime) -> str:
    """A moment as getOrders' filters take it: ISO 8601 with an offset."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def market_day(moment: datetime) -> str:
    """The day of ``moment`` in Moscow, as getReturns' ``fromDate``/``toDate`` take it (``YYYY-MM-DD``)."""
    return moment.astimezone(MARKET_TIME).date().isoformat()


def order_event(raw: object, now: datetime) -> ChannelOrderEvent | None:
    """An OrderDTO of a status list as an event; ``None`` when it cannot be read or is in another status."""
    order = _dict(raw)
    order_id, kind = order.get("id"), EVENT_STATUSES.get(str(order.get("status")))
    if not _is_id(order_id):
        log.warning("yandex_market: an order's event could not be read (id=%r)", order_id)
        return None
    if kind is None:
        return None
    at = _market_time(order.get("updatedAt")) or now
    reason = str(order.get("substatus") or "") if kind is OrderEventKind.CANCELLED else ""
    return ChannelOrderEvent(str(order_id), kind, at, reason[:_REASON_CHARS])


def return_event(raw: object, now: datetime) -> ChannelOrderEvent | None:
    """A ReturnDTO as a *returned* event; ``None`` when nothing comes back or it cannot be read."""
    item = _dict(raw)
    order_id = item.get("orderId")
    if not _is_id(order_id):
        log.warning("yandex_market: a return could not be read (id=%r)", item.get("id"))
        return None
    if NOTHING_COMES_BACK in (item.get("shipmentStatus"), item.get("refundStatus")):
        return None
    reasons = [str(item.get("returnType") or "")]
    for line in item.get("items") or []:
        for decision in _dict(line).get("decisions") or []:
            reason = _dict(decision).get("reasonType")
            if isinstance(reason, str) and reason not in reasons:
                reasons.append(reason)
    at = _moment(item.get("creationDate")) or _moment(item.get("updateDate")) or now
    return ChannelOrderEvent(
        str(order_id), OrderEventKind.RETURNED, at, ": ".join(filter(None, reasons))[:_REASON_CHARS]
    )


def _market_time(raw: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.strptime(raw, "%d-%m-%Y %H:%M:%S").replace(tzinfo=MARKET_TIME).astimezone(UTC)
    except ValueError:
        return None


def _moment(raw: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
