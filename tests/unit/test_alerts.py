"""Grouped alerts on memory, SQLite and PostgreSQL: one message per episode however often the
failure repeats, one follow-up when it recovers, and the owner's ack and mute buttons."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from storage.database import Database, open_database
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FakeClock
from workflows.alerts import KIND, OPTIONS, AlertDesk
from workflows.office_model import Alert
from workflows.ports import UnitOfWorkFactory
from workflows.tasks import DeadlineKind, DeadlinePump, Task, TaskBoard, TaskState

KEY = "sync_failing:wildberries"


class Desk:
    def __init__(self, uow: UnitOfWorkFactory, clock: FakeClock) -> None:
        self.uow, self.clock = uow, clock
        self.alerts = AlertDesk(clock, TaskBoard(uow, clock))
        self.pump = DeadlinePump(uow, clock, {(KIND, DeadlineKind.EXPIRE): self.alerts.on_timeout}, owner="test")

    async def fail(self, n: int = 1, key: str = KEY) -> Alert:
        async with self.uow() as work:
            for i in range(n):
                alert = await self.alerts.raise_alert(work, key, "sync_failing", {"attempt": i})
            await work.commit()
        return alert

    async def recover(self, key: str = KEY) -> Alert | None:
        async with self.uow() as work:
            alert = await self.alerts.resolve(work, key)
            await work.commit()
        return alert

    async def stored(self, alert_id: int | None) -> Alert:
        async with self.uow(read_only=True) as work:
            alert = await work.alerts.get(alert_id or 0)
        assert alert is not None
        return alert

    async def task(self, task_id: int | None) -> Task:
        async with self.uow(read_only=True) as work:
            task = await work.tasks.get(task_id or 0)
        assert task is not None
        return task

    async def notices(self, topic: str) -> list[dict[str, object]]:
        async with self.uow(read_only=True) as work:
            return [payload for _, _, payload in await work.notices.undelivered(10_000, [topic])]

    async def shown(self, alert: Alert) -> None:
        """What the Telegram adapter records once the message shows the count."""
        async with self.uow() as work:
            fresh = await work.alerts.get(alert.id or 0)
            assert fresh is not None
            fresh.shown_count, fresh.shown_at = fresh.count, self.clock.now()
            await work.alerts.save(fresh)
            await work.commit()


@pytest.fixture
def desk(uow: UnitOfWorkFactory, clock: FakeClock) -> Desk:
    return Desk(uow, clock)


async def test_a_thousand_failures_in_a_minute_are_one_alert_and_one_message(desk: Desk, clock: FakeClock) -> None:
    start = clock.now()
    async with desk.uow() as work:
        for n in range(500):
            await desk.alerts.raise_alert(work, KEY, "sync_failing", {"n": n})
            clock.advance(seconds=0.05)
        await work.commit()
    async with desk.uow() as work:
        for n in range(500, 1000):
            await desk.alerts.raise_alert(work, KEY, "sync_failing", {"n": n})
            clock.advance(seconds=0.05)
        await work.commit()
    async with desk.uow(read_only=True) as work:
        alerts = await work.alerts.recent(10)
    assert len(alerts) == 1
    (alert,) = alerts
    assert (alert.key, alert.kind, alert.state, alert.count) == (KEY, "sync_failing", "open", 1000)
    assert (alert.first_at, alert.last_at, alert.detail) == (start, start + timedelta(seconds=49.95), {"n": 999})
    assert await desk.notices("alert") == [{"alert_id": alert.id}]
    task = await desk.task(alert.task_id)
    assert (task.kind, task.assignee, task.options, task.state, task.subject) == (
        KIND, "role:owner", OPTIONS, TaskState.OPEN, f"alert:{KEY}",
    )  # fmt: skip
    assert task.payload == {"key": KEY, "kind": "sync_failing", "n": 0}


async def test_other_keys_are_other_alerts(desk: Desk) -> None:
    first = await desk.fail(3)
    other = await desk.fail(2, key="sync_failing:ozon")
    assert first.id != other.id
    assert [(a.key, a.count) for a in (await desk.stored(first.id), await desk.stored(other.id))] == [
        (KEY, 3), ("sync_failing:ozon", 2),
    ]  # fmt: skip
    assert await desk.notices("alert") == [{"alert_id": first.id}, {"alert_id": other.id}]


async def test_recovery_closes_the_episode_with_one_follow_up(desk: Desk, clock: FakeClock) -> None:
    alert = await desk.fail(5)
    clock.advance(minutes=3)
    resolved = await desk.recover()
    assert resolved is not None and resolved.id == alert.id
    stored = await desk.stored(alert.id)
    assert (stored.state, stored.resolved_at, stored.count) == ("resolved", clock.now(), 5)
    task = await desk.task(alert.task_id)
    assert (task.state, task.end_reason, task.closed_at) == (TaskState.CANCELLED, "resolved", clock.now())
    assert await desk.notices("office_task_closed") == [{"task_id": alert.task_id}]
    assert await desk.notices("alert_resolved") == [{"alert_id": alert.id}]
    assert await desk.recover() is None  # nothing open: nothing more to say
    assert await desk.notices("alert_resolved") == [{"alert_id": alert.id}]
    late = await desk.alerts.answer(alert.task_id or 0, "ack", "1001")
    assert (late.accepted, late.refusal) == (False, "cancelled")


async def test_a_failure_after_recovery_is_a_new_episode(desk: Desk, clock: FakeClock) -> None:
    first = await desk.fail(2)
    await desk.recover()
    clock.advance(minutes=10)
    second = await desk.fail()
    assert second.id != first.id and second.task_id != first.task_id
    stored = await desk.stored(second.id)
    assert (stored.state, stored.count, stored.first_at) == ("open", 1, clock.now())
    assert (await desk.stored(first.id)).state == "resolved"
    assert await desk.notices("alert") == [{"alert_id": first.id}, {"alert_id": second.id}]
    assert (await desk.task(second.task_id)).state == TaskState.OPEN


async def test_ack_takes_the_buttons_away_and_the_alert_stays_open(desk: Desk) -> None:
    alert = await desk.fail()
    assert (await desk.alerts.answer(alert.task_id or 0, "ack", "1001")).accepted
    task = await desk.task(alert.task_id)
    assert (task.state, task.answer, task.answered_by) == (TaskState.ANSWERED, "ack", "1001")
    assert await desk.notices("office_task_closed") == [{"task_id": alert.task_id}]
    again = await desk.alerts.answer(alert.task_id or 0, "mute", "1001")
    assert (again.accepted, again.refusal) == (False, "answered")
    assert (await desk.stored(alert.id)).state == "open"
    await desk.fail()  # repeats still count on the acknowledged episode
    assert (await desk.stored(alert.id)).count == 2
    await desk.recover()
    assert await desk.notices("office_task_closed") == [{"task_id": alert.task_id}]  # closed once, by the ack
    assert await desk.notices("alert_resolved") == [{"alert_id": alert.id}]


async def test_a_muted_key_raises_no_message_until_the_mute_ends(desk: Desk, clock: FakeClock) -> None:
    alert = await desk.fail()
    assert (await desk.alerts.answer(alert.task_id or 0, "mute", "1001")).accepted
    assert await desk.notices("office_task_closed") == [{"task_id": alert.task_id}]
    async with desk.uow(read_only=True) as work:
        assert await work.alerts.muted_until(KEY) == clock.now() + timedelta(hours=4)
    await desk.recover()  # muted: no follow-up either
    clock.advance(hours=1)
    quiet = await desk.fail(3)
    assert quiet.id != alert.id
    stored = await desk.stored(quiet.id)
    assert (stored.state, stored.count) == ("open", 3)
    await desk.recover()
    other = await desk.fail(key="onec_silent")  # another key is not muted
    assert await desk.notices("alert") == [{"alert_id": alert.id}, {"alert_id": other.id}]
    assert await desk.notices("alert_resolved") == []

    clock.advance(hours=3)  # four hours after the mute
    loud = await desk.fail()
    assert await desk.notices("alert") == [{"alert_id": alert.id}, {"alert_id": other.id}, {"alert_id": loud.id}]
    await desk.recover()
    assert await desk.notices("alert_resolved") == [{"alert_id": loud.id}]


async def test_a_mute_silences_the_alerts_own_key_whatever_its_detail_holds(desk: Desk, clock: FakeClock) -> None:
    """A detail may carry fields named ``key`` or ``kind`` (what a channel said, say): the alert's task still
    carries the alert's own, so its mute silences this alert and not a key named in the detail."""
    async with desk.uow() as work:
        detail: dict[str, object] = {"key": "onec_silent", "kind": "sku", "reason": "503"}
        alert = await desk.alerts.raise_alert(work, KEY, "sync_failing", detail)
        await work.commit()
    task = await desk.task(alert.task_id)
    assert (task.payload["key"], task.payload["kind"]) == (KEY, "sync_failing")
    assert (await desk.stored(alert.id)).detail == detail  # the alert itself keeps its whole detail
    assert (await desk.alerts.answer(alert.task_id or 0, "mute", "1001")).accepted
    async with desk.uow(read_only=True) as work:
        assert await work.alerts.muted_until(KEY) == clock.now() + timedelta(hours=4)
        assert await work.alerts.muted_until("onec_silent") is None


