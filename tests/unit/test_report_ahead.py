"""/report's chart is drawn once for what it shows: asked again with the same figures it is not drawn again, and
after someone asked for today's report, a change of the day's figures draws it ahead so the next /report finds it
drawn. The drawing itself is counted, not timed (``render_png`` replaced by a counter)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.report_chart import Unwanted, shown
from bot.telegram import report as telegram_report
from bot.telegram.report import TelegramReport
from bot.wording import Names
from workflows.daily_report import ChannelUptime, DailyReport

DAY = date(2026, 12, 4)
START = datetime(2026, 12, 3, 21, 0, tzinfo=UTC)


def _report(orders: int, at: datetime) -> DailyReport:
    hours = (orders,) + (0,) * 23
    return DailyReport(DAY, "Europe/Moscow", START, START + timedelta(days=1), at, {"site": hours}, orders, 60.0,
                       0, 0, 0, (), (ChannelUptime("site", 30.0, 1 - 30 / (at - START).total_seconds()),))  # fmt: skip


class Reports:
    """Today's figures as the test sets them; the report's moment moves on each time it is read."""

    def __init__(self) -> None:
        self.orders, self.reads, self.minutes = 1, 0, 0

    def today(self) -> date:
        return DAY

    async def for_day(self, day: date) -> DailyReport:
        self.reads += 1
        return _report(self.orders, START + timedelta(hours=10, minutes=self.minutes, seconds=self.reads))


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each chart drawn: the orders it showed."""
    charts: list[int] = []

    def render(report: DailyReport, names: Names, wanted: Any = None) -> bytes:
        if wanted is not None and not wanted():
            raise Unwanted
        charts.append(report.orders)
        return b"\x89PNG" + bytes([report.orders])

    monkeypatch.setattr(telegram_report, "render_png", render)
    monkeypatch.setattr(telegram_report, "AHEAD_AFTER_S", 0.0)
    return charts


def _telegram(reports: Reports) -> TelegramReport:
    return TelegramReport(None, reports, 1001, Names.of(None, "ru"))  # type: ignore[arg-type]  # sends nothing


async def _png(telegram: TelegramReport) -> bytes:
    picture, _ = await telegram.photo(DAY)
    return bytes(picture.data)


def test_two_reports_a_second_apart_show_the_same() -> None:
    names = Names.of(None, "ru")
    assert shown(_report(3, START + timedelta(hours=10)), names) == shown(
        _report(3, START + timedelta(hours=10, seconds=1)), names
    )
    assert shown(_report(3, START + timedelta(hours=10)), names) != shown(
        _report(4, START + timedelta(hours=10)), names
    )
    a_minute_on = _report(3, START + timedelta(hours=10, minutes=1))  # the title says the minute
    assert shown(_report(3, START + timedelta(hours=10)), names) != shown(a_minute_on, names)


async def test_the_same_figures_are_not_drawn_twice_and_new_ones_are(drawn: list[int]) -> None:
    reports = Reports()
    telegram = _telegram(reports)
    assert await _png(telegram) == await _png(telegram) == b"\x89PNG\x01"
    assert drawn == [1]
    reports.orders = 2
    assert await _png(telegram) == b"\x89PNG\x02"
    assert drawn == [1, 2]


async def test_a_change_after_someone_asked_draws_today_ahead(drawn: list[int]) -> None:
    reports = Reports()
    telegram = _telegram(reports)
    reports.orders = 5
    telegram.day_changed()  # nobody asked yet: nothing is drawn for nobody
    await asyncio.sleep(0)
    assert drawn == [] and telegram.drawn_ahead == 0

    await _png(telegram)
    reports.orders = 6  # an order came in
    telegram.day_changed()
    telegram.day_changed()  # the same burst: one chart
    await _ahead(telegram)
    assert drawn == [5, 6] and telegram.drawn_ahead == 1
    assert await _png(telegram) == b"\x89PNG\x06"  # the next /report finds it drawn
    assert drawn == [5, 6]

    assert telegram._minute is not None  # the chart says the minute: it is drawn again as the minute turns
    reports.minutes = 1
    telegram._minute_turned()
    await _ahead(telegram)
    assert drawn == [5, 6, 6] and telegram.drawn_ahead == 2
    await telegram.close()
    assert telegram._minute is not None and telegram._minute.cancelled()


async def test_a_report_asked_while_it_is_drawn_ahead_waits_for_that_chart(
    drawn: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = Reports()
    telegram = _telegram(reports)
    await _png(telegram)
    release = asyncio.Event()
    started = asyncio.Event()

    def slow(report: DailyReport, names: Names, wanted: Any = None) -> bytes:
        if wanted is not None and not wanted():
            raise Unwanted
        drawn.append(report.orders)
        return b"\x89PNG" + bytes([report.orders])

    async def to_thread(function: Any, *args: Any) -> bytes:
        started.set()
        await release.wait()
        return bytes(function(*args))

    monkeypatch.setattr(telegram_report, "render_png", slow)
    monkeypatch.setattr(asyncio, "to_thread", to_thread)
    reports.orders = 7
    telegram.day_changed()
    await started.wait()  # the chart ahead is being drawn
    asked = asyncio.create_task(_png(telegram))
    await asyncio.sleep(0)
    release.set()
    assert await asked == b"\x89PNG\x07"
    await _ahead(telegram)
    assert drawn == [1, 7]


async def test_a_chart_drawn_ahead_is_given_up_when_a_report_asks_for_other_figures(
    drawn: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An order comes in while the chart ahead (of the figures before it) waits for its turn: the /report asking for
    the new figures does not wait for a chart nobody will see."""
    reports = Reports()
    telegram = _telegram(reports)
    await _png(telegram)
    release, started = asyncio.Event(), asyncio.Event()
    real_to_thread = asyncio.to_thread

    async def held(function: Any, *args: Any) -> bytes:
        if not started.is_set():  # the chart ahead: held until the test lets it go
            started.set()
            await release.wait()
        return bytes(await real_to_thread(function, *args))

    monkeypatch.setattr(asyncio, "to_thread", held)
    reports.orders = 8
    telegram.day_changed()
    await started.wait()
    reports.orders = 9  # another order, and the owner asks at once
    asked = asyncio.create_task(_png(telegram))
    await asyncio.sleep(0.01)
    release.set()
    assert await asked == b"\x89PNG\x09"
    await _ahead(telegram)
    assert drawn == [1, 9] and telegram.drawn_ahead == 0  # the chart of 8 orders was given up, not drawn


async def test_a_sandbox_expecting_the_report_draws_it_ahead_before_anyone_asked(drawn: list[int]) -> None:
    reports = Reports()
    telegram = _telegram(reports)
    telegram.expect_today()
    telegram.day_changed()
    await _ahead(telegram)
    assert drawn == [1] and await _png(telegram) == b"\x89PNG\x01" and drawn == [1]


async def _ahead(telegram: TelegramReport) -> None:
    running = telegram._ahead
    assert running is not None
    await running
