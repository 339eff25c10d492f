"""Delivers the store notices to Slack: posts questions, reminders in their thread, and updates a
question in place when it closes. A notice is marked delivered only after Slack accepted it, so a
crash or a Slack outage delays a message but never loses it. Notices are leased before they are
sent (a short lease, renewed while this run works: :mod:`workflows.leases`), so two instances on
one database never send the same one at once.

A crash or a timeout between Slack's taking a question and our commit leaves a question Slack
shows although we never learnt its ``ts``. Every question is posted with message metadata naming
its task, and the first attempt's time is kept on the notice; before a question is posted again,
the store channel's history since then is read (``conversations.history`` with
``include_all_metadata``) and a message of that task is taken over — updated in place — instead of
posting a second copy. A reminder is posted with metadata naming its notice in the same way; one
attempted before is first looked for in the question's thread (``conversations.replies``), so a
crash does not leave two reminders either."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks
from bot.texts import Locale
from workflows.leases import LEASE, HeldLeases
from workflows.payloads import TaskNotice
from workflows.ports import Clock, LeaseKind, UnitOfWorkFactory
from workflows.tasks import Task, TaskState
from workflows.topology import Topology, Warehouse
from workflows.vocabulary import STORE_TOPICS, NoticeTopic, assigned_store

log = logging.getLogger(__name__)

TOPICS = STORE_TOPICS
# Our clock and Slack's may differ: the history read for an unheard question starts this long before its first attempt.
CLOCK_SKEW = timedelta(minutes=5)
HISTORY_PAGE = 200  # messages a history page asks for (Slack's recommended most)
HISTORY_PAGES = 10  # pages read at most looking for one question (a store channel has a few messages a minute)
# Slack will not let the bot read the channel's history: the question is posted again rather than never.
_CANNOT_READ = ("missing_scope", "not_in_channel", "channel_not_found", "not_allowed_token_type")
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
        self, uow: UnitOfWorkFactory, client: AsyncWebClient, topology: Topology, clock: Clock, locale: Locale,
        *, owner: str | None = None, held: HeldLeases | None = None,
    ) -> None:  # fmt: skip
        self._uow, self._client, self._topology, self._clock, self._locale = uow, client, topology, clock, locale
        # One run at a time in this process: the scheduled run and the one a click starts would
        # otherwise both deliver the same notice (found by make bench: a message updated twice).
        self._running = asyncio.Lock()
        self._owner = owner or f"slack:{socket.gethostname()}:{os.getpid()}"
        self._held = held if held is not None else HeldLeases()  # renewed while this run delivers them
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
        with self._held.holding(LeaseKind.NOTICE, [(notice_id,) for notice_id, _, _ in waiting]):
            return await self._send(waiting)

    async def _send(self, waiting: list[tuple[int, NoticeTopic, dict[str, object]]]) -> int:
        sent = 0
        for notice_id, topic, payload in waiting:
            task_id = TaskNotice.from_payload(payload).task_id
            try:
                posted = await self._deliver(notice_id, topic, task_id)
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

    async def _deliver(self, notice_id: int, topic: NoticeTopic, task_id: int) -> _Posted | None:
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
            return await self._post_question(notice_id, task, store)
        elif topic == NoticeTopic.STORE_REMINDER and store.slack_channel in posted and self._still_due(task):
            await self._post_reminder(notice_id, task, store, posted[store.slack_channel])
        elif topic == NoticeTopic.TASK_CLOSED and store.slack_channel in posted:
            fallback, shown = blocks.closed(task, self._locale, store.timezone)
            await self._client.chat_update(
                channel=store.slack_channel, ts=posted[store.slack_channel], text=fallback, blocks=shown
            )
        return None

    async def _post_question(self, notice_id: int, task: Task, store: Warehouse) -> _Posted:
        """Post a store's question with metadata naming its task — or, when an earlier attempt may have reached
        Slack unheard, take over the message it left (found in the channel's history) and update it instead."""
        assert task.id is not None
        assert store.slack_channel
        channel, metadata = store.slack_channel, blocks.question_metadata(task.id)
        # a task closed before its question went out is shown closed straight away
        render = blocks.question if task.state == TaskState.OPEN else blocks.closed
        fallback, shown = render(task, self._locale, store.timezone)
        async with self._uow() as uow:
            earlier = await uow.notices.attempt(notice_id, self._clock.now())
            await uow.commit()
        found = await self._find_question(channel, task.id, earlier) if earlier is not None else None
        if found is not None:
            await self._client.chat_update(channel=channel, ts=found, text=fallback, blocks=shown, metadata=metadata)
            log.info("slack: task %s's question was already in %s (ts %s); taken over, not posted again",
                     task.id, channel, found)  # fmt: skip
            return _Posted(channel, found, task.state == TaskState.OPEN)
        response = await self._client.chat_postMessage(channel=channel, text=fallback, blocks=shown, metadata=metadata)
        return _Posted(channel, str(response["ts"]), task.state == TaskState.OPEN)

    async def _post_reminder(self, notice_id: int, task: Task, store: Warehouse, thread: str) -> None:
        """Post a reminder in the question's thread with metadata naming its notice — unless an earlier attempt,
        whose answer we never heard, already put it there."""
        assert task.id is not None
        assert store.slack_channel
        async with self._uow() as uow:
            earlier = await uow.notices.attempt(notice_id, self._clock.now())
            await uow.commit()
        if earlier is not None and await self._find_reminder(store.slack_channel, thread, notice_id):
            log.info("slack: task %s's reminder was already in its thread; not posted again", task.id)
            return
        await self._client.chat_postMessage(
            channel=store.slack_channel,
            thread_ts=thread,
            text=blocks.reminder(task, self._locale, store.timezone),
            metadata=blocks.reminder_metadata(task.id, notice_id),
        )

    async def _find_reminder(self, channel: str, thread: str, notice_id: int) -> bool:
        """Whether the reminder of ``notice_id`` is in the thread of the question ``thread`` in ``channel``."""
        read = functools.partial(self._client.conversations_replies, channel=channel, ts=thread)
        async for messages in self._pages(read, f"a thread in {channel}", "a reminder"):
            if any(blocks.shows_reminder(m, notice_id) for m in messages):
                return True
        return False

    async def _find_question(self, channel: str, task_id: int, since: datetime) -> str | None:
        """The ``ts`` of the question of ``task_id`` in ``channel`` posted since ``since`` (our clock), if any."""
        oldest = f"{(since - CLOCK_SKEW).timestamp():.6f}"
        read = functools.partial(self._client.conversations_history, channel=channel, oldest=oldest)
        async for messages in self._pages(read, f"{channel}'s history", f"task {task_id}'s question"):
            found = next((str(m["ts"]) for m in messages if blocks.shows_question(m, task_id)), None)
            if found is not None:
                return found
        return None

    async def _pages(
        self, read: Callable[..., Awaitable[Any]], where: str, looking_for: str
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The messages of ``read`` (``conversations.history`` or ``.replies``, with metadata) page by page, up to
        ``HISTORY_PAGES``; none when Slack will not let the bot read there (what was looked for is posted again)."""
        cursor = None
        for _ in range(HISTORY_PAGES):
            try:
                page = await read(include_all_metadata=True, limit=HISTORY_PAGE, cursor=cursor)
            except SlackApiError as error:
                if _reason(error) not in _CANNOT_READ:
                    raise  # Slack is in trouble: the notice waits for the next run
                log.warning("slack: cannot read %s (%s) to find %s; it is posted again", where, _reason(error),
                            looking_for)  # fmt: skip
                return
            yield page.get("messages") or []
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or cursor is None:
                return

    def _still_due(self, task: Task) -> bool:
        """A reminder that reaches Slack only after its question closed or its time ran out (Slack was down) would
        ask for an answer by a time gone by: it is dropped."""
        return task.state == TaskState.OPEN and self._clock.now() < task.deadline
