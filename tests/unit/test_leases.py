"""Leases (``workflows/leases.py``) on memory, SQLite and PostgreSQL, with a fake clock: a lease renewed while its
work runs is never taken, a dead holder's is taken over once the short lease ran out, a restarted instance takes
its own back at once, and a second live process with the same instance id is refused.

Every leased table is exercised through its own claim (the stock and price outboxes, deadlines, notices,
shipments, marketplace actions, payment watches); the sync dispatcher's own renewal is shown with a push held on the wire."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from tests.fakes import FakeClock
from workflows.alerts import AlertDesk
from workflows.channels import ChannelOrder, PushOutcome, StockLine
from workflows.leases import LEASE, HeldLeases, Incarnation, LeaseKeeper, SameInstanceRunning
from workflows.ledger import Ledger
from workflows.model import Customer, Delivery, Order, Shipment, ShipmentState, StockFigure
from workflows.office_model import Payment, Phase
from workflows.operations import Operations
from workflows.payment_gateway import GatewayPayment
from workflows.ports import InstanceRecord, LeaseKey, LeaseKind, OrderAction, UnitOfWork, UnitOfWorkFactory
from workflows.sync import SyncDispatcher, SyncOutbox
from workflows.tasks import Deadline, DeadlineKind, DeadlinePump, Task, TaskBoard
from workflows.topology import Topology
from workflows.vocabulary import NoticeTopic, TaskKind

MINE, MY_RESTART, ANOTHER = Incarnation("shop-a", "one"), Incarnation("shop-a", "two"), Incarnation("shop-b", "one")


async def _never(_: float) -> None:
    raise AssertionError("start-up waited although it could tell")


def _gone(_: InstanceRecord) -> bool | None:
    return False


def _unknown(_: InstanceRecord) -> bool | None:
    return None


# -- one leased row of each kind, claimed through its own port ---------------------------------------------------

Claim = Callable[[UnitOfWork, str, datetime], Awaitable[list[LeaseKey]]]


async def _stock(uow: UnitOfWork, owner: str, now: datetime) -> list[LeaseKey]:
    return [(p.channel, p.sku) for p in await uow.outbox.claim("wildberries", now, now + LEASE, owner, 10)]


async def _price(uow: UnitOfWork, owner: str, now: datetime) -> list[LeaseKey]:
    return [(p.channel, p.sku) for p in await uow.price_outbox.claim("wildberries", now, now + LEASE, owner, 10)]


async def _deadline(uow: UnitOfWork, owner: str, now: datetime) -> list[LeaseKey]:
    return [(d.id,) for d in await uow.deadlines.claim_due(now, now + LEASE, owner, 10)]


async def _notice(uow: UnitOfWork, owner: str, now: datetime) -> list[LeaseKey]:
    return [(n,) for n, _, _ in await uow.notices.claim([NoticeTopic.STORE_QUESTION], now, now + LEASE, owner, 10)]


async def _shipment(uow: UnitOfWork, owner: str, now: datetime) -> list[LeaseKey]:
    return [(s.order_id,) for s in await uow.shipments.claim(now, now + LEASE, owner, 10)]


async def _action(uow: UnitOfWork, owner: str, now: datetime) -> list[LeaseKey]:
    claimed = await uow.order_actions.claim("ozon", ["ready_to_ship"], now, now + LEASE, 10, owner=owner)
    return [(a.order_id, a.action) for a in claimed]


async def _payment_watch(uow: UnitOfWork, owner: str, now: datetime) -> list[LeaseKey]:
    return [(p.payment_id,) for p, _ in await uow.payment_watches.claim(now, now, now + LEASE, owner, 10)]


async def _gateway_payment(uow: UnitOfWork, owner: str, now: datetime) -> list[LeaseKey]:
    return [(row.payment_id,) for row in await uow.gateway_payments.claim(now, now + LEASE, owner, 10)]


CLAIMS: dict[LeaseKind, Claim] = {
    LeaseKind.STOCK_PUSH: _stock, LeaseKind.PRICE_PUSH: _price, LeaseKind.DEADLINE: _deadline,
    LeaseKind.NOTICE: _notice, LeaseKind.SHIPMENT: _shipment, LeaseKind.ORDER_ACTION: _action,
    LeaseKind.PAYMENT_WATCH: _payment_watch, LeaseKind.GATEWAY_PAYMENT: _gateway_payment,
}  # fmt: skip


async def _one_row_of_each(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    now = clock.now()
    async with uow() as work:
        await work.outbox.enqueue("wildberries", {"IRON": 3}, now)
        await work.price_outbox.enqueue("wildberries", {"IRON": 99_000}, now)
        task = Task(None, "fx_approval", "fx:1", "role:managers", ("absorb",), now, now - timedelta(minutes=1))
        await work.tasks.add(task, [(DeadlineKind.EXPIRE, now)])
        await work.notices.add(NoticeTopic.STORE_QUESTION, {"task_id": task.id or 0}, now)
        order = Order(None, "ozon", "OZ-1", Customer(), None, "RUB", now, [])
        await work.orders.add(order)
        assert order.id is not None
        delivery = Delivery(136, "RU", "Москва", "Тверская, 1")
        await work.shipments.add(Shipment(order.id, delivery, ShipmentState.WAITING, now, now))
        await work.order_actions.add(OrderAction(order.id, "ready_to_ship", "pending", now, now))
        stuck = now - timedelta(hours=1)
        await work.payments.save(Payment("pay-1", order.id, "idem-1", Phase.INITIATED, Decimal(1), "RUB", stuck, stuck))
        await work.gateway_payments.add(GatewayPayment("pay-1", order.id, "Заказ OZ-1: доплата, товар", now))
        await work.commit()


async def _claim(uow: UnitOfWorkFactory, clock: FakeClock, kind: LeaseKind, owner: str) -> list[LeaseKey]:
    async with uow() as work:
        claimed = await CLAIMS[kind](work, owner, clock.now())
        await work.commit()
    return claimed


@pytest.mark.parametrize("kind", list(LeaseKind))
async def test_a_lease_renewed_while_its_work_runs_is_never_taken(
    uow: UnitOfWorkFactory, clock: FakeClock, kind: LeaseKind
) -> None:
    await _one_row_of_each(uow, clock)
    held = HeldLeases()
    keeper = LeaseKeeper(uow, clock, MINE, held)
    await keeper.begin(_gone, _never)
    (key,) = await _claim(uow, clock, kind, MINE.owner)
    with held.holding(kind, [key]):  # the work runs for a minute, renewed every 5 s
        for _ in range(12):
            clock.advance(seconds=5)
            assert await keeper.renew() == 1
            assert await _claim(uow, clock, kind, ANOTHER.owner) == []
    clock.advance(seconds=LEASE.total_seconds() - 1)  # let go unsettled (a failed run): no longer renewed...
    assert await keeper.renew() == 0
    assert await _claim(uow, clock, kind, ANOTHER.owner) == []
    clock.advance(seconds=2)  # ...and taken once its lease ran out
    assert await _claim(uow, clock, kind, ANOTHER.owner) == [key]


@pytest.mark.parametrize("kind", list(LeaseKind))
async def test_a_dead_holders_lease_is_taken_over_after_the_short_lease(
    uow: UnitOfWorkFactory, clock: FakeClock, kind: LeaseKind
) -> None:
    await _one_row_of_each(uow, clock)
    (key,) = await _claim(uow, clock, kind, MINE.owner)  # then the process dies: nothing renews it
    clock.advance(seconds=LEASE.total_seconds() - 1)
    assert await _claim(uow, clock, kind, ANOTHER.owner) == []
    clock.advance(seconds=2)
    assert await _claim(uow, clock, kind, ANOTHER.owner) == [key]


async def test_a_restarted_instance_takes_its_own_dead_leases_back_at_once(
    uow: UnitOfWorkFactory, clock: FakeClock
) -> None:
    await _one_row_of_each(uow, clock)
    first = LeaseKeeper(uow, clock, MINE, HeldLeases())
    await first.begin(_gone, _never)
    mine = {kind: await _claim(uow, clock, kind, MINE.owner) for kind in LeaseKind}  # then killed
    async with uow() as work:  # another instance's line, leased by it
        await work.outbox.enqueue("ozon", {"KETTLE": 1}, clock.now())
        await work.outbox.claim("ozon", clock.now(), clock.now() + LEASE, ANOTHER.owner, 10)
        await work.commit()

    restarted = LeaseKeeper(uow, clock, MY_RESTART, HeldLeases())
    assert await restarted.begin(_gone, _never) == len(LeaseKind)  # every one of its own, at once
    for kind, keys in mine.items():
        assert await _claim(uow, clock, kind, MY_RESTART.owner) == keys, kind  # not a second later
    async with uow() as work:
        assert await work.outbox.claim("ozon", clock.now(), clock.now() + LEASE, MY_RESTART.owner, 10) == []
    async with uow(read_only=True) as work:
        record = await work.instances.get("shop-a")
    assert record is not None
    assert (record.incarnation, record.heartbeat_at) == ("two", clock.now())


async def test_leases_of_a_lookalike_instance_are_left_alone(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    """Only ``<instance>/…`` is the instance's own: neither a longer id with the same start nor one that matches as
    a LIKE pattern."""
    await _one_row_of_each(uow, clock)
    await _claim(uow, clock, LeaseKind.STOCK_PUSH, "shop_a/one")
    await _claim(uow, clock, LeaseKind.NOTICE, "shopXa/one")  # "shop_a/%" as a pattern would take it
    await _claim(uow, clock, LeaseKind.DEADLINE, "shop_a2/one")  # a longer id
    async with uow() as work:
        assert await work.leases.release_instance("shop_a", "shop_a/two", clock.now()) == 1
        assert await work.leases.release_instance("shop", None, clock.now()) == 0
        await work.commit()
    assert await _claim(uow, clock, LeaseKind.STOCK_PUSH, ANOTHER.owner) == [("wildberries", "IRON")]
    assert await _claim(uow, clock, LeaseKind.NOTICE, ANOTHER.owner) == []
    assert await _claim(uow, clock, LeaseKind.DEADLINE, ANOTHER.owner) == []


async def test_a_second_live_process_with_the_same_id_is_refused(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    running = LeaseKeeper(uow, clock, MINE, HeldLeases())
    await running.begin(_gone, _never)
    with pytest.raises(SameInstanceRunning, match="'shop-a' is running already"):  # the host knows it runs
        await LeaseKeeper(uow, clock, MY_RESTART, HeldLeases()).begin(lambda _: True, _never)

    async def its_heartbeat_moves(seconds: float) -> None:  # another host: watched while it keeps beating
        clock.advance(seconds=seconds)
        await running.renew()

    with pytest.raises(SameInstanceRunning):
        await LeaseKeeper(uow, clock, MY_RESTART, HeldLeases()).begin(_unknown, its_heartbeat_moves)
    assert await running.renew() == 0 and not running.superseded  # still the instance's incarnation


async def test_a_silent_incarnation_elsewhere_is_watched_for_a_lease_then_replaced(
    uow: UnitOfWorkFactory, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    dead = LeaseKeeper(uow, clock, MINE, HeldLeases())
    await dead.begin(_gone, _never)
    clock.advance(seconds=3)  # killed 3 s after its last heartbeat; restarted on another host
    waited: list[float] = []

    async def watch(seconds: float) -> None:
        waited.append(seconds)
        clock.advance(seconds=seconds)

    await LeaseKeeper(uow, clock, MY_RESTART, HeldLeases()).begin(_unknown, watch)
    assert sum(waited) == LEASE.total_seconds() - 3 + 1  # until its heartbeat was a lease old
    caplog.set_level(logging.ERROR, logger="workflows.leases")
    assert await dead.renew() == 0 and dead.superseded  # were it still alive, it would know and stop renewing
    assert "another process started as instance shop-a" in caplog.text


async def test_a_clean_stop_lets_the_next_start_go_at_once(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    await _one_row_of_each(uow, clock)
    first = LeaseKeeper(uow, clock, MINE, HeldLeases())
    await first.begin(_gone, _never)
    await _claim(uow, clock, LeaseKind.DEADLINE, MINE.owner)  # its work was cancelled at the stop
    await first.end()
    assert await _claim(uow, clock, LeaseKind.DEADLINE, ANOTHER.owner) != []  # another instance at once
    assert await LeaseKeeper(uow, clock, MY_RESTART, HeldLeases()).begin(_unknown, _never) == 0  # no wait


# -- the dispatcher renews its lines while a push is on the wire ---------------------------------------------------


@dataclass
class HeldChannel:
    """The channel port with a push that waits for :attr:`answer` (a push slow on the wire)."""

    name: str = "wildberries"
    batch_limit: int = 100
    sent: list[list[StockLine]] = field(default_factory=list)
    on_the_wire: asyncio.Event = field(default_factory=asyncio.Event)
    answer: asyncio.Event = field(default_factory=asyncio.Event)

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        self.sent.append(list(lines))
        self.on_the_wire.set()
        await self.answer.wait()
        return PushOutcome(tuple(line.sku for line in lines))

    async def read_stock(self, lines: Sequence[StockLine]) -> dict[str, int]:
        return {}

    async def new_orders(self) -> list[ChannelOrder]:
        return []


class Instances:
    def __init__(self, uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> None:
        self.uow, self.topology, self.clock = uow, topology, clock
        uow.hooks.before.append(SyncOutbox(topology, clock, ["wildberries"]).before_commit)
        self.ledger = Ledger(uow, topology, clock)
        self.alerts = AlertDesk(clock, TaskBoard(uow, clock))
        self.operations = Operations(uow, clock, topology, self.alerts, timedelta(minutes=30))

    def dispatcher(self, me: Incarnation, held: HeldLeases) -> tuple[SyncDispatcher, HeldChannel]:
        channel = HeldChannel()
        ops = self.operations
        return SyncDispatcher(self.uow, self.clock, channel, self.alerts, ops, owner=me.owner, held=held), channel


async def test_a_line_on_the_wire_stays_with_its_sender_while_it_lives_and_goes_to_another_when_it_dies(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    world = Instances(uow, topology, clock)
    await world.ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 3)])
    held = HeldLeases()
    keeper = LeaseKeeper(uow, clock, MINE, held)
    await keeper.begin(_gone, _never)
    sender, slow = world.dispatcher(MINE, held)
    other, fast = world.dispatcher(ANOTHER, HeldLeases())
    fast.answer.set()

    drain = asyncio.create_task(sender.drain())
    await slow.on_the_wire.wait()
    for _ in range(6):  # half a minute on the wire, the heartbeat renewing it
        clock.advance(seconds=5)
        await keeper.renew()
        assert await other.drain() == 0
    slow.answer.set()
    assert await drain == 1
    assert fast.sent == []

    await world.ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 5)])
    slow.answer.clear()
    slow.on_the_wire.clear()
    drain = asyncio.create_task(sender.drain())
    await slow.on_the_wire.wait()
    drain.cancel()  # the sender dies with the push on the wire: nothing renews or gives back its line
    await asyncio.gather(drain, return_exceptions=True)
    clock.advance(seconds=LEASE.total_seconds() - 1)
    await keeper.renew()  # its heartbeat alone keeps nothing
    assert await other.drain() == 0
    clock.advance(seconds=2)
    assert await other.drain() == 1
    assert [[(line.sku, line.qty) for line in batch] for batch in fast.sent] == [[("IRON", 4)]]


async def test_the_deadline_pump_holds_what_it_claimed_while_it_fires(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    await _one_row_of_each(uow, clock)  # an FX question whose deadline is due now
    held, seen = HeldLeases(), []

    async def on_timeout(work: UnitOfWork, task: Task, deadline: Deadline) -> None:
        seen.append(held.snapshot())

    handlers = {(TaskKind.FX_APPROVAL, DeadlineKind.EXPIRE): on_timeout}
    assert await DeadlinePump(uow, clock, handlers, owner=MINE.owner, held=held).run_once() == 1
    assert [list(snapshot) for snapshot in seen] == [[LeaseKind.DEADLINE]]  # renewed while its handler ran
    assert held.snapshot() == {}  # and no longer once fired
