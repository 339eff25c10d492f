"""The daily report for the dashboard: ``GET /api/report/daily?date=YYYY-MM-DD`` (JSON),
``GET /api/report/daily.png?date=…[&locale=ru|en]`` (the chart the owner gets in Telegram) and the page for
people, ``GET /report?date=…`` with its worded data ``GET /api/report/page?date=…`` (``app/http/report_page.py``).
``date`` is a shop-local day, yesterday when left out; today gives the day so far."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from aiohttp import web

from app.http.errors import ApiError
from app.http.report_page import report_page_view
from app.web import STATIC
from bot.report_chart import render_png
from bot.texts import Locale
from bot.wording import Names
from workflows.daily_report import DailyReport, DailyReports
from workflows.topology import Topology

LOCALES: tuple[Locale, ...] = ("ru", "en")
EARLIEST = date(1970, 1, 1)  # a day of year 1 in the shop's zone is before the first UTC instant


def report_routes(reports: DailyReports, default_locale: Locale, topology: Topology) -> list[web.RouteDef]:
    names = {locale: Names.of(topology, locale) for locale in LOCALES}  # channels and stores by their titles

    async def daily(request: web.Request) -> web.Response:
        report = await reports.for_day(_day(request, reports))
        return web.json_response(report_view(report))

    async def daily_png(request: web.Request) -> web.Response:
        raw = request.query.get("locale", default_locale)
        locale = next((known for known in LOCALES if known == raw), None)
        if locale is None:
            raise ApiError(400, "invalid_request", f"locale={raw!r}: use one of {', '.join(LOCALES)}")
        report = await reports.for_day(_day(request, reports))
        png = await asyncio.to_thread(render_png, report, names[locale])  # CPU-bound: off the event loop
        return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})

    async def page(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "report.html", headers={"Cache-Control": "no-store"})

    async def page_data(request: web.Request) -> web.Response:
        report = await reports.for_day(_day(request, reports))
        return web.json_response(report_page_view(report, reports.today(), names[default_locale]))

    return [
        web.get("/api/report/daily", daily), web.get("/api/report/daily.png", daily_png),
        web.get("/report", page), web.get("/api/report/page", page_data),
    ]  # fmt: skip


def _day(request: web.Request, reports: DailyReports) -> date:
    raw = request.query.get("date")
    today = reports.today()
    if not raw:
        return today - timedelta(days=1)
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "invalid_request", f"date={raw!r} is not a day: use YYYY-MM-DD") from None
    if not EARLIEST <= day <= today:
        raise ApiError(400, "invalid_request", f"date={raw} is not between {EARLIEST.isoformat()} and today "
                       f"({today.isoformat()}, {reports.timezone})")  # fmt: skip
    return day


def report_view(report: DailyReport) -> dict[str, Any]:
    return {
        "date": report.day.isoformat(),
        "timezone": report.timezone,
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "as_of": report.as_of.isoformat(),
        "complete": report.complete,  # false for today: the figures so far
        "orders": {
            "total": report.orders,
            "by_channel": report.orders_by_channel,
            "by_channel_hour": {channel: list(hours) for channel, hours in report.orders_by_hour.items()},
        },
        "processing": {
            "median_seconds": report.median_processing_seconds,
            "allocated_orders": report.allocated_orders,
        },
        "cancelled_for_stock": {
            "total": report.cancelled_for_stock,
            "out_of_stock_lines": report.out_of_stock_lines,
            "unfulfillable_lines": report.unfulfillable_lines,
        },
        "oversells_prevented": {
            "total": report.oversells_prevented,
            "refused_lines": report.out_of_stock_lines,
            "store_declines": report.store_declines,
        },
        "stores": [
            {
                "store": s.store,
                "title": s.title,
                "asked": s.asked,
                "answered": s.answered,
                "timeouts": s.timeouts,
                "missing": s.missing,
                "defective": s.defective,
                "answer_rate": round(s.answer_rate, 4),
                "median_seconds_to_answer": s.median_answer_seconds,
            }
            for s in report.stores
        ],
        "channels": [
            {"channel": c.channel, "uptime": round(c.uptime, 6), "down_seconds": c.down_seconds}
            for c in report.channels
        ],
        "money": None
        if (m := report.money) is None
        else {  # as of now (docs/client_money.md)
            "due_this_week_rub": str(m.due),
            "covered_rub": str(m.covered),
            "uncovered_rub": str(m.uncovered),
            "due_next_week_rub": str(m.next_week),
            "overdue": m.overdue,
            "overdue_rub": str(m.overdue_rub),
            "available_rub": str(m.available),
        },
    }
