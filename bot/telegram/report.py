"""The daily report in Telegram: ``/report [yesterday | YYYY-MM-DD]`` answers the person who
asked (today so far by default), and the scheduled send puts yesterday's report in the owner's
chat once a day, however many instances run the job. Both are one photo (the chart) with the
summary as its caption."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import date, timedelta

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message

from bot.report_chart import caption, render_png, warm_up
from bot.telegram.texts import tg
from bot.texts import Locale
from bot.wording import Names
from workflows.daily_report import DailyReport, DailyReports

log = logging.getLogger(__name__)

CAPTION_LIMIT = 1024  # Telegram's, for a photo's caption
YESTERDAY = ("yesterday", "вчера")
TODAY = ("", "today", "сегодня")


class TelegramReport:
    def __init__(self, bot: Bot, reports: DailyReports, owner_chat: int | None, names: Names) -> None:
        """``names``: the topology's titles in the report's language (the locale is theirs)."""
        self._bot, self._reports, self._owner_chat, self._names = bot, reports, owner_chat, names
        self._instance = f"{socket.gethostname()}:{os.getpid()}"

    @property
    def reports(self) -> DailyReports:
        return self._reports

    async def photo(self, day: date) -> tuple[BufferedInputFile, str]:
        report = await self._reports.for_day(day)
        png = await asyncio.to_thread(render_png, report, self._names)  # keeps the event loop free
        return BufferedInputFile(png, filename=f"report-{day.isoformat()}.png"), _caption(report, self._names)

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
            await self._bot.send_photo(self._owner_chat, picture, caption=text)
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
        await message.answer_photo(picture, caption=text)

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
