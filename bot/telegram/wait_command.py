"""``/wait <order> <date>``: a manager names the day the goods of an order nobody could fill arrive, and the question
about it comes back that morning (10:00 in the shop's time zone) instead of after the default wait.

The date is ``ДД.ММ`` (the next such day from today), ``ДД.ММ.ГГГГ`` or ``ГГГГ-ММ-ДД``; it must be after today."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.telegram.render import clock_time
from bot.telegram.texts import tg
from bot.texts import Locale
from workflows.errors import OrderNotFound
from workflows.order_lookup import OrderLookup
from workflows.unfillable import InvalidWait, NothingToWait, UnfillableDesk

ASK_AT = time(10, 0)  # the morning of the delivery day, in the shop's time zone
_DAY_MONTH = re.compile(r"(\d{1,2})\.(\d{1,2})(?:\.(\d{4}))?")


def delivery_day(text: str, today: date) -> date | None:
    """The day ``text`` names (``05.12``, ``05.12.2026``, ``2026-12-05``), or ``None`` when it names none. A day and
    month without a year are the next such day from ``today`` (``today`` itself included)."""
    text = text.strip()
    try:
        if found := _DAY_MONTH.fullmatch(text):
            day, month, year = int(found.group(1)), int(found.group(2)), found.group(3)
            if year is not None:
                return date(int(year), month, day)
            named = date(today.year, month, day)
            return named if named >= today else date(today.year + 1, month, day)
        return date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:  # 31.02 and the like
        return None


def wait_command(router: Router, desk: UnfillableDesk, lookup: OrderLookup, timezone: str, locale: Locale) -> None:
    """Register ``/wait`` on ``router`` (before its catch-all handler, which answers anything else with the help)."""
    zone = ZoneInfo(timezone)

    @router.message(Command("wait", ignore_case=True))
    async def wait(message: Message, command: CommandObject) -> None:
        parts = (command.args or "").split()
        if len(parts) != 2:
            await message.answer(tg(locale, "usage.wait"))
            return
        reference, typed = parts
        today = desk.now().astimezone(zone).date()
        day = delivery_day(typed, today)
        if day is None or day <= today:
            await message.answer(tg(locale, "wait.bad_date", date=typed[:20]))
            return
        order = await lookup.one(reference)
        if order is None or order.id is None:
            await message.answer(tg(locale, "unknown.order", order=reference[:100]))
            return
        by = f"manager:{message.from_user.id if message.from_user else 0}"
        try:
            until = await desk.wait_until(order.id, datetime.combine(day, ASK_AT, zone), by)
        except (NothingToWait, OrderNotFound):
            await message.answer(tg(locale, "wait.nothing", order=order.external_id or order.id))
            return
        except InvalidWait:
            await message.answer(tg(locale, "wait.bad_date", date=typed[:20]))
            return
        await message.answer(
            tg(locale, "wait.set", order=order.external_id or order.id, when=clock_time(until, timezone))
        )
