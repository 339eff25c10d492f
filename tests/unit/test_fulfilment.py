"""Statuses out and unfillable orders, on memory, SQLite and PostgreSQL: a marketplace order that is allocated and
may ship is told ``ready_to_ship`` once (retried while the channel is down, the owner alerted when it refuses, held
while the fraud check is open); an order with a line nobody can fill asks the managers once, and their ``cancel``
cancels it on the marketplace once and releases its stock, ``wait`` routes the lines again and asks again only when
they still find no stock, silence goes to the owner — before the marketplace's own shipping deadline when it told
one (the shop's rules by default: 4 h to decide, ending at the latest 2 h before ``ship_by``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes import FakeClock, assembled
from workflows.channels import (
    ChannelOrder,
    ChannelOrderLine,
    ChannelRefused,
    ChannelUnavailable,
    PushOutcome,
    StockLine,
)
from workflows.errors import OrderNotFound
from workflows.model import Order, StockFigure
from workflows.order_actions import SENT_TO_CHANNEL, Action, queue
from workflows.orders import LineRequest, PlaceOrder
from workflows.ports import UnitOfWorkFactory
from workflows.shop import Shop
from workflows.tasks import Task, TaskState
from workflows.topology import Topology
from workflows.unfillable import InvalidWait, NothingToWait
from workflows.vocabulary import Assignee, Role, TaskKind


@dataclass
class FulfillingChannel:
    """A marketplace client that moves its orders on: each call takes the next of ``failures`` (``None``: success)
    and keeps what succeeded in ``ready`` and ``cancelled``."""

    name: str
    batch_limit: int = 100
    orders: list[ChannelOrder] = field(default_factory=list)
    failures: list[Exception | None] = field(default_factory=list)
    ready: list[tuple[str, tuple[ChannelOrderLine, ...]]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    calls: int = 0

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        return PushOutcome(accepted=tuple(line.sku for line in lines))

    async def read_stock(self, lines: Sequence[StockLine]) -> dict[str, int]:
        return {}

    async def new_orders(self) -> list[ChannelOrder]:
        return list(self.orders)

    def _answer(self) -> None:
        self.calls += 1
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure

    async def ready_to_ship(self, external_id: str, lines: Sequence[ChannelOrderLine]) -> None:
        self._answer()
        self.ready.append((external_id, tuple(lines)))

    async def cancel_unfillable(self, external_id: str) -> None:
        self._answer()
        self.cancelled.append(external_id)


def order(external_id: str, *lines: tuple[str, int], ship_by: datetime | None = None) -> ChannelOrder:
    at = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    return ChannelOrder(external_id, tuple(ChannelOrderLine(sku, qty) for sku, qty in lines), at, ship_by)


async def marketplace(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock, *orders: ChannelOrder) -> Shop:
    """An Ozon that fulfils orders, 5 lamps online and no vases anywhere; the given orders taken in."""
    ozon = FulfillingChannel("ozon", orders=list(orders))
    shop = assembled(uow, topology, clock, channels={"ozon": ozon})
    uow.hooks.after.clear()
    await shop.ledger.apply_stock(clock.now(), [StockFigure("LAMP", "online", 5), StockFigure("VASE", "online", 0)])
    await shop.upkeep[0].pull_orders()
    return shop


def channel(shop: Shop) -> FulfillingChannel:
    client = shop.channels["ozon"]
    assert isinstance(client, FulfillingChannel)
    return client


async def taken(shop: Shop, external_id: str) -> Order:
    async with shop.uow(read_only=True) as work:
        found = await work.orders.find("ozon", external_id)
    assert found is not None
    return found


async def open_tasks(shop: Shop, external_id: str) -> list[Task]:
    found = await taken(shop, external_id)
    async with shop.uow(read_only=True) as work:
        tasks = await work.tasks.open_about(f"order:{found.id}:unfillable")
    return sorted(tasks, key=lambda task: task.id or 0)


async def reserved(shop: Shop, sku: str = "LAMP") -> int:
    async with shop.uow(read_only=True) as work:
        return sum(level.reserved for level in await work.stock.for_sku(sku))


def kinds(found: Order) -> list[str]:
    return [event.kind for event in found.history]


def asked_about(task: Task) -> int:
    """The order an unfillable question is about."""
    return int(str(task.payload["order_id"]))


async def test_an_allocated_order_is_ready_to_ship_once(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = await marketplace(uow, topology, clock, order("OZ-1", ("LAMP", 2)))
    (fulfilment,) = shop.fulfilment

    assert await fulfilment.run_once() == 1
    clock.advance(hours=1)
    assert await fulfilment.run_once() == 0

    assert channel(shop).ready == [("OZ-1", (ChannelOrderLine("LAMP", 2),))]
    assert kinds(await taken(shop, "OZ-1")).count("marketplace_ready_to_ship") == 1


async def test_an_unavailable_channel_is_tried_again_after_a_backoff(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = await marketplace(uow, topology, clock, order("OZ-1", ("LAMP", 1)))
    ozon, (fulfilment,) = channel(shop), shop.fulfilment
    ozon.failures = [ChannelUnavailable("503 from the marketplace")]

    assert await fulfilment.run_once() == 0
    assert await fulfilment.run_once() == 0  # backing off: not asked again at once
    assert ozon.calls == 1
    clock.advance(minutes=11)
    assert await fulfilment.run_once() == 1

    assert [external_id for external_id, _ in ozon.ready] == ["OZ-1"]
    assert ozon.calls == 2


async def test_a_refused_action_alerts_the_owner_and_is_not_sent_again(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = await marketplace(uow, topology, clock, order("OZ-1", ("LAMP", 1)))
    ozon, (fulfilment,) = channel(shop), shop.fulfilment
    ozon.failures = [ChannelRefused("posting is not awaiting packaging")]

    await fulfilment.run_once()
    clock.advance(hours=1)
    await fulfilment.run_once()

    assert ozon.calls == 1
    async with uow(read_only=True) as work:
        (alert,) = await work.alerts.open_of_kind("order_action_refused")
    assert alert.detail["order"] == "OZ-1"
    assert alert.detail["reason"] == "posting is not awaiting packaging"
    assert "marketplace_refused_ready" in kinds(await taken(shop, "OZ-1"))


async def test_an_order_held_by_the_fraud_check_is_not_ready_until_verified(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = await marketplace(uow, topology, clock, order("OZ-1", ("LAMP", 1)))
    ozon, (fulfilment,) = channel(shop), shop.fulfilment
    found = await taken(shop, "OZ-1")
    async with uow() as work:
        check = await shop.fraud.open(work, found, ["new_client_large_order"], "Ivan", 0)
        await work.commit()
    assert check.id is not None

    await fulfilment.run_once()
    assert ozon.ready == []
    assert (await shop.fraud.answer(check.id, "verified", "anna")).accepted
    await fulfilment.run_once()

    assert [external_id for external_id, _ in ozon.ready] == ["OZ-1"]


async def test_an_unfillable_line_asks_the_managers_once(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = await marketplace(uow, topology, clock, order("OZ-2", ("LAMP", 1), ("VASE", 1)))
    (fulfilment,) = shop.fulfilment

    await fulfilment.run_once()
    clock.advance(minutes=5)
    await fulfilment.run_once()

    (task,) = await open_tasks(shop, "OZ-2")
    assert (task.kind, task.assignee) == (TaskKind.UNFILLABLE_ORDER, Assignee.MANAGERS)
    assert task.options == ("cancel", "wait")
    assert task.payload["lines"] == [{"line": 2, "sku": "VASE", "qty": 1}]
    assert channel(shop).ready == []  # not every line is allocated


async def test_cancel_cancels_on_the_marketplace_once_and_releases_the_stock(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = await marketplace(uow, topology, clock, order("OZ-2", ("LAMP", 1), ("VASE", 1)))
    ozon, (fulfilment,) = channel(shop), shop.fulfilment
    await fulfilment.run_once()
    (task,) = await open_tasks(shop, "OZ-2")
    assert task.id is not None and await reserved(shop) == 1

    assert (await shop.office.answer(task.id, "cancel", Role.MANAGER, "anna")).accepted
    await fulfilment.run_once()
    clock.advance(hours=1)
    await fulfilment.run_once()

    assert ozon.cancelled == ["OZ-2"]
    assert await reserved(shop) == 0
    found = await taken(shop, "OZ-2")
    assert found.status == "cancelled"
    assert kinds(found).count("marketplace_cancelled") == 1


async def test_a_second_answer_is_refused(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> None:
    shop = await marketplace(uow, topology, clock, order("OZ-2", ("LAMP", 1), ("VASE", 1)))
    await shop.fulfilment[0].run_once()
    (task,) = await open_tasks(shop, "OZ-2")
    assert task.id is not None

    first = await shop.office.answer(task.id, "wait", Role.MANAGER, "anna")
    second = await shop.office.answer(task.id, "cancel", Role.MANAGER, "boris")

    assert first.accepted and not second.accepted
    assert second.refusal == "answered"
    assert (await taken(shop, "OZ-2")).cancelled_at is None


async def test_wait_asks_again_on_the_date(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> None:
    shop = await marketplace(uow, topology, clock, order("OZ-2", ("LAMP", 1), ("VASE", 1)))
    (fulfilment,) = shop.fulfilment
    await fulfilment.run_once()
    (task,) = await open_tasks(shop, "OZ-2")
    assert task.id is not None

    assert shop.unfillable is not None  # the manager names the delivery day, three days on
    await shop.unfillable.wait_until(asked_about(task), clock.now() + timedelta(days=3), "anna")
    clock.advance(days=2)
    await fulfilment.run_once()
    assert await open_tasks(shop, "OZ-2") == []
    clock.advance(days=1, seconds=1)
    await fulfilment.run_once()

    (again,) = await open_tasks(shop, "OZ-2")
    assert again.payload["attempt"] == 2
    assert again.payload["lines"] == [{"line": 2, "sku": "VASE", "qty": 1}]
    assert channel(shop).cancelled == []
    assert "unfillable_rerouted" not in kinds(await taken(shop, "OZ-2"))
    assert kinds(await taken(shop, "OZ-2")).count("out_of_stock") == 2  # routed again first, still nowhere


async def test_wait_routes_the_lines_again_and_stock_found_asks_nobody(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = await marketplace(uow, topology, clock, order("OZ-2", ("LAMP", 1), ("VASE", 1)))
    ozon, (fulfilment,) = channel(shop), shop.fulfilment
    await fulfilment.run_once()
    (task,) = await open_tasks(shop, "OZ-2")
    assert task.id is not None
    assert (await shop.office.answer(task.id, "wait", Role.MANAGER, "anna")).accepted

    await shop.ledger.apply_stock(clock.now(), [StockFigure("VASE", "online", 2)])  # the delivery came
    clock.advance(days=1, seconds=1)
    await fulfilment.run_once()

    assert await open_tasks(shop, "OZ-2") == []
    found = await taken(shop, "OZ-2")
    assert [(line.sku, line.status, line.warehouse) for line in found.lines] == [
        ("LAMP", "reserved", "online"), ("VASE", "reserved", "online"),
    ]  # fmt: skip
    assert kinds(found).count("unfillable_asked") == 1
    assert "unfillable_rerouted" in kinds(found)
    assert await reserved(shop, "VASE") == 1
    clock.advance(minutes=1)
    await fulfilment.run_once()  # the question withdrawn, the order is swept afresh: every line allocated
    assert [external_id for external_id, _ in ozon.ready] == ["OZ-2"]


async def test_wait_finding_the_goods_in_a_store_asks_the_store_not_the_managers(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    wb = FulfillingChannel("wildberries", orders=[order("WB-7", ("VASE", 1))])  # Wildberries sells Tverskaya's too
    shop = assembled(uow, topology, clock, channels={"wildberries": wb})
    uow.hooks.after.clear()
    await shop.ledger.apply_stock(clock.now(), [StockFigure("VASE", "online", 0), StockFigure("VASE", "tverskaya", 0)])
    await shop.upkeep[0].pull_orders()
    (fulfilment,) = shop.fulfilment
    await fulfilment.run_once()
    async with uow(read_only=True) as work:
        found = await work.orders.find("wildberries", "WB-7")
        assert found is not None and found.id is not None
        (task,) = await work.tasks.open_about(f"order:{found.id}:unfillable")
    assert task.id is not None
    assert (await shop.office.answer(task.id, "wait", Role.MANAGER, "anna")).accepted

    await shop.ledger.apply_stock(clock.now(), [StockFigure("VASE", "tverskaya", 1)])
    clock.advance(days=1, seconds=1)
    await fulfilment.run_once()

    async with uow(read_only=True) as work:
        assert await work.tasks.open_about(f"order:{found.id}:unfillable") == []
        (store_question,) = await work.tasks.open_about(f"order:{found.id}:line:")
        routed = await work.orders.get(found.id)
    assert store_question.kind == TaskKind.STORE_CONFIRMATION and store_question.assignee == "store:tverskaya"
    assert routed is not None and routed.lines[0].status == "awaiting_store_confirmation"
    assert "unfillable_rerouted" in kinds(routed)
    assert wb.ready == []  # the store has not confirmed yet


async def test_the_marketplaces_ship_by_ends_the_managers_time_earlier(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    ship_by = clock.now() + timedelta(hours=3)
    shop = await marketplace(
        uow, topology, clock, order("OZ-2", ("VASE", 1), ship_by=ship_by), order("OZ-3", ("VASE", 1))
    )
    assert (await taken(shop, "OZ-2")).ship_by == ship_by
    assert (await taken(shop, "OZ-3")).ship_by is None
    await shop.fulfilment[0].run_once()

    (bounded,) = await open_tasks(shop, "OZ-2")
    (unbounded,) = await open_tasks(shop, "OZ-3")
    assert bounded.deadline == ship_by - timedelta(hours=2)  # earlier than the 4 h to decide
    assert bounded.payload["ship_by"] == ship_by.isoformat()
    assert unbounded.deadline == clock.now() + timedelta(hours=4)

    clock.advance(hours=1, seconds=1)  # before ship_by, after the managers' time
    await shop.pump.run_once()

    (escalated,) = await open_tasks(shop, "OZ-2")
    assert (escalated.assignee, escalated.payload["escalated"]) == (Assignee.OWNER, "timeout")
    assert [task.assignee for task in await open_tasks(shop, "OZ-3")] == [Assignee.MANAGERS]
    async with uow(read_only=True) as work:
        (alert,) = await work.alerts.open_of_kind("task_escalated")
    assert alert.detail["order_id"] == escalated.payload["order_id"]


async def test_an_order_whose_ship_by_is_too_near_goes_to_the_owner_at_once(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    ship_by = clock.now() + timedelta(hours=1, minutes=30)  # within the 2 h margin already
    shop = await marketplace(uow, topology, clock, order("OZ-2", ("VASE", 1), ship_by=ship_by))
    await shop.fulfilment[0].run_once()

    (task,) = await open_tasks(shop, "OZ-2")
    assert (task.assignee, task.payload["escalated"]) == (Assignee.OWNER, "ship_by")
    assert task.deadline > clock.now()
    async with uow(read_only=True) as work:
        (alert,) = await work.alerts.open_of_kind("unfillable_ship_by_near")
    assert (alert.detail["order"], alert.detail["ship_by"]) == ("OZ-2", ship_by.isoformat())
    found = await taken(shop, "OZ-2")
    (asked,) = [event for event in found.history if event.kind == "unfillable_asked"]
    assert asked.detail["escalated"] == "ship_by"


async def test_a_wait_past_the_ship_by_is_allowed_and_the_history_says_so(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    ship_by = clock.now() + timedelta(hours=30)
    shop = await marketplace(uow, topology, clock, order("OZ-2", ("VASE", 1), ship_by=ship_by))
    await shop.fulfilment[0].run_once()
    (task,) = await open_tasks(shop, "OZ-2")
    assert task.id is not None

    assert shop.unfillable is not None  # the delivery day named is three days on, past the ship-by
    await shop.unfillable.wait_until(asked_about(task), clock.now() + timedelta(days=3), "anna")

    (decided,) = [event for event in (await taken(shop, "OZ-2")).history if event.kind == "unfillable_decided"]
    assert decided.detail["decision"] == "wait" and decided.detail["past_ship_by"] == ship_by.isoformat()


async def test_no_answer_goes_to_the_owner(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> None:
    shop = await marketplace(uow, topology, clock, order("OZ-2", ("LAMP", 1), ("VASE", 1)))
    await shop.fulfilment[0].run_once()
    (task,) = await open_tasks(shop, "OZ-2")

    clock.advance(hours=4, seconds=1)
    await shop.pump.run_once()

    (escalated,) = await open_tasks(shop, "OZ-2")
    assert escalated.assignee == Assignee.OWNER
    assert escalated.payload["escalated"] == "timeout"
    async with uow(read_only=True) as work:
        expired = await work.tasks.get(task.id or 0)
        (alert,) = await work.alerts.open_of_kind("task_escalated")
    assert expired is not None and expired.state == TaskState.EXPIRED
    assert alert.detail["task_kind"] == "unfillable_order"


async def test_order_actions_are_queued_once_claimed_once_and_candidates_are_orders_without_one(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = await marketplace(uow, topology, clock, order("OZ-1", ("LAMP", 1)), order("OZ-2", ("LAMP", 1)))
    first, second, now = (await taken(shop, "OZ-1")).id, (await taken(shop, "OZ-2")).id, clock.now()
    assert first is not None and second is not None
    await shop.orders.cancel(second, "test")
    async with uow() as work:
        assert await work.order_actions.candidates("ozon", 10) == [first]
        assert await work.order_actions.candidates("wildberries", 10) == []
        assert await queue(work, first, Action.READY_TO_SHIP, now)
        assert not await queue(work, first, Action.READY_TO_SHIP, now)
        assert await work.order_actions.candidates("ozon", 10) == []
        await work.commit()
    lease = now + timedelta(minutes=2)
    async with uow() as work:
        assert await work.order_actions.claim("wildberries", SENT_TO_CHANNEL, now, lease, 10) == []
        (claimed,) = await work.order_actions.claim("ozon", SENT_TO_CHANNEL, now, lease, 10)
        assert await work.order_actions.claim("ozon", SENT_TO_CHANNEL, now, lease, 10) == []
        await work.commit()
    assert (claimed.order_id, claimed.action, claimed.next_attempt_at) == (first, "ready_to_ship", lease)
    async with uow(read_only=True) as work:
        assert await work.order_actions.for_order(first) == [claimed]


async def test_a_named_delivery_day_moves_a_waiting_question_and_nothing_else_is_put_off(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    """``wait`` pressed asks again after the default day; a delivery day named afterwards (``/wait``) moves that; an
    order with no such question, or a day not in the future, changes nothing."""
    shop = await marketplace(uow, topology, clock, order("OZ-2", ("VASE", 1)))
    (fulfilment,) = shop.fulfilment
    await fulfilment.run_once()
    (task,) = await open_tasks(shop, "OZ-2")
    assert task.id is not None and shop.unfillable is not None
    assert (await shop.office.answer(task.id, "wait", Role.MANAGER, "anna")).accepted
    order_id = asked_about(task)

    with pytest.raises(InvalidWait):
        await shop.unfillable.wait_until(order_id, clock.now(), "boris")
    with pytest.raises(OrderNotFound):
        await shop.unfillable.wait_until(order_id + 100, clock.now() + timedelta(days=2), "boris")
    until = clock.now() + timedelta(days=2)
    assert await shop.unfillable.wait_until(order_id, until, "boris") == until
    history = (await taken(shop, "OZ-2")).history
    (moved,) = [event for event in history if event.kind == "unfillable_wait_moved"]
    assert moved.detail == {"decision": "wait", "by": "boris", "ask_again_at": until.isoformat()}

    clock.advance(days=1, seconds=1)  # the default day is over, but the named day is not
    await fulfilment.run_once()
    assert await open_tasks(shop, "OZ-2") == []
    clock.advance(days=1)
    await fulfilment.run_once()
    (again,) = await open_tasks(shop, "OZ-2")
    assert again.payload["attempt"] == 2

    placed = await shop.orders.place(PlaceOrder("ozon", "OZ-9", [LineRequest("LAMP", 1)]))  # filled: no question
    assert placed.order.id is not None
    with pytest.raises(NothingToWait):
        await shop.unfillable.wait_until(placed.order.id, clock.now() + timedelta(days=2), "boris")