async def test_stale_counts_lists_alerts_that_repeated_since_they_were_shown(desk: Desk, clock: FakeClock) -> None:
    await desk.fail(5, key="never_shown")  # not delivered yet: nothing to edit
    alert = await desk.fail()
    await desk.shown(alert)
    quiet = await desk.fail(key="quiet")
    await desk.shown(quiet)
    gone = await desk.fail(key="gone")
    await desk.shown(gone)
    clock.advance(seconds=30)
    await desk.fail(4)
    await desk.fail(2, key="gone")
    await desk.recover("gone")

    async def stale(before: timedelta) -> list[tuple[int | None, int, int]]:
        async with desk.uow(read_only=True) as work:
            return [(a.id, a.count, a.shown_count) for a in await work.alerts.stale_counts(clock.now() - before, 10)]

    assert await stale(timedelta(seconds=60)) == []  # shown less than a minute ago
    assert await stale(timedelta(seconds=30)) == [(alert.id, 5, 1)]
    await desk.shown(alert)
    assert await stale(timedelta(0)) == []


async def test_an_unanswered_alert_loses_its_buttons_after_a_day(desk: Desk, clock: FakeClock) -> None:
    alert = await desk.fail()
    clock.advance(hours=24)
    assert await desk.pump.run_once() == 1
    task = await desk.task(alert.task_id)
    assert (task.state, task.end_reason) == (TaskState.EXPIRED, "timeout")
    assert await desk.notices("office_task_closed") == [{"task_id": alert.task_id}]
    assert (await desk.stored(alert.id)).state == "open"
    await desk.recover()
    assert await desk.notices("office_task_closed") == [{"task_id": alert.task_id}]
    assert await desk.notices("alert_resolved") == [{"alert_id": alert.id}]


