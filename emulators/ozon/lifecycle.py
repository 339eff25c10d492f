"""What becomes of FBS postings after they are placed, in the Ozon emulator: cancelled, delivered, coming back; and
the two lists that report it, ``/v3/posting/fbs/list`` (every posting, by period, status and the time its status
last changed) and ``/v1/returns/list`` (returns and refusals, by the time their status changed, ``last_id`` paging).

Request checks follow the spec: ``filter.since`` and ``filter.to`` are required and at most a year apart, ``limit``
is 1..1000 (postings) or 1..500 (returns), and the returns filter takes one of its three periods at most. Error
texts are *[emulator]*; the spec gives none for these methods.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, TypeGuard

from emulators.ozon.postings import MAX_PERIOD, UNFULFILLED, Cancellation, OzonReturn, Posting, render_posting, stamp
from emulators.ozon.seller import MAX_PAGE, Answer, SellerAccount, invalid

MAX_RETURNS_PAGE = 500
STATUSES = frozenset(
    {
        *UNFULFILLED,
        "awaiting_deliver",
        "arbitration",
        "client_arbitration",
        "delivering",
        "driver_pickup",
        "delivered",
        "cancelled",
        "not_accepted",
        "sent_by_seller",
    }
)  # the spec's filter.status of /v3/posting/fbs/list
RETURN_STATUSES = {  # sys_name -> (id, display_name): the ones the emulator uses; ids are [emulator]
    "OnSellerApproval": (1, "На согласовании у продавца"),
    "ArrivedAtReturnPlace": (3, "В пункте выдачи"),
    "MovingToSeller": (4, "Возврат на пути к продавцу"),
    "ReceivedBySeller": (5, "Продавец получил возврат"),
    "Rejected": (6, "Заявка отклонена"),
    "Cancelled": (7, "Заявка отменена"),
}
RETURN_TYPES = frozenset({"Cancellation", "FullReturn", "PartialReturn", "ClientReturn", "Unknown"})
RETURN_PERIODS = ("logistic_return_date", "storage_tariffication_start_date", "visual_status_change_moment")
_ON_THE_WAY = frozenset({*UNFULFILLED, "awaiting_deliver"})  # the units are still in the warehouse's reserve


# -- what tests and the sandbox do to postings -------------------------------------------------------------------


def cancel(seller: SellerAccount, posting: Posting, cancellation: Cancellation, at: dt.datetime) -> None:
    """The posting is cancelled; units still reserved go back to what is available."""
    if posting.status == "cancelled":
        raise ValueError(f"posting {posting.posting_number} is already cancelled")
    if posting.reserves and posting.status in _ON_THE_WAY:
        for offer, qty in posting.products:
            key = (posting.warehouse_id, offer)
            seller.reserved[key] = max(0, seller.reserved.get(key, 0) - qty)
            seller.available[key] = seller.available.get(key, 0) + qty
    posting.reserves = False
    posting.status, posting.cancellation, posting.status_changed_at = "cancelled", cancellation, at


def deliver(seller: SellerAccount, posting: Posting, at: dt.datetime) -> None:
    """The buyer has it: the reserve is spent (the goods left the warehouse)."""
    if posting.status == "cancelled":
        raise ValueError(f"posting {posting.posting_number} is cancelled")
    if posting.reserves:
        for offer, qty in posting.products:
            key = (posting.warehouse_id, offer)
            seller.reserved[key] = max(0, seller.reserved.get(key, 0) - qty)
    posting.reserves = False
    posting.status, posting.status_changed_at = "delivered", at
    posting.delivering_date = posting.delivering_date or at


def fbs_list(seller: SellerAccount, body: Any) -> Answer:
    """``/v3/posting/fbs/list``."""
    checked = _list_request(body)
    if isinstance(checked, str):
        return invalid(checked)
    flt, (since, until), changed, (limit, offset) = checked
    status, warehouses = flt.get("status"), {str(w) for w in flt.get("warehouse_id") or []}
    found = [
        p
        for p in seller.postings.values()
        if since <= p.in_process_at <= until
        and (not status or p.status == status)
        and (not warehouses or str(p.warehouse_id) in warehouses)
        and _within(p.status_changed_at or p.in_process_at, changed)
    ]
    found.sort(key=lambda p: (p.in_process_at, p.posting_number), reverse=str(body.get("dir", "ASC")).upper() == "DESC")
    page = found[offset : offset + limit]
    postings = [render_posting(p, seller.warehouses[p.warehouse_id], seller.products) for p in page]
    return 200, {"result": {"postings": postings, "has_next": offset + limit < len(found)}}


_Period = tuple[dt.datetime | None, dt.datetime | None]


def _list_request(body: Any) -> tuple[dict[str, Any], tuple[dt.datetime, dt.datetime], _Period, tuple[int, int]] | str:
    """The filter, its period, its status-change period and ``(limit, offset)``; or why the request is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("filter"), dict):
        return "filter is required"
    limit, offset, flt = body.get("limit"), body.get("offset"), body["filter"]
    if not _is_int(limit) or not 1 <= limit <= MAX_PAGE:
        return f"limit must be between 1 and {MAX_PAGE}"
    if not _is_int(offset) or offset < 0:
        return "offset must be a non-negative number"
    since, until = _moment(flt.get("since")), _moment(flt.get("to"))
    if since is None or until is None:
        return "filter.since and filter.to are required date-times in UTC"
    if not dt.timedelta(0) <= until - since <= MAX_PERIOD:
        return "the period must not be longer than one year"
    if flt.get("status") and flt["status"] not in STATUSES:
        return f"unknown status {flt['status']!r}"
    changed = _range(flt.get("last_changed_status_date"), "from", "to")
    if isinstance(changed, str):
        return f"last_changed_status_date: {changed}"
    return flt, (since, until), changed, (limit, offset)


