"""The JSON body of ``GET /api/dashboard``, as typed dictionaries: ``app/http/dashboard.py`` builds it and
``app/http/openapi.py`` publishes the same types as its schema."""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from typing_extensions import TypedDict

from app.http.money_routes import LiquidityBodyView


class ChannelCardView(TypedDict):
    name: str
    title: str  # what the shop calls it («Яндекс Маркет»), in the dashboard's language
    paused: bool
    circuit_open: bool
    failures_in_row: int
    outbox_depth: int
    oldest_age_s: float | None  # the oldest unsent stock push, in seconds


class DashboardTaskView(TypedDict):
    id: int | None
    kind: str
    subject: str
    assignee: str
    title: str  # what the task asks, worded for people ("Звонок клиенту по заказу SITE-3")
    who: str  # who answers it, in words ("менеджеры", "магазин Арбат")
    deadline: str
    state: str


class DashboardAlertView(TypedDict):
    key: str
    text: str  # worded in the dashboard's language
    opened_at: str
    resolved_at: str | None
    count: int


class DriftView(TypedDict):
    channel: str
    title: str  # the channel's title
    at: str | None
    summary: str | None  # "checked=… corrected=…"
    corrected: int


class OrderStepView(TypedDict):
    """One step of an order's lifecycle, newest first across orders."""

    order_id: int
    channel: str
    channel_title: str  # the channel's title («Яндекс Маркет»)
    external_id: str  # the channel's number for the order
    kind: str  # the history event's kind, as ``GET /api/orders/{order_id}`` shows it
    at: str
    text: str  # the step in the dashboard's language, worded as the office's /order shows it


class OrderCountersView(TypedDict):
    unfillable_open: int  # the managers' open questions about orders nobody can fill
    returns_awaiting: int  # returns announced that their warehouse has not answered
    to_move_on: int  # marketplace actions (ready to ship, cancel) queued, not yet taken
    move_retrying: int  # of them, ones that failed and wait for their next attempt
    move_refused: int  # actions a marketplace refused: people take over


class DashboardView(TypedDict):
    at: str
    locale: Literal["ru", "en"]
    channels: list[ChannelCardView]
    tasks: list[DashboardTaskView]
    alerts: list[DashboardAlertView]
    onec_last_update: str | None
    drift: list[DriftView]
    order_events: list[OrderStepView]
    orders: OrderCountersView
    # clients' money, as ``GET /api/money/liquidity`` answers it, once any order has a money plan or a payment out
    liquidity: NotRequired[LiquidityBodyView]
    report: NotRequired[dict[str, Any]]  # the owner's daily report so far (``GET /api/report/daily``'s shape)
    report_png: NotRequired[str]  # where its chart is
