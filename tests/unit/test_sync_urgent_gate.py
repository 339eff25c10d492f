"""An order's push goes ahead of the pushes already waiting at a channel's rate gate, on memory, SQLite and
PostgreSQL: the gate serves an urgent waiter first, a drain whose lanes are all waiting there wakes when an order
commits and sends the order's lines in a lane more, and a channel that counts lines (Yandex Market) gets them in a
push of their own. The gate's time is a manual clock the test moves; nothing sleeps for a business timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest

from integrations.rate_gate import RateGate
from tests.unit.test_sync import FakeChannel, Shop
from tests.unit.test_sync import shop as shop  # the fixture, on memory, SQLite and PostgreSQL
from workflows.channels import PushOutcome, StockLine, charges_per_line, push_is_urgent, urgent_push
from workflows.orders import LineRequest, PlaceOrder

BACKLOG = [f"BULK-{n:02d}" for n in range(12)]
PATIENCE_STEPS = 2000  # how often the test looks (5 ms apart) for the drain to reach a point: not a business timer


class ManualTime:
    """A clock for the gate that moves only when the test says; a sleep ends when the clock passes its end."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        done = asyncio.get_running_loop().create_future()
        self.sleepers.append((self.now + seconds, done))
        await done

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [(end, done) for end, done in self.sleepers if end <= self.now + 1e-9]
        self.sleepers = [each for each in self.sleepers if each not in due]
        for _, done in due:
            if not done.done():
                done.set_result(None)


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(PATIENCE_STEPS):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the drain never got there")


@dataclass
class GatedChannel(FakeChannel):
    """Wildberries' way: a token bucket before each request (a request a second here, no burst left); it notes
    whether each push it let through was marked urgent."""

    pushes_in_flight: int = 2
    charges_per_line: bool = False
    gate: RateGate | None = None
    marked: list[bool] = field(default_factory=list)

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        if self.gate is not None:
            await self.gate.wait(len(lines) if self.charges_per_line else 1)
        self.marked.append(push_is_urgent())
        return await super().push_stock(lines)


async def test_an_urgent_waiter_goes_before_the_ordinary_ones_already_waiting() -> None:
    time = ManualTime()
    gate = RateGate(per_minute=60, burst=1, clock=time.clock, sleep=time.sleep)
    went: list[str] = []

    async def request(name: str, *, urgent: bool = False) -> None:
        if urgent:
            with urgent_push():
                await gate.wait()
        else:
            await gate.wait()
        went.append(name)

    await request("first")  # the burst's one token, at once
    waiting = [asyncio.create_task(request(name)) for name in ("second", "third")]
    await until(lambda: len(time.sleepers) == 1)  # "second" waits for a token, "third" for its turn
    order = asyncio.create_task(request("order", urgent=True))
    await until(lambda: len(time.sleepers) == 2)
    assert not push_is_urgent()  # the mark stays inside its block

    time.advance(1.0)
    await until(lambda: len(went) == 2)
    assert went == ["first", "order"]  # the next token went to the urgent waiter, although it came last
    for _ in range(2):
        await until(lambda: len(time.sleepers) == 1)
        time.advance(1.0)
    await asyncio.gather(*waiting, order)
    assert went == ["first", "order", "second", "third"]
    assert time.now == 3.0  # one a second all the same: urgency takes no token more


