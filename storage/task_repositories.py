"""SQL implementations of the task and deadline ports."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema as t
from storage.repositories import _upsert
from workflows.tasks import Deadline, DeadlineKind, Task, TaskState
from workflows.vocabulary import NoticeTopic


class SqlTasks:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, task: Task, deadlines: Sequence[tuple[DeadlineKind, datetime]]) -> None:
        result = await self._c.execute(
            t.tasks.insert().returning(t.tasks.c.id),
            {
                "kind": task.kind, "subject": task.subject, "assignee": task.assignee, "options": list(task.options),
                "payload": task.payload, "state": task.state.value, "deadline": task.deadline,
                "created_at": task.created_at,
            },
        )  # fmt: skip
        task.id = result.scalar_one()
        await self._c.execute(
            t.task_deadlines.insert(),
            [{"task_id": task.id, "kind": kind.value, "due_at": due_at} for kind, due_at in deadlines],
        )

    async def get(self, task_id: int) -> Task | None:
        row = (await self._c.execute(select(t.tasks).where(t.tasks.c.id == task_id))).one_or_none()
        return None if row is None else _task(row)

    async def close(
        self, task_id: int, state: TaskState, at: datetime, *, reason: str, answer: str | None = None,
        by: str | None = None,
    ) -> bool:  # fmt: skip
        c = t.tasks.c
        result = await self._c.execute(
            update(t.tasks)
            .where(c.id == task_id, c.state == TaskState.OPEN.value)
            .values(state=state.value, closed_at=at, end_reason=reason, answer=answer, answered_by=by)
        )
        return result.rowcount == 1

    async def closed_of_kind(self, kind: str, since: datetime) -> list[Task]:
        c = t.tasks.c
        closed = [TaskState.ANSWERED.value, TaskState.EXPIRED.value]
        query = select(t.tasks).where(c.kind == kind, c.state.in_(closed), c.closed_at >= since).order_by(c.id)
        return [_task(row) for row in await self._c.execute(query)]

    async def open_about(self, subject_prefix: str) -> list[Task]:
        c = t.tasks.c
        escaped = subject_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = select(t.tasks).where(c.state == TaskState.OPEN.value, c.subject.like(f"{escaped}%", escape="\\"))
        return [_task(row) for row in await self._c.execute(query.order_by(c.id))]

    async def open_counts(self) -> dict[str, int]:
        c = t.tasks.c
        query = select(c.kind, func.count()).where(c.state == TaskState.OPEN.value).group_by(c.kind)
        return {kind: int(count) for kind, count in await self._c.execute(query)}

    async def add_message(self, task_id: int, platform: str, chat: str, message_id: str) -> None:
        values = {"task_id": task_id, "platform": platform, "chat": chat, "message_id": message_id}
        statement = _upsert(self._c, t.task_messages).values(values)
        await self._c.execute(statement.on_conflict_do_nothing(index_elements=list(values)))

    async def messages(self, task_id: int) -> list[tuple[str, str, str]]:
        c = t.task_messages.c
        rows = await self._c.execute(select(c.platform, c.chat, c.message_id).where(c.task_id == task_id))
        return [(r.platform, r.chat, r.message_id) for r in rows]

    async def set_payload(self, task_id: int, payload: dict[str, object]) -> None:
        await self._c.execute(update(t.tasks).where(t.tasks.c.id == task_id).values(payload=payload))


def _task(row: Any) -> Task:
    return Task(
        id=row.id, kind=row.kind, subject=row.subject, assignee=row.assignee, options=tuple(row.options),
        deadline=row.deadline, created_at=row.created_at, state=TaskState(row.state), payload=dict(row.payload),
        answer=row.answer, answered_by=row.answered_by, closed_at=row.closed_at, end_reason=row.end_reason,
    )  # fmt: skip


class SqlDeadlines:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def claim_due(self, now: datetime, lease_until: datetime, owner: str, limit: int) -> list[Deadline]:
        c = t.task_deadlines.c
        # SKIP LOCKED lets concurrent pumps on PostgreSQL take disjoint batches without waiting;
        # SQLite renders no FOR UPDATE and relies on its single writer instead.
        due = (
            select(c.id)
            .where(c.fired_at.is_(None), c.due_at <= now, or_(c.leased_until.is_(None), c.leased_until < now))
            .order_by(c.due_at, c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list((await self._c.execute(due)).scalars())
        if not ids:
            return []
        await self._c.execute(
            update(t.task_deadlines).where(c.id.in_(ids)).values(leased_until=lease_until, lease_owner=owner)
        )
        rows = await self._c.execute(select(t.task_deadlines).where(c.id.in_(ids)).order_by(c.due_at, c.id))
        return [Deadline(r.id, r.task_id, DeadlineKind(r.kind), r.due_at) for r in rows]

    async def fired(self, ids: Collection[int], owner: str, at: datetime) -> bool:
        c = t.task_deadlines.c
        result = await self._c.execute(
            update(t.task_deadlines)
            .where(c.id.in_(list(ids)), c.lease_owner == owner, c.fired_at.is_(None))
            .values(fired_at=at)
        )
        return result.rowcount == len(ids)

    async def pending(self) -> int:
        c = t.task_deadlines.c
        return int((await self._c.execute(select(func.count()).where(c.fired_at.is_(None)))).scalar_one())


class SqlNotices:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, topic: NoticeTopic, payload: dict[str, object], at: datetime) -> None:
        await self._c.execute(t.notices.insert(), {"topic": topic.value, "payload": payload, "created_at": at})

    async def undelivered(
        self, limit: int, topics: Collection[str] | None = None
    ) -> list[tuple[int, str, dict[str, object]]]:
        c = t.notices.c
        query = select(c.id, c.topic, c.payload).where(c.delivered_at.is_(None))
        if topics is not None:
            query = query.where(c.topic.in_(list(topics)))
        rows = await self._c.execute(query.order_by(c.id).limit(limit))
        return [(r.id, r.topic, dict(r.payload)) for r in rows]

    async def claim(
        self, topics: Collection[NoticeTopic], now: datetime, lease_until: datetime, owner: str, limit: int
    ) -> list[tuple[int, NoticeTopic, dict[str, object]]]:
        c = t.notices.c
        names = [topic.value for topic in topics]
        free = (
            select(c.id)
            .where(c.delivered_at.is_(None), c.topic.in_(names), or_(c.leased_until.is_(None), c.leased_until < now))
            .order_by(c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list((await self._c.execute(free)).scalars())
        if not ids:
            return []
        await self._c.execute(
            update(t.notices).where(c.id.in_(ids)).values(leased_until=lease_until, lease_owner=owner)
        )
        rows = await self._c.execute(select(c.id, c.topic, c.payload).where(c.id.in_(ids)).order_by(c.id))
        return [(r.id, NoticeTopic(r.topic), dict(r.payload)) for r in rows]

    async def release(self, ids: Collection[int], owner: str) -> None:
        c = t.notices.c
        query = update(t.notices).where(c.id.in_(list(ids)), c.lease_owner == owner, c.delivered_at.is_(None))
        await self._c.execute(query.values(leased_until=None))

    async def attempt(self, notice_id: int, at: datetime) -> datetime | None:
        c = t.notices.c
        earlier = (await self._c.execute(select(c.attempted_at).where(c.id == notice_id))).scalar_one_or_none()
        if earlier is None:
            await self._c.execute(
                update(t.notices).where(c.id == notice_id, c.attempted_at.is_(None)).values(attempted_at=at)
            )
        return earlier

    async def delivered(self, notice_id: int, at: datetime) -> None:
        await self._c.execute(update(t.notices).where(t.notices.c.id == notice_id).values(delivered_at=at))

    async def undelivered_counts(self) -> dict[str, int]:
        c = t.notices.c
        query = select(c.topic, func.count()).where(c.delivered_at.is_(None)).group_by(c.topic)
        return {topic: int(count) for topic, count in await self._c.execute(query)}
