"""Operators' switches and vital signs on memory, SQLite and PostgreSQL: paused channels,
requested syncs, 1C going quiet, stock that went negative, and what ``/status`` shows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from storage.database import Database
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FakeClock
from workflows.alerts import AlertDesk
from workflows.errors import UnknownChannel
from workflows.ledger import Shortfall
from workflows.model import StockFigure
from workflows.office_model import Alert
from workflows.operations import ONEC_SILENT_KEY, Operations
from workflows.ports import UnitOfWorkFactory
from workflows.tasks import TaskBoard
from workflows.topology import OneC, Topology

SILENCE = timedelta(minutes=30)
CHANNELS = ["ozon", "site", "wildberries", "yandex_market"]  # storeops.example.toml
EVENING = datetime(2026, 12, 7, 21, 50, tzinfo=ZoneInfo("Europe/Moscow")).astimezone(UTC)  # a Monday, shop time


def working(topology: Topology, hours: str, *days: str) -> Topology:
    """The topology with 1C expected only at ``hours`` (on ``days``, every day if none)."""
    onec = OneC.model_validate(
        {**topology.onec.model_dump(), "working_hours": hours, **({"working_days": days} if days else {})}
    )
    return topology.model_copy(update={"onec": onec})


class Ops:
    def __init__(self, uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> None:
        self.uow = uow
        self.operations = Operations(uow, clock, topology, AlertDesk(clock, TaskBoard(uow, clock)), SILENCE)

    async def heard(self) -> None:
        async with self.uow() as work:
            await self.operations.heard_from_onec(work, "api")
            await work.commit()

    async def report(self, figures: list[StockFigure], shortfalls: list[Shortfall]) -> None:
        async with self.uow() as work:
            await self.operations.report_stock(work, figures, shortfalls)
            await work.commit()

    async def open_alert(self, key: str) -> Alert | None:
        async with self.uow(read_only=True) as work:
            return await work.alerts.open_for(key)

    async def notices(self, topic: str) -> list[dict[str, object]]:
        async with self.uow(read_only=True) as work:
            return [payload for _, _, payload in await work.notices.undelivered(1000, [topic])]


@pytest.fixture
def ops(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> Ops:
    return Ops(uow, topology, clock)


async def test_a_channel_is_paused_and_resumed(ops: Ops, clock: FakeClock) -> None:
    operations = ops.operations
    assert (await operations.status()).channels == dict.fromkeys(CHANNELS, False)
    await operations.pause("ozon", "1002")
    assert (await operations.status()).channels == {**dict.fromkeys(CHANNELS, False), "ozon": True}
    assert await operations.is_paused("ozon") and not await operations.is_paused("site")
    await operations.pause("ozon", "1003")  # twice is still paused, once
    clock.advance(minutes=5)
    await operations.resume("ozon", "1002")
    assert (await operations.status()).channels == dict.fromkeys(CHANNELS, False)
    assert not await operations.is_paused("ozon")
    await operations.resume("site", "1002")  # resuming a running channel changes nothing
    assert (await operations.status()).channels == dict.fromkeys(CHANNELS, False)


async def test_syncs_are_requested_for_one_channel_or_all(ops: Ops, clock: FakeClock) -> None:
    operations = ops.operations
    assert (await operations.status()).sync_requested == {}
    assert await operations.request_sync("wildberries", "1002") == ["wildberries"]
    asked_at = clock.now()
    assert (await operations.status()).sync_requested == {"wildberries": asked_at}
    clock.advance(minutes=1)
    assert await operations.request_sync(None, "1001") == CHANNELS
    assert (await operations.status()).sync_requested == dict.fromkeys(CHANNELS, clock.now())


@pytest.mark.parametrize("call", ["pause", "resume", "request_sync"])
async def test_an_unknown_channel_is_refused_and_nothing_stored(ops: Ops, call: str) -> None:
    with pytest.raises(UnknownChannel) as raised:
        await getattr(ops.operations, call)("aliexpress", "1002")
    assert raised.value.details == [{"known": CHANNELS}]
    status = await ops.operations.status()
    assert (status.channels, status.sync_requested) == (dict.fromkeys(CHANNELS, False), {})
    async with ops.uow(read_only=True) as work:
        assert await work.channel_states.all() == {}


async def test_1c_going_quiet_raises_one_alert_and_its_return_resolves_it(ops: Ops, clock: FakeClock) -> None:
    operations = ops.operations
    assert not await operations.watch_onec()  # never heard from: nothing to miss yet
    await ops.heard()
    heard_at = clock.now()
    assert (await operations.status()).onec_last_update == heard_at
    clock.advance(minutes=30)
    assert not await operations.watch_onec()  # exactly the allowed silence
    assert await ops.open_alert(ONEC_SILENT_KEY) is None

    clock.advance(minutes=1)
    assert await operations.watch_onec()
    clock.advance(minutes=1)
    assert await operations.watch_onec()  # still quiet: counted on the same alert, no new message
    alert = await ops.open_alert(ONEC_SILENT_KEY)
    assert alert is not None
    assert (alert.kind, alert.count, alert.detail) == (
        ONEC_SILENT_KEY, 2, {"last_update": heard_at.isoformat(), "minutes": 32},
    )  # fmt: skip
    assert await ops.notices("alert") == [{"alert_id": alert.id}]

    clock.advance(minutes=3)
    await ops.heard()
    assert await ops.open_alert(ONEC_SILENT_KEY) is None
    async with ops.uow(read_only=True) as work:
        resolved = await work.alerts.get(alert.id or 0)
    assert resolved is not None and (resolved.state, resolved.resolved_at) == ("resolved", clock.now())
    assert await ops.notices("alert_resolved") == [{"alert_id": alert.id}]
    assert (await operations.status()).onec_last_update == clock.now()
    assert not await operations.watch_onec()
    await ops.heard()  # heard again: nothing to resolve, nothing said
    assert await ops.notices("alert_resolved") == [{"alert_id": alert.id}]


async def test_negative_stock_is_reported_per_sku_and_warehouse_and_ends_when_covered(ops: Ops) -> None:
    def figures(*where: tuple[str, int]) -> list[StockFigure]:
        return [StockFigure("IRON", warehouse, qty) for warehouse, qty in where]

    await ops.report(figures(("online", 5)), [])
    assert await ops.notices("alert") == []
    await ops.report(
        figures(("online", 1), ("tverskaya", 0)),
        [Shortfall("IRON", "online", 1, 3), Shortfall("IRON", "tverskaya", 0, 1)],
    )
    await ops.report(figures(("online", 0)), [Shortfall("IRON", "online", 0, 3)])
    online = await ops.open_alert("stock_negative:IRON:online")
    store = await ops.open_alert("stock_negative:IRON:tverskaya")
    assert online is not None and store is not None
    assert (online.kind, online.count, online.detail) == (
        "stock_negative", 2, {"sku": "IRON", "warehouse": "online", "on_hand": 0, "reserved": 3},
    )  # fmt: skip
    assert (store.count, store.detail["on_hand"]) == (1, 0)
    assert await ops.notices("alert") == [{"alert_id": online.id}, {"alert_id": store.id}]
    await ops.report(figures(("online", 4)), [])  # 1C now covers the online promises
    assert await ops.open_alert("stock_negative:IRON:online") is None
    assert await ops.open_alert("stock_negative:IRON:tverskaya") is not None  # not reported again: still open
    assert await ops.notices("alert_resolved") == [{"alert_id": online.id}]


async def test_status_counts_open_tasks_and_undelivered_messages(ops: Ops, clock: FakeClock) -> None:
    status = await ops.operations.status()
    assert (status.open_tasks, status.undelivered_messages, status.onec_last_update) == (0, 0, None)
    await ops.heard()
    clock.advance(hours=1)
    await ops.operations.watch_onec()  # one alert: its ack/mute task and its message
    await ops.report([StockFigure("IRON", "online", 0)], [Shortfall("IRON", "online", 0, 1)])
    status = await ops.operations.status()
    assert (status.open_tasks, status.undelivered_messages) == (2, 2)
    async with ops.uow() as work:
        (first, *_) = await work.notices.undelivered(10)
        await work.notices.delivered(first[0], clock.now())
        await work.commit()
    await ops.heard()  # the alert's task closes; the recovery and the close are queued
    status = await ops.operations.status()
    assert (status.open_tasks, status.undelivered_messages) == (1, 3)


async def test_1c_heard_on_several_requests_at_once(database: Database, topology: Topology, clock: FakeClock) -> None:
    """Stock messages arrive in parallel: each notes the time; none fails on the first note."""
    ops = Ops(SqlUnitOfWorkFactory(database), topology, clock)
    await asyncio.gather(*(ops.heard() for _ in range(4)))
    assert (await ops.operations.status()).onec_last_update == clock.now()


async def test_1c_quiet_at_night_is_counted_from_the_morning(uow: UnitOfWorkFactory, topology: Topology) -> None:
    """1C last spoke at 21:50 and is expected 08:00-22:00: ten working minutes that evening, twenty the next
    morning make the allowed thirty; the alert comes at 08:21, not at 22:21, and counts working minutes."""
    clock = FakeClock(EVENING)
    ops = Ops(uow, working(topology, "08:00-22:00"), clock)
    await ops.heard()
    heard_at = clock.now()
    clock.advance(minutes=31)  # 22:21: the clock's half hour, but 1C has gone home
    assert not await ops.operations.watch_onec()
    clock.advance(hours=9, minutes=59)  # 08:20: exactly thirty working minutes
    assert not await ops.operations.watch_onec()
    assert await ops.notices("alert") == []
    clock.advance(minutes=5)  # 08:25
    assert await ops.operations.watch_onec()
    alert = await ops.open_alert(ONEC_SILENT_KEY)
    assert alert is not None
    assert alert.detail == {"last_update": heard_at.isoformat(), "minutes": 35, "working_hours": "08:00-22:00"}
    await ops.heard()
    assert await ops.open_alert(ONEC_SILENT_KEY) is None


async def test_an_alert_raised_at_closing_waits_the_night_uncounted(uow: UnitOfWorkFactory, topology: Topology) -> None:
    clock = FakeClock(EVENING - timedelta(hours=1))  # 20:50
    ops = Ops(uow, working(topology, "08:00-22:00", "Mon", "Tue", "Wed", "Thu", "Fri"), clock)
    await ops.heard()
    clock.advance(minutes=31)
    assert await ops.operations.watch_onec()
    for _ in range(10):  # every hour of the night, as the scheduler would every minute
        clock.advance(hours=1)
        assert not await ops.operations.watch_onec()
    alert = await ops.open_alert(ONEC_SILENT_KEY)
    assert alert is not None and (alert.count, alert.detail["minutes"]) == (1, 31)
    clock.advance(hours=1)  # Tuesday 08:21
    assert await ops.operations.watch_onec()
    alert = await ops.open_alert(ONEC_SILENT_KEY)
    assert alert is not None and (alert.count, alert.detail["minutes"]) == (2, 70 + 21)
    assert await ops.notices("alert") == [{"alert_id": alert.id}]  # one message, its count edited


async def test_1c_quiet_over_the_weekend_is_no_alarm(uow: UnitOfWorkFactory, topology: Topology) -> None:
    friday = EVENING + timedelta(days=4, hours=-4)  # Friday 17:50
    clock = FakeClock(friday)
    ops = Ops(uow, working(topology, "09:00-18:00", "Mon", "Tue", "Wed", "Thu", "Fri"), clock)
    await ops.heard()
    for hours in (1, 24, 24, 14.25):  # Friday 18:50, Saturday, Sunday, Monday 09:05
        clock.advance(hours=hours)
        assert not await ops.operations.watch_onec(), clock.now()
    clock.advance(minutes=20)  # Monday 09:25: ten minutes on Friday, twenty-five this morning
    assert await ops.operations.watch_onec()
    alert = await ops.open_alert(ONEC_SILENT_KEY)
    assert alert is not None and alert.detail["minutes"] == 35
