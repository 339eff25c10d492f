"""``SyncDispatcher.drain`` — the kicked drain that claims ahead and settles behind — on memory, SQLite and
PostgreSQL: order of values, failures, pause, cancellation, a failing settle, and a value that changed while it
was in flight."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import pytest

from tests.unit.test_sync import Shop
from tests.unit.test_sync import shop as shop  # the fixture, on memory, SQLite and PostgreSQL
from workflows.channels import ChannelUnavailable, PushOutcome, StockLine


async def test_drain_sends_everything_oldest_first_in_batches(shop: Shop) -> None:
    await shop.stock(*[(f"SKU-{n}", "online", n + 2) for n in range(5)])
    shop.clock.advance(seconds=1)
    await shop.stock(("LATE", "online", 7))
    assert await shop.dispatcher.drain() == 6
    assert [len(b) for b in shop.channel.sent] == [2, 2, 2]
    assert shop.channel.sent[-1][-1].sku == "LATE"
    assert shop.channel.shown() == {**{f"SKU-{n}": n + 1 for n in range(5)}, "LATE": 6}
    async with shop.uow(read_only=True) as work:
        assert await work.outbox.depth() == {}
    assert await shop.dispatcher.drain() == 0


async def test_drain_goes_on_past_batches_the_channel_holds_back_or_refuses(shop: Shop) -> None:
    shop.channel.wait = {"SKU-0", "SKU-1"}
    shop.channel.reject = {"SKU-2": "no"}
    await shop.stock(*[(f"SKU-{n}", "online", n + 2) for n in range(6)])
    assert await shop.dispatcher.drain() == 3
    assert {line.sku for b in shop.channel.sent for line in b} == {f"SKU-{n}" for n in range(6)}
    shop.channel.wait = set()
    shop.clock.advance(seconds=31)
    assert await shop.dispatcher.drain() == 2


async def test_a_failure_stops_the_drain_and_what_was_claimed_ahead_waits_too(shop: Shop) -> None:
    await shop.stock(*[(f"SKU-{n}", "online", n + 2) for n in range(6)])
    shop.channel.fail = [ChannelUnavailable("down", retry_after=10)]
    assert await shop.dispatcher.drain() == 0
    assert shop.channel.sent == []
    assert await shop.dispatcher.drain() == 0  # every claimed line waits out the hint
    shop.clock.advance(seconds=11)
    assert await shop.dispatcher.drain() == 6
    assert shop.channel.shown() == {f"SKU-{n}": n + 1 for n in range(6)}


async def test_a_failure_after_some_batches(shop: Shop) -> None:
    await shop.stock(*[(f"SKU-{n}", "online", n + 2) for n in range(8)])
    real = shop.channel.push_stock
    calls = 0

    async def flaky(lines: Sequence[StockLine]) -> PushOutcome:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ChannelUnavailable("blip", retry_after=5)
        return await real(lines)

    shop.channel.push_stock = flaky  # type: ignore[method-assign]
    assert await shop.dispatcher.drain() == 2
    shop.clock.advance(seconds=6)
    assert await shop.dispatcher.drain() == 6
    assert shop.channel.shown() == {f"SKU-{n}": n + 1 for n in range(8)}
    async with shop.uow(read_only=True) as work:
        assert await work.outbox.depth() == {}


async def test_values_changed_during_a_drain_arrive_in_order(shop: Shop) -> None:
    await shop.stock(*[(f"SKU-{n}", "online", 10) for n in range(6)])
    real = shop.channel.push_stock
    step = 0

    async def changing(lines: Sequence[StockLine]) -> PushOutcome:
        nonlocal step
        if step < 4:
            step += 1
            await asyncio.sleep(0)
            await shop.stock(*[(f"SKU-{n}", "online", 10 + step) for n in range(6)])  # 1C speaks during pushes
        await asyncio.sleep(0)
        return await real(lines)

    shop.channel.push_stock = changing  # type: ignore[method-assign]
    await shop.dispatcher.drain()
    shop.channel.push_stock = real  # type: ignore[method-assign]
    for _ in range(5):  # no clock move: a line whose value changed in flight is free as soon as it is settled
        await shop.dispatcher.drain()
    per_sku: dict[str, list[int]] = {}
    for batch in shop.channel.sent:
        for line in batch:
            per_sku.setdefault(line.sku, []).append(line.qty)
    for sku, values in per_sku.items():
        assert values == sorted(values), (sku, values)
    last = 10 + step - 1  # availability is qty - 1 (safety stock)

    assert shop.channel.shown() == {f"SKU-{n}": last for n in range(6)}
    async with shop.uow(read_only=True) as work:
        assert await work.outbox.depth() == {}


async def test_a_pause_stops_the_drain(shop: Shop) -> None:
    await shop.stock(*[(f"SKU-{n}", "online", n + 2) for n in range(6)])
    real = shop.channel.push_stock

    async def pausing(lines: Sequence[StockLine]) -> PushOutcome:
        await shop.operations.pause("wildberries", "test")
        return await real(lines)

    shop.channel.push_stock = pausing  # type: ignore[method-assign]
    sent = await shop.dispatcher.drain()
    assert sent == 2
    async with shop.uow(read_only=True) as work:
        assert (await work.outbox.depth())["wildberries"][0] == 4
    await shop.operations.resume("wildberries", "test")
    shop.channel.push_stock = real  # type: ignore[method-assign]
    assert await shop.dispatcher.drain() == 4  # released at once, not after the lease
    assert shop.channel.shown() == {f"SKU-{n}": n + 1 for n in range(6)}


async def test_cancelling_a_drain_loses_nothing(shop: Shop) -> None:
    await shop.stock(*[(f"SKU-{n}", "online", n + 2) for n in range(6)])
    real = shop.channel.push_stock
    hang = asyncio.Event()

    async def slow(lines: Sequence[StockLine]) -> PushOutcome:
        if len(shop.channel.sent) == 1:
            await hang.wait()
        return await real(lines)

    shop.channel.push_stock = slow  # type: ignore[method-assign]
    task = asyncio.create_task(shop.dispatcher.drain())
    for _ in range(200):
        await asyncio.sleep(0.001)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    shop.channel.push_stock = real  # type: ignore[method-assign]
    shop.clock.advance(seconds=121)
    await shop.dispatcher.drain()
    assert shop.channel.shown() == {f"SKU-{n}": n + 1 for n in range(6)}
    async with shop.uow(read_only=True) as work:
        assert await work.outbox.depth() == {}


async def test_a_long_drain_in_groups(shop: Shop) -> None:
    await shop.stock(*[(f"SKU-{n:02}", "online", n + 2) for n in range(23)])
    assert await shop.dispatcher.drain() == 23
    assert [len(b) for b in shop.channel.sent] == [2] * 11 + [1]
    assert [line.sku for b in shop.channel.sent for line in b] == [f"SKU-{n:02}" for n in range(23)]
    async with shop.uow(read_only=True) as work:
        assert await work.outbox.depth() == {}


async def test_a_failing_settle_is_raised_then_logged_by_the_scheduled_run_and_nothing_is_lost(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    await shop.stock(*[(f"SKU-{n:02}", "online", n + 2) for n in range(12)])
    real = shop.dispatcher._settle
    calls = 0

    async def broken(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database gone")
        return await real(*args, **kwargs)

    shop.dispatcher._settle = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await shop.dispatcher.drain()
    shop.clock.advance(seconds=121)
    calls = 0
    await shop.tick()  # the scheduled run logs it; a later one sends what was not settled
    assert "a kicked run failed" in caplog.text
    shop.dispatcher._settle = real  # type: ignore[method-assign]
    shop.clock.advance(seconds=121)
    await shop.tick()
    assert shop.channel.shown() == {f"SKU-{n:02}": n + 1 for n in range(12)}
    async with shop.uow(read_only=True) as work:
        assert await work.outbox.depth() == {}


async def test_settles_merge_while_one_runs(shop: Shop) -> None:
    shop.channel.reject = {"SKU-03": "no", "SKU-08": "no"}
    shop.channel.wait = {"SKU-05"}
    await shop.stock(*[(f"SKU-{n:02}", "online", n + 2) for n in range(12)])
    assert await shop.dispatcher.drain() == 9
    async with shop.uow(read_only=True) as work:
        assert (await work.outbox.depth())["wildberries"][0] == 3


async def test_a_slow_channel_with_settles_running_beside(shop: Shop) -> None:
    await shop.stock(*[(f"SKU-{n:02}", "online", n + 2) for n in range(41)])
    real = shop.channel.push_stock
    shop.channel.reject = {"SKU-07": "no"}
    shop.channel.wait = {"SKU-13"}

    async def slow(lines: Sequence[StockLine]) -> PushOutcome:
        await asyncio.sleep(0.002)
        return await real(lines)

    shop.channel.push_stock = slow  # type: ignore[method-assign]
    assert await shop.dispatcher.drain() == 39
    assert [line.sku for b in shop.channel.sent for line in b] == [f"SKU-{n:02}" for n in range(41)]
    async with shop.uow(read_only=True) as work:
        assert (await work.outbox.depth())["wildberries"][0] == 2
        assert (await work.outbox.known("wildberries", ["SKU-00", "SKU-40"])) == {"SKU-00": 1, "SKU-40": 41}


async def test_failures_in_a_row_count_even_with_settles_behind(shop: Shop) -> None:
    """Each drain fails after one good batch, so the count after it is 1: the good batch's settle, running
    behind, must not land after the failure and reset it to 0."""
    real = shop.channel.push_stock
    for round_no in range(3):
        await shop.stock(*[(f"R{round_no}-{n}", "online", n + 2) for n in range(6)])
        calls = 0

        async def second_fails(lines: Sequence[StockLine]) -> PushOutcome:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.001)
            if calls == 2:
                raise ChannelUnavailable("down", retry_after=1)
            return await real(lines)

        shop.channel.push_stock = second_fails  # type: ignore[method-assign]
        await shop.dispatcher.drain()
        shop.channel.push_stock = real  # type: ignore[method-assign]
        async with shop.uow(read_only=True) as work:
            found = await work.channel_states.get("wildberries")
        assert found.failures_in_a_row == 1, found
        shop.clock.advance(seconds=2)


async def test_a_value_changed_while_its_predecessor_was_refused_goes_next(shop: Shop) -> None:
    await shop.stock(("KETTLE", "online", 5))
    real = shop.channel.push_stock

    async def refuse_meanwhile(lines: Sequence[StockLine]) -> PushOutcome:
        await shop.stock(("KETTLE", "online", 9))  # a new figure arrives while the channel looks at the old one
        shop.channel.push_stock = real  # type: ignore[method-assign]
        return PushOutcome(rejected={"KETTLE": "card under moderation"})

    shop.channel.push_stock = refuse_meanwhile  # type: ignore[method-assign]
    await shop.tick()  # the newer value goes in this run or the next, as the claim ahead and the settle fall
    await shop.tick()  # same moment: it was not held by the refused one's lease
    assert shop.channel.shown() == {"KETTLE": 8} and shop.tally.taken == 1
    async with shop.uow(read_only=True) as work:
        assert await work.outbox.depth() == {}


async def test_the_scheduled_run_drains_a_backlog_whole_and_shares_a_kicked_drain(shop: Shop) -> None:
    await shop.stock(*[(f"SKU-{n}", "online", n + 2) for n in range(6)])
    shop.dispatcher.kick()  # a kicked drain is under way when the scheduler's second comes
    await asyncio.gather(shop.dispatcher.scheduled(), shop.dispatcher.scheduled())
    assert shop.channel.shown() == {f"SKU-{n}": n + 1 for n in range(6)}  # three batches, not one a second
    sent = [line.sku for batch in shop.channel.sent for line in batch]
    assert sorted(sent) == sorted(set(sent))  # each line once: one drain at a time
    async with shop.uow(read_only=True) as work:
        assert await work.outbox.depth() == {}


async def test_a_commit_kicks_the_drain_and_the_scheduled_run_joins_it(shop: Shop) -> None:
    shop.uow.hooks.after.append(shop.dispatcher.kick)  # as the composition root wires every dispatcher
    await shop.stock(*[(f"SKU-{n}", "online", n + 2) for n in range(5)])
    async with asyncio.timeout(10):  # no scheduled run: the commit woke the dispatcher
        while shop.channel.shown() != {f"SKU-{n}": n + 1 for n in range(5)}:
            await asyncio.sleep(0.001)
    await shop.tick()  # joins the kicked drain (or finds nothing left): never a second one beside it
    sent = [line.sku for batch in shop.channel.sent for line in batch]
    assert sorted(sent) == sorted(set(sent)) and shop.tally.taken == 5
    async with shop.uow(read_only=True) as work:
        assert await work.outbox.depth() == {}
