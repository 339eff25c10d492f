"""The human-task engine: a question put to people, with options, an assignee and a deadline.

A task is ``open`` until the first decision: an answer, the deadline, or a cancellation. Closing
is one atomic claim in storage (``open`` → something else), so a double click, a retried
request or a click racing the timeout has exactly one effect, and everyone after the first is
told why the question is closed. Deadlines are rows written in the same transaction as the task
and fired by :class:`DeadlinePump`, at least once each; firing checks the task's state, so a
repeat changes nothing. A reminder is never fired at or after its task's deadline: one that fell due
while the pump was behind is skipped.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from workflows.leases import LEASE, HeldLeases
from workflows.payloads import TaskNotice
from workflows.ports import Clock, LeaseKind, UnitOfWork, UnitOfWorkFactory

# the task model, re-exported: the engine's importers take it from here
from workflows.task_model import Deadline as Deadline
from workflows.task_model import DeadlineKind as DeadlineKind
from workflows.task_model import Task as Task
from workflows.task_model import TaskState as TaskState
from workflows.vocabulary import NoticeTopic, TaskKind, assigned_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """What became of an attempt to answer: ``accepted`` for the first decision only."""

    accepted: bool
    task: Task
    refusal: str | None = None  # "not_an_option" | "answered" | "expired" | "cancelled" | "unknown_task"


class TaskBoard:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def open(
        self, uow: UnitOfWork, task: Task, *, remind: bool = True, remind_at: datetime | None = None
    ) -> Task:
        """Store ``task`` and its deadlines inside the caller's unit of work (so a task never
        exists without its deadline, nor a deadline without its task). The reminder falls at half
        time unless ``remind_at`` says when."""
        deadlines = [(DeadlineKind.EXPIRE, task.deadline)]
        if remind:
            half = task.created_at + (task.deadline - task.created_at) / 2
            deadlines.append((DeadlineKind.REMIND, half if remind_at is None else remind_at))
        await uow.tasks.add(task, deadlines)
        return task

    async def open_for_office(
        self, uow: UnitOfWork, task: Task, *, remind: bool = False, remind_at: datetime | None = None
    ) -> Task:
        """Open an office question and queue its Telegram notice, in the caller's unit of work. A question is
        not reminded of by default (its deadline hands it on to the owner); a chore that takes days is."""
        await self.open(uow, task, remind=remind, remind_at=remind_at)
        assert task.id is not None
        await uow.notices.add(NoticeTopic.OFFICE_TASK, TaskNotice(task.id).to_payload(), task.created_at)
        return task

    async def claim(self, uow: UnitOfWork, task_id: int, option: str, by: str) -> Decision:
        """Inside the caller's unit of work: close the task with ``option`` if it is still open.
        The first decision stands; any later one is refused with the reason and changes nothing.
        Raises :class:`UnknownTask`."""
        task = await uow.tasks.get(task_id)
        if task is None:
            raise UnknownTask(f"no task {task_id}")
        if task.state != TaskState.OPEN:
            return Decision(False, task, task.state.value)
        if option not in task.options:
            return Decision(False, task, "not_an_option")
        now = self._clock.now()
        if not await uow.tasks.close(task_id, TaskState.ANSWERED, now, reason="answered", answer=option, by=by):
            closed = await uow.tasks.get(task_id)  # lost the race a moment ago
            assert closed is not None
            return Decision(False, closed, closed.state.value)
        task.state, task.answer, task.answered_by, task.closed_at, task.end_reason = (
            TaskState.ANSWERED, option, by, now, "answered",
        )  # fmt: skip
        return Decision(True, task)

    @asynccontextmanager
    async def deciding(self, task_id: int, option: str, by: str) -> AsyncIterator[tuple[UnitOfWork, Decision]]:
        """One transaction for an answer: the claim, then the caller's business effect in the block.
        It commits when the claim was accepted and the block ends without an error; an error in
        the block (the person may not answer, say) rolls the claim back too::

            async with board.deciding(task_id, option, by) as (uow, decision):
                if decision.accepted:
                    ...  # the decision's effect, in ``uow``
        """
        async with self._uow() as uow:
            decision = await self.claim(uow, task_id, option, by)
            yield uow, decision
            if decision.accepted:
                await uow.commit()


# What an answer does, in the answering unit of work: (uow, the task as closed, option, who).
DecisionEffect = Callable[[UnitOfWork, Task, str, str], Awaitable[None]]


async def answer_with(board: TaskBoard, task_id: int, option: str, by: str, effect: DecisionEffect) -> Decision:
    """Answer a task and, if this answer is the first decision, apply ``effect`` in the same transaction (the
    office desks' ``answer``: see :meth:`TaskBoard.deciding`)."""
    async with board.deciding(task_id, option, by) as (uow, decision):
        if decision.accepted:
            await effect(uow, decision.task, option, by)
    return decision


def answered_by(task: Task, name: str | None) -> dict[str, object]:
    """Who answered ``task``, for its history event: ``by`` as the task records them (a chat id for store staff),
    and ``by_name`` as their chat shows them when it told and it says more than the id."""
    who: dict[str, object] = {"by": task.answered_by} if task.answered_by else {}
    if who and name and name != task.answered_by:
        who["by_name"] = name
    return who


def closed_topic(task: Task) -> NoticeTopic:
    """The notice that a task closed: a store's question is shown in its Slack channel, the
    office's tasks (managers, owner) in Telegram; each chat adapter takes only its own topic."""
    return NoticeTopic.TASK_CLOSED if assigned_store(task.assignee) is not None else NoticeTopic.OFFICE_TASK_CLOSED


async def notify_closed(uow: UnitOfWork, task: Task, at: datetime) -> None:
    """Queue the notice that ``task`` closed, in the caller's transaction, for the chat showing it."""
    assert task.id is not None
    await uow.notices.add(closed_topic(task), TaskNotice(task.id).to_payload(), at)


class UnknownTask(LookupError):
    pass


# Called inside the firing unit of work with the still-open task; returns nothing.
DeadlineHandler = Callable[[UnitOfWork, Task, Deadline], Awaitable[None]]


async def expire(uow: UnitOfWork, task: Task, deadline: Deadline, now: datetime) -> bool:
    """Close an open task as expired; ``False`` if someone decided first."""
    assert task.id is not None
    return await uow.tasks.close(task.id, TaskState.EXPIRED, now, reason="timeout")


class DeadlinePump:
    """Fires due deadlines. Claims a batch under a lease (``FOR UPDATE SKIP LOCKED`` on
    PostgreSQL), so several pumps — in one process or many — never fire a row at the same
    time; a pump that dies mid-batch leaves rows that another claims once the lease ends. The
    lease is short and renewed while the batch is being fired (the claimed ids are held in
    ``held``, :mod:`workflows.leases`), so a dead pump's rows are taken over within seconds.

    A claimed batch is fired ``chunk`` deadlines per transaction: one commit (one fsync) for
    many deadlines is what keeps up when hundreds fall due at once. A chunk that fails is rolled
    back and fired again one deadline per transaction, so one bad deadline delays only itself:
    it is logged, keeps its lease and is tried again when the lease ends. With ``concurrency`` > 1
    several chunks are fired at once, each in its own transaction (worth it on PostgreSQL, where
    the time goes in round trips; SQLite has one writer anyway). Deadlines whose handlers lock the
    same rows must not be fired in two transactions at once, or they deadlock: ``lock_keys`` gives,
    per task kind, what a task's handler locks (the store cascade: the SKU); deadlines with equal
    keys go to the same lane, and each chunk fires in key order."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        handlers: Mapping[tuple[TaskKind, DeadlineKind], DeadlineHandler],
        *,
        owner: str,
        lease: timedelta = LEASE,
        batch: int = 200,
        chunk: int = 50,
        concurrency: int = 1,
        lock_keys: Mapping[TaskKind, Callable[[Task], str]] | None = None,
        held: HeldLeases | None = None,
    ) -> None:
        self._uow, self._clock = uow, clock
        self._handlers = {(kind.value, when): handler for (kind, when), handler in handlers.items()}  # stored kinds
        self._owner, self._lease, self._batch, self._chunk = owner, lease, batch, max(1, chunk)
        self._concurrency = max(1, concurrency)
        self._lock_keys = {kind.value: key_of for kind, key_of in (lock_keys or {}).items()}
        self._held = held if held is not None else HeldLeases()

    async def run_once(self) -> int:
        """Fire what is due now; returns how many deadlines were fired."""
        fired = 0
        while True:
            async with self._uow() as uow:
                now = self._clock.now()
                due = await uow.deadlines.claim_due(now, now + self._lease, self._owner, self._batch)
                await uow.commit()
            with self._held.holding(LeaseKind.DEADLINE, [(deadline.id,) for deadline in due]):
                fired += await self._fire_batch(due)
            if len(due) < self._batch:
                return fired

    async def _fire_batch(self, due: Sequence[Deadline]) -> int:
        if self._concurrency == 1:
            return sum(
                [await self._fire_chunk(due[start : start + self._chunk]) for start in range(0, len(due), self._chunk)]
            )
        lanes = await self._lanes(due)
        return sum(await asyncio.gather(*(self._fire_lane(lane) for lane in lanes if lane)))

    async def _lanes(self, due: Sequence[Deadline]) -> list[list[tuple[str, Deadline]]]:
        """Split a claimed batch so that equal lock keys share a lane."""
        lanes: list[list[tuple[str, Deadline]]] = [[] for _ in range(self._concurrency)]
        async with self._uow(read_only=True) as uow:
            for deadline in due:
                task = await uow.tasks.get(deadline.task_id)
                key_of = self._lock_keys.get(task.kind) if task is not None else None
                key = key_of(task) if key_of is not None and task is not None else f"task:{deadline.task_id}"
                lanes[zlib.crc32(key.encode()) % self._concurrency].append((key, deadline))
        return lanes

    async def _fire_lane(self, lane: Sequence[tuple[str, Deadline]]) -> int:
        fired = 0
        for start in range(0, len(lane), self._chunk):
            chunk = sorted(lane[start : start + self._chunk], key=lambda item: item[0])
            fired += await self._fire_chunk([deadline for _, deadline in chunk])
        return fired

    async def _fire_chunk(self, chunk: Sequence[Deadline]) -> int:
        if len(chunk) > 1:
            try:
                return await self._fire(chunk)
            except Exception:  # find the culprit below, one deadline per transaction
                log.warning("a chunk of %d deadlines failed; firing them one by one", len(chunk), exc_info=True)
        fired = 0
        for deadline in chunk:
            try:
                fired += await self._fire([deadline])
            except Exception:
                log.exception(
                    "deadline %s of task %s failed; tried again when its lease ends", deadline.id, deadline.task_id
                )
        return fired

    async def _fire(self, deadlines: Sequence[Deadline]) -> int:
        async with self._uow() as uow:
            for deadline in deadlines:
                task = await uow.tasks.get(deadline.task_id)
                if task is None or task.state != TaskState.OPEN:
                    continue  # decided already: firing changes nothing
                if deadline.kind == DeadlineKind.REMIND and self._clock.now() >= task.deadline:
                    continue  # fired late (a pump that was down, a clock moved on): "answer by" would be past
                handler = self._handlers.get((task.kind, deadline.kind))
                if handler is None and deadline.kind == DeadlineKind.EXPIRE:
                    await expire(uow, task, deadline, self._clock.now())
                elif handler is not None:
                    await handler(uow, task, deadline)
            if not await uow.deadlines.fired([d.id for d in deadlines], self._owner, self._clock.now()):
                if len(deadlines) > 1:
                    raise LeaseLost  # some rows went to another pump: sort it out one by one
                return 0  # our lease ran out and another pump took the row: let it finish
            await uow.commit()
        return len(deadlines)


class LeaseLost(Exception):
    """Another pump claimed one of our rows after our lease ran out."""
