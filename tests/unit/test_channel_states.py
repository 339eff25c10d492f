"""The typed state ports on memory, SQLite and PostgreSQL: each channel's (and the carrier's) state, 1C's
heartbeats and the daily report's deliveries — one contract for the fake and both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from storage.database import Database
from storage.uow import SqlUnitOfWorkFactory
from workflows.ports import ChannelState, Heartbeat, ReportDelivery, UnitOfWorkFactory

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


async def test_a_channel_nothing_was_kept_about_has_the_default_state(uow: UnitOfWorkFactory) -> None:
    async with uow(read_only=True) as work:
        assert await work.channel_states.get("ozon") == ChannelState("ozon")
        assert await work.channel_states.all() == {}
    state = ChannelState("ozon")
    assert (state.paused, state.circuit_open(T0), state.failures_in_a_row) == (False, False, 0)


async def test_pause_and_resume(uow: UnitOfWorkFactory) -> None:
    async with uow() as work:
        await work.channel_states.pause("ozon", "telegram:1", T0)
        await work.channel_states.resume("site")  # a running channel: nothing to keep
        await work.commit()
    async with uow(read_only=True) as work:
        ozon = await work.channel_states.get("ozon")
        assert (ozon.paused, ozon.paused_by, ozon.paused_at) == (True, "telegram:1", T0)
        assert list(await work.channel_states.all()) == ["ozon"]
    async with uow() as work:
        await work.channel_states.pause("ozon", "telegram:2", T0 + timedelta(minutes=1))  # the newer pauser
        await work.commit()
    async with uow(read_only=True) as work:
        assert (await work.channel_states.get("ozon")).paused_by == "telegram:2"
    async with uow() as work:
        await work.channel_states.resume("ozon")
        await work.commit()
    async with uow(read_only=True) as work:
        assert await work.channel_states.get("ozon") == ChannelState("ozon")


async def test_failures_in_a_row_count_up_and_reset(uow: UnitOfWorkFactory) -> None:
    async with uow() as work:
        assert not await work.channel_states.reset_failures("wildberries")  # nothing to reset
        assert [await work.channel_states.count_failure("wildberries") for _ in range(3)] == [1, 2, 3]
        assert await work.channel_states.count_failure("cdek") == 1  # the carrier, by its name
        await work.commit()
    async with uow() as work:
        assert (await work.channel_states.get("wildberries")).failures_in_a_row == 3
        assert await work.channel_states.reset_failures("wildberries")
        assert not await work.channel_states.reset_failures("wildberries")  # already 0
        await work.commit()
    async with uow(read_only=True) as work:
        states = await work.channel_states.all()
    assert {name: s.failures_in_a_row for name, s in states.items()} == {"cdek": 1, "wildberries": 0}


async def test_each_writer_keeps_the_other_fields(uow: UnitOfWorkFactory) -> None:
    until = T0 + timedelta(minutes=1)
    async with uow() as work:
        await work.channel_states.pause("ozon", "telegram:1", T0)
        await work.channel_states.count_failure("ozon")
        await work.channel_states.open_circuit("ozon", until)
        await work.channel_states.request_sync("ozon", "telegram:2", T0 + timedelta(seconds=1))
        await work.channel_states.reconciled("ozon", "checked=3 corrected=1", T0 + timedelta(seconds=2))
        await work.commit()
    async with uow(read_only=True) as work:
        state = await work.channel_states.get("ozon")
    assert state == ChannelState(
        "ozon", paused_by="telegram:1", paused_at=T0, circuit_until=until, failures_in_a_row=1,
        sync_requested_at=T0 + timedelta(seconds=1), sync_requested_by="telegram:2",
        reconciled_at=T0 + timedelta(seconds=2), reconciled="checked=3 corrected=1",
    )  # fmt: skip
    assert state.circuit_open(T0) and not state.circuit_open(until)


async def test_what_is_not_committed_is_not_kept(uow: UnitOfWorkFactory) -> None:
    async with uow() as work:
        await work.channel_states.pause("ozon", "telegram:1", T0)
        await work.channel_states.count_failure("ozon")
        await work.heartbeats.heard("stock", T0)
        await work.report_deliveries.save(ReportDelivery(date(2026, 11, 21), "sent", None, T0))
    async with uow(read_only=True) as work:
        assert await work.channel_states.all() == {}
        assert await work.heartbeats.last() is None
        assert await work.report_deliveries.get(date(2026, 11, 21)) is None


async def test_the_newest_heartbeat_of_any_source(uow: UnitOfWorkFactory) -> None:
    async with uow() as work:
        assert await work.heartbeats.last() is None
        await work.heartbeats.heard("stock", T0)
        await work.heartbeats.heard("orders", T0 + timedelta(minutes=1))
        await work.commit()
    async with uow(read_only=True) as work:
        assert await work.heartbeats.last() == Heartbeat("orders", T0 + timedelta(minutes=1))
    async with uow() as work:
        await work.heartbeats.heard("stock", T0 + timedelta(minutes=2))
        await work.commit()
    async with uow(read_only=True) as work:
        assert await work.heartbeats.last() == Heartbeat("stock", T0 + timedelta(minutes=2))


async def test_a_days_report_delivery_is_kept_and_overwritten(uow: UnitOfWorkFactory) -> None:
    day = date(2026, 11, 21)
    async with uow() as work:
        assert await work.report_deliveries.get(day) is None
        await work.report_deliveries.save(ReportDelivery(day, "sending", "host-a", T0))
        await work.commit()
    async with uow() as work:
        assert await work.report_deliveries.get(day) == ReportDelivery(day, "sending", "host-a", T0)
        await work.report_deliveries.save(ReportDelivery(day, "sent", "host-a", T0 + timedelta(minutes=1)))
        await work.commit()
    async with uow(read_only=True) as work:
        assert await work.report_deliveries.get(day) == ReportDelivery(day, "sent", "host-a", T0 + timedelta(minutes=1))
        assert await work.report_deliveries.get(day + timedelta(days=1)) is None


async def test_failures_counted_at_once_are_each_counted(database: Database) -> None:
    """Two dispatchers (or instances) failing at the same moment: no count is lost, none fails on the first."""
    uow = SqlUnitOfWorkFactory(database)

    async def fail() -> int:
        async with uow() as work:
            counted = await work.channel_states.count_failure("wildberries")
            await work.commit()
        return counted

    assert sorted(await asyncio.gather(*(fail() for _ in range(6)))) == [1, 2, 3, 4, 5, 6]
    async with uow(read_only=True) as work:
        assert (await work.channel_states.get("wildberries")).failures_in_a_row == 6
