"""The sync outbox and a channel's dispatcher, on memory, SQLite and PostgreSQL, with a channel
client double (the port) and a fake clock: every change reaches the channel, nothing is lost,
a failing channel backs off and opens its circuit, a refused SKU stops with an alert.

The dispatcher runs as production runs it: :meth:`Shop.tick` is the scheduler's one-second job
(``SyncDispatcher.scheduled``, which starts or joins the drain a commit kicks), and what the channel took is
counted by the dispatcher's observer, as the metrics count it."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from tests.fakes import FakeClock
from workflows import sync
from workflows.alerts import AlertDesk
from workflows.channels import ChannelOrder, ChannelRefused, ChannelUnavailable, PushOutcome, StockLine
from workflows.ledger import Ledger
from workflows.model import StockFigure
from workflows.operations import Operations
from workflows.orders import LineRequest, OrderDesk, PlaceOrder
from workflows.ports import UnitOfWorkFactory
from workflows.sync import SyncDispatcher, SyncOutbox
from workflows.tasks import TaskBoard
from workflows.topology import Topology


@dataclass
class FakeChannel:
    """The channel client port, scripted: what it was sent, and what it answers."""

    name: str = "wildberries"
    batch_limit: int = 2
    sent: list[list[StockLine]] = field(default_factory=list)
    reject: dict[str, str] = field(default_factory=dict)
    wait: set[str] = field(default_factory=set)
    fail: list[Exception] = field(default_factory=list)

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        if self.fail:
            raise self.fail.pop(0)
        self.sent.append(list(lines))
        rejected = {line.sku: self.reject[line.sku] for line in lines if line.sku in self.reject}
        retry = tuple(line.sku for line in lines if line.sku in self.wait)
        accepted = tuple(line.sku for line in lines if line.sku not in rejected and line.sku not in retry)
        return PushOutcome(accepted, rejected, retry)

    async def read_stock(self, lines: Sequence[StockLine]) -> dict[str, int]:
        shown = self.shown()
        return {line.sku: shown[line.sku] for line in lines if line.sku in shown}

    async def new_orders(self) -> list[ChannelOrder]:
        return []

    def shown(self) -> dict[str, int]:
        """What the channel shows now: the last value sent per SKU."""
        return {line.sku: line.qty for batch in self.sent for line in batch}


@dataclass
class Tally:
    """The dispatcher's observer (the metrics in production): lines the channel took and refused, failed pushes."""

    taken: int = 0
    refused: int = 0
    failures: int = 0

    def accepted(self, channel: str, latencies_s: Sequence[float]) -> None:
        self.taken += len(latencies_s)

    def rejected(self, channel: str, count: int) -> None:
        self.refused += count

    def failed(self, channel: str) -> None:
        self.failures += 1


