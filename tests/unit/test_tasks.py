"""The human-task engine: first decision stands, deadlines fire once, on every backend."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest

from storage.database import Database, open_database
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FakeClock
from workflows.payloads import TaskNotice
from workflows.ports import UnitOfWork, UnitOfWorkFactory
from workflows.tasks import Deadline, DeadlineKind, DeadlinePump, Decision, Task, TaskBoard, TaskState, UnknownTask
from workflows.vocabulary import NoticeTopic, TaskKind

OPTIONS = ("available", "missing", "defective")


def question(clock: FakeClock, n: int = 0) -> Task:
    now = clock.now()
    return Task(
        None, "store_confirmation", f"order:{n}:line:1", "store:tverskaya", OPTIONS, now + timedelta(minutes=20), now,
        payload={"sku": "КР-7/2", "qty": 1},
    )  # fmt: skip


async def open_question(uow: UnitOfWorkFactory, clock: FakeClock, n: int = 0) -> Task:
    board = TaskBoard(uow, clock)
    async with uow() as work:
        task = await board.open(work, question(clock, n))
        await work.commit()
    return task


async def answer(board: TaskBoard, task_id: int, option: str, by: str) -> Decision:
    """An answer with no business effect beyond closing the task."""
    async with board.deciding(task_id, option, by) as (_, decision):
        return decision


async def test_the_first_answer_stands(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    task = await open_question(uow, clock)
    assert task.id is not None
    board = TaskBoard(uow, clock)
    clock.advance(minutes=3)
    first = await answer(board, task.id, "available", "U0ANNA")
    second = await answer(board, task.id, "missing", "U0BORIS")
    assert first.accepted
    assert (second.accepted, second.refusal) == (False, "answered")
    assert (second.task.answer, second.task.answered_by) == ("available", "U0ANNA")
    async with uow(read_only=True) as work:
        stored = await work.tasks.get(task.id)
    assert stored is not None
    assert (stored.state, stored.answer, stored.closed_at, stored.end_reason) == (
        TaskState.ANSWERED, "available", clock.now(), "answered",
    )  # fmt: skip


async def test_an_error_in_the_decision_block_rolls_the_claim_back(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    task = await open_question(uow, clock)
    assert task.id is not None
    board = TaskBoard(uow, clock)

    async def refused_effect(task_id: int) -> None:
        async with board.deciding(task_id, "available", "U0STRANGER") as (work, decision):
            assert decision.accepted
            await work.notices.add(NoticeTopic.TASK_CLOSED, {"task_id": task_id}, clock.now())
            raise PermissionError("not on the store's staff")

    with pytest.raises(PermissionError):
        await refused_effect(task.id)
    async with uow(read_only=True) as work:
        stored = await work.tasks.get(task.id)
        assert await work.notices.undelivered(10, [NoticeTopic.TASK_CLOSED]) == []
    assert stored is not None and stored.state == TaskState.OPEN
    assert (await answer(board, task.id, "missing", "U0ANNA")).accepted  # still open for the right person


async def test_an_answer_that_is_not_an_option_changes_nothing(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    task = await open_question(uow, clock)
    assert task.id is not None
    decision = await answer(TaskBoard(uow, clock), task.id, "maybe", "U0ANNA")
    assert (decision.accepted, decision.refusal, decision.task.state) == (False, "not_an_option", TaskState.OPEN)
    with pytest.raises(UnknownTask):
        await answer(TaskBoard(uow, clock), 10_000, "available", "U0ANNA")


async def test_a_chat_keeps_every_copy_of_a_task_and_each_copy_once(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    """A task delivered to a chat and shown there again on request is in that chat twice: both copies
    are kept (the decision edits both); the same copy recorded again is still one."""
    task, other = await open_question(uow, clock), await open_question(uow, clock, 1)
    assert task.id is not None and other.id is not None
    async with uow() as work:
        await work.tasks.add_message(task.id, "telegram", "1002", "41")  # the delivery's copy
        await work.tasks.add_message(task.id, "telegram", "1002", "57")  # /tasks sent another
        await work.tasks.add_message(task.id, "telegram", "1003", "41")
        await work.tasks.add_message(other.id, "telegram", "1002", "42")
        await work.commit()
    async with uow() as work:
        await work.tasks.add_message(task.id, "telegram", "1002", "57")  # the same copy again
        await work.commit()
    async with uow(read_only=True) as work:
        shown = await work.tasks.messages(task.id)
        assert await work.tasks.messages(other.id) == [("telegram", "1002", "42")]
    assert sorted(shown) == [("telegram", "1002", "41"), ("telegram", "1002", "57"), ("telegram", "1003", "41")]


async def test_the_deadline_expires_an_unanswered_task_once(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    task = await open_question(uow, clock)
    assert task.id is not None
    reminded: list[int] = []

    async def remind(work: UnitOfWork, t: Task, d: Deadline) -> None:
        assert t.id is not None
        reminded.append(t.id)

    pump = DeadlinePump(uow, clock, {(TaskKind.STORE_CONFIRMATION, DeadlineKind.REMIND): remind}, owner="p1")
    assert await pump.run_once() == 0
    clock.advance(minutes=10)  # half-time
    assert await pump.run_once() == 1
    assert reminded == [task.id]
    clock.advance(minutes=10)
    assert await pump.run_once() == 1
    assert await pump.run_once() == 0
    async with uow(read_only=True) as work:
        stored = await work.tasks.get(task.id)
        assert await work.deadlines.pending() == 0
    assert stored is not None
    assert (stored.state, stored.end_reason) == (TaskState.EXPIRED, "timeout")
    late = await answer(TaskBoard(uow, clock), task.id, "available", "U0ANNA")
    assert (late.accepted, late.refusal) == (False, "expired")
    assert reminded == [task.id]


async def test_a_deadline_after_an_answer_changes_nothing(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    task = await open_question(uow, clock)
    assert task.id is not None
    await answer(TaskBoard(uow, clock), task.id, "missing", "U0ANNA")
    clock.advance(minutes=30)
    assert await DeadlinePump(uow, clock, {}, owner="p1").run_once() == 2  # both rows fired, no effect
    async with uow(read_only=True) as work:
        stored = await work.tasks.get(task.id)
    assert stored is not None
    assert (stored.state, stored.answer) == (TaskState.ANSWERED, "missing")


async def test_a_pump_that_died_holding_a_lease_is_taken_over_after_it(
    uow: UnitOfWorkFactory, clock: FakeClock
) -> None:
    task = await open_question(uow, clock)
    clock.advance(minutes=25)
    async with uow() as work:  # pump "dead" claims both rows and never fires them
        claimed = await work.deadlines.claim_due(clock.now(), clock.now() + timedelta(seconds=60), "dead", 10)
        await work.commit()
    assert len(claimed) == 2
    live = DeadlinePump(uow, clock, {}, owner="live")
    assert await live.run_once() == 0  # still leased
    clock.advance(seconds=61)
    assert await live.run_once() == 2
    async with uow(read_only=True) as work:
        assert task.id is not None
        stored = await work.tasks.get(task.id)
    assert stored is not None and stored.state == TaskState.EXPIRED


async def test_concurrent_clicks_have_one_effect(database: Database, clock: FakeClock) -> None:
    uow = SqlUnitOfWorkFactory(database)
    task = await open_question(uow, clock)
    assert task.id is not None
    board = TaskBoard(uow, clock)
    decisions = await asyncio.gather(*(answer(board, task.id, OPTIONS[n % 3], f"U{n}") for n in range(20)))
    assert [d.accepted for d in decisions].count(True) == 1
    winner = next(d for d in decisions if d.accepted)
    assert {d.task.answer for d in decisions if not d.accepted} == {winner.task.answer}


async def test_a_restart_loses_no_deadline_and_fires_it_once(database: Database, clock: FakeClock) -> None:
    task = await open_question(SqlUnitOfWorkFactory(database), clock)
    assert task.id is not None
    clock.advance(hours=2)  # the service was down when the deadline fell due
    url = database.engine.url.render_as_string(hide_password=False)
    restarted = open_database(url)
    try:
        uow = SqlUnitOfWorkFactory(restarted)
        assert await DeadlinePump(uow, clock, {}, owner="after-restart").run_once() == 2
        assert await DeadlinePump(uow, clock, {}, owner="another").run_once() == 0
        async with uow(read_only=True) as work:
            stored = await work.tasks.get(task.id)
        assert stored is not None and stored.state == TaskState.EXPIRED
    finally:
        await restarted.dispose()


async def test_two_pumps_fire_a_thousand_deadlines_exactly_once(database: Database, clock: FakeClock) -> None:
    """Two service instances (own engines, own pools) share one database."""
    uow = SqlUnitOfWorkFactory(database)
    board = TaskBoard(uow, clock)
    async with uow() as work:
        for n in range(1000):
            await board.open(work, question(clock, n), remind=False)
        await work.commit()
    clock.advance(minutes=21)
    url = database.engine.url.render_as_string(hide_password=False)
    instances = [open_database(url), open_database(url)]
    expired: Counter[int] = Counter()
    by_pump: Counter[str] = Counter()

    def handler(name: str):
        async def on_expire(work: UnitOfWork, t: Task, d: Deadline) -> None:
            assert t.id is not None
            if await work.tasks.close(t.id, TaskState.EXPIRED, clock.now(), reason="timeout"):
                expired[t.id] += 1
                by_pump[name] += 1

        return on_expire

    try:
        pumps = [
            DeadlinePump(SqlUnitOfWorkFactory(db), clock, {(TaskKind.STORE_CONFIRMATION, DeadlineKind.EXPIRE): handler(name)},
                         owner=name, batch=50)
            for name, db in zip(("a", "b"), instances, strict=True)
        ]  # fmt: skip
        fired = await asyncio.gather(*(pump.run_once() for pump in pumps))
    finally:
        for db in instances:
            await db.dispose()
    assert sum(fired) == 1000
    assert len(expired) == 1000 and set(expired.values()) == {1}
    async with uow(read_only=True) as work:
        assert await work.deadlines.pending() == 0
    if not database.is_sqlite:  # SKIP LOCKED lets both instances work at once
        assert min(by_pump.values()) > 0, by_pump


async def test_one_failing_deadline_delays_only_itself(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    """Deadlines fire many per transaction; a handler that raises rolls its chunk back, the
    rest fire one by one, and the bad one keeps its lease and fires once it is fixed."""
    tasks = [await open_question(uow, clock, n) for n in range(5)]
    bad = tasks[2].id
    broken = True

    async def on_expire(work: UnitOfWork, t: Task, d: Deadline) -> None:
        if t.id == bad and broken:
            raise RuntimeError("the cascade could not load the order")
        assert t.id is not None
        await work.tasks.close(t.id, TaskState.EXPIRED, clock.now(), reason="timeout")
        await work.notices.add(NoticeTopic.TASK_CLOSED, TaskNotice(t.id).to_payload(), clock.now())

    pump = DeadlinePump(
        uow, clock, {(TaskKind.STORE_CONFIRMATION, DeadlineKind.EXPIRE): on_expire}, owner="p1", chunk=10
    )
    clock.advance(minutes=21)
    assert await pump.run_once() == 9  # five reminders, four expiries
    async with uow(read_only=True) as work:
        states = [(await work.tasks.get(t.id or 0)) for t in tasks]
        notices = await work.notices.undelivered(100)
        assert await work.deadlines.pending() == 1
    assert [s.state if s else None for s in states] == [
        TaskState.EXPIRED, TaskState.EXPIRED, TaskState.OPEN, TaskState.EXPIRED, TaskState.EXPIRED,
    ]  # fmt: skip
    assert sorted(TaskNotice.from_payload(p).task_id for _, _, p in notices) == sorted(
        t.id or 0 for t in tasks if t.id != bad
    )
    broken = False
    assert await pump.run_once() == 0  # still leased by this pump
    clock.advance(seconds=61)
    assert await pump.run_once() == 1
    async with uow(read_only=True) as work:
        fixed = await work.tasks.get(bad or 0)
        assert len(await work.notices.undelivered(100)) == 5
    assert fixed is not None and fixed.state == TaskState.EXPIRED


async def test_notices_are_leased_to_one_deliverer_at_a_time(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    async with uow() as work:
        for n in range(5):
            topic = NoticeTopic.STORE_QUESTION if n % 2 == 0 else NoticeTopic.ALERT
            await work.notices.add(topic, TaskNotice(n).to_payload(), clock.now())
        await work.commit()
    now, lease = clock.now(), clock.now() + timedelta(seconds=60)

    async def claim(owner: str, limit: int = 10) -> list[int]:
        async with uow() as work:
            got = await work.notices.claim([NoticeTopic.STORE_QUESTION], clock.now(), lease, owner, limit)
            await work.commit()
        return [TaskNotice.from_payload(payload).task_id for _, _, payload in got]

    assert await claim("a", limit=2) == [0, 2]
    assert await claim("b") == [4]  # a's two are leased; alerts are another deliverer's topic
    assert await claim("b") == []
    async with uow() as work:
        waiting = await work.notices.undelivered(10, ["store_question"])
        await work.notices.delivered(waiting[0][0], now)  # a delivered task 0, gives task 2 back
        await work.notices.release([waiting[1][0]], "a")
        await work.commit()
    assert await claim("b") == [2]
    clock.advance(seconds=61)
    assert await claim("c") == [2, 4]  # leases ran out; task 0 stays delivered
