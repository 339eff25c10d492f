"""Delivers the store notices to Slack: posts questions, reminders in their thread, and updates a
question in place when it closes. A notice is marked delivered only after Slack accepted it, so a
crash or a Slack outage delays a message but never loses it. Notices are leased before they are
sent, so two instances on one database never send the same one; only a crash between Slack's
answer and our commit can send one twice (after the lease runs out)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks
from bot.texts import Locale, text
from workflows.payloads import StoreQuestion, TaskNotice
from workflows.ports import Clock, UnitOfWork, UnitOfWorkFactory
from workflows.tasks import Task, TaskState
from workflows.topology import Topology
from workflows.vocabulary import STORE_TOPICS, NoticeTopic

log = logging.getLogger(__name__)

TOPICS = STORE_TOPICS
LEASE = timedelta(seconds=60)  # a notice Slack has not taken by then is tried again


class SlackDelivery:
    def __init__(
        self, uow: UnitOfWorkFactory, client: AsyncWebClient, topology: Topology, clock: Clock, locale: Locale
    ) -> None:
        self._uow, self._client, self._topology, self._clock, self._locale = uow, client, topology, clock, locale
        # One run at a time in this process: the scheduled run and the one a click starts would
        # otherwise both deliver the same notice (found by make bench: a message updated twice).
        self._running = asyncio.Lock()
        self._owner = f"slack:{socket.gethostname()}:{os.getpid()}"

    async def run_once(self, limit: int = 100) -> int:
        """Deliver what is waiting; returns how many notices went out."""
        async with self._running:
            return await self._run(limit)

    async def _run(self, limit: int) -> int:
        async with self._uow() as uow:
            now = self._clock.now()
            waiting = await uow.notices.claim(TOPICS, now, now + LEASE, self._owner, limit)
            await uow.commit()
        sent = 0
        for notice_id, topic, payload in waiting:
            task_id = TaskNotice.from_payload(payload).task_id
            try:
                async with self._uow() as uow:
                    posted_open = await self._deliver(uow, topic, task_id)
                    await uow.notices.delivered(notice_id, self._clock.now())
                    await uow.commit()
                sent += 1
                if posted_open:
                    await self._recheck(task_id)
            except SlackApiError as error:  # hand this one and the rest back to the next run
                log.warning("slack refused notice id=%s topic=%s: %s", notice_id, topic, error.response.get("error"))
                async with self._uow() as uow:
                    await uow.notices.release([n for n, _, _ in waiting[sent:]], self._owner)
                    await uow.commit()
                return sent
        return sent

    async def _recheck(self, task_id: int) -> None:
        """A question just posted as open may have closed meanwhile, its closing notice handled
        (and skipped, nothing posted yet) by another instance: show it closed now."""
        async with self._uow(read_only=True) as uow:
            task = await uow.tasks.get(task_id)
            shown = [(chat, ts) for platform, chat, ts in await uow.tasks.messages(task_id) if platform == "slack"]
        if task is None or task.state == TaskState.OPEN:
            return
        store = self._topology.warehouse(StoreQuestion.from_payload(task.payload).store)
        for chat, ts in shown:
            fallback, blocks_ = blocks.closed(task, self._locale, store.timezone if store else "UTC")
            await self._client.chat_update(channel=chat, ts=ts, text=fallback, blocks=blocks_)

    async def _deliver(self, uow: UnitOfWork, topic: NoticeTopic, task_id: int) -> bool:
        """Send one notice; ``True`` when it posted a question showing the task open."""
        task = await uow.tasks.get(task_id)
        if task is None:
            return False
        code = StoreQuestion.from_payload(task.payload).store
        store = self._topology.warehouse(code)
        if store is None or not store.slack_channel:
            log.warning("store %s has no slack_channel; question for task %s not sent", code, task_id)
            return False
        posted = {chat: ts for platform, chat, ts in await uow.tasks.messages(task_id) if platform == "slack"}
        if topic == NoticeTopic.STORE_QUESTION and store.slack_channel not in posted:
            # a task closed before its question went out is shown closed straight away
            render = blocks.question if task.state == TaskState.OPEN else blocks.closed
            fallback, shown = render(task, self._locale, store.timezone)
            response = await self._client.chat_postMessage(channel=store.slack_channel, text=fallback, blocks=shown)
            await uow.tasks.add_message(task_id, "slack", store.slack_channel, str(response["ts"]))
            return task.state == TaskState.OPEN
        elif topic == NoticeTopic.STORE_REMINDER and store.slack_channel in posted:
            await self._client.chat_postMessage(
                channel=store.slack_channel,
                thread_ts=posted[store.slack_channel],
                text=self._reminder(task, store.timezone),
            )
        elif topic == NoticeTopic.TASK_CLOSED and store.slack_channel in posted:
            fallback, shown = blocks.closed(task, self._locale, store.timezone)
            await self._client.chat_update(
                channel=store.slack_channel, ts=posted[store.slack_channel], text=fallback, blocks=shown
            )
        return False

    def _reminder(self, task: Task, timezone: str) -> str:
        order = StoreQuestion.from_payload(task.payload).external_id
        return text(self._locale, "reminder", order=order, deadline=blocks.local_time(task.deadline, timezone))
