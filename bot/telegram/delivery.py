"""Delivers the office notices to Telegram: alerts to the owner (and, for some kinds, the
managers), recovery follow-ups, the managers' tasks with their buttons, and edits in place when
a task closes or an alert's repeat count grows. Notices are leased (one deliverer at a time) and
marked delivered only after Telegram took them; the pacer keeps within Telegram's limits and
waits out any 429, so no alert is dropped."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.types import InlineKeyboardMarkup, ReplyParameters

from bot.telegram import render
from bot.telegram.pacing import Pacer
from bot.texts import Locale
from workflows.alerts import AlertDesk
from workflows.office import alert_recipients, task_recipients
from workflows.office_model import Alert
from workflows.payloads import AlertNotice, TaskNotice
from workflows.ports import Clock, UnitOfWorkFactory
from workflows.tasks import Task
from workflows.topology import Topology
from workflows.vocabulary import OFFICE_TOPICS, NoticeTopic, TaskKind

log = logging.getLogger(__name__)

TOPICS = OFFICE_TOPICS
LEASE = timedelta(seconds=120)
COUNT_REFRESH = timedelta(seconds=60)  # an alert's repeat count is edited in at most once a minute


class TelegramDelivery:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        bot: Bot,
        topology: Topology,
        clock: Clock,
        locale: Locale,
        pacer: Pacer,
        alerts: AlertDesk,
    ) -> None:
        self._uow, self._bot, self._topology, self._clock, self._locale = uow, bot, topology, clock, locale
        self._alerts = alerts
        self.pacer = pacer
        self._tz = topology.onec.timezone
        self._running = asyncio.Lock()
        self._owner = f"telegram:{socket.gethostname()}:{os.getpid()}"

    async def run_once(self, limit: int = 50) -> int:
        async with self._running:
            sent = await self._notices(limit)
            await self._refresh_counts(limit)
            return sent

    async def _notices(self, limit: int) -> int:
        async with self._uow() as uow:
            now = self._clock.now()
            waiting = await uow.notices.claim(TOPICS, now, now + LEASE, self._owner, limit)
            await uow.commit()
        sent = 0
        for position, (notice_id, topic, payload) in enumerate(waiting):
            try:
                await self._deliver(topic, payload)
            except (TelegramAPIError, OSError, TimeoutError) as error:
                log.warning("telegram refused notice id=%s topic=%s: %s", notice_id, topic, error)
                async with self._uow() as uow:
                    await uow.notices.release([n for n, _, _ in waiting[position:]], self._owner)
                    await uow.commit()
                return sent
            async with self._uow() as uow:
                await uow.notices.delivered(notice_id, self._clock.now())
                await uow.commit()
            sent += 1
        return sent

    async def _deliver(self, topic: NoticeTopic, payload: dict[str, object]) -> None:
        people = self._topology.people
        async with self._uow(read_only=True) as uow:
            if topic in (NoticeTopic.ALERT, NoticeTopic.ALERT_RESOLVED):
                alert = await uow.alerts.get(AlertNotice.from_payload(payload).alert_id)
                task = await uow.tasks.get(alert.task_id) if alert and alert.task_id else None
            else:
                task = await uow.tasks.get(TaskNotice.from_payload(payload).task_id)
                alert = await uow.alerts.by_task(task.id) if task and task.id and task.kind == TaskKind.ALERT else None
            messages = await uow.tasks.messages(task.id) if task and task.id else []
        shown = [(chat, message) for platform, chat, message in messages if platform == "telegram"]
        if topic == NoticeTopic.ALERT and alert is not None:
            await self._post_alert(alert, task)
        elif topic == NoticeTopic.ALERT_RESOLVED and alert is not None:
            told = _first_in_each_chat(shown) or [(str(c), "") for c in alert_recipients(people, alert.kind)]
            for chat, message in told:
                text = render.resolved_text(alert, self._locale, self._tz)
                reply = ReplyParameters(message_id=int(message), allow_sending_without_reply=True) if message else None
                await self._send(int(chat), text, None, reply)
        elif topic == NoticeTopic.OFFICE_TASK and task is not None:
            markup = render.keyboard(task, self._locale)
            for person in task_recipients(people, task.assignee):
                message_id = await self._send(person, render.task_text(task, self._locale, self._tz), markup)
                if message_id is not None:
                    await self._remember(task, person, message_id)
        elif topic == NoticeTopic.OFFICE_TASK_CLOSED and task is not None:
            if alert is not None:
                body = render.alert_text(alert, task, self._locale, self._tz)
            else:
                body = render.task_text(task, self._locale, self._tz)
            for chat, message in shown:
                await self._edit(int(chat), int(message), body, None)

    async def _post_alert(self, alert: Alert, task: Task | None) -> None:
        text = render.alert_text(alert, task, self._locale, self._tz)
        markup = render.keyboard(task, self._locale) if task else None
        for chat in alert_recipients(self._topology.people, alert.kind):
            message_id = await self._send(chat, text, markup)
            if message_id is not None and task is not None:
                await self._remember(task, chat, message_id)
        await self._mark_shown(alert)

    async def _refresh_counts(self, limit: int) -> None:
        """Repeats since the message went out are edited into it, at most once a minute."""
        async with self._uow(read_only=True) as uow:
            stale = await uow.alerts.stale_counts(self._clock.now() - COUNT_REFRESH, limit)
            shown = {a.id: await uow.tasks.messages(a.task_id) if a.task_id else [] for a in stale}
            tasks = {a.id: await uow.tasks.get(a.task_id) if a.task_id else None for a in stale}
        for alert in stale:
            task = tasks[alert.id]
            text = render.alert_text(alert, task, self._locale, self._tz)
            markup = render.keyboard(task, self._locale) if task else None
            for platform, chat, message in shown[alert.id]:
                if platform == "telegram":
                    await self._edit(int(chat), int(message), text, markup)
            await self._mark_shown(alert)

    async def _mark_shown(self, alert: Alert) -> None:
        async with self._uow() as uow:
            await self._alerts.mark_shown(uow, alert, alert.count, self._clock.now())
            await uow.commit()

    async def _remember(self, task: Task, chat: int, message_id: int) -> None:
        assert task.id is not None
        async with self._uow() as uow:
            await uow.tasks.add_message(task.id, "telegram", str(chat), str(message_id))
            await uow.commit()

    async def _send(
        self, chat: int, text: str, markup: InlineKeyboardMarkup | None, reply: ReplyParameters | None = None
    ) -> int | None:
        try:
            sent = await self.pacer.send(
                chat, lambda: self._bot.send_message(chat, text, reply_markup=markup, reply_parameters=reply)
            )
        except TelegramForbiddenError:  # they blocked the bot or never started it: others still get it
            log.warning("telegram chat %s does not accept messages from the bot", chat)
            return None
        return sent.message_id

    async def _edit(self, chat: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None) -> None:
        try:
            await self.pacer.send(
                chat,
                lambda: self._bot.edit_message_text(
                    text=text, chat_id=chat, message_id=message_id, reply_markup=markup
                ),
            )
        except TelegramBadRequest as error:
            if "not modified" not in str(error) and "not found" not in str(error):
                raise
        except TelegramForbiddenError:
            log.warning("telegram chat %s does not accept messages from the bot", chat)


def _first_in_each_chat(shown: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """One message per chat, its earliest (Telegram numbers a chat's messages in order): a chat that shows a task
    several times (delivered, then sent again by /tasks) is told of it once, in reply to where it first was."""
    first: dict[str, str] = {}
    for chat, message in shown:
        if chat not in first or int(message) < int(first[chat]):
            first[chat] = message
    return list(first.items())
