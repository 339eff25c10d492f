"""The daily report in Telegram: ``/report [yesterday | YYYY-MM-DD]`` answers the person who
asked (today so far by default), and the scheduled send puts yesterday's report in the owner's
chat once a day, however many instances run the job. Both are one photo (the chart) with the
summary as its caption.

The chart is the answer's slow part (a fifth of a second of CPU, more on a busy machine). The last one drawn is
kept with what it shows (:func:`bot.report_chart.shown`): a report that would show the same is answered with it.
Whoever learns that the day's figures changed may say so (:meth:`TelegramReport.day_changed`, the sandbox does on
each commit that adds an order, an order's event, a task or an alert); for a while after someone asked for today's
report, today's chart is then drawn again ahead, in the background, once the figures have stopped changing for a moment
(:data:`AHEAD_AFTER_S`: a burst of writes is drawn once, after it, not in the middle of the work it is part of),
and again as the minute turns (the chart says the minute it is of), so the next ``/report`` finds it drawn."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import TypeVar

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message

from bot.report_chart import Unwanted, caption, render_png, shown, warm_up
from bot.telegram.pacing import Pacer
from bot.telegram.texts import tg
from bot.texts import Locale
from bot.wording import Names
from workflows.daily_report import DailyReport, DailyReports

log = logging.getLogger(__name__)
T = TypeVar("T")

CAPTION_LIMIT = 1024  # Telegram's, for a photo's caption
YESTERDAY = ("yesterday", "вчера")
TODAY = ("", "today", "сегодня")
AHEAD_FOR_S = 15 * 60  # after today's report was asked for, its chart is drawn ahead this long (loop seconds)
MINUTE_LATE_S = 0.05  # drawn again this long after the minute turned, so the report says the new one
AHEAD_AFTER_S = 0.3  # drawn ahead once the figures have not changed for this long: after a burst, not in it


class TelegramReport:
    def __init__(
        self, bot: Bot, reports: DailyReports, owner_chat: int | None, names: Names, pacer: Pacer | None = None
    ) -> None:
        """``names``: the topology's titles in the report's language (the locale is theirs); ``pacer``: the
        deliveries', whose count of each chat's second the photo keeps to (:meth:`Pacer.turn`)."""
        self._bot, self._reports, self._owner_chat, self._names = bot, reports, owner_chat, names
        self._pacer = pacer
        self._instance = f"{socket.gethostname()}:{os.getpid()}"
        self._drawn: tuple[object, asyncio.Future[bytes]] | None = None  # the last chart: what it shows, its PNG
        self._today_asked_at: float | None = None  # the loop's time today's report was last asked for
        self._ahead: asyncio.Task[None] | None = None
        self._again = False
        self._changed_at = 0.0  # the loop's time the day's figures were last said to change
        self._minute: asyncio.TimerHandle | None = None  # today's chart drawn again as the minute turns
        self.drawn_ahead = 0  # charts drawn ahead (for the tests)

    @property
    def reports(self) -> DailyReports:
        return self._reports

    async def photo(self, day: date) -> tuple[BufferedInputFile, str]:
        if day == self._reports.today():
            self._today_asked_at = asyncio.get_running_loop().time()
        report = await self._reports.for_day(day)
        png = await self._chart(report)
        return BufferedInputFile(png, filename=f"report-{day.isoformat()}.png"), _caption(report, self._names)

    async def _chart(self, report: DailyReport, *, ahead: bool = False) -> bytes:
        """The report's chart: the last one drawn (or being drawn) if it shows the same, else drawn now, in a worker
        thread (the event loop stays free). One drawn ``ahead`` is given up (:class:`Unwanted`) once another is asked
        for, so a /report does not wait behind a chart nobody will see; one asked for then draws its own."""
        showing = shown(report, self._names)
        if self._drawn is not None and self._drawn[0] == showing:
            try:
                return await asyncio.shield(self._drawn[1])
            except Unwanted:
                if ahead:
                    raise
                return await self._chart(report)  # it was given up meanwhile: this one is wanted
        wanted = (lambda: self._drawn is not None and self._drawn[0] == showing) if ahead else None
        drawing = asyncio.ensure_future(asyncio.to_thread(render_png, report, self._names, wanted))
        self._drawn = (showing, drawing)
        try:
            return await asyncio.shield(drawing)
        except Exception:
            if self._drawn is not None and self._drawn[1] is drawing:
                self._drawn = None  # the next asks again
            raise

    def _next_minute(self) -> None:
        """Today's chart says the minute it is of: while it is drawn ahead, it is drawn again as the minute turns."""
        if self._minute is not None:
            self._minute.cancel()
        loop = asyncio.get_running_loop()
        turn = 60.0 - time.time() % 60.0 + MINUTE_LATE_S
        self._minute = loop.call_later(turn, self._minute_turned)

    def _minute_turned(self) -> None:
        self._minute = None
        self.day_changed(settled=True)

    def expect_today(self) -> None:
        """As if today's report had just been asked for: changes draw it ahead from now on, for a while (the sandbox,
        whose console has the owner's /report a click away, says so when it starts)."""
        self._today_asked_at = asyncio.get_running_loop().time()

    def day_changed(self, *, settled: bool = False) -> None:
        """The day's figures may have changed: if today's report was asked for lately, draw its chart again ahead
        (once more if told again meanwhile, never twice at once); ``settled``: no burst to wait out (the minute)."""
        loop, asked = asyncio.get_running_loop(), self._today_asked_at
        if asked is None or loop.time() - asked > AHEAD_FOR_S:
            return
        self._changed_at = max(self._changed_at, loop.time() - (AHEAD_AFTER_S if settled else 0.0))
        if self._ahead is not None and not self._ahead.done():
            self._again = True
            return
        self._ahead = asyncio.create_task(self._draw_ahead())

    async def _draw_ahead(self) -> None:
        loop = asyncio.get_running_loop()
        again = True
        while again:
            while (quiet_in := self._changed_at + AHEAD_AFTER_S - loop.time()) > 0:  # noqa: ASYNC110 - a moving deadline
                await asyncio.sleep(quiet_in)
            self._again = False
            try:
                await self._chart(await self._reports.for_day(self._reports.today()), ahead=True)
                self.drawn_ahead += 1
                self._next_minute()
            except Unwanted:  # something else was asked for meanwhile
                pass
            except Exception:  # the next /report draws it itself
                log.exception("drawing today's report ahead failed")
            again = self._again

    async def close(self) -> None:
        """Stop drawing ahead (the database goes away after this)."""
        if self._minute is not None:
            self._minute.cancel()
        if self._ahead is not None:
            self._ahead.cancel()
            await asyncio.gather(self._ahead, return_exceptions=True)

    async def paced(self, chat: int, send: Callable[[], Awaitable[T]]) -> T:
        """``send`` (the photo to ``chat``) in the chat's turn at the deliveries' pacer, if there is one."""
        if self._pacer is None:
            return await send()
        await self._pacer.turn(chat)
        try:
            return await send()
        finally:
            self._pacer.took(chat)

    async def warm_up(self) -> None:
        """The first chart of a process is the slowest (matplotlib's fonts and caches): drawn ahead, in a worker
        thread, the first ``/report`` is as quick as the others."""
        await asyncio.to_thread(warm_up, self._names)

    async def send_scheduled(self) -> bool:
        """The scheduled job: yesterday's report to the owner; ``True`` if this call sent it."""
        if self._owner_chat is None:
            return False
        day = self._reports.today() - timedelta(days=1)
        if not await self._reports.claim_delivery(day, self._instance):
            return False
        try:
            picture, text = await self.photo(day)
            owner = self._owner_chat
            await self.paced(owner, lambda: self._bot.send_photo(owner, picture, caption=text))
        except (TelegramAPIError, OSError, TimeoutError) as error:
            log.warning("daily report for %s not sent: %s", day, error)
            await self._reports.delivery_done(day, sent=False)
            return False
        except BaseException:
            await self._reports.delivery_done(day, sent=False)
            raise
        await self._reports.delivery_done(day, sent=True)
        log.info("daily report for %s sent to the owner", day)
        return True


def report_router(report: TelegramReport, locale: Locale) -> Router:
    router = Router(name="report")

    @router.message(Command("report", ignore_case=True))
    async def report_command(message: Message, command: CommandObject) -> None:
        day = _day(command.args, report.reports.today())
        if day is None or day > report.reports.today():
            await message.answer(tg(locale, "usage.report"))
            return
        picture, text = await report.photo(day)
        await report.paced(message.chat.id, lambda: message.answer_photo(picture, caption=text))

    return router


def _day(args: str | None, today: date) -> date | None:
    raw = (args or "").strip().lower()
    if raw in TODAY:
        return today
    if raw in YESTERDAY:
        return today - timedelta(days=1)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _caption(report: DailyReport, names: Names) -> str:
    text = caption(report, names)
    return text if len(text) <= CAPTION_LIMIT else text[: CAPTION_LIMIT - 1] + "…"
