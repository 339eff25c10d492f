"""Alerts to the owner: one message per episode, however often the failure repeats.

An alert has a key (``onec_silent``, ``store_cascade_exhausted:order:12``, ``sync_failing:wildberries``).
The first failure opens an episode and queues one message; repeats only count (the message's
count is refreshed at most once a minute by the Telegram adapter); the recovery closes the
episode and queues one follow-up. The message carries ``ack`` / ``mute`` buttons — a task of kind
``alert`` — and a muted key raises no new message until the mute ends (an episode that began
muted and is still going then is told at its next repeat; one that ended meanwhile never is).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from workflows.office_model import Alert
from workflows.payloads import AlertNotice, AlertTask
from workflows.ports import Clock, UnitOfWork
from workflows.tasks import Deadline, Decision, Task, TaskBoard, TaskState, expire, notify_closed
from workflows.vocabulary import Assignee, NoticeTopic, TaskKind

KIND = TaskKind.ALERT
OPTIONS = ("ack", "mute")
OPEN, RESOLVED = "open", "resolved"
TASK_ESCALATED = "task_escalated"  # the kind of alert that says an office task went to the owner


KEY_LIMIT = 200  # an alert's task is about "alert:<key>", kept in a 255-character column


def alert_key(*parts: str) -> str:
    """An alert's key from its parts (kind first). One longer than :data:`KEY_LIMIT` — a 255-character
    article, say — keeps its head and ends in a digest of the whole, so it stays unique and fits."""
    key = ":".join(parts)
    if len(key) <= KEY_LIMIT:
        return key
    return f"{key[: KEY_LIMIT - 17]}~{hashlib.sha256(key.encode()).hexdigest()[:16]}"


class AlertDesk:
    def __init__(
        self,
        clock: Clock,
        board: TaskBoard,
        *,
        mute_for: timedelta = timedelta(hours=4),
        answer_within: timedelta = timedelta(hours=24),
    ) -> None:
        self._clock, self._board = clock, board
        self._mute_for, self._answer_within = mute_for, answer_within

    async def raise_alert(self, uow: UnitOfWork, key: str, kind: str, detail: dict[str, object]) -> Alert:
        """Inside the caller's transaction: open an episode or count a repeat."""
        now = self._clock.now()
        await uow.locks.hold(f"alert:{key}")  # one episode per key, and no repeat counted twice or lost
        alert = await uow.alerts.open_for(key)
        if alert is not None:
            alert.count, alert.last_at, alert.detail = alert.count + 1, now, detail
            if alert.shown_at is None and await self._outlasted_mute(uow, alert, now):
                alert.shown_at = now  # said now, once; the chat adapter records what it showed
                await _notify(uow, NoticeTopic.ALERT, alert, now)
            await uow.alerts.save(alert)
            return alert
        task = Task(
            None, KIND, f"alert:{key}", Assignee.OWNER, OPTIONS, now + self._answer_within, now,
            payload=AlertTask(key, kind, detail).to_payload(),
        )  # fmt: skip
        await self._board.open(uow, task, remind=False)
        alert = Alert(None, key, kind, detail, OPEN, 1, 0, now, now, task_id=task.id)
        muted = await uow.alerts.muted_until(key)
        if muted is not None and muted > now:  # counted and listed, but nobody is messaged (yet)
            await uow.alerts.add(alert)
            return alert
        await uow.alerts.add(alert)
        await _notify(uow, NoticeTopic.ALERT, alert, now)
        return alert

    async def _outlasted_mute(self, uow: UnitOfWork, alert: Alert, now: datetime) -> bool:
        """An episode that began while its key was muted and is still going when the mute ends
        is told then: a mute silences a while, not the failure for good."""
        muted = await uow.alerts.muted_until(alert.key)
        return muted is not None and muted <= now and _opened_muted(alert, muted)

    async def resolve(self, uow: UnitOfWork, key: str) -> Alert | None:
        """Inside the caller's transaction: the failure is over. ``None`` if nothing was open."""
        await uow.locks.hold(f"alert:{key}")
        alert = await uow.alerts.open_for(key)
        if alert is None:
            return None
        now = self._clock.now()
        alert.state, alert.resolved_at = RESOLVED, now
        await uow.alerts.save(alert)
        if alert.task_id is not None:
            task = await uow.tasks.get(alert.task_id)
            if task is not None and await uow.tasks.close(alert.task_id, TaskState.CANCELLED, now, reason="resolved"):
                await notify_closed(uow, task, now)
        muted = await uow.alerts.muted_until(key)
        if (muted is None or muted <= now) and not _opened_muted(alert, muted):
            await _notify(uow, NoticeTopic.ALERT_RESOLVED, alert, now)
        return alert

    async def answer(self, task_id: int, option: str, by: str) -> Decision:
        """``ack``: seen, buttons go. ``mute``: no messages for this key for a while."""
        async with self._board.deciding(task_id, option, by) as (uow, decision):
            if decision.accepted:
                now = self._clock.now()
                if option == "mute":
                    await uow.alerts.mute(AlertTask.from_payload(decision.task.payload).key, now + self._mute_for, by)
                await notify_closed(uow, decision.task, now)
        return decision

    async def mark_shown(self, uow: UnitOfWork, alert: Alert, count: int, at: datetime) -> None:
        """The chat now shows ``count`` repeats (a chat adapter calls this after sending)."""
        await uow.locks.hold(f"alert:{alert.key}")
        fresh = await uow.alerts.get(alert.id or 0)
        if fresh is not None:
            fresh.shown_count, fresh.shown_at = count, at
            await uow.alerts.save(fresh)

    async def on_timeout(self, uow: UnitOfWork, task: Task, deadline: Deadline) -> None:
        """Nobody pressed a button for a day: the buttons go, the alert stays in the list."""
        now = self._clock.now()
        if await expire(uow, task, deadline, now):
            await notify_closed(uow, task, now)


async def _notify(uow: UnitOfWork, topic: NoticeTopic, alert: Alert, at: datetime) -> None:
    assert alert.id is not None
    await uow.notices.add(topic, AlertNotice(alert.id).to_payload(), at)


def _opened_muted(alert: Alert, muted_until: datetime | None) -> bool:
    """The episode began while its key was muted and has not been announced since: its
    recovery is not news to anyone, but its going on after the mute ends is."""
    return alert.shown_at is None and muted_until is not None and alert.first_at < muted_until
