"""``GET /api/orders``: the office's order search — by any number an order is known by or the client's phone
(``q``), by ``channel``, ``status`` and creation time (``since``, ``until``), newest first, ``limit`` at a time
with an opaque ``cursor`` to the next page — each order with why it waits, worded in the service's language."""

from __future__ import annotations

import base64
import binascii
import unicodedata
from collections.abc import Collection, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from typing_extensions import TypedDict

from app.http.errors import ApiError
from bot.order_waiting import waiting_line
from bot.texts import Locale
from bot.wording import Names
from workflows.model import OrderStatus
from workflows.order_lookup import REFERENCE_LIMIT
from workflows.order_search import DEFAULT_PAGE, LARGEST_PAGE, OrderQuery, OrderSearch, OrderSummary
from workflows.topology import Topology

PARAMETERS = ("q", "channel", "status", "since", "until", "limit", "cursor")
EARLIEST_YEAR, LATEST_YEAR = 1970, 9000
_CURSOR_PREFIX = "before:"


class OrderSummaryView(TypedDict):
    """One order of a search: where it stands and why it waits."""

    order_id: int
    channel: str
    channel_title: str  # the channel's title («Яндекс Маркет»), in the service's language
    external_id: str  # the channel's number for the order
    status: str  # as ``GET /api/orders/{order_id}`` gives it
    created_at: str
    total: str | None  # a decimal string
    currency: str
    ship_by: str | None  # the marketplace's shipping deadline, when it told one
    shipping_hold: str | None  # why nothing may ship yet (``fraud_check``: the managers' call check)
    may_spend: bool  # whether the client's money may be spent (see ``money`` of the order)
    waiting_reason: str  # why it waits, as a code (``fraud_check``, ``store_answer``, ``payment``, …)
    waiting: str  # why it waits and what happens next, in the service's language


class OrderListView(TypedDict):
    orders: list[OrderSummaryView]
    next_cursor: str | None  # send it as ``cursor`` for the next page; null on the last one


def order_listing_routes(search: OrderSearch, topology: Topology, locale: Locale) -> list[web.RouteDef]:
    timezone = topology.onec.timezone
    titles = {w.code: w.title for w in topology.warehouses if w.title}
    names = Names.of(topology, locale)

    async def listing(request: web.Request) -> web.Response:
        page = await search.page(order_query(request, topology.channels, timezone))
        view: OrderListView = {
            "orders": [summary_view(s, names, timezone, titles) for s in page.orders],
            "next_cursor": None if page.next_before_id is None else encode_cursor(page.next_before_id),
        }
        return web.json_response(view)

    return [web.get("/api/orders", listing)]


def summary_view(summary: OrderSummary, names: Names, timezone: str, titles: Mapping[str, str]) -> OrderSummaryView:
    order = summary.order
    assert order.id is not None
    return {
        "order_id": order.id, "channel": order.channel, "channel_title": names.channel(order.channel),
        "external_id": order.external_id,
        "status": order.status.value, "created_at": order.created_at.isoformat(),
        "total": None if order.total is None else str(order.total), "currency": order.currency,
        "ship_by": order.ship_by.isoformat() if order.ship_by else None, "shipping_hold": order.shipping_hold,
        "may_spend": summary.money.may_spend, "waiting_reason": summary.waiting.reason.value,
        "waiting": waiting_line(names.locale, summary.waiting, timezone, titles),
    }  # fmt: skip


def order_query(request: web.Request, channels: Collection[str], timezone: str) -> OrderQuery:
    """The query's parameters checked; a bad one is a 400 naming it."""
    given: dict[str, str] = {}
    for name in PARAMETERS:
        values = request.query.getall(name, [])
        if len(values) > 1:
            raise _bad(name, "is given more than once")
        if values and values[0].strip():
            given[name] = values[0].strip()
    if any(unicodedata.category(c) == "Cc" for value in given.values() for c in value):
        name = next(n for n, v in given.items() if any(unicodedata.category(c) == "Cc" for c in v))
        raise _bad(name, "holds control characters")
    if len(given.get("q", "")) > REFERENCE_LIMIT:
        raise _bad("q", f"is longer than {REFERENCE_LIMIT} characters")
    channel = given.get("channel")
    if channel is not None and channel not in channels:
        raise _bad("channel", f"is not one of the shop's channels: {', '.join(sorted(channels))}")
    status = given.get("status")
    if status is not None and status not in {s.value for s in OrderStatus}:
        raise _bad("status", f"is not one of: {', '.join(s.value for s in OrderStatus)}")
    return OrderQuery(
        q=given.get("q"), channel=channel, status=OrderStatus(status) if status else None,
        since=_time(given, "since", timezone), until=_time(given, "until", timezone),
        limit=_limit(given.get("limit")), before_id=decode_cursor(given["cursor"]) if "cursor" in given else None,
    )  # fmt: skip


def _time(given: dict[str, str], name: str, timezone: str) -> datetime | None:
    raw = given.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _bad(name, "is not an ISO 8601 time, e.g. 2026-11-21T12:00:00+03:00") from None
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:  # beyond these a UTC offset leaves the calendar
        raise _bad(name, f"must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo(timezone))


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= LARGEST_PAGE):
        raise _bad("limit", f"must be a whole number from 1 to {LARGEST_PAGE}")
    return int(raw)


def encode_cursor(before_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{before_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise _bad("cursor", "is not a cursor this API gave (send next_cursor as it came)") from None
    number = text.removeprefix(_CURSOR_PREFIX)
    if not text.startswith(_CURSOR_PREFIX) or not (number.isascii() and number.isdigit()) or len(number) > 18:
        raise _bad("cursor", "is not a cursor this API gave (send next_cursor as it came)")
    return int(number)


def _bad(name: str, problem: str) -> ApiError:
    return ApiError(400, "invalid_request", f"{name} {problem}", [{"field": name, "problem": problem}])
