"""A channel's pushes in flight at once (``pushes_in_flight``), and the lines of a drain whose database went away
under it going again at once when it is back, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from tests.unit.test_sync import FakeChannel, Shop
from tests.unit.test_sync import shop as shop  # the fixture, on memory, SQLite and PostgreSQL
from workflows.channels import ChannelUnavailable, PushOutcome, StockLine, pushes_in_flight
from workflows.leases import HeldLeases, LeaseKind


@dataclass
class LanedChannel(FakeChannel):
    """A channel that takes several pushes at once; counts how many were on the wire together."""

    pushes_in_flight: int = 3
    on_wire: int = 0
    most_on_wire: int = 0

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        self.on_wire += 1
        self.most_on_wire = max(self.most_on_wire, self.on_wire)
        try:
            await asyncio.sleep(0.02)  # the answer takes a while (no business timer): the other lanes go meanwhile
            return await super().push_stock(lines)
        finally:
            self.on_wire -= 1


def laned(shop: Shop, lanes: int = 3) -> LanedChannel:
    shop.channel = LanedChannel(pushes_in_flight=lanes)
    shop.dispatcher = shop.restarted("test")
    return shop.channel


def test_a_client_says_how_many_pushes_it_takes_at_once() -> None:
    assert pushes_in_flight(FakeChannel()) == 1
    assert pushes_in_flight(LanedChannel(pushes_in_flight=4)) == 4
    assert pushes_in_flight(LanedChannel(pushes_in_flight=0)) == 1


async def test_pushes_go_side_by_side_up_to_the_channels_lanes_and_every_value_arrives(shop: Shop) -> None:
    channel = laned(shop, lanes=3)
    await shop.stock(*[(f"SKU-{n:02}", "online", n + 2) for n in range(30)])
    assert await shop.dispatcher.drain() == 30
    assert channel.most_on_wire == 3
    assert sorted(len(batch) for batch in channel.sent) == [2] * 15
    assert channel.shown() == {f"SKU-{n:02}": n + 1 for n in range(30)}
    async with shop.uow(read_only=True) as work:
        assert await work.outbox.depth() == {}


async def test_side_by_side_pushes_keep_each_skus_values_in_order(shop: Shop) -> None:
    channel = laned(shop, lanes=3)
    await shop.stock(*[(f"SKU-{n}", "online", 10) for n in range(8)])
    real = LanedChannel.push_stock
    step = 0

    async def changing(lines: Sequence[StockLine]) -> PushOutcome:
        nonlocal step
        if step < 5:
            step += 1
            await shop.stock(*[(f"SKU-{n}", "online", 10 + step) for n in range(8)])  # 1C speaks during pushes
        return await real(channel, lines)

    channel.push_stock = changing  # type: ignore[method-assign]
    for _ in range(8):  # no clock move: a line whose value changed in flight is free once it is settled
        await shop.dispatcher.drain()
    per_sku: dict[str, list[int]] = {}
    for batch in channel.sent:
        for line in batch:
            per_sku.setdefault(line.sku, []).append(line.qty)
    for sku, values in per_sku.items():
        assert values == sorted(values), (sku, values)
    assert channel.shown() == {f"SKU-{n}": 10 + step - 1 for n in range(8)}
    async with shop.uow(read_only=True) as work:
        assert await work.outbox.depth() == {}


async def test_a_failure_in_one_lane_lets_the_others_answer_and_the_rest_waits(shop: Shop) -> None:
    channel = laned(shop, lanes=3)
    await shop.stock(*[(f"SKU-{n:02}", "online", n + 2) for n in range(12)])
    real = LanedChannel.push_stock
    calls = 0

    async def second_fails(lines: Sequence[StockLine]) -> PushOutcome:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ChannelUnavailable("down", retry_after=10)
        return await real(channel, lines)

    channel.push_stock = second_fails  # type: ignore[method-assign]
    taken = await shop.dispatcher.drain()
    assert taken == 2 * (len(channel.sent))  # what was on the wire beside the failure was answered and settled
    async with shop.uow(read_only=True) as work:
        assert (await work.outbox.depth())["wildberries"][0] == 12 - taken
        assert (await work.channel_states.get("wildberries")).failures_in_a_row == 1
    assert await shop.dispatcher.drain() == 0  # the rest waits out the channel's hint
    shop.clock.advance(seconds=11)
    assert await shop.dispatcher.drain() == 12 - taken
    assert channel.shown() == {f"SKU-{n:02}": n + 1 for n in range(12)}


async def test_lines_a_drain_left_when_its_database_went_away_go_again_at_once(shop: Shop) -> None:
    """No clock move: the lines are not waiting out their 15-s lease. Another instance cannot take them meanwhile
    (they are still leased), and only their owner lifts them."""
    await shop.stock(*[(f"SKU-{n:02}", "online", n + 2) for n in range(12)])
    real = shop.dispatcher._settle

    async def gone(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionResetError("connection to the database lost")

    shop.dispatcher._settle = gone  # type: ignore[method-assign]
    with pytest.raises(ConnectionResetError):
        await shop.dispatcher.drain()
    sent_before = len(shop.channel.sent)
    assert sent_before >= 1
    shop.dispatcher._settle = real  # type: ignore[method-assign]
    other = shop.restarted("another-instance")
    assert await shop.tick(other) == 0  # still leased by the first: another instance waits the lease out
    async with shop.uow(read_only=True) as work:
        assert (await work.outbox.depth())["wildberries"][0] == 12
    assert await shop.tick() == 12  # the connection is back: the owner lifts its own and sends them now
    assert shop.channel.shown() == {f"SKU-{n:02}": n + 1 for n in range(12)}
    async with shop.uow(read_only=True) as work:
        assert await work.outbox.depth() == {}


def test_held_leases_remember_what_work_left_unsettled_until_it_is_lifted_or_held_again() -> None:
    held = HeldLeases()
    with held.scope(LeaseKind.STOCK_PUSH) as scope:
        scope.hold([("wb", "A"), ("wb", "B"), ("wb", "C")])
        scope.drop([("wb", "A")])  # settled
    assert held.left_behind(LeaseKind.STOCK_PUSH) == {("wb", "B"), ("wb", "C")}
    assert held.left_behind(LeaseKind.PRICE_PUSH) == set()
    held.hold(LeaseKind.STOCK_PUSH, [("wb", "B")])  # claimed again: held, no longer left behind
    assert held.left_behind(LeaseKind.STOCK_PUSH) == {("wb", "C")}
    held.lifted(LeaseKind.STOCK_PUSH, [("wb", "C")])
    assert held.left_behind(LeaseKind.STOCK_PUSH) == set()
    assert held.snapshot() == {LeaseKind.STOCK_PUSH: [("wb", "B")]}
