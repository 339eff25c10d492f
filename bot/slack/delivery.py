"""Delivers the store notices to Slack: posts questions, reminders in their thread, and updates a
question in place when it closes. A notice is marked delivered only after Slack accepted it, so a
crash or a Slack outage delays a message but never loses it (it may, rarely, post it twice)."""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks
from bot.texts import Locale, text
from workflows.ports import Clock, UnitOfWork, UnitOfWorkFactory
from workflows.tasks import Task, TaskState
from workflows.topology import Topology

log = logging.getLogger(__name__)

TOPICS = ("store_question", "store_reminder", "task_closed")


class SlackDelivery:
    def __init__(
        self, uow: UnitOfWorkFactory, client: AsyncWebClient, topology: Topology, clock: Clock, locale: Locale
    ) -> None:
        self._uow, self._client, self._topology, self._clock, self._locale = uow, client, topology, clock, locale
        # One run at a time in this process: the scheduled run and the one a click starts would
        # otherwise both deliver the same notice (found by make bench: a message updated twice).
        self._running = asyncio.Lock()

    async def run_once(self, limit: int = 100) -> int:
        """Deliver what is waiting; returns how many notices went out."""
        async with self._running:
            return await self._run(limit)

    async def _run(self, limit: int) -> int:
        async with self._uow(read_only=True) as uow:
            waiting = await uow.notices.undelivered(limit, TOPICS)
        sent = 0
        for notice_id, topic, payload in waiting:
            try:
                async with self._uow() as uow:
                    await self._deliver(uow, topic, int(str(payload["task_id"])))
                    await uow.notices.delivered(notice_id, self._clock.now())
                    await uow.commit()
                sent += 1
            except SlackApiError as error:  # try again on the next run
                log.warning("slack refused notice id=%s topic=%s: %s", notice_id, topic, error.response.get("error"))
                return sent
        return sent

    async def _deliver(self, uow: UnitOfWork, topic: str, task_id: int) -> None:
        task = await uow.tasks.get(task_id)
        if task is None:
            return
        store = self._topology.warehouse(str(task.payload["store"]))
        if store is None or not store.slack_channel:
            log.warning("store %s has no slack_channel; question for task %s not sent", task.payload["store"], task_id)
            return
        posted = {chat: ts for platform, chat, ts in await uow.tasks.messages(task_id) if platform == "slack"}
        if topic == "store_question" and store.slack_channel not in posted:
            # a task closed before its question went out is shown closed straight away
            render = blocks.question if task.state == TaskState.OPEN else blocks.closed
            fallback, shown = render(task, self._locale, store.timezone)
            response = await self._client.chat_postMessage(channel=store.slack_channel, text=fallback, blocks=shown)
            await uow.tasks.add_message(task_id, "slack", store.slack_channel, str(response["ts"]))
        elif topic == "store_reminder" and store.slack_channel in posted:
            await self._client.chat_postMessage(
                channel=store.slack_channel,
                thread_ts=posted[store.slack_channel],
                text=self._reminder(task, store.timezone),
            )
        elif topic == "task_closed" and store.slack_channel in posted:
            fallback, shown = blocks.closed(task, self._locale, store.timezone)
            await self._client.chat_update(
                channel=store.slack_channel, ts=posted[store.slack_channel], text=fallback, blocks=shown
            )

    def _reminder(self, task: Task, timezone: str) -> str:
        order = task.payload.get("external_id", task.payload.get("order_id"))
        return text(self._locale, "reminder", order=order, deadline=blocks.local_time(task.deadline, timezone))
