"""The operator's dashboard: the page at ``/dashboard`` (public shell; it asks for the API token) and its data
at ``GET /api/dashboard`` (behind the bearer token like every ``/api/*`` route). Read-only. Texts (alerts, the
orders' steps) come worded in the service's language by the same tables the office's chats use; the page's own
words (headings, buttons, column names) come with its shell (``dashboard_words.py``)."""

from __future__ import annotations

from aiohttp import web

from app.http.dashboard_views import DashboardView, OrderStepView
from app.http.dashboard_words import dashboard_shell
from app.http.money_routes import liquidity_view
from app.http.report_routes import report_view
from app.http.task_titles import TaskTitles
from app.web import STATIC
from bot.order_history import history_line
from bot.telegram.alert_texts import alert_title
from bot.texts import Locale
from bot.wording import Names
from workflows.daily_report import DailyReports
from workflows.dashboard import Dashboard, Snapshot
from workflows.liquidity import Liquidity, LiquidityView
from workflows.ports import SeenOrderEvent

LIQUIDITY_WEEKS = 8  # the weeks the money panel shows, this one first


def dashboard_routes(
    dashboard: Dashboard,
    reports: DailyReports | None,
    locale: Locale,
    timezone: str,
    liquidity: Liquidity | None = None,
) -> list[web.AbstractRouteDef]:
    titles = TaskTitles(dashboard.topology, locale, timezone)
    names = Names.of(dashboard.topology, locale)

    shell = dashboard_shell(STATIC / "dashboard.html", locale)  # its words in the service's language

    async def page(request: web.Request) -> web.StreamResponse:
        return web.Response(text=shell, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def data(request: web.Request) -> web.Response:
        view = snapshot_view(await dashboard.snapshot(), names, timezone, titles)
        if reports is not None:
            today = reports.today()
            view["report"] = report_view(await reports.for_day(today))
            view["report_png"] = f"/api/report/daily.png?date={today.isoformat()}"
        if liquidity is not None:
            money = await liquidity.view(LIQUIDITY_WEEKS)
            if has_money(money):
                view["liquidity"] = liquidity_view(money)
        return web.json_response(view)

    return [web.get("/dashboard", page), web.get("/api/dashboard", data), web.static("/static", STATIC)]


def snapshot_view(snapshot: Snapshot, names: Names, timezone: str, titles: TaskTitles) -> DashboardView:
    """The dashboard's data; every text in it worded in ``names``' language, channels and stores by their titles."""
    now, locale = snapshot.at, names.locale
    return {
        "at": now.isoformat(),
        "locale": locale,
        "channels": [
            {
                "name": c.name, "title": names.channel(c.name), "paused": c.paused, "circuit_open": c.circuit_open,
                "failures_in_row": c.failures_in_row, "outbox_depth": c.outbox_depth,
                "oldest_age_s": None if c.oldest_pending_at is None else (now - c.oldest_pending_at).total_seconds(),
            }
            for c in snapshot.channels
        ],
        "tasks": [  # by deadline, the soonest first
            {"id": t.id, "kind": t.kind, "subject": t.subject, "assignee": t.assignee,
             "title": titles.title(t), "who": titles.assignee(t.assignee),
             "deadline": t.deadline.isoformat(), "state": t.state.value}
            for t in snapshot.open_tasks
        ],
        "alerts": [
            {"key": a.key, "text": alert_title(a, locale, timezone, names), "opened_at": a.first_at.isoformat(),
             "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None, "count": a.count}
            for a in snapshot.alerts
        ],
        "onec_last_update": snapshot.onec_last_update.isoformat() if snapshot.onec_last_update else None,
        "drift": [
            {"channel": c.name, "title": names.channel(c.name),
             "at": c.reconciled_at.isoformat() if c.reconciled_at else None,
             "summary": c.reconciled, "corrected": _corrected(c.reconciled)}
            for c in snapshot.channels if c.reconciled is not None
        ],
        "order_events": [order_step_view(seen, names, timezone) for seen in snapshot.order_events],
        "orders": {
            "unfillable_open": snapshot.orders.unfillable_open, "returns_awaiting": snapshot.orders.returns_awaiting,
            "to_move_on": snapshot.orders.to_move_on, "move_retrying": snapshot.orders.move_retrying,
            "move_refused": snapshot.orders.move_refused,
        },
    }  # fmt: skip


def has_money(view: LiquidityView) -> bool:
    """Whether any order has money to show: a plan (an estimate's earmarks) or a payment out, due or overdue."""
    r = view.reserves
    return bool(
        r.planned or r.reserved or r.unallocated or view.overdue.payments or any(w.payments for w in view.weeks)
    )


def order_step_view(seen: SeenOrderEvent, names: Names, timezone: str = "UTC") -> OrderStepView:
    """One lifecycle step, worded as the office's ``/order`` words it (``bot/order_history.py``)."""
    event = seen.event
    return {
        "order_id": seen.order_id, "channel": seen.channel, "channel_title": names.channel(seen.channel),
        "external_id": seen.external_id, "kind": event.kind, "at": event.at.isoformat(),
        "text": history_line(names.locale, event.kind, event.detail, names, timezone),
    }  # fmt: skip


def _corrected(summary: str | None) -> int:
    for part in (summary or "").split():
        name, _, value = part.partition("=")
        if name == "corrected" and value.isdigit():
            return int(value)
    return 0
