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
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks
from bot.texts import Locale
from workflows.payloads import TaskNotice
from workflows.ports import Clock, UnitOfWorkFactory
from workflows.tasks import Task, TaskState
from workflows.topology import Topology
from workflows.vocabulary import STORE_TOPICS, NoticeTopic, assigned_store

log = logging.getLogger(__name__)

TOPICS = STORE_TOPICS
LEASE = timedelta(seconds=60)  # a notice Slack has not taken by then is tried again
# Slack refused, timed out (SLACK_TIMEOUT_S) or could not be reached: the notice waits for the next run.
_SLACK_FAILED = (SlackClientError, aiohttp.ClientError, OSError, TimeoutError)


@dataclass(frozen=True)
class _Posted:
    """A question's message as Slack took it, and whether it showed the task open."""

    channel: str
    ts: str
    open: bool


def _reason(error: Exception) -> str:
    if isinstance(error, SlackApiError):  # a 5xx from a proxy has no JSON body
        data = error.response.data
        return str(data.get("error")) if isinstance(data, dict) else f"HTTP {error.response.status_code}"
    return type(error).__name__


class SlackDelivery:
    def __init__(
        self, uow: UnitOfWorkFactory, client: AsyncWebClient, topology: Topology, clock: Clock, locale: Locale
    ) -> None:
        self._uow, self._client, self._topology, self._clock, self._locale = uow, client, topology, clock, locale
        # One run at a time in this process: the scheduled run and the one a click starts would
        # otherwise both deliver the same notice (found by make bench: a message updated twice).
        self._running = asyncio.Lock()
        self._owner = f"slack:{socket.gethostname()}:{os.getpid()}"
        self._background: set[asyncio.Task[None]] = set()

    async def run_once(self, limit: int = 100) -> int:
        """Deliver what is waiting; returns how many notices went out."""
        async with self._running:
            return await self._run(limit)

    def kick(self) -> None:
        """Deliver soon, in the background: a click is answered without waiting for Slack."""
        self._start(self._background_run())

    def whisper(self, channel: str, user: str, message: str) -> None:
        """Show ``message`` to ``user`` alone, in the background. It is a hint to whoever clicked, not a
        notice: one that Slack does not take is logged and not tried again."""
        self._start(self._whisper(channel, user, message))

    def _start(self, work: Coroutine[object, object, None]) -> None:
        run = asyncio.create_task(work)
        self._background.add(run)
        run.add_done_callback(self._background.discard)

    async def settled(self) -> None:
        """Wait until the background runs started by :meth:`kick` are over."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def close(self) -> None:
        """Cancel background runs (the database goes away after this); a cancelled notice's lease runs out."""
        for run in list(self._background):
            run.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def _background_run(self) -> None:
        try:
            await self.run_once()
        except Exception:  # the scheduled run tries again; a click's answer is not the place to fail
            log.exception("slack delivery after a click failed")

    async def _whisper(self, channel: str, user: str, message: str) -> None:
        try:
            await self._client.chat_postEphemeral(channel=channel, user=user, text=message)
        except _SLACK_FAILED as error:
            log.warning("slack did not take a reply to a click in %s: %s", channel, _reason(error))

    async def _run(self, limit: int) -> int:
        # Slack is called outside any transaction: on SQLite a write transaction holds the process's
        # write lock, and a slow Slack would stall every order and stock figure behind it.
        async with self._uow() as uow:
            now = self._clock.now()
            waiting = await uow.notices.claim(TOPICS, now, now + LEASE, self._owner, limit)
            await uow.commit()
        sent = 0
        for notice_id, topic, payload in waiting:
            task_id = TaskNotice.from_payload(payload).task_id
            try:
                posted = await self._deliver(topic, task_id)
                await self._settle(notice_id, task_id, posted)
                sent += 1
                if posted is not None and posted.open:
                    await self._recheck(task_id)
            except _SLACK_FAILED as error:  # hand this one and the rest back to the next run
                log.warning("slack did not take notice id=%s topic=%s: %s", notice_id, topic, _reason(error))
                async with self._uow() as uow:
                    await uow.notices.release([n for n, _, _ in waiting[sent:]], self._owner)
                    await uow.commit()
                return sent
        return sent

    async def _settle(self, notice_id: int, task_id: int, posted: _Posted | None) -> None:
        """Record what Slack took: the question's message, and the notice as delivered."""
        async with self._uow() as uow:
            if posted is not None:
                await uow.tasks.add_message(task_id, "slack", posted.channel, posted.ts)
            await uow.notices.delivered(notice_id, self._clock.now())
            await uow.commit()

    async def _recheck(self, task_id: int) -> None:
        """A question just posted as open may have closed meanwhile, its closing notice handled
        (and skipped, nothing posted yet) by another instance: show it closed now."""
        async with self._uow(read_only=True) as uow:
            task = await uow.tasks.get(task_id)
            shown = [(chat, ts) for platform, chat, ts in await uow.tasks.messages(task_id) if platform == "slack"]
        if task is None or task.state == TaskState.OPEN:
            return
        store = self._topology.warehouse(assigned_store(task.assignee) or "")
        for chat, ts in shown:
            fallback, blocks_ = blocks.closed(task, self._locale, store.timezone if store else "UTC")
            await self._client.chat_update(channel=chat, ts=ts, text=fallback, blocks=blocks_)

    async def _deliver(self, topic: NoticeTopic, task_id: int) -> _Posted | None:
        """Send one notice; the question's message when it posted one."""
        async with self._uow(read_only=True) as uow:
            task = await uow.tasks.get(task_id)
            messages = await uow.tasks.messages(task_id) if task is not None else []
        if task is None:
            return None
        code = assigned_store(task.assignee) or ""  # the store's (or a warehouse's) question in its channel
        store = self._topology.warehouse(code)
        if store is None or not store.slack_channel:
            log.warning("store %s has no slack_channel; question for task %s not sent", code, task_id)
            return None
        posted = {chat: ts for platform, chat, ts in messages if platform == "slack"}
        if topic == NoticeTopic.STORE_QUESTION and store.slack_channel not in posted:
            # a task closed before its question went out is shown closed straight away
            render = blocks.question if task.state == TaskState.OPEN else blocks.closed
            fallback, shown = render(task, self._locale, store.timezone)
            response = await self._client.chat_postMessage(channel=store.slack_channel, text=fallback, blocks=shown)
            return _Posted(store.slack_channel, str(response["ts"]), task.state == TaskState.OPEN)
        elif topic == NoticeTopic.STORE_REMINDER and store.slack_channel in posted and self._still_due(task):
            await self._client.chat_postMessage(
                channel=store.slack_channel,
                thread_ts=posted[store.slack_channel],
                text=blocks.reminder(task, self._locale, store.timezone),
            )
        elif topic == NoticeTopic.TASK_CLOSED and store.slack_channel in posted:
            fallback, shown = blocks.closed(task, self._locale, store.timezone)
            await self._client.chat_update(
                channel=store.slack_channel, ts=posted[store.slack_channel], text=fallback, blocks=shown
            )
        return None

    def _still_due(self, task: Task) -> bool:
        """A reminder that reaches Slack only after its question closed or its time ran out (Slack was down) would
        ask for an answer by a time gone by: it is dropped."""
        return task.state == TaskState.OPEN and self._clock.now() < task.deadline
