"""What became of Ozon FBS postings, read from two lists, as ``workflows.channels.ChannelOrderEvent``\\ s.

* ``/v3/posting/fbs/list`` with ``filter.last_changed_status_date`` (the time a posting's status last changed) and
  ``filter.status``: ``cancelled`` → *cancelled*, the reason in Ozon's words with who cancelled and whether it was
  after shipping (``v3Cancellation``); ``delivered`` → *delivered*. A posting says neither when it was cancelled nor
  when delivered, so those events carry the time they were read.
* ``/v1/returns/list`` with ``filter.visual_status_change_moment`` → *returned*: a refusal at handing over, a
  return after it, a cancellation on the way (its goods come back too). A return whose application was rejected or
  withdrawn (``Rejected``, ``CrmRejected``, ``Cancelled``, ``CancelledDisputeNotOpen``) brings nothing back and is
  left out. Its time is the day the buyer gave it back (``logistic.return_date``), else the status change.

A posting refused at pick-up is reported both ways, as Ozon does: *cancelled* (after shipping) and *returned*.
The returns list covers the whole seller account, not one warehouse; events for postings another warehouse's
client placed are for the consumer to ignore or match.

The cursor is the moment the lists were read up to (ISO 8601, UTC). The next read starts :data:`OVERLAP` before
it, for changes Ozon records late; events may repeat. Without a cursor (or with one that is not a moment) the read
looks back :data:`LOOK_BACK`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from workflows.channels import ChannelOrderEvent, OrderEventKind

log = logging.getLogger(__name__)

FBS_LIST_PATH = "/v3/posting/fbs/list"
RETURNS_PATH = "/v1/returns/list"
RETURNS_PAGE = 500  # the spec's maximum for /v1/returns/list
OVERLAP = dt.timedelta(minutes=10)
LOOK_BACK = dt.timedelta(days=3)
POSTINGS_PERIOD = dt.timedelta(days=360)  # filter.since..to (in process from): a year at most
STATUS_KINDS = {"cancelled": OrderEventKind.CANCELLED, "delivered": OrderEventKind.DELIVERED}
NOTHING_COMES_BACK = frozenset({"Rejected", "CrmRejected", "Cancelled", "CancelledDisputeNotOpen"})
_REASON_CHARS = 300


class _Cancellation(BaseModel):
    cancel_reason: str = ""
    cancel_reason_id: int = 0
    cancellation_initiator: str = ""
    cancelled_after_ship: bool = False


class _StatusPosting(BaseModel):
    posting_number: str = Field(min_length=1)
    status: str
    cancellation: _Cancellation | None = None


class PostingPage(BaseModel):
    postings: list[dict[str, Any]] = Field(default_factory=list)  # each read alone: one odd posting hides none
    has_next: bool = False


class PostingListAnswer(BaseModel):
    result: PostingPage


class _ReturnStatus(BaseModel):
    sys_name: str = ""


class _ReturnVisual(BaseModel):
    status: _ReturnStatus | None = None
    change_moment: dt.datetime | None = None


class _ReturnLogistic(BaseModel):
    return_date: dt.datetime | None = None


class _Return(BaseModel):
    posting_number: str = Field(min_length=1)
    return_reason_name: str = ""
    type: str = ""
    visual: _ReturnVisual | None = None
    logistic: _ReturnLogistic | None = None


class ReturnsAnswer(BaseModel):
    returns: list[dict[str, Any]] = Field(default_factory=list)
    has_next: bool = False


def window(cursor: str | None, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """``(from, to)`` of the status changes to read: from the cursor less :data:`OVERLAP` to now."""
    start = _moment(cursor) if cursor else None
    if cursor and start is None:
        log.warning("ozon: the order events cursor %r is not a moment; reading the last %s", cursor[:40], LOOK_BACK)
    if start is None:
        return now - LOOK_BACK, now
    return min(start, now) - OVERLAP, now


def postings_filter(status: str, warehouse_id: int, since: dt.datetime, until: dt.datetime) -> dict[str, Any]:
    """``filter`` of ``/v3/posting/fbs/list``: postings of the warehouse in ``status`` that changed in the window."""
    return {
        "last_changed_status_date": {"from": utc(since), "to": utc(until)},
        "since": utc(until - POSTINGS_PERIOD),
        "status": status,
        "to": utc(until),
        "warehouse_id": [str(warehouse_id)],  # int64 as a string, as the spec types it here
    }


def returns_filter(since: dt.datetime, until: dt.datetime) -> dict[str, Any]:
    """``filter`` of ``/v1/returns/list``: FBS returns whose status changed in the window (one period only)."""
    return {"return_schema": "FBS", "visual_status_change_moment": {"time_from": utc(since), "time_to": utc(until)}}


def posting_event(raw: dict[str, Any], now: dt.datetime) -> ChannelOrderEvent | None:
    """A posting of a status list as an event; ``None`` (logged) when it cannot be read or is in another status."""
    try:
        posting = _StatusPosting.model_validate(raw)
    except ValidationError:
        log.warning("ozon: posting %r cannot be read; its event is skipped", raw.get("posting_number"))
        return None
    kind = STATUS_KINDS.get(posting.status)
    if kind is None:
        return None
    reason = _cancel_reason(posting.cancellation) if kind is OrderEventKind.CANCELLED else ""
    return ChannelOrderEvent(posting.posting_number, kind, now, reason)


def return_event(raw: dict[str, Any], now: dt.datetime) -> ChannelOrderEvent | None:
    """A line of the returns list as a *returned* event; ``None`` when nothing comes back or it cannot be read."""
    try:
        item = _Return.model_validate(raw)
    except ValidationError:
        log.warning("ozon: return %r cannot be read; skipped", raw.get("id"))
        return None
    visual = item.visual or _ReturnVisual()
    if visual.status is not None and visual.status.sys_name in NOTHING_COMES_BACK:
        return None
    at = (item.logistic.return_date if item.logistic else None) or visual.change_moment or now
    reason = "; ".join(part for part in (item.return_reason_name, item.type) if part)
    return ChannelOrderEvent(item.posting_number, OrderEventKind.RETURNED, _aware(at), reason[:_REASON_CHARS])


def _cancel_reason(cancellation: _Cancellation | None) -> str:
    if cancellation is None:
        return ""
    """Ozon's own words (Russian): the reason, then who cancelled in brackets — «Покупатель передумал (Клиент)»."""
    reason = cancellation.cancel_reason or f"cancel_reason_id {cancellation.cancel_reason_id}"
    said = [cancellation.cancellation_initiator] if cancellation.cancellation_initiator else []
    if cancellation.cancelled_after_ship:
        said.append("после отгрузки")
    return (f"{reason} ({', '.join(said)})" if said else reason)[:_REASON_CHARS]


def utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _moment(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _aware(moment: dt.datetime) -> dt.datetime:
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
