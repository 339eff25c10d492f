"""The daily report as a page for people: ``GET /report[?date=YYYY-MM-DD]`` is the page (a public shell, like
``/dashboard``: it asks for the API token) and ``GET /api/report/page?date=…`` its data, behind the token. The data
comes worded in the service's language (LOCALE) by the same texts as the owner's Telegram report: a title, the
summary in sentences, tables of orders per channel, stores' answers and channels' uptime, the chart's address and
the previous and next days."""

from __future__ import annotations

from datetime import date, timedelta

from typing_extensions import TypedDict

from bot.report_chart import summary_lines, title
from bot.texts import Locale
from bot.wording import Names, duration, percent
from workflows.daily_report import ChannelUptime, DailyReport, StoreFigures

_WORDS: dict[Locale, dict[str, str]] = {
    "ru": {
        "summary": "Главное", "chart": "График", "orders": "Заказы по каналам", "stores": "Ответы магазинов",
        "channels": "Доступность каналов", "channel": "Канал", "count": "Заказов", "store": "Магазин",
        "asked": "Спросили", "answered": "Ответили", "timeouts": "Без ответа", "missing": "Нет на месте",
        "defective": "Брак", "rate": "Доля ответов", "median": "Медиана ответа", "uptime": "Доступен",
        "down": "Недоступен", "previous": "← предыдущий день", "next": "следующий день →",
        "dashboard": "Панель оператора", "no_orders": "Заказов не было.", "no_stores": "Вопросов магазинам не было.",
        "no_channels": "Каналов нет.", "so_far": "День ещё идёт: цифры на сейчас.", "chart_alt": "График отчёта",
    },
    "en": {
        "summary": "Summary", "chart": "Chart", "orders": "Orders by channel", "stores": "Stores' answers",
        "channels": "Channels' uptime", "channel": "Channel", "count": "Orders", "store": "Store",
        "asked": "Asked", "answered": "Answered", "timeouts": "Unanswered", "missing": "Not there",
        "defective": "Defective", "rate": "Answer rate", "median": "Median answer", "uptime": "Up",
        "down": "Down", "previous": "← previous day", "next": "next day →",
        "dashboard": "Operator dashboard", "no_orders": "No orders.", "no_stores": "No questions to stores.",
        "no_channels": "No channels.", "so_far": "The day is not over: figures so far.", "chart_alt": "Report chart",
    },
}  # fmt: skip


class ReportPageView(TypedDict):
    date: str
    locale: Locale
    title: str
    complete: bool  # false for today: the figures so far
    lines: list[str]  # the summary, in sentences
    previous: str  # the day before, YYYY-MM-DD
    next: str | None  # the day after, unless it is still to come
    chart: str  # the chart's address (behind the token)
    words: dict[str, str]  # headings and column names in the page's language
    orders: list[list[str]]  # channel, orders
    stores: list[list[str]]  # store, asked, answered, timeouts, missing, defective, rate, median
    channels: list[list[str]]  # channel, uptime, down time


def report_page_view(report: DailyReport, today: date, names: Names) -> ReportPageView:
    """The page's data in ``names``' language: channels and stores by the topology's titles, never their codes."""
    following, locale = report.day + timedelta(days=1), names.locale
    return {
        "date": report.day.isoformat(),
        "locale": locale,
        "title": title(report, locale),
        "complete": report.complete,
        "lines": summary_lines(report, names),
        "previous": (report.day - timedelta(days=1)).isoformat(),
        "next": following.isoformat() if following <= today else None,
        "chart": f"/api/report/daily.png?date={report.day.isoformat()}&locale={locale}",
        "words": _WORDS[locale],
        "orders": [[names.channel(name), str(count)] for name, count in report.orders_by_channel.items()],
        "stores": [_store_row(s, locale) for s in report.stores],
        "channels": [_channel_row(c, names) for c in report.channels],
    }


def _store_row(s: StoreFigures, locale: Locale) -> list[str]:
    median = "—" if s.median_answer_seconds is None else duration(locale, s.median_answer_seconds)
    counts = (s.asked, s.answered, s.timeouts, s.missing, s.defective)
    return [s.title, *(str(n) for n in counts), percent(locale, s.answer_rate * 100), median]


def _channel_row(c: ChannelUptime, names: Names) -> list[str]:
    locale = names.locale
    return [names.channel(c.channel), percent(locale, c.uptime * 100), duration(locale, c.down_seconds)]