@pytest.mark.parametrize("per_line", [False, True], ids=["per-request", "per-line"])
async def test_an_order_during_a_drain_whose_lanes_wait_at_the_gate_goes_in_the_next_request(
    shop: Shop, per_line: bool
) -> None:
    channel = GatedChannel(charges_per_line=per_line)
    shop.channel = channel
    shop.dispatcher = shop.restarted("test")
    assert charges_per_line(channel) is per_line
    await shop.stock(("KETTLE", "online", 4))
    await shop.tick()  # KETTLE is on the channel; no gate yet
    await shop.stock(*[(sku, "online", 5) for sku in [*BACKLOG, "IRON"]])
    shop.clock.advance(seconds=30)
    shop.uow.hooks.after.append(shop.dispatcher.kick)  # as the service wakes its dispatchers after a commit
    time = ManualTime()
    per_push = 2 if per_line else 1  # a push's tokens: its lines, or 1
    channel.gate = RateGate(per_minute=60 * per_push, burst=per_push, clock=time.clock, sleep=time.sleep)
    channel.sent.clear()
    channel.marked.clear()

    drain = asyncio.create_task(shop.tick())  # the scheduled run: a kick meanwhile wakes it, starts no second drain
    await until(lambda: len(channel.sent) == 1 and len(time.sleepers) == 1)  # both lanes at the gate, one asleep
    await shop.orders.place(PlaceOrder("site", "S-1", [LineRequest("KETTLE", 3)]))  # a buyer, mid-drain
    await until(lambda: len(time.sleepers) == 2)  # the order's push waits at the gate too, in a lane more
    time.advance(1.0)
    await until(lambda: len(channel.sent) == 2)

    assert channel.sent[1][0].sku == "KETTLE" and channel.marked == [False, True]  # next, ahead of the waiting push
    if per_line:
        assert [line.sku for line in channel.sent[1]] == ["KETTLE"]  # alone: it costs its own line only
    else:
        assert len(channel.sent[1]) == 2  # it rode with the backlog's next line: no request more
    while not drain.done():
        await until(lambda: drain.done() or bool(time.sleepers))
        time.advance(1.0)
    await drain
    pushed = [line.sku for batch in channel.sent for line in batch]
    assert sorted(pushed) == sorted([*BACKLOG, "IRON", "KETTLE"])  # each once
    assert len(channel.sent) == (8 if per_line else 7)
    assert channel.shown()["KETTLE"] == 0  # 4 - 3 reserved - 1 safety


@dataclass
class HoldingChannel(FakeChannel):
    """Ozon's way with a pair sent a moment ago: the first push of a SKU holds it back and says when it may go."""

    free_in: float = 0.02
    held: set[str] = field(default_factory=set)

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        hold = [line.sku for line in lines if line.sku not in self.held]
        self.held |= set(hold)
        sending = [line for line in lines if line.sku not in hold]
        outcome = await super().push_stock(sending) if sending else PushOutcome()
        return PushOutcome(outcome.accepted, outcome.rejected, tuple(hold), dict.fromkeys(hold, self.free_in))


async def test_a_line_the_channel_held_back_goes_when_the_channel_said_not_30_s_later(shop: Shop) -> None:
    channel = HoldingChannel()
    shop.channel = channel
    shop.dispatcher = shop.restarted("test")
    await shop.stock(("KETTLE", "online", 4))
    assert await shop.tick() == 0  # held back: the channel says it may go in 0.02 s
    async with shop.uow(read_only=True) as work:
        assert (await work.outbox.depth())["wildberries"][0] == 1
    shop.clock.advance(seconds=0.1)  # due by the engine's clock (30 s would be the default wait)

    await until(lambda: shop.tally.taken == 1)  # the dispatcher woke itself when the channel said: no scheduled run
    assert channel.shown() == {"KETTLE": 3}  # (and settled it, so that the next tick counts only its own)

    await shop.stock(("IRON", "online", 3))
    assert await shop.tick() == 0  # held back in turn: a wake-up that already fired does not stand in for this one
    shop.clock.advance(seconds=0.1)
    await until(lambda: "IRON" in channel.shown())
    await shop.dispatcher.close()