# -- returns -----------------------------------------------------------------------------------------------------


def returns_list(seller: SellerAccount, body: Any) -> Answer:
    """``/v1/returns/list``: by ``id``, the ones after ``last_id``."""
    if not isinstance(body, dict):
        return invalid("the body must be an object")
    limit, last_id, flt = body.get("limit"), body.get("last_id", 0), body.get("filter") or {}
    if not _is_int(limit) or not 1 <= limit <= MAX_RETURNS_PAGE:
        return invalid(f"limit must be between 1 and {MAX_RETURNS_PAGE}")
    if not _is_int(last_id) or last_id < 0 or not isinstance(flt, dict):
        return invalid("last_id must be a non-negative number and filter an object")
    periods = [name for name in RETURN_PERIODS if name in flt]
    if len(periods) > 1:
        return invalid(f"use only one of the periods {', '.join(RETURN_PERIODS)}")
    changed = _range(flt.get("visual_status_change_moment"), "time_from", "time_to")
    if isinstance(changed, str):
        return invalid(f"visual_status_change_moment: {changed}")
    postings = set(flt.get("posting_numbers") or [])
    schema = str(flt.get("return_schema") or "").upper()
    found = [
        r
        for r in seller.returns
        if r.id > last_id
        and _within(r.changed_at, changed)
        and (not postings or r.posting.posting_number in postings)
        and schema in ("", "FBS")
    ]
    page = found[:limit]
    return 200, {"returns": [render_return(r, seller) for r in page], "has_next": len(found) > limit}


def render_return(item: OzonReturn, seller: SellerAccount) -> dict[str, Any]:
    """``GetReturnsListResponseReturnsItem`` (the parts a client of returns reads, and their neighbours)."""
    product = seller.products[item.offer_id]
    status_id, status_name = RETURN_STATUSES[item.status]
    posting = item.posting
    return {
        "exemplars": [{"id": item.id * 10 + n} for n in range(item.quantity)],
        "id": item.id,
        "company_id": 3058,
        "return_reason_name": item.reason,
        "type": item.type,
        "schema": "Fbs",
        "order_id": posting.order_id,
        "order_number": posting.posting_number.rsplit("-", 1)[0],
        "product": {
            "sku": product.sku,
            "offer_id": product.offer_id,
            "name": product.name,
            "price": {"currency_code": "RUB", "price": 1259.0},
            "quantity": item.quantity,
        },
        "logistic": {"return_date": stamp(item.returned_at), "barcode": f"ii{item.id}"},
        "visual": {
            "status": {"id": status_id, "display_name": status_name, "sys_name": item.status},
            "change_moment": stamp(item.changed_at),
        },
        "additional_info": {"is_opened": False, "is_super_econom": False},
        "source_id": item.id,
        "posting_number": posting.posting_number,
    }


# -- reading requests --------------------------------------------------------------------------------------------


def _range(raw: Any, start: str, end: str) -> _Period | str:
    """An optional period object: ``(from, to)``, either end open when left out; why it is wrong, as text."""
    if raw is None:
        return None, None
    if not isinstance(raw, Mapping):
        return "must be an object"
    ends = []
    for name in (start, end):
        moment = _moment(raw.get(name)) if name in raw else None
        if name in raw and moment is None:
            return f"{name} must be a date-time with a time zone"
        ends.append(moment)
    return ends[0], ends[1]


def _within(moment: dt.datetime, period: _Period | str) -> bool:
    if isinstance(period, str):
        return False
    since, until = period
    return (since is None or since <= moment) and (until is None or moment <= until)


def _moment(raw: Any) -> dt.datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
