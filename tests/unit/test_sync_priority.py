"""What an order changes goes ahead of a bulk backlog, on memory, SQLite and PostgreSQL: the outbox claims the
lines an order changed (a reservation taken or released) before 1C's, however much older 1C's are, and a drain
under way sends them in its next push, ahead of the lines it had already claimed.

Not timed: the order of claims and pushes is the rule; bench/full_sync.py measures how soon they arrive."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from tests.fakes import FakeClock
from tests.unit.test_sync import Shop
from workflows.channels import PushOutcome, StockLine
from workflows.orders import LineRequest, PlaceOrder
from workflows.ports import BULK, URGENT, UnitOfWorkFactory
from workflows.topology import Topology

BACKLOG = [f"BULK-{n:02d}" for n in range(12)]  # sorted before IRON: in a claim by age and SKU alone, first


@pytest.fixture
def shop(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> Shop:
    return Shop(uow, topology, clock)


async def _backlog(shop: Shop) -> None:
    """1C gives a dozen SKUs (and IRON) stock at once: a backlog for the channel, queued before any order."""
    await shop.stock(*[(sku, "online", 5) for sku in [*BACKLOG, "IRON"]])
    shop.clock.advance(seconds=30)


async def _claim(shop: Shop, limit: int, *, urgent_only: bool = False) -> list[str]:
    async with shop.uow() as work:
        now = shop.clock.now()
        claimed = await work.outbox.claim(
            "wildberries", now, now + timedelta(seconds=15), "test", limit, urgent_only=urgent_only
        )
        await work.commit()
    return [push.sku for push in claimed]


async def test_with_a_bulk_backlog_queued_an_order_driven_change_is_claimed_first(shop: Shop) -> None:
    await shop.stock(("KETTLE", "online", 4))
    assert await shop.tick() == 1  # KETTLE is on the channel, nothing waits
    await _backlog(shop)
    await shop.orders.place(PlaceOrder("site", "S-1", [LineRequest("KETTLE", 1)]))  # younger than the backlog

    assert await _claim(shop, 1) == ["KETTLE"]  # the order's line first, although the youngest
    assert await _claim(shop, 3) == BACKLOG[:3]  # then 1C's, oldest first, by SKU


async def test_a_line_an_order_changed_stays_ahead_when_1c_changes_it_again(shop: Shop) -> None:
    await _backlog(shop)
    await shop.orders.place(PlaceOrder("site", "S-1", [LineRequest("IRON", 1)]))  # IRON's line was 1C's: now urgent
    await shop.stock(("IRON", "online", 9))  # 1C again, before anything was sent: the line keeps its urgency

    assert await _claim(shop, 20, urgent_only=True) == ["IRON"]  # the order's line alone
    assert await _claim(shop, 20, urgent_only=True) == []  # leased: claimed once
    assert await _claim(shop, 2) == BACKLOG[:2]
    async with shop.uow(read_only=True) as work:
        assert (await work.outbox.known("wildberries", ["IRON"])) == {"IRON": 7}  # 9 - 1 reserved - 1 safety


async def test_a_cancellation_is_order_driven_too(shop: Shop) -> None:
    await shop.stock(("KETTLE", "online", 4))
    placed = await shop.orders.place(PlaceOrder("site", "S-1", [LineRequest("KETTLE", 1)]))
    await shop.tick()  # the reservation reached the channel
    await _backlog(shop)
    await shop.orders.cancel(placed.order.id or 0)

    assert await _claim(shop, 1) == ["KETTLE"]


async def test_only_what_an_order_changed_is_urgent(shop: Shop) -> None:
    await _backlog(shop)
    await shop.orders.place(PlaceOrder("site", "S-1", [LineRequest("IRON", 1)]))
    assert (URGENT, BULK) == (0, 1)
    assert await _claim(shop, 20, urgent_only=True) == ["IRON"]
    assert sorted(await _claim(shop, 20)) == BACKLOG


async def test_a_drain_under_way_sends_an_order_in_its_next_push_ahead_of_what_it_claimed(shop: Shop) -> None:
    await shop.stock(("KETTLE", "online", 4))
    await shop.tick()
    await _backlog(shop)
    shop.uow.hooks.after.append(shop.dispatcher.kick)  # as the service wakes its dispatchers after a commit
    real = shop.channel.push_stock

    async def order_while_sending(lines: Sequence[StockLine]) -> PushOutcome:
        shop.channel.push_stock = real  # type: ignore[method-assign]
        await shop.orders.place(PlaceOrder("site", "S-1", [LineRequest("KETTLE", 3)]))  # a buyer, mid-drain
        return await real(lines)

    shop.channel.push_stock = order_while_sending  # type: ignore[method-assign]
    await shop.tick()

    pushes = [[line.sku for line in batch] for batch in shop.channel.sent[1:]]  # after KETTLE's first value
    assert pushes[0] == BACKLOG[:2]  # the backlog's first push, under way when the order came
    assert pushes[1][0] == "KETTLE"  # the very next push: the order's line first, before the claimed backlog
    assert sorted(sku for batch in pushes for sku in batch) == sorted([*BACKLOG, "IRON", "KETTLE"])  # each once
    assert shop.channel.shown()["KETTLE"] == 0  # 4 - 3 reserved - 1 safety
    assert [len(batch) for batch in pushes] == [2] * 7  # as many requests as before: none half-empty


async def test_an_order_costs_no_extra_request_when_the_backlog_comes_in_several_claims(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("workflows.sync.CLAIM_LINES", 8)  # four batches of 2 a claim: the backlog takes several
    await shop.stock(("KETTLE", "online", 4))
    await shop.tick()
    await _backlog(shop)
    shop.uow.hooks.after.append(shop.dispatcher.kick)
    real = shop.channel.push_stock

    async def order_while_sending(lines: Sequence[StockLine]) -> PushOutcome:
        shop.channel.push_stock = real  # type: ignore[method-assign]
        await shop.orders.place(PlaceOrder("site", "S-1", [LineRequest("KETTLE", 3)]))
        return await real(lines)

    shop.channel.push_stock = order_while_sending  # type: ignore[method-assign]
    await shop.tick()

    pushes = [[line.sku for line in batch] for batch in shop.channel.sent[1:]]
    assert sorted(sku for batch in pushes for sku in batch) == sorted([*BACKLOG, "IRON", "KETTLE"])  # each once
    # the order's line cut the claimed lines again, one short of a batch: the next claim's lines filled it
    assert [len(batch) for batch in pushes] == [2] * 7


async def test_orders_during_a_backlog_claimed_a_batch_at_a_time_cost_no_request_of_their_own(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as many lines a claim as a request takes, one push at a time: Wildberries' 1 000 lines in the full-sync bench
    monkeypatch.setattr("workflows.sync.CLAIM_LINES", 2)
    await shop.stock(("KETTLE", "online", 4))
    await shop.tick()
    await _backlog(shop)
    shop.uow.hooks.after.append(shop.dispatcher.kick)
    real = shop.channel.push_stock
    buyers = {1: "KETTLE", 3: BACKLOG[-1]}  # a buyer during the backlog's first push, another during its third

    async def orders_while_sending(lines: Sequence[StockLine]) -> PushOutcome:
        sku = buyers.pop(len(shop.channel.sent), None)
        if sku is not None:
            await shop.orders.place(PlaceOrder("site", f"S-{sku}", [LineRequest(sku, 1)]))
        return await real(lines)

    shop.channel.push_stock = orders_while_sending  # type: ignore[method-assign]
    await shop.tick()

    assert not buyers  # both ordered while the backlog drained
    pushes = [[line.sku for line in batch] for batch in shop.channel.sent[1:]]
    assert sorted(sku for batch in pushes for sku in batch) == sorted([*BACKLOG, "IRON", "KETTLE"])  # each once
    assert pushes[1][0] == "KETTLE" and BACKLOG[-1] in pushes[3]  # in the push after the one under way, ahead
    assert [len(batch) for batch in pushes] == [2] * 7  # the orders' lines rode in the backlog's pushes
    assert shop.channel.shown()["KETTLE"] == 2 and shop.channel.shown()[BACKLOG[-1]] == 3