async def test_an_order_on_a_line_the_drain_claimed_and_has_not_sent_goes_at_once_with_the_newer_value(
    shop: Shop,
) -> None:
    channel = GatedChannel()
    shop.channel = channel
    shop.dispatcher = shop.restarted("test")
    await shop.stock(*[(sku, "online", 5) for sku in [*BACKLOG, "IRON"]])
    shop.clock.advance(seconds=30)
    shop.uow.hooks.after.append(shop.dispatcher.kick)
    time = ManualTime()
    channel.gate = RateGate(per_minute=60, burst=1, clock=time.clock, sleep=time.sleep)

    drain = asyncio.create_task(shop.tick())
    await until(lambda: len(channel.sent) == 1 and len(time.sleepers) == 1)  # the whole backlog claimed, most queued
    await shop.orders.place(PlaceOrder("site", "S-1", [LineRequest("BULK-10", 3)]))  # a line claimed, not sent
    await until(lambda: len(time.sleepers) == 2)
    time.advance(1.0)
    await until(lambda: len(channel.sent) == 2)

    assert (channel.sent[1][0].sku, channel.sent[1][0].qty) == ("BULK-10", 1)  # the order's value, next
    while not drain.done():
        await until(lambda: drain.done() or bool(time.sleepers))
        time.advance(1.0)
    await drain
    pushed = [(line.sku, line.qty) for batch in channel.sent for line in batch]
    assert [qty for sku, qty in pushed if sku == "BULK-10"] == [1]  # the value 1C gave it never went: it was stale
    assert sorted(sku for sku, _ in pushed) == sorted([*BACKLOG, "IRON"])
    assert len(channel.sent) == 7  # no request more
    async with shop.uow(read_only=True) as work:
        assert await work.outbox.depth() == {}


async def test_where_requests_count_an_order_alone_after_the_backlogs_last_pushes_waits_its_turn(shop: Shop) -> None:
    """At a backlog's very end its last pushes are all formed: an order's line can ride with none of them, and going
    first it would take a request from them (orders as frequent as the channel's requests would hold them back)."""
    channel = GatedChannel()
    shop.channel = channel
    shop.dispatcher = shop.restarted("test")
    await shop.stock(("KETTLE", "online", 4))
    await shop.tick()
    await shop.stock(*[(sku, "online", 5) for sku in BACKLOG[:4]])  # two pushes
    shop.clock.advance(seconds=30)
    shop.uow.hooks.after.append(shop.dispatcher.kick)
    time = ManualTime()
    channel.gate = RateGate(per_minute=60, burst=1, clock=time.clock, sleep=time.sleep)
    channel.sent.clear()
    channel.marked.clear()

    drain = asyncio.create_task(shop.tick())
    await until(lambda: len(channel.sent) == 1 and len(time.sleepers) == 1)  # the backlog's last push at the gate
    await shop.orders.place(PlaceOrder("site", "S-1", [LineRequest("KETTLE", 3)]))
    await until(lambda: len(time.sleepers) == 1)
    for _ in range(2):
        time.advance(1.0)
        await until(lambda: drain.done() or bool(time.sleepers))
    await drain

    assert [[line.sku for line in batch] for batch in channel.sent] == [BACKLOG[:2], BACKLOG[2:4], ["KETTLE"]]
    assert channel.marked == [False, False, False]  # behind the backlog's push, as it came
    assert time.now == 2.0  # a request a second all the same


async def test_an_order_on_a_queued_line_of_a_one_lane_drain_goes_once_with_its_newer_value(shop: Shop) -> None:
    """One push at a time: between two pushes nothing is on the wire, and the drain waits for its look for an order's
    lines before the next push; a line it had queued comes back from that look with the order's value, and must take
    its place in the queue, not go twice (a channel refuses a request naming an offer twice)."""
    await shop.stock(*[(sku, "online", 5) for sku in [*BACKLOG, "IRON"]])
    shop.clock.advance(seconds=30)
    shop.uow.hooks.after.append(shop.dispatcher.kick)
    real = shop.channel.push_stock

    async def order_while_sending(lines: Sequence[StockLine]) -> PushOutcome:
        shop.channel.push_stock = real  # type: ignore[method-assign]
        await shop.orders.place(PlaceOrder("site", "S-1", [LineRequest("BULK-07", 3)]))  # queued, not yet sent
        return await real(lines)

    shop.channel.push_stock = order_while_sending  # type: ignore[method-assign]
    await shop.tick()

    for batch in shop.channel.sent:
        assert len({line.sku for line in batch}) == len(batch), batch  # no SKU twice in a push
    pushed = [(line.sku, line.qty) for batch in shop.channel.sent for line in batch]
    assert [qty for sku, qty in pushed if sku == "BULK-07"] == [1]  # once, with the order's value (5 - 3 - 1)
    assert shop.channel.sent[1][0].sku == "BULK-07"  # in the very next push