class Shop:
    def __init__(self, uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> None:
        self.uow, self.clock, self.channel, self.tally = uow, clock, FakeChannel(), Tally()
        outbox = SyncOutbox(topology, clock, ["wildberries"])
        uow.hooks.before.append(outbox.before_commit)
        self.ledger = Ledger(uow, topology, clock)
        self.alerts = AlertDesk(clock, TaskBoard(uow, clock))
        self.operations = Operations(uow, clock, topology, self.alerts, timedelta(minutes=30))
        self.orders = OrderDesk(uow, topology, clock, self.ledger)
        self.dispatcher = self.restarted("test", rng=random.Random(7))

    def restarted(self, owner: str, rng: random.Random | None = None) -> SyncDispatcher:
        """A dispatcher for the channel, as a (re)started instance builds it."""
        return SyncDispatcher(
            self.uow, self.clock, self.channel, self.alerts, self.operations, owner=owner, rng=rng, observer=self.tally
        )

    async def stock(self, *figures: tuple[str, str, int]) -> None:
        await self.ledger.apply_stock(self.clock.now(), [StockFigure(*f) for f in figures])

    async def tick(self, dispatcher: SyncDispatcher | None = None) -> int:
        """The scheduler's one-second run (everything due goes, batch after batch); how many lines the channel took."""
        before = self.tally.taken
        await (dispatcher or self.dispatcher).scheduled()
        return self.tally.taken - before

    async def pending(self) -> dict[str, int]:
        async with self.uow(read_only=True) as work:
            return await work.outbox.known("wildberries", ["IRON", "KETTLE", "КР-7/2", "LAMP"])

    async def notices(self, topic: str) -> list[dict[str, object]]:
        async with self.uow(read_only=True) as work:
            return [payload for _, _, payload in await work.notices.undelivered(1000, [topic])]


@pytest.fixture
def shop(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> Shop:
    return Shop(uow, topology, clock)


async def test_a_stock_change_reaches_the_channel_with_its_availability(shop: Shop) -> None:
    """Wildberries serves online and tverskaya with a safety stock of 1."""
    await shop.stock(("IRON", "online", 3), ("IRON", "tverskaya", 2), ("IRON", "arbat", 9), ("KETTLE", "online", 1))
    assert await shop.tick() == 2
    assert shop.channel.shown() == {"IRON": 4, "KETTLE": 0}
    await shop.stock(("IRON", "online", 3))  # nothing changed for the channel: nothing sent
    assert await shop.tick() == 0 and len(shop.channel.sent) == 1


async def test_an_order_changes_what_the_channel_shows(shop: Shop) -> None:
    await shop.stock(("IRON", "online", 3))
    await shop.tick()
    await shop.orders.place(PlaceOrder("site", "S-1", [LineRequest("IRON", 2)]))
    await shop.tick()
    assert shop.channel.shown() == {"IRON": 0}  # 3 - 2 reserved - 1 safety
    await shop.orders.cancel(
        (await shop.orders.place(PlaceOrder("site", "S-1", [LineRequest("IRON", 2)]))).order.id or 0
    )
    await shop.tick()
    assert shop.channel.shown() == {"IRON": 2}


async def test_changes_before_a_push_make_one_line_with_the_newest_value(shop: Shop) -> None:
    for qty in (5, 7, 2, 9):
        await shop.stock(("IRON", "online", qty))
        shop.clock.advance(seconds=1)
    assert await shop.pending() == {"IRON": 8}
    assert await shop.tick() == 1
    assert shop.channel.sent == [[StockLine("IRON", "IRON", 8)]]


async def test_a_newer_value_that_arrives_while_sending_is_not_lost_and_goes_next(shop: Shop) -> None:
    await shop.stock(("IRON", "online", 5))
    real = shop.channel.push_stock

    async def change_while_sending(lines: Sequence[StockLine]) -> PushOutcome:
        shop.channel.push_stock = real  # type: ignore[method-assign]
        await shop.stock(("IRON", "online", 2))  # 1C speaks while the channel is answering
        return await real(lines)

    shop.channel.push_stock = change_while_sending  # type: ignore[method-assign]
    await shop.tick()  # the newer value goes in this run or the next, as the claim ahead and the settle fall
    await shop.tick()  # same moment: the old value's lease was lifted when it settled
    assert [line.qty for batch in shop.channel.sent for line in batch] == [4, 1]  # in order, each once
    async with shop.uow(read_only=True) as work:
        assert await work.outbox.depth() == {}


async def test_a_sku_the_channel_keeps_refusing_stops_and_the_owner_hears(shop: Shop) -> None:
    shop.channel.reject = {"KETTLE": "the card is in the trash"}
    await shop.stock(("IRON", "online", 3), ("KETTLE", "online", 4))
    await shop.tick()
    for _ in range(2):
        shop.clock.advance(minutes=2)
        await shop.tick()
    assert len([b for b in shop.channel.sent if any(line.sku == "KETTLE" for line in b)]) == 3
    shop.clock.advance(minutes=2)
    await shop.tick()  # dead: not sent a fourth time
    assert len([b for b in shop.channel.sent if any(line.sku == "KETTLE" for line in b)]) == 3
    assert shop.tally.refused == 3
    async with shop.uow(read_only=True) as work:
        alert = await work.alerts.open_for("sku_rejected:wildberries")
    assert alert is not None and alert.detail == {
        "channel": "wildberries", "sku": "KETTLE", "reason": "the card is in the trash",
    }  # fmt: skip
    assert await shop.notices("alert") == [{"alert_id": alert.id}]
    await shop.stock(("KETTLE", "online", 6))  # a new value brings it back
    shop.channel.reject = {}
    assert await shop.tick() == 1 and shop.channel.shown()["KETTLE"] == 5


async def test_an_unavailable_channel_backs_off_opens_its_circuit_and_recovers(shop: Shop) -> None:
    await shop.stock(("IRON", "online", 3))
    shop.channel.fail = [ChannelUnavailable("HTTP 429", retry_after=7)]
    assert await shop.tick() == 0
    shop.clock.advance(seconds=6)
    assert await shop.tick() == 0 and shop.channel.sent == []  # still waiting the hinted 7 s
    shop.channel.fail = [ChannelUnavailable("HTTP 503") for _ in range(4)]
    for _ in range(4):
        shop.clock.advance(minutes=6)
        await shop.tick()
    async with shop.uow(read_only=True) as work:
        alert = await work.alerts.open_for("sync_failing:wildberries")
    assert alert is not None and alert.detail["failures"] == 5 and alert.detail["reason"] == "HTTP 503"
    assert shop.tally.failures == 5
    assert await shop.tick() == 0 and shop.channel.sent == []  # circuit open: not even tried
    shop.clock.advance(minutes=6)
    assert await shop.tick() == 1 and shop.channel.shown() == {"IRON": 2}
    assert await shop.notices("alert_resolved") == [{"alert_id": alert.id}]


async def test_a_refusing_channel_is_a_failure_too(shop: Shop) -> None:
    await shop.stock(("IRON", "online", 3))
    shop.channel.fail = [ChannelRefused("HTTP 401: token expired")]
    assert await shop.tick() == 0
    assert await shop.pending() == {"IRON": 2}  # kept, to go once the token is fixed


@dataclass
class OtherInstanceFails(FakeChannel):
    """Before its third push, once the drain's first settle is in, another instance records a failure of the
    channel (as its own failed push would)."""

    shop: Shop | None = None

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        if len(self.sent) == 2 and self.shop is not None:
            shop = self.shop
            for _ in range(2000):  # looks every 5 ms for the first settle: not a business timer
                if shop.tally.taken:
                    break
                await asyncio.sleep(0.005)
            async with shop.uow() as work:
                await work.channel_states.count_failure("wildberries")
                await work.commit()
        return await super().push_stock(lines)


async def failures(shop: Shop) -> int:
    async with shop.uow(read_only=True) as work:
        return (await work.channel_states.get("wildberries")).failures_in_a_row


async def test_a_drain_clears_the_channels_failures_at_its_first_settle_then_at_most_every_few_moments(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clearing the failures and resolving the "failing" alert costs a settle three statements, so within a drain it
    is done at the first settle, then at most every ``HEALTH_LOOK_S`` (and after a failure of its own): a failure
    another instance records meanwhile is cleared by a later look or the next drain, not by every settle."""
    monkeypatch.setattr(sync, "HEALTH_LOOK_S", 3600.0)
    shop.channel = OtherInstanceFails(shop=shop)
    dispatcher = shop.restarted("test")
    await shop.stock(*((sku, "online", 4) for sku in ("IRON", "KETTLE", "LAMP", "КР-7/2", "BOLT", "NUT")))
    assert await shop.tick(dispatcher) == 6 and len(shop.channel.sent) == 3
    assert await failures(shop) == 1  # recorded after the first settle: left for the next look
    await shop.stock(("IRON", "online", 9))
    assert await shop.tick(dispatcher) == 1
    assert await failures(shop) == 0  # the next drain's first settle cleared it
    monkeypatch.setattr(sync, "HEALTH_LOOK_S", 0.0)  # every settle looks
    shop.channel.sent.clear()
    shop.tally.taken = 0
    await shop.stock(*((sku, "online", 2) for sku in ("IRON", "KETTLE", "LAMP", "КР-7/2", "BOLT", "NUT")))
    assert await shop.tick(dispatcher) == 6
    assert await failures(shop) == 0


async def test_a_paused_channel_accumulates_and_catches_up(shop: Shop) -> None:
    await shop.operations.pause("wildberries", "telegram:1002")
    await shop.stock(("IRON", "online", 3))
    await shop.stock(("IRON", "online", 5))
    assert await shop.tick() == 0 and shop.channel.sent == []
    await shop.operations.resume("wildberries", "telegram:1002")
    assert await shop.tick() == 1 and shop.channel.sent == [[StockLine("IRON", "IRON", 4)]]


async def test_lines_the_channel_asks_to_wait_for_go_later(shop: Shop) -> None:
    shop.channel.wait = {"IRON"}
    await shop.stock(("IRON", "online", 3), ("KETTLE", "online", 2))
    assert await shop.tick() == 1
    shop.channel.wait = set()
    assert await shop.tick() == 0  # not yet: 30 s
    shop.clock.advance(seconds=31)
    assert await shop.tick() == 1
    assert shop.channel.shown() == {"IRON": 2, "KETTLE": 1}


async def test_a_dispatcher_that_died_mid_push_is_taken_over_after_its_lease(shop: Shop) -> None:
    await shop.stock(("IRON", "online", 3))
    async with shop.uow() as work:  # a dispatcher claims and dies before the channel answers
        assert len(await work.outbox.claim("wildberries", shop.clock.now(), shop.clock.now() + timedelta(seconds=120),
                                           "dead", 10)) == 1  # fmt: skip
        await work.commit()
    assert await shop.tick() == 0
    shop.clock.advance(seconds=121)
    assert await shop.tick() == 1 and shop.channel.shown() == {"IRON": 2}


async def test_a_new_value_does_not_jump_a_backoff(shop: Shop) -> None:
    await shop.stock(("IRON", "online", 3))
    shop.channel.fail = [ChannelUnavailable("HTTP 503", retry_after=60)]
    await shop.tick()
    await shop.stock(("IRON", "online", 9))  # 1C keeps talking while the channel is down
    shop.channel.fail = [ChannelUnavailable("HTTP 503")]
    assert await shop.tick() == 0 and shop.channel.fail  # not tried again before the 60 s
    shop.channel.fail = []
    shop.clock.advance(seconds=61)
    assert await shop.tick() == 1 and shop.channel.shown() == {"IRON": 8}


async def test_sync_asked_in_telegram_reconciles_once(shop: Shop, topology: Topology) -> None:
    from workflows.channel_upkeep import ChannelUpkeep

    upkeep = ChannelUpkeep(shop.uow, shop.clock, topology, shop.channel, shop.orders)
    await shop.stock(("IRON", "online", 3), ("KETTLE", "online", 5))
    await shop.tick()
    shop.channel.sent.append([StockLine("KETTLE", "KETTLE", 9)])  # changed by hand in the channel
    assert await upkeep.reconcile_if_asked() is None  # nobody asked
    shop.clock.advance(seconds=1)
    await shop.operations.request_sync("wildberries", "telegram:1002")
    report = await upkeep.reconcile_if_asked()
    assert report is not None and (report.checked, report.corrected) == (2, {"KETTLE": (9, 4)})
    shop.clock.advance(seconds=1)
    assert await upkeep.reconcile_if_asked() is None  # done since it was asked
    await shop.tick()
    assert shop.channel.shown() == {"IRON": 2, "KETTLE": 4}


async def test_a_dispatcher_stopped_after_the_channel_took_a_batch_loses_and_doubles_nothing(shop: Shop) -> None:
    """Stopped between the channel's answer and our commit (the service shutting down, or the process dying): a
    new instance re-sends the same absolute quantities after the lease (harmless to the channel) and retires them
    once."""
    await shop.stock(("IRON", "online", 3), ("KETTLE", "online", 4))
    original = shop.channel.push_stock
    answered = asyncio.Event()

    async def taken_then_stopped(lines: Sequence[StockLine]) -> PushOutcome:
        outcome = await original(lines)
        answered.set()
        await asyncio.Event().wait()  # the service stops before it writes down the answer
        return outcome

    shop.channel.push_stock = taken_then_stopped  # type: ignore[method-assign]
    run = asyncio.create_task(shop.tick())
    await asyncio.wait_for(answered.wait(), timeout=10)
    await shop.dispatcher.close()  # what the service's shutdown does
    with pytest.raises(asyncio.CancelledError):
        await run
    shop.channel.push_stock = original  # type: ignore[method-assign]
    restarted = shop.restarted("restarted")
    assert await shop.tick(restarted) == 0  # still leased by the stopped one
    shop.clock.advance(seconds=121)
    assert await shop.tick(restarted) == 2
    assert await shop.tick(restarted) == 0
    assert shop.channel.sent == [[StockLine("IRON", "IRON", 2), StockLine("KETTLE", "KETTLE", 3)]] * 2
    assert await shop.pending() == {"IRON": 2, "KETTLE": 3}  # what the channel shows, nothing pending
    async with shop.uow(read_only=True) as work:
        assert await work.outbox.depth() == {}


async def test_status_shows_what_waits_and_what_fails(shop: Shop) -> None:
    await shop.stock(("IRON", "online", 3), ("KETTLE", "online", 4))
    shop.channel.fail = [ChannelUnavailable("HTTP 503"), ChannelUnavailable("HTTP 503")]
    await shop.tick()
    shop.clock.advance(minutes=10)
    await shop.tick()
    status = await shop.operations.status()
    assert (status.queued, status.failures) == ({"wildberries": 2}, {"wildberries": 2})
    shop.clock.advance(minutes=10)
    await shop.tick()
    status = await shop.operations.status()
    assert (status.queued, status.failures) == ({}, {})