async def test_a_failure_that_outlasts_the_mute_is_told_when_the_mute_ends(desk: Desk, clock: FakeClock) -> None:
    """Muted, the failure ends and starts again: nobody hears of it meanwhile. When it is still
    going after the mute, the owner is told once, and later of its recovery."""
    first = await desk.fail()
    await desk.alerts.answer(first.task_id or 0, "mute", "1001")
    await desk.recover()
    clock.advance(hours=1)
    during = await desk.fail(2)
    clock.advance(hours=3, minutes=1)  # the mute is over; the failure is not
    await desk.fail()
    await desk.fail()
    assert await desk.notices("alert") == [{"alert_id": first.id}, {"alert_id": during.id}]
    assert (await desk.stored(during.id)).count == 4
    await desk.recover()
    assert await desk.notices("alert_resolved") == [{"alert_id": during.id}]


async def test_an_episode_that_began_muted_and_ended_quietly_is_never_told(desk: Desk, clock: FakeClock) -> None:
    first = await desk.fail()
    await desk.alerts.answer(first.task_id or 0, "mute", "1001")
    await desk.recover()
    clock.advance(hours=1)
    during = await desk.fail()
    clock.advance(hours=4)  # no repeat after the mute ended: nothing to say about it, even now
    assert (await desk.recover()) is not None
    assert await desk.notices("alert") == [{"alert_id": first.id}]
    assert await desk.notices("alert_resolved") == []
    assert (await desk.stored(during.id)).state == "resolved"


async def test_two_instances_raising_one_key_at_once_make_one_episode(database: Database, clock: FakeClock) -> None:
    """Two service instances (own engines) raise the same failure 40 times each, concurrently:
    one episode, every repeat counted, one message — on PostgreSQL thanks to the key's lock."""
    url = database.engine.url.render_as_string(hide_password=False)
    instances = [open_database(url), open_database(url)]
    try:
        desks = [Desk(SqlUnitOfWorkFactory(db), clock) for db in instances]

        async def storm(desk: Desk) -> None:
            for _ in range(40):
                await desk.fail()

        await asyncio.gather(*(storm(desk) for desk in desks))
        async with desks[0].uow(read_only=True) as work:
            alert = await work.alerts.open_for(KEY)
        assert alert is not None and alert.count == 80
        assert await desks[0].notices("alert") == [{"alert_id": alert.id}]
    finally:
        for db in instances:
            await db.dispose()
